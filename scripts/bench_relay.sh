#!/usr/bin/env bash
# A relay at N viewers against the same viewers on the upstream directly:
# server CPU, memory and frames, measured by rtsp_load on loopback.
#
#   bash scripts/bench_relay.sh [SESSIONS] [SECONDS]     (default 500 20)
#
# Builds the release binaries, starts an upstream server-cli (the built-in
# sample, looping), a "camera" server-cli (a live test pattern at /live, in
# its own process so that its encoding is not counted as the upstream's
# CPU) and a relay server-cli (--relay door=<upstream sample>, --relay
# cam=<camera live>), then runs rtsp_load against the relay, and against the
# upstream alone. Then the latency the relay adds, camera to viewer
# (relay_latency: one viewer of the camera's /live and one of the relay's
# /cam, frames matched by content), with the relay idle and with SESSIONS
# viewers on /cam.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-500}
SECONDS_EACH=${2:-20}
cargo build --release -q -p server-cli -p mjpegrtsp-tests --bin rtsp_load --bin server-cli --bin relay_latency
bin=target/release
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); CAM=$(port); RELAY=$(port)
limits=(--max-sessions 5000 --max-sessions-per-address 0 --max-connections-per-address 0)
camera='videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=640,height=480,framerate=24/1 ! timeoverlay ! jpegenc'
$bin/server-cli --bind 127.0.0.1 --port "$UP" --loop "${limits[@]}" >/dev/null 2>&1 &
up_pid=$!
$bin/server-cli --bind 127.0.0.1 --port "$CAM" "${limits[@]}" --pipeline "$camera" >/dev/null 2>&1 &
cam_pid=$!
$bin/server-cli --bind 127.0.0.1 --port "$RELAY" "${limits[@]}" \
    --relay "door=rtsp://127.0.0.1:$UP/sample.Mjpeg" --relay "cam=rtsp://127.0.0.1:$CAM/live" >/dev/null 2>&1 &
relay_pid=$!
trap 'kill $up_pid $cam_pid $relay_pid 2>/dev/null || true' EXIT
for p in "$UP" "$CAM" "$RELAY"; do
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.2; done
done
echo "== relay: $SESSIONS viewers of rtsp://127.0.0.1:$RELAY/door (relay server's CPU; the upstream serves 1 session)"
$bin/rtsp_load "rtsp://127.0.0.1:$RELAY/door" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$relay_pid" --fps 24
echo "== upstream CPU meanwhile: $(ps -o %cpu= -p $up_pid) % (lifetime average)"
echo "== direct: $SESSIONS viewers of rtsp://127.0.0.1:$UP/sample.Mjpeg (upstream server's CPU)"
$bin/rtsp_load "rtsp://127.0.0.1:$UP/sample.Mjpeg" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$up_pid" --fps 24
echo "== latency the relay adds, camera (/live of the camera server) to viewer, relay otherwise idle"
$bin/relay_latency "rtsp://127.0.0.1:$CAM/live" "rtsp://127.0.0.1:$RELAY/cam" --frames 240
echo "== the same with $SESSIONS viewers on the relay's /cam (relay server's CPU)"
$bin/rtsp_load "rtsp://127.0.0.1:$RELAY/cam" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$relay_pid" --fps 24 &
load_pid=$!
sleep 6
$bin/relay_latency "rtsp://127.0.0.1:$CAM/live" "rtsp://127.0.0.1:$RELAY/cam" --frames 240
wait $load_pid
