#!/usr/bin/env bash
# Plays a .Mjpeg file through the plugin's elements —
# lengthmjpegsrc → rtpmjpegpay (fragmented) → rtpmjpegdepay → jpegdec — in a
# window when there is a display, otherwise into a sink that prints the frame
# rate. With no argument it plays the project's own sample clip, made on the
# first run. Installs what is missing first.
#
#   scripts/play-file.sh [FILE.Mjpeg]
set -euo pipefail
case "${1:-}" in
-h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh run
cargo build --release --quiet -p gst-plugin-mjpegrtsp
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

file=${1:-}
if [ -z "$file" ]; then
    file="$root/media/sample.Mjpeg"
    [ -s "$file" ] || bash scripts/make-sample.sh "$file"
fi
[ -r "$file" ] || { echo "run: cannot read $file" >&2; exit 1; }

gst-discoverer-1.0 "$file" | sed -n '/^Properties:/,$p'

pipeline=(lengthmjpegsrc location="$file" ! rtpmjpegpay mode=fragmented ! rtpmjpegdepay ! jpegdec)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    exec gst-launch-1.0 -e "${pipeline[@]}" ! videoconvert ! autovideosink
fi
echo "(no display: decoding into fpsdisplaysink, which reports the frame rate each second)"
gst-launch-1.0 -e -v "${pipeline[@]}" ! fpsdisplaysink video-sink=fakesink text-overlay=false sync=true \
    | grep --line-buffered -E 'last-message = rendered|ERROR|WARNING|Execution ended' \
    | sed -u 's/.*last-message = /  /'
