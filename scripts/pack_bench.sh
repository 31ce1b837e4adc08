#!/usr/bin/env bash
# Packs what the load benchmarks need to run on another x86-64 Linux machine
# that has no Rust, no GStreamer and no network (a larger lent machine):
# server-cli built without GStreamer and rtsp_load, in release mode, each
# with the shared libraries it links and the dynamic loader that runs them
# (so the other machine's own libc does not matter), and a media file.
#
#   bash scripts/pack_bench.sh [--media PATH.Mjpeg] [--out DIR]
#
#   --media PATH  the file to serve there (default: server-cli's built-in
#                 sample in ~/.cache/mjpegrtsp/, made by scripts/run.sh)
#   --out DIR     where to pack (default: bench-pack, which git ignores)
#
# There, from the repository's root (its scripts travel with it):
#
#   bash scripts/bench_engine.sh --bin-dir bench-pack/bin \
#       --media bench-pack/media/NAME.Mjpeg --sessions "2000 6000 10000 12000" ...
#
# Python 3 is the only other thing the benchmark needs there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEDIA="${XDG_CACHE_HOME:-$HOME/.cache}/mjpegrtsp/sample.Mjpeg"
OUT="$ROOT/bench-pack"
while (($#)); do
    case "$1" in
        --media) MEDIA="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "pack_bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -f "$MEDIA" ] || { echo "pack_bench: no media file $MEDIA (give --media)" >&2; exit 2; }

cd "$ROOT"
# server-cli without GStreamer first, copied aside: the default build that
# follows (rtsp_load's package) does not touch the copy.
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/real" "$OUT/lib" "$OUT/media"
cargo build --locked --release -p server-cli --no-default-features >&2
cp target/release/server-cli "$OUT/real/server-cli"
cargo build --locked --release -p mjpegrtsp-tests --bin rtsp_load >&2
cp target/release/rtsp_load "$OUT/real/rtsp_load"
# The default server-cli is rebuilt next time it is asked for.
touch server-cli/src/main.rs

for b in server-cli rtsp_load; do
    if ldd "$OUT/real/$b" | grep -qi libgst; then
        echo "pack_bench: $b links GStreamer" >&2
        exit 1
    fi
    # Every library it links, the loader among them (vdso has no file).
    ldd "$OUT/real/$b" | grep -o '/[^ ]*' | while read -r lib; do
        cp -L "$lib" "$OUT/lib/"
    done
    loader=$(basename "$(ldd "$OUT/real/$b" | grep -o '/[^ ]*ld-linux[^ ]*' | head -n1)")
    cat >"$OUT/bin/$b" <<WRAP
#!/bin/sh
# $b with the libraries packed beside it (scripts/pack_bench.sh).
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$d/lib/$loader" --library-path "\$d/lib" "\$d/real/$b" "\$@"
WRAP
    chmod +x "$OUT/bin/$b"
done
cp "$MEDIA" "$OUT/media/"
"$OUT/bin/server-cli" --version >&2
echo "pack_bench: $(du -sh "$OUT" | cut -f1) in $OUT" >&2
