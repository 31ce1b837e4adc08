#!/usr/bin/env bash
# Soak: the server under sessions that come and go for a long time, its
# memory, descriptors and threads read each minute.
#
#   bash scripts/soak.sh [MINUTES] [SESSIONS]      (default 30 minutes, 200)
#
# Starts a release server-cli on 127.0.0.1:$SOAK_PORT (default 18554) looping
# its built-in sample, with a 20 s session timeout and no per-address
# maximums (every client here is 127.0.0.1). Against it:
#   - target/release/soak: SESSIONS workers, each opening one session after
#     another (standard over UDP, standard over TCP, classic), playing with
#     pauses and seeks, ending with TEARDOWN; frames counted against those due;
#   - clients that vanish: every 40 s an rtsp_load process with 12 sessions
#     (UDP, TCP and classic in turn) is killed with SIGKILL 25 s after it
#     starts, without TEARDOWN; the server reclaims their sessions at the
#     session timeout (or when a classic connection closes).
# The series goes to stdout and to $OUT/soak.csv (OUT defaults to a new
# /tmp/soak.XXXXXX); the server's log to $OUT/server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
sessions=${2:-200}
port=${SOAK_PORT:-18554}
out=${OUT:-$(mktemp -d /tmp/soak.XXXXXX)}
mkdir -p "$out"

cargo build --release -q -p server-cli -p gst-plugin-mjpegrtsp
cargo build --release -q -p mjpegrtsp-tests --bin soak --bin rtsp_load

server_pid=""
vanish_pid=""
cleanup() {
    if [ -n "$vanish_pid" ]; then
        kill "$vanish_pid" 2>/dev/null || true
        pkill -9 -P "$vanish_pid" 2>/dev/null || true
    fi
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

target/release/server-cli --bind 127.0.0.1 --port "$port" --loop \
    --session-timeout 20 --max-sessions 2000 \
    --max-sessions-per-address 0 --max-connections-per-address 0 \
    >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    grep -q "rtsp://" "$out/server.log" 2>/dev/null && break
    sleep 0.2
done
kill -0 "$server_pid" || { cat "$out/server.log" >&2; exit 1; }
url="rtsp://127.0.0.1:$port/sample.Mjpeg"
echo "soak: $minutes min, $sessions sessions + vanishing clients against $url (server pid $server_pid); files in $out"

# The vanishing clients, until the soak ends.
(
    turn=0
    end=$((SECONDS + ${minutes%.*} * 60))
    while ((SECONDS < end)); do
        case $((turn % 3)) in
            0) mode=() ;;
            1) mode=(--tcp) ;;
            *) mode=(--classic) ;;
        esac
        target/release/rtsp_load "$url" --sessions 12 --seconds 3600 "${mode[@]}" \
            >/dev/null 2>&1 &
        load_pid=$!
        sleep 25
        kill -9 "$load_pid" 2>/dev/null || true
        wait "$load_pid" 2>/dev/null || true
        sleep 15
        turn=$((turn + 1))
    done
) &
vanish_pid=$!

target/release/soak "$url" --sessions "$sessions" --minutes "$minutes" \
    --server-pid "$server_pid" --csv "$out/soak.csv" | tee "$out/soak.txt"
kill -0 "$server_pid" || { echo "soak: the server died" >&2; exit 1; }
echo "soak: the server ran throughout; warnings in its log: $(grep -c WARN "$out/server.log" || true)"
