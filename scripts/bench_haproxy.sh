#!/usr/bin/env bash
# N sessions through HAProxy (TCP mode, send-proxy-v2, connecting from
# 127.0.0.3, the one trusted proxy) in front of two server-cli, against N
# sessions on one server directly: the servers' CPU and frames, and
# HAProxy's CPU, measured by rtsp_load on loopback.
#
#   bash scripts/bench_haproxy.sh [SESSIONS] [SECONDS]   (default 200 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-200}
SECONDS_EACH=${2:-20}
command -v haproxy >/dev/null || { echo "haproxy is missing: bash scripts/setup.sh" >&2; exit 1; }
cargo build --release -q -p server-cli -p mjpegrtsp-tests --bin rtsp_load --bin server-cli
bin=target/release
dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
A=$(port); B=$(port); FRONT=$(port)
limits=(--max-sessions 5000 --max-sessions-per-address 0 --max-connections-per-address 0 --loop)
$bin/server-cli --bind 127.0.0.1 --port "$A" "${limits[@]}" --proxy-protocol 127.0.0.3 >/dev/null 2>&1 &
a_pid=$!
$bin/server-cli --bind 127.0.0.1 --port "$B" "${limits[@]}" --proxy-protocol 127.0.0.3 >/dev/null 2>&1 &
b_pid=$!
cat >"$dir/haproxy.cfg" <<CFG
global
    maxconn 4000
defaults
    mode tcp
    timeout connect 2s
    timeout client 300s
    timeout server 300s
frontend rtsp
    bind 127.0.0.1:$FRONT
    default_backend servers
backend servers
    balance roundrobin
    server s0 127.0.0.1:$A send-proxy-v2 source 127.0.0.3 check check-send-proxy inter 2s
    server s1 127.0.0.1:$B send-proxy-v2 source 127.0.0.3 check check-send-proxy inter 2s
CFG
haproxy -db -f "$dir/haproxy.cfg" >/dev/null 2>&1 &
h_pid=$!
trap 'kill $a_pid $b_pid $h_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for p in "$A" "$B" "$FRONT"; do
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.2; done
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "== through HAProxy: $SESSIONS sessions over two servers (server A's CPU sampled; B's and HAProxy's below)"
b0=$(ticks $b_pid); h0=$(ticks $h_pid); t0=$(date +%s.%N)
$bin/rtsp_load "rtsp://127.0.0.1:$FRONT/sample.Mjpeg" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$a_pid" --fps 24 2> >(grep -v '^rtsp_load: ' >&2)
t1=$(date +%s.%N); b1=$(ticks $b_pid); h1=$(ticks $h_pid)
awk -v b=$((b1 - b0)) -v h=$((h1 - h0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" \
    'BEGIN { t = t1 - t0; printf "  server B CPU %.1f%% of a core, HAProxy CPU %.1f%% of a core (whole run, %.1f s)\n", 100*b/hz/t, 100*h/hz/t, t }'
echo "== direct: $SESSIONS sessions on server A alone"
$bin/rtsp_load "rtsp://127.0.0.1:$A/sample.Mjpeg" --sessions "$SESSIONS" --seconds "$SECONDS_EACH" \
    --rate 200 --server-pid "$a_pid" --fps 24 2> >(grep -v '^rtsp_load: ' >&2)
