#!/usr/bin/env bash
# Makes docs/http-index.png: the HTTP side's index page in headless Chromium,
# with the built-in sample and a live test pattern being watched.
#
#   bash scripts/screenshot-http.sh [OUT.png]     (default docs/http-index.png)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/http-index.png}
cargo build --release -q -p server-cli
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RTSP=$(port); HTTP=$(port)
camera='videotestsrc is-live=true pattern=smpte ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! timeoverlay font-desc="Sans 28" ! jpegenc'
target/release/server-cli --bind 127.0.0.1 --port "$RTSP" --http-port "$HTTP" --loop \
    --pipeline-at cams/test "$camera" >/dev/null 2>&1 &
server=$!
trap 'kill $server $viewer 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/metrics" >/dev/null && break; sleep 0.2; done
# A viewer, so that the page shows one.
curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$HTTP/stream/sample.Mjpeg" &
viewer=$!
sleep 2
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,460 \
    --screenshot="$PWD/$out" --virtual-time-budget=3000 "http://127.0.0.1:$HTTP/" 2>/dev/null
echo "wrote $out"
