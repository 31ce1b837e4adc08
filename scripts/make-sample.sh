#!/usr/bin/env bash
# Makes the project's own sample clip: a .Mjpeg file encoded from GStreamer's
# test pattern with the running time burnt in, written by the plugin's
# lengthmjpegmux. Needs the plugin on GST_PLUGIN_PATH (scripts/run.sh sets it).
#
#   scripts/make-sample.sh OUT.Mjpeg [SECONDS] [WIDTHxHEIGHT] [QUALITY]
set -euo pipefail
out=${1:?usage: make-sample.sh OUT.Mjpeg [SECONDS] [WIDTHxHEIGHT] [QUALITY]}
seconds=${2:-10}
size=${3:-640x480}
quality=${4:-85}
width=${size%x*}
height=${size#*x}
mkdir -p "$(dirname "$out")"
tmp="$out.part"
gst-launch-1.0 -q videotestsrc num-buffers=$((seconds * 24)) pattern=smpte \
    ! "video/x-raw,format=I420,width=$width,height=$height,framerate=24/1" \
    ! timeoverlay halignment=center valignment=center font-desc="Sans 36" \
    ! jpegenc quality="$quality" ! lengthmjpegmux ! filesink location="$tmp"
mv "$tmp" "$out"
echo "made $out: ${seconds}s of ${width}x${height} at 24 fps, JPEG quality $quality ($(stat -c %s "$out") bytes)"
