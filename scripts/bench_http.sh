#!/usr/bin/env bash
# MJPEG over HTTP against RTSP, per viewer: one server-cli (the built-in
# sample, 640×480, 24 fps, looping) and rtsp_load in turn with SESSIONS
# browser-style HTTP viewers (/stream/sample.Mjpeg), SESSIONS RTSP viewers
# over UDP and SESSIONS over TCP interleaved, sampling the server's CPU.
#
#   bash scripts/bench_http.sh [SESSIONS] [SECONDS]     (default 200 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-200}
SECONDS_EACH=${2:-20}
cargo build --release -q -p server-cli -p mjpegrtsp-tests --bin rtsp_load --bin server-cli
bin=target/release
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RTSP=$(port); HTTP=$(port)
$bin/server-cli --bind 127.0.0.1 --port "$RTSP" --http-port "$HTTP" --loop \
    --max-sessions 5000 --max-sessions-per-address 0 --max-connections-per-address 0 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$HTTP") 2>/dev/null && break; sleep 0.2; done
load() {
    $bin/rtsp_load "$@" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" --rate 200 \
        --server-pid "$server" --fps 24 2>&1 | grep -v '^rtsp_load: \(setting up\|measuring\)'
}
echo "== $SESSIONS HTTP viewers (multipart/x-mixed-replace over TCP)"
load "http://127.0.0.1:$HTTP/stream/sample.Mjpeg"
echo "== $SESSIONS RTSP viewers over UDP"
load "rtsp://127.0.0.1:$RTSP/sample.Mjpeg"
echo "== $SESSIONS RTSP viewers over TCP interleaved"
load "rtsp://127.0.0.1:$RTSP/sample.Mjpeg" --tcp
