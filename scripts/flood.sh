#!/usr/bin/env bash
# Connection flood, as the robustness issue found it: two processes open
# 24,000 idle TCP connections to the server from one address, and a viewer
# from another address must still connect and play.
#
#   bash scripts/flood.sh [SECONDS] [CONNECTIONS]     (default 40 s, 24000)
#
# Starts a release server-cli on 127.0.0.1:$FLOOD_PORT (default 18800) with
# its default limits, runs two tests/peers/flood.py processes from 127.0.0.2
# (CONNECTIONS/2 each, reopening whatever the server closes), and in the
# middle plays 8 s with ffmpeg over TCP from 127.0.0.1. Prints the flood's
# counts, the viewer's frames, the server's descriptors and threads during
# the flood, and what the server logged about it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-40}
connections=${2:-24000}
port=${FLOOD_PORT:-18800}
out=$(mktemp -d /tmp/flood.XXXXXX)

cargo build --release -q -p server-cli
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

target/release/server-cli --bind 127.0.0.1 --port "$port" --loop >"$out/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 100); do
    grep -q "rtsp://" "$out/server.log" 2>/dev/null && break
    sleep 0.2
done
url="rtsp://127.0.0.1:$port/sample.Mjpeg"
echo "flood: $connections connections from 127.0.0.2 for $seconds s against $url"

for i in 1 2; do
    python3 tests/peers/flood.py 127.0.0.1 "$port" --source 127.0.0.2 \
        --connections $((connections / 2)) --seconds "$seconds" >"$out/flood$i.log" 2>&1 &
    pids+=($!)
done
sleep $((seconds / 3))
peak_fds=0
peak_threads=0
sample() {
    local fds threads
    fds=$(ls /proc/"$server_pid"/fd | wc -l)
    threads=$(awk '/^Threads:/ {print $2}' /proc/"$server_pid"/status)
    ((fds > peak_fds)) && peak_fds=$fds
    ((threads > peak_threads)) && peak_threads=$threads
    return 0
}
sample
start=$SECONDS
ffmpeg -nostdin -hide_banner -rtsp_transport tcp -i "$url" -t 8 -f null - >"$out/viewer.log" 2>&1 &
viewer=$!
while kill -0 "$viewer" 2>/dev/null; do sample; sleep 0.5; done
viewer_rc=0
wait "$viewer" || viewer_rc=$?
took=$((SECONDS - start))
frames=$(grep -o 'frame= *[0-9]*' "$out/viewer.log" | tail -n1 | grep -o '[0-9]*$' || echo 0)
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true
sample
echo "viewer (ffmpeg, TCP, from 127.0.0.1): exit $viewer_rc, $frames frames of 8 s (192 at 24 fps) in ${took} s"
tail -qn1 "$out/flood1.log" "$out/flood2.log"
echo "server: at most $peak_fds descriptors and $peak_threads threads during the flood; still running: $(kill -0 "$server_pid" 2>/dev/null && echo yes || echo no)"
echo "server log, lines by kind:"
sed -E 's/^[^ ]+ +//; s/[0-9]+/N/g' "$out/server.log" | sort | uniq -c | sort -rn | head -n 12
echo "(files in $out)"
((viewer_rc == 0 && frames >= 180))
