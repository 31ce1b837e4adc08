#!/usr/bin/env bash
# The media engine on one thread against the default (one per core), and
# admission control past capacity, on loopback:
#
#   1. for each session count, server-cli --media-threads 1, then with the
#      default, each started fresh, loaded by rtsp_load (UDP, all sessions at
#      once, --seconds window): frames delivered, gap p99, whole frames per
#      session (min / median / max), server and load-tool CPU, refusals, and
#      from the server's /metrics once a second within the window, what one
#      frame to one session cost a media thread (median) and how busy the
#      threads were (mean);
#   2. past capacity: server-cli with A sessions playing, then B more asked
#      for at 400/s while A is measured: how many of B are refused (453) and
#      what A keeps; once per --overload-threads value (--media-threads 1,
#      then the default).
#
# Prints a table, writes the JSON lines and server logs to --out, and draws
# frames delivered against sessions for both (engine.svg in --out; --svg PATH
# copies it, e.g. docs/bench-engine.svg).
#
#   bash scripts/bench_engine.sh [--sessions "1000 2000 3000"] [--seconds 10]
#        [--media PATH.Mjpeg] [--threads "1 0"] [--overload "1000 2000"]
#        [--overload-threads "1 0"] [--out DIR] [--svg PATH] [--build]
#        [--bin-dir DIR]
#
#   --sessions LIST  session counts of part 1 (default "1000 2000 3000";
#                    "" skips part 1)
#   --seconds T      measuring window (default 10)
#   --media PATH     the file to serve, looped (default: server-cli's built-in
#                    sample, made in ~/.cache/mjpegrtsp/ if missing)
#   --threads LIST   --media-threads values of part 1 (default "1 0"; 0 = default)
#   --overload "A B" sessions playing, and sessions asked for past them, in
#                    part 2 (default "1000 2000"; "0" skips part 2)
#   --overload-threads LIST  --media-threads values of part 2 (default "1 0")
#   --build          cargo build --release server-cli and rtsp_load first
#   --bin-dir DIR    where server-cli and rtsp_load are (default
#                    target/release; on a machine without Rust, the bin/
#                    of what scripts/pack_bench.sh packed)
#
# The load tool takes each frame's segmented send as one datagram (--gro):
# on loopback the receivers' per-packet kernel work would otherwise be
# charged to the server (over a network it is the receivers').
#
# Needs server-cli and rtsp_load built in release mode. Runs the load tool
# and the server at nice -10 as root (as bench_server.sh does the tool):
# equal priority, so that what is measured is the server's limit, not a
# load tool outranking it on a small machine. Time: about (T + 6) s a run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SESSIONS="1000 2000 3000"
SECONDS_=10
MEDIA=""
THREADS="1 0"
OVERLOAD="1000 2000"
OVERLOAD_THREADS="1 0"
OUT=""
SVG=""
BUILD=0
BIN_DIR=""
NICE=""
[ "$(id -u)" -eq 0 ] && NICE="nice -n -10"

while (($#)); do
    case "$1" in
        --sessions) SESSIONS="$2"; shift 2 ;;
        --seconds) SECONDS_="$2"; shift 2 ;;
        --media) MEDIA="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --overload) OVERLOAD="$2"; shift 2 ;;
        --overload-threads) OVERLOAD_THREADS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --svg) SVG="$2"; shift 2 ;;
        --build) BUILD=1; shift ;;
        --bin-dir) BIN_DIR=$(cd "$2" && pwd); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_engine: unknown argument $1" >&2; exit 2 ;;
    esac
done

cd "$ROOT"
if ((BUILD)); then
    cargo build --release -p server-cli -p mjpegrtsp-tests --bin rtsp_load --bin server-cli >&2
fi
SERVER="${BIN_DIR:-$ROOT/target/release}/server-cli"
LOAD="${BIN_DIR:-$ROOT/target/release}/rtsp_load"
for b in "$SERVER" "$LOAD"; do
    [ -x "$b" ] || { echo "bench_engine: $b missing (give --build)" >&2; exit 2; }
done
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/bench_engine.XXXXXX)
mkdir -p "$OUT"

if [ -z "$MEDIA" ]; then
    MEDIA="${XDG_CACHE_HOME:-$HOME/.cache}/mjpegrtsp/sample.Mjpeg"
    if [ ! -f "$MEDIA" ]; then
        "$SERVER" --port 0 --http-port 0 >/dev/null 2>&1 &
        maker=$!
        for _ in $(seq 600); do [ -f "$MEDIA" ] && break; sleep 0.1; done
        kill "$maker" 2>/dev/null; wait "$maker" 2>/dev/null || true
    fi
fi
[ -f "$MEDIA" ] || { echo "bench_engine: no media file $MEDIA" >&2; exit 2; }
MEDIA_DIR=$(cd "$(dirname "$MEDIA")" && pwd)
NAME=$(basename "$MEDIA")

SERVER_PID=""
PY=python3
# stop_server, free_port, wait_port (SERVER_PID, PY) and the exit traps.
source "$ROOT/tests/peers/bench_lib.sh"

# Starts server-cli with --media-threads $1, logging to $2, under the
# command prefix $3 (e.g. nice); sets SERVER_PID, PORT and HTTP_PORT.
start_server() {
    PORT=$(free_port)
    HTTP_PORT=$(free_port)
    ${3:-} "$SERVER" --bind 127.0.0.1 --port "$PORT" --http-port "$HTTP_PORT" --media-dir "$MEDIA_DIR" --loop \
        --max-sessions 100000 --max-sessions-per-address 0 --max-connections 100000 \
        --max-connections-per-address 0 --media-threads "$1" >/dev/null 2>"$2" &
    SERVER_PID=$!
    wait_port "$PORT" 10 && return 0
    echo "bench_engine: server-cli did not start (log: $2)" >&2
    return 1
}

# Once the load tool's log ($1) says its window began, the media threads'
# lines of /metrics, once a second until a second before the window ends,
# into $2.
sample_threads() {
    : >"$2"
    for _ in $(seq 1800); do grep -q "measuring" "$1" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    for _ in $(seq $((SECONDS_ - 2))); do
        "$PY" - "http://127.0.0.1:$HTTP_PORT/metrics" >>"$2" 2>/dev/null <<'GET' || true
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=1).read().decode()
print("\n".join(l for l in page.splitlines() if l.startswith("mjpegrtsp_media_thread_")))
GET
        sleep 1
    done
}

echo "bench_engine: $NAME, $(nproc) cores, out $OUT" >&2
RESULTS="$OUT/runs.jsonl"
: >"$RESULTS"
for n in $SESSIONS; do
    for t in $THREADS; do
        start_server "$t" "$OUT/server-$t-$n.log" "$NICE"
        : >"$OUT/load-$t-$n.txt"
        sample_threads "$OUT/load-$t-$n.txt" "$OUT/threads-$t-$n.prom" &
        sampler=$!
        # The timeout bounds a run that hangs; the tool bounds itself too.
        json=$(timeout $((SECONDS_ + 180)) $NICE "$LOAD" "rtsp://127.0.0.1:$PORT/$NAME" --gro \
            --sessions "$n" --seconds "$SECONDS_" --server-pid "$SERVER_PID" --json \
            2>"$OUT/load-$t-$n.txt" || true)
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
        stop_server
        [ -n "$json" ] || json='{}'
        echo "{\"media_threads\":$t,\"asked\":$n,\"run\":$json}" >>"$RESULTS"
        sed -n '1,12p' "$OUT/load-$t-$n.txt" | grep -v '^rtsp_load: ' >&2 || true
    done
done

read -r A B _ <<<"$OVERLOAD 0 0"
if [ "${A:-0}" -gt 0 ] && [ "${B:-0}" -gt 0 ]; then
    for t in $OVERLOAD_THREADS; do
        start_server "$t" "$OUT/server-overload-$t.log" "$NICE"
        window=$((SECONDS_ * 2 + 10))
        $NICE "$LOAD" "rtsp://127.0.0.1:$PORT/$NAME" --gro --sessions "$A" --seconds "$window" \
            --server-pid "$SERVER_PID" --json >"$OUT/overload-$t-a.json" 2>"$OUT/overload-$t-a.txt" &
        load_a=$!
        # B starts once A is set up and its window runs.
        for _ in $(seq 600); do grep -q "measuring" "$OUT/overload-$t-a.txt" 2>/dev/null && break; sleep 0.1; done
        sleep 2
        $NICE "$LOAD" "rtsp://127.0.0.1:$PORT/$NAME" --gro --sessions "$B" --seconds "$SECONDS_" \
            --rate 400 --json >"$OUT/overload-$t-b.json" 2>"$OUT/overload-$t-b.txt" || true
        wait "$load_a" || true
        stop_server
        grep -v '^rtsp_load: ' "$OUT/overload-$t-a.txt" >&2 || true
        grep -v '^rtsp_load: ' "$OUT/overload-$t-b.txt" >&2 || true
        grep -m1 'refusing new sessions' "$OUT/server-overload-$t.log" >&2 || true
    done
fi

python3 - "$OUT" "$NAME" "$(nproc)" "$SVG" "$OVERLOAD_THREADS" <<'PY'
import json, os, shutil, sys
out, name, cores, svg_copy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
overload_threads = [int(t) for t in sys.argv[5].split()]
runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]

def label(t):
    return "1 thread" if t == 1 else ("default" if t == 0 else f"{t} threads")

def fmt(v, f="{:.1f}"):
    return "-" if v is None else f.format(v)

def thread_figures(t, n):
    """Median frame cost (µs) and mean busy share (%) of the media threads
    over the /metrics samples of one run."""
    p = os.path.join(out, f"threads-{t}-{n}.prom")
    if not os.path.exists(p):
        return None, None
    cost, busy = [], []
    for line in open(p):
        name, _, value = line.rpartition(" ")
        family = name.split("{")[0]
        if family == "mjpegrtsp_media_thread_frame_cost_seconds" and float(value) > 0:
            cost.append(float(value) * 1e6)
        elif family == "mjpegrtsp_media_thread_busy_ratio":
            busy.append(float(value) * 100)
    cost.sort()
    median = cost[len(cost) // 2] if cost else None
    return median, (sum(busy) / len(busy) if busy else None)

print(f"\n{name}, {cores} cores, UDP")
print("| media threads | sessions | ok | frames | gap p99 ms | frames per session min / median / max | starved | server CPU | load tool CPU | µs a frame | thread busy |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    j = r["run"]
    if not j:
        print(f"| {label(r['media_threads'])} | {r['asked']} | (no result) |||||||||")
        continue
    per = j.get("per_session_frames") or {}
    cost, busy = thread_figures(r["media_threads"], r["asked"])
    print(f"| {label(r['media_threads'])} | {r['asked']} | {j['ok']} | {fmt(j['frames_pct'])} % "
          f"| {fmt(j['gap_ms']['p99'])} | {per.get('min','-')} / {per.get('median','-')} / {per.get('max','-')} "
          f"| {per.get('under_half_median','-')} | {fmt((j.get('server') or {}).get('cpu_pct'))} % "
          f"| {fmt(j.get('load_cpu_pct'))} % | {fmt(cost)} | {fmt(busy, '{:.0f}')} % |")

for t in overload_threads:
    for part in ("a", "b"):
        p = os.path.join(out, f"overload-{t}-{part}.json")
        if not (os.path.exists(p) and os.path.getsize(p)):
            continue
        j = json.loads(open(p).read().strip().splitlines()[-1])
        refused = sum(n for why, n in j["failures"].items() if "453" in why)
        per = j.get("per_session_frames") or {}
        print(f"overload, {label(t)}, {part.upper()}: {j['sessions']} asked, {j['ok']} ok, "
              f"{refused} refused (453), frames {fmt(j['frames_pct'])} %, "
              f"gap p99 {fmt(j['gap_ms']['p99'])} ms, per session min/median "
              f"{per.get('min')}/{per.get('median')}")

# frames delivered against sessions, one line per --media-threads value
series = {}
for r in runs:
    if r["run"] and r["run"].get("frames_pct") is not None:
        series.setdefault(r["media_threads"], []).append((r["asked"], r["run"]["frames_pct"]))
if series:
    W, H, L, R, T, B = 640, 360, 60, 20, 30, 50
    xs = [x for s in series.values() for x, _ in s]
    x0, x1 = 0, max(xs) * 1.05
    y0, y1 = min(50, min(y for s in series.values() for _, y in s) - 5), 102
    sx = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    sy = lambda y: T + (y1 - y) / (y1 - y0) * (H - T - B)
    colors = ["#e5533d", "#3d8be5", "#3dbf6e", "#c79a2b"]
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">Frames delivered to the sessions admitted, against sessions asked ({name}, {cores} cores)</text>']
    for yv in range(int(y0 // 10 * 10), 101, 10):
        if yv < y0: continue
        o.append(f'<line x1="{L}" x2="{W-R}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L-6}" y="{sy(yv)+4:.1f}" text-anchor="end">{yv} %</text>')
    for xv in sorted(set(xs)):
        o.append(f'<text x="{sx(xv):.1f}" y="{H-B+16}" text-anchor="middle">{xv}</text>')
    o.append(f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">sessions asked for at once (UDP)</text>')
    o.append(f'<line x1="{L}" x2="{W-R}" y1="{sy(99):.1f}" y2="{sy(99):.1f}" stroke="#888" stroke-dasharray="4 3"/>')
    o.append(f'<text x="{W-R-4}" y="{sy(99)-4:.1f}" text-anchor="end" fill="#666">99 %</text>')
    for i, (t, pts) in enumerate(sorted(series.items(), key=lambda kv: kv[0] != 1)):
        c = colors[i % len(colors)]
        pts.sort()
        o.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            c, " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)))
        for x, y in pts:
            o.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>')
        o.append(f'<rect x="{L+10}" y="{T+8+i*18}" width="12" height="12" fill="{c}"/>')
        o.append(f'<text x="{L+28}" y="{T+18+i*18}">--media-threads {t if t else "default"}</text>')
    o.append("</svg>")
    path = os.path.join(out, "engine.svg")
    open(path, "w").write("\n".join(o) + "\n")
    print(f"\ncurve: {path}")
    if svg_copy:
        shutil.copy(path, svg_copy)
        print(f"copied to {svg_copy}")
PY
