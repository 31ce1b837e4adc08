#!/usr/bin/env bash
# Checks that server-cli built without its default `gstreamer` feature links
# no GStreamer library and still serves a file that ffprobe can read.
# Run by CI; needs the workspace built (the plugin makes the test clip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Built in the workspace's target directory (its dependencies are the
# test suite's too), and copied aside before anything rebuilds it.
cargo build --locked -p server-cli --no-default-features
mkdir -p target/no-gstreamer
bin=target/no-gstreamer/server-cli
cp target/debug/server-cli "$bin"
if ldd "$bin" | grep -i 'libgst'; then
    echo "check-no-gstreamer: $bin links GStreamer" >&2
    exit 1
fi
cargo build --locked -p gst-plugin-mjpegrtsp
media=$(mktemp -d)
log="$media/server.log"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$media"' EXIT
GST_PLUGIN_PATH="$root/target/debug" bash scripts/make-sample.sh "$media/clip.Mjpeg" 2 320x240 >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --bind 127.0.0.1 --port "$port" --media-dir "$media" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    grep -q rtsp:// "$log" && break
    sleep 0.1
done
probe=$(timeout 20 ffprobe -v error -show_entries stream=codec_name,width,height -of compact \
    "rtsp://127.0.0.1:$port/clip.Mjpeg")
echo "$probe"
grep -q 'codec_name=mjpeg|width=320|height=240' <<<"$probe" || {
    echo "check-no-gstreamer: ffprobe could not read the stream" >&2
    cat "$log" >&2
    exit 1
}
refused=$("$bin" --pipeline 'videotestsrc ! jpegenc' --media-dir "$media" --port 0 2>&1 || true)
if grep -q 'needs the `live` feature' <<<"$refused"; then
    echo "check-no-gstreamer: ok (no libgst linked; serves files; --pipeline refused with a reason)"
else
    echo "check-no-gstreamer: --pipeline was not refused with a reason" >&2
    exit 1
fi
