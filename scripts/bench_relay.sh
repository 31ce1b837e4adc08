#!/usr/bin/env bash
# A relay at N viewers against the same viewers on the upstream directly:
# server CPU, memory and frames, measured by rtsp_load on loopback.
#
#   bash scripts/bench_relay.sh [SESSIONS] [SECONDS]     (default 500 20)
#
# Builds the release binaries, starts an upstream server-cli (the built-in
# sample, looping) and a relay server-cli (--relay door=<upstream>), then
# runs rtsp_load against the relay, and against the upstream alone.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-500}
SECONDS_EACH=${2:-20}
cargo build --release -q -p server-cli -p mjpegrtsp-tests --bin rtsp_load --bin server-cli
bin=target/release
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); RELAY=$(port)
limits=(--max-sessions 5000 --max-sessions-per-address 0 --max-connections-per-address 0)
$bin/server-cli --bind 127.0.0.1 --port "$UP" --loop "${limits[@]}" >/dev/null 2>&1 &
up_pid=$!
$bin/server-cli --bind 127.0.0.1 --port "$RELAY" "${limits[@]}" \
    --relay "door=rtsp://127.0.0.1:$UP/sample.Mjpeg" >/dev/null 2>&1 &
relay_pid=$!
trap 'kill $up_pid $relay_pid 2>/dev/null || true' EXIT
for p in "$UP" "$RELAY"; do
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.2; done
done
echo "== relay: $SESSIONS viewers of rtsp://127.0.0.1:$RELAY/door (relay server's CPU; the upstream serves 1 session)"
$bin/rtsp_load "rtsp://127.0.0.1:$RELAY/door" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$relay_pid" --fps 24
echo "== upstream CPU meanwhile: $(ps -o %cpu= -p $up_pid) % (lifetime average)"
echo "== direct: $SESSIONS viewers of rtsp://127.0.0.1:$UP/sample.Mjpeg (upstream server's CPU)"
$bin/rtsp_load "rtsp://127.0.0.1:$UP/sample.Mjpeg" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$up_pid" --fps 24
