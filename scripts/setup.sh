#!/usr/bin/env bash
# Installs what the project needs on Debian 12, skipping what is already
# there. Safe to run again.
#
#   bash scripts/setup.sh        everything: building, running and testing
#                                (scripts/test.sh, .ci/run)
#   bash scripts/setup.sh run    what building and running the server and
#                                the elements needs (scripts/run.sh, play-file.sh)
set -euo pipefail

# Building and running server-cli (its sample, its converter) and the plugin.
RUN=(
    pkg-config
    libgstreamer1.0-dev            # gstreamer-rs -sys crates
    libgstreamer-plugins-base1.0-dev
    gstreamer1.0-tools             # gst-launch-1.0, gst-inspect-1.0
    gstreamer1.0-plugins-base      # videotestsrc, playbin, decodebin, videoconvert
    gstreamer1.0-plugins-good      # jpegenc/jpegdec, udpsrc/udpsink, rtpjpeg*, mp4/mkv/avi demuxers
    gstreamer1.0-libav             # server-cli convert: H.264, MPEG-4 and other video decoders
    gstreamer1.0-x                 # timeoverlay for the sample clip
)

# The player, the meson build, and the tests' real peers.
TEST=(
    gstreamer1.0-plugins-base-apps # gst-discoverer-1.0, gst-play-1.0
    gstreamer1.0-plugins-bad       # fpsdisplaysink for the headless demo
    python3-gi                     # tests/peers/gst_rtsp_server.py (the reference RTSP peer)
    gir1.2-gst-rtsp-server-1.0     # gst-rtsp-server for that peer
    gstreamer1.0-rtsp              # rtspclientsink: a GStreamer publisher in the publish tests
    ffmpeg                         # ffprobe/ffmpeg: standard RTSP clients, and the converter's inputs
    openssl                        # the RTSPS tests make a self-signed certificate
    haproxy                        # the PROXY protocol test puts HAProxy in front of two servers
    chromium                       # the HTTP side's browser test: headless Chromium shows /watch pages
    chromium-driver                # ... driven over WebDriver (two screenshots of one page)
    prometheus                     # promtool check metrics, on the server's /metrics
    curl                           # the HTTP tests and the docs' examples
    meson
    ninja-build
    libgtk-4-dev                   # player-gtk: gtk4-rs -sys crates (GTK 4.8, graphene, pango, cairo)
    libglib2.0-dev-bin             # player-gtk build.rs: glib-compile-resources for its GResource
    xvfb                           # player-gtk window tests and screenshot: xvfb-run
    xauth                          # needed by xvfb-run
    xdotool                        # player-gtk window tests: real key presses through the X server
    openbox                        # player-gtk window tests: a window manager to grant fullscreen
)

case "${1:-all}" in
    run) PACKAGES=("${RUN[@]}") ;;
    all) PACKAGES=("${RUN[@]}" "${TEST[@]}") ;;
    *) echo "usage: bash scripts/setup.sh [run]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    cat >&2 <<'MSG'
setup: cargo was not found. The project needs Rust 1.95 or newer (edition 2024);
Debian 12's own cargo is too old. Install it with rustup (https://rustup.rs),
then run this again.
MSG
    exit 1
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rustc_minor:-0}" -lt 95 ]; then
    echo "setup: $(rustc --version) is too old: the project needs rustc 1.95 or newer (rustup update)" >&2
    exit 1
fi
