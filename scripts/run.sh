#!/usr/bin/env bash
# The main job: builds and starts the RTSP server. With no arguments it serves
# a built-in sample clip (made on the first run) on port 8554 and prints its
# rtsp:// URL, and its pages for browsers on port 8080; arguments go to
# server-cli (see --help). Stop it with Ctrl+C.
# Installs what is missing first.
#
#   scripts/run.sh [server-cli options]     e.g. --media-dir ~/videos --loop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh run
cargo build --release --quiet -p server-cli
echo "Watch with: ffplay rtsp://127.0.0.1:8554/sample.Mjpeg   (or the URL printed below)" >&2
echo "       or in a browser: http://127.0.0.1:8080/" >&2
exec "$root/target/release/server-cli" "$@"
