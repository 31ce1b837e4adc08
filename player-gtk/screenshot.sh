#!/usr/bin/env bash
# Takes the README's screenshot: starts server-cli with its built-in sample,
# plays it in player-gtk under Xvfb, and saves the window as a PNG.
#
#   bash player-gtk/screenshot.sh [OUT.png]      (default: docs/player.png)
#
# Needs xvfb, xauth, xdotool (scripts/setup.sh installs them) and ImageMagick's
# `import` (apt-get install imagemagick).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(realpath -m "${1:-docs/player.png}")
seconds=${SCREENSHOT_AFTER:-4.5}

for tool in xvfb-run xdotool import; do
    if ! command -v "$tool" >/dev/null; then
        echo "screenshot: $tool is missing (apt-get install xvfb xauth xdotool imagemagick)" >&2
        exit 1
    fi
done

cargo build --quiet -p server-cli -p player-gtk
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Port 0: the server picks a free one and prints its URL first.
target/debug/server-cli --port 0 >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 100); do
    [ -s "$tmp/server.out" ] && break
    sleep 0.1
done
url=$(head -n1 "$tmp/server.out")
case "$url" in
rtsp://*) ;;
*)
    echo "screenshot: server-cli did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
    ;;
esac
echo "screenshot: playing $url" >&2

mkdir -p "$(dirname "$out")"
cat >"$tmp/inside.sh" <<'EOF'
set -euo pipefail
"$PLAYER" --play "$URL" >"$TMPDIR_SHOT/player.log" 2>&1 &
player_pid=$!
win=$(timeout 20 xdotool search --sync --onlyvisible --name '^Video Streaming Player$' | head -n1)
sleep "$SECONDS_PLAYING"
import -window "$win" "$OUT"
kill "$player_pid"
wait "$player_pid" 2>/dev/null || true
EOF
PLAYER="$root/target/debug/player-gtk" URL="$url" OUT="$out" TMPDIR_SHOT="$tmp" \
    SECONDS_PLAYING="$seconds" GTK_A11Y=none \
    DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/player-gtk-screenshot" \
    xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" bash "$tmp/inside.sh"
echo "screenshot: wrote $out" >&2
