#!/usr/bin/env bash
# Converting a video to .Mjpeg, three ways, on the same 1080p clip: this
# project's converter (server-cli convert: GStreamer decode, jpegenc on
# every core, frames written in order), ffmpeg (-c:v mjpeg, then the JPEGs
# wrapped into the container), and the seed system's algorithm (decode ->
# encode each frame -> write) as one single-threaded GStreamer pipeline.
# For each: wall time, frames per second, CPU (user + system, all threads),
# output size, and PSNR against the source (ffmpeg's psnr filter), ffmpeg's
# quantiser chosen so its PSNR is closest to ours ("the same quality").
#
#   bash scripts/bench_convert.sh [--seconds 30] [--quality 75] [--runs 3] [--out DIR] [--build]
#
# Needs server-cli built in release mode (--build builds it) and ffmpeg with
# libx264 (Debian's). Prints a Markdown table. Time: about a minute a run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_=30
QUALITY=75
RUNS=3
OUT=""
BUILD=0
while (($#)); do
    case "$1" in
        --seconds) SECONDS_="$2"; shift 2 ;;
        --quality) QUALITY="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --build) BUILD=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_convert: unknown argument $1" >&2; exit 2 ;;
    esac
done
cd "$ROOT"
((BUILD)) && cargo build --release -p server-cli -p gst-plugin-mjpegrtsp >&2
SERVER="$ROOT/target/release/server-cli"
[ -x "$SERVER" ] || { echo "bench_convert: $SERVER missing (give --build)" >&2; exit 2; }
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/bench_convert.XXXXXX)
mkdir -p "$OUT"
export GST_PLUGIN_PATH="$ROOT/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

CLIP="$OUT/clip1080.mp4"
if [ ! -f "$CLIP" ]; then
    echo "bench_convert: making a ${SECONDS_} s 1080p30 H.264 clip…" >&2
    # Tagged BT.601 (what ffmpeg's conversion used): untagged HD is read as
    # BT.709 by GStreamer and as BT.601 by ffmpeg, and the PSNR would
    # compare two readings of the source, not the converters.
    ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=1920x1080:rate=30" \
        -t "$SECONDS_" -c:v libx264 -pix_fmt yuv420p -preset medium \
        -colorspace smpte170m -color_primaries smpte170m -color_trc smpte170m "$CLIP"
fi

python3 - "$SERVER" "$CLIP" "$OUT" "$QUALITY" "$RUNS" "$(nproc)" <<'PY'
import os, re, resource, subprocess, sys, time

server, clip, out, quality, runs, cores = sys.argv[1:7]
runs = int(runs)

def timed(cmd):
    """Wall time and CPU (user + system) of cmd and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu

def wrap(raw, mjpeg):
    """JPEGs back to back -> the container (five digits, then the JPEG)."""
    data = open(raw, "rb").read()
    frames = [b"\xff\xd8" + f for f in data.split(b"\xff\xd9\xff\xd8")]
    frames = [f if f.endswith(b"\xff\xd9") else f + b"\xff\xd9" for f in frames]
    frames[0] = frames[0][2:]  # the split kept the first SOI
    if max(len(f) for f in frames) > 99999:
        return None  # does not fit the container at this quantiser
    with open(mjpeg, "wb") as w:
        for f in frames:
            w.write(b"%05d" % len(f) + f)
    return len(frames)

def unwrap(mjpeg, raw):
    """The container -> JPEGs back to back (what ffmpeg reads)."""
    data = open(mjpeg, "rb").read()
    i, n = 0, 0
    with open(raw, "wb") as w:
        while i < len(data):
            size = int(data[i:i + 5])
            w.write(data[i + 5:i + 5 + size])
            i += 5 + size
            n += 1
    return n

def psnr(raw):
    """Average PSNR (dB) of a raw MJPEG stream against the source clip."""
    r = subprocess.run(["ffmpeg", "-hide_banner", "-framerate", "30", "-i", raw, "-i", clip, "-lavfi",
                        "[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True)
    m = re.search(r"average:([0-9.]+|inf)", r.stderr)
    return float(m.group(1)) if m else float("nan")

def median(v):
    v = sorted(v)
    return v[len(v) // 2]

def run(name, cmd, after=None, output=None):
    """Median wall time (the wrapping after it included) and CPU of runs."""
    walls, cpus = [], []
    for _ in range(runs):
        t = time.monotonic()
        _, c = timed(cmd)
        if after:
            after()
        walls.append(time.monotonic() - t)
        cpus.append(c)
    return name, median(walls), median(cpus), output

ours = os.path.join(out, "ours.Mjpeg")
results = [run("server-cli convert (jpegenc on every core)",
               [server, "convert", clip, ours, "--quality", quality], output=ours)]

# ffmpeg at the quantiser whose PSNR is closest to ours.
unwrap(ours, os.path.join(out, "ours.mjpeg"))
target = psnr(os.path.join(out, "ours.mjpeg"))
best = None
for q in range(2, 13):
    raw = os.path.join(out, f"ffmpeg-q{q}.mjpeg")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", clip, "-c:v",
                    "mjpeg", "-q:v", str(q), "-pix_fmt", "yuvj420p", "-huffman", "default",
                    "-f", "mjpeg", raw], check=True)
    if wrap(raw, os.path.join(out, "fits.Mjpeg")) is None:
        continue
    p = psnr(raw)
    if best is None or abs(p - target) < abs(best[1] - target):
        best = (q, p)
q = best[0]
ff_raw = os.path.join(out, "ffmpeg.mjpeg")
ff = os.path.join(out, "ffmpeg.Mjpeg")
results.append(run(f"ffmpeg -c:v mjpeg -q:v {q}, then wrapped",
                   ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", clip, "-c:v",
                    "mjpeg", "-q:v", str(q), "-pix_fmt", "yuvj420p", "-huffman", "default",
                    "-f", "mjpeg", ff_raw], after=lambda: wrap(ff_raw, ff), output=ff))

seed = os.path.join(out, "seed.Mjpeg")
results.append(run("seed's algorithm, one GStreamer thread",
                   ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "qtdemux", "!",
                    "h264parse", "!", "avdec_h264", "max-threads=1", "!", "videoconvert", "!",
                    "video/x-raw,format=I420", "!", "jpegenc", f"quality={quality}", "!",
                    "lengthmjpegmux", "!", "filesink", f"location={seed}"], output=seed))

print(f"1080p30 clip, {cores} cores, jpegenc quality {quality}, median of {runs} runs")
print("| converter | wall s | frames/s | CPU s | output MB | PSNR dB | × ffmpeg speed |")
print("|---|---|---|---|---|---|---|")
ff_wall = results[1][1]
for name, wall, cpu, output in results:
    raw = output + ".raw"
    frames = unwrap(output, raw)
    p = psnr(raw)
    print(f"| {name} | {wall:.2f} | {frames / wall:.1f} | {cpu:.2f} | "
          f"{os.path.getsize(output) / 1e6:.1f} | {p:.2f} | {ff_wall / wall:.2f}× |")
PY
