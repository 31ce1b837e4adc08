#!/usr/bin/env bash
# Load benchmark of RTSP servers on loopback: the same rtsp_load run against
#   (a) gst-rtsp-server (tests/peers/gst_rtsp_server.py, unshared, looping the file)
#   (b) our server, target/release/server-cli, when it has been built (with --loop,
#       --max-sessions and no per-address maximums when its --help lists them)
# for each session count, each server started fresh; prints a comparison table.
#
#   bash tests/peers/bench_server.sh [--sessions "50 200 500"] [--seconds 10]
#        [--media PATH.Mjpeg] [--rate R] [--tcp] [--servers "gst ours"]
#        [--out DIR] [--build] [--no-loop]
#
#   --sessions LIST  session counts (default "50 200 500")
#   --seconds T      measuring window of each run (default 10)
#   --media PATH     the file to serve (default: server-cli's built-in sample,
#                    made in ~/.cache/mjpegrtsp/ if missing)
#   --rate R         sessions started per second (default 0: all at once, 64 at a time)
#   --tcp            RTP over the RTSP connection instead of UDP
#   --servers LIST   which servers to run (default "gst ours")
#   --out DIR        where the JSON lines and server logs go (default a temp dir)
#   --build          cargo build the plugin, the load tool and server-cli first (a
#                    failed server-cli build is reported and skipped)
#   --no-loop        do not loop the file in gst-rtsp-server (it then stops after
#                    the file's length: 10 s for the reference movie)
#   --no-nice        run the load tool at normal priority (by default, as root, it
#                    runs at nice -10: one receiving thread against a server of
#                    thousands of threads is otherwise starved by the scheduler
#                    once the machine saturates, and its own socket buffers drop)
#
# gst-rtsp-server runs with --backlog 1024 (its default of 5 loses SYNs when many
# clients connect at once; our server's listener uses tokio's 1024).
#
# Needs: python3-gi + gir1.2-gst-rtsp-server-1.0 (scripts/setup.sh), the plugin and
# the load tool built in release mode (--build does it; RTSP_LOAD=path overrides
# target/release/rtsp_load). Servers are killed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SESSIONS="50 200 500"
SECONDS_=10
MEDIA=""
RATE=0
TCP=""
SERVERS="gst ours"
OUT=""
BUILD=0
LOOP="--loop"
NICE=""
[ "$(id -u)" -eq 0 ] && NICE="nice -n -10"

while (($#)); do
    case "$1" in
        --sessions) SESSIONS="$2"; shift 2 ;;
        --seconds) SECONDS_="$2"; shift 2 ;;
        --media) MEDIA="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --tcp) TCP="--tcp"; shift ;;
        --servers) SERVERS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --build) BUILD=1; shift ;;
        --no-loop) LOOP=""; shift ;;
        --no-nice) NICE=""; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_server: unknown argument $1" >&2; exit 2 ;;
    esac
done

[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/bench_server.XXXXXX)
mkdir -p "$OUT"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cd "$ROOT"
if ((BUILD)); then
    cargo build --release -p gst-plugin-mjpegrtsp >&2
    cargo build --release -p mjpegrtsp-tests --bin rtsp_load >&2
    cargo build --release -p server-cli >&2 || echo "bench_server: note: server-cli does not build yet; skipping it" >&2
fi
LOAD="${RTSP_LOAD:-$ROOT/target/release/rtsp_load}"
PLUGIN_DIR="$ROOT/target/release"
[ -x "$LOAD" ] || { echo "bench_server: $LOAD missing: cargo build --release -p mjpegrtsp-tests --bin rtsp_load (or --build)" >&2; exit 2; }
[ -f "$PLUGIN_DIR/libgstmjpegrtsp.so" ] || { echo "bench_server: $PLUGIN_DIR/libgstmjpegrtsp.so missing: cargo build --release -p gst-plugin-mjpegrtsp (or --build)" >&2; exit 2; }
OURS="$ROOT/target/release/server-cli"

if [ -z "$MEDIA" ]; then
    # The built-in sample, which server-cli makes the first time it starts
    # without --media-dir.
    MEDIA="${XDG_CACHE_HOME:-$HOME/.cache}/mjpegrtsp/sample.Mjpeg"
    if [ ! -f "$MEDIA" ] && [ -x "$OURS" ]; then
        "$OURS" --port 0 >/dev/null 2>&1 &
        maker=$!
        for _ in $(seq 600); do [ -f "$MEDIA" ] && break; sleep 0.1; done
        kill "$maker" 2>/dev/null; wait "$maker" 2>/dev/null || true
    fi
fi
[ -f "$MEDIA" ] || { echo "bench_server: no media file $MEDIA (give --media, or build server-cli to make the sample)" >&2; exit 2; }
MEDIA=$(cd "$(dirname "$MEDIA")" && pwd)/$(basename "$MEDIA")
NAME=$(basename "$MEDIA")

SERVER_PID=""
NOTED_OURS=0
# stop_server, free_port, wait_port (SERVER_PID, PY) and the exit traps.
source "$ROOT/tests/peers/bench_lib.sh"

# Starts one server; sets SERVER_PID and URL, or returns 1 with a note.
start_server() { # kind, log, sessions
    local kind=$1 log=$2 n=$3 port
    URL=""
    case "$kind" in
        gst)
            GST_PLUGIN_PATH="$PLUGIN_DIR" "$PY" "$ROOT/tests/peers/gst_rtsp_server.py" \
                --port 0 --media "$MEDIA" --unshared --backlog 1024 $LOOP >"$log.stdout" 2>"$log" &
            SERVER_PID=$!
            for _ in $(seq 100); do
                URL=$(awk '/^READY /{print $2; exit}' "$log.stdout" 2>/dev/null || true)
                [ -n "$URL" ] && break
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.1
            done
            [ -n "$URL" ] || { echo "bench_server: gst-rtsp-server did not start (see $log)" >&2; stop_server; return 1; }
            ;;
        ours)
            if [ ! -x "$OURS" ]; then
                ((NOTED_OURS)) || echo "bench_server: note: $OURS not built yet: skipping our server" >&2
                NOTED_OURS=1
                return 1
            fi
            port=$(free_port)
            # Options it may grow: use them when its --help lists them.
            local extra=() help
            help=$(timeout 5 "$OURS" --help 2>&1 || true)
            if [ -n "$LOOP" ] && grep -q -- '--loop' <<<"$help"; then extra+=(--loop); fi
            if grep -q -- '--max-sessions' <<<"$help"; then extra+=(--max-sessions "$((n + 16))"); fi
            # Every load session comes from 127.0.0.1: no per-address maximums.
            if grep -q -- '--max-sessions-per-address' <<<"$help"; then
                extra+=(--max-sessions-per-address 0 --max-connections-per-address 0)
            fi
            "$OURS" --bind 127.0.0.1 --port "$port" --media-dir "$(dirname "$MEDIA")" "${extra[@]}" >"$log.stdout" 2>"$log" &
            SERVER_PID=$!
            wait_port "$port" 10 || { echo "bench_server: server-cli did not listen on $port (see $log)" >&2; stop_server; return 1; }
            URL="rtsp://127.0.0.1:$port/$NAME"
            ;;
        *) echo "bench_server: unknown server $kind" >&2; return 1 ;;
    esac
}

RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
echo "bench_server: media $MEDIA; window ${SECONDS_}s; sessions $SESSIONS; ${TCP:-udp}; results in $OUT" >&2
for n in $SESSIONS; do
    for kind in $SERVERS; do
        log="$OUT/$kind-$n.log"
        start_server "$kind" "$log" "$n" || continue
        sleep 1 # let it settle before the idle sample
        # Bounded: setup (at most 5 steps x 10 s per round of 64) + window + teardown.
        limit=$(( SECONDS_ + 60 + 50 * (n / 64 + 1) ))
        if [ "$RATE" != 0 ]; then limit=$(( limit + n * 2 )); fi
        echo "--- $kind, $n sessions: $URL (server pid $SERVER_PID)" >&2
        if json=$(timeout -k 5 "$limit" $NICE "$LOAD" "$URL" --sessions "$n" --seconds "$SECONDS_" --rate "$RATE" \
                  $TCP --server-pid "$SERVER_PID" --json); then :; else
            echo "bench_server: rtsp_load exited with $? for $kind/$n" >&2
        fi
        alive=1; kill -0 "$SERVER_PID" 2>/dev/null || alive=0
        [ -n "$json" ] && printf '{"server":"%s","n":%s,"alive":%s,"load":%s}\n' "$kind" "$n" "$alive" "$json" >>"$RESULTS"
        stop_server
        sleep 2 # sockets and threads of the last run wind down
    done
done

"$PY" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def f(v, fmt="{:.1f}"):
    return "-" if v is None else fmt.format(v)
hdr = ("server", "N", "ok", "fail", "frames%", "lost%", "gap p50", "gap p99", "gap max",
       "setup p50", "setup p99", "srv CPU%", "KB/sess", "threads", "load CPU%", "rcvbuf drops")
print("\n" + " | ".join(hdr))
print("-" * 130)
for r in rows:
    L = r["load"]; s = L.get("server") or {}
    lost = L["packets_lost"] / max(1, L["packets"] + L["packets_lost"]) * 100
    print(" | ".join([
        r["server"] + ("" if r["alive"] else " (died)"), str(r["n"]), str(L["ok"]), str(L["failed"]),
        f(L["frames_pct"]), f(lost, "{:.2f}"), f(L["gap_ms"]["p50"]), f(L["gap_ms"]["p99"]),
        f(L["gap_ms"]["max"]), f(L["setup_ms"]["p50"]), f(L["setup_ms"]["p99"]),
        f(s.get("cpu_pct")), f(s.get("rss_per_session_kb"), "{:.0f}"), str(s.get("threads", "-")),
        f(L["load_cpu_pct"]), str(L.get("udp_rcvbuf_drops", "-")),
    ]))
    if L["failures"]:
        print("      failures: " + "; ".join(f"{n} x {k}" for k, n in L["failures"].items()))
print("\n(gap, setup in ms; frames% = whole frames / frames due; CPU % of one core over the window;"
      "\n rcvbuf drops: datagrams the kernel dropped at the load tool's full socket buffers: part of lost%,"
      "\n the receiver's fault, not the server's)")
EOF
