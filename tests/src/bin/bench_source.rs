//! Benchmark of `lengthmjpegsrc` (not a test): throughput against its named
//! peer `filesrc` on the same bytes (the I/O limit), and open/index time on a
//! 30-minute file.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin bench_source -- [--frames N] [--runs R] [--skip-large]
//! ```
//!
//! Prints a plain-text report on stdout (progress on stderr) and exits 0
//! whether or not the goals are met ("GOAL MET" / "GOAL MISSED" lines); it
//! exits non-zero only when a pipeline fails or delivers the wrong data.

use gst::prelude::*;
use mjpegrtsp::container::{FrameWriter, Index, PREFIX_LEN};
use mjpegrtsp_tests::{
    bench_args, bench_number, bench_options, init, sample_movie, synthetic_jpeg,
};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "\
bench_source: throughput and open time of the lengthmjpegsrc element

USAGE:
    cargo run --release -p mjpegrtsp-tests --bin bench_source -- [OPTIONS]

OPTIONS:
    --frames N     frames to play in the throughput part (default 24000,
                   about 100 loops of the 240-frame reference file)
    --runs R       runs per measurement; the median is reported (default 3)
    --skip-large   skip the open-time part on the ~560 MB file of 13 KB frames
    -h, --help     print this help

Throughput: `lengthmjpegsrc loop=true num-buffers=N ! fakesink sync=false` on
the project's sample clip (10 s of 640x480 4:2:0 JPEG at 24 fps),
against `filesrc ! fakesink sync=false` (blocksize 4096 and 65536) on a file
holding the same bytes. Open time: Index::build and NULL->PAUSED on a 30-minute
file (43,200 frames at 24 fps). Exits non-zero only on pipeline failures.";

const DEFAULT_FRAMES: u64 = 24_000;
const DEFAULT_RUNS: usize = 3;
/// USER_HZ: the unit of utime/stime in /proc/self/stat on Linux.
const CLOCK_TICKS: f64 = 100.0;
const MB: f64 = 1e6;
/// 30 minutes at 24 fps.
const OPEN_FRAMES: u32 = 43_200;
const OPEN_DURATION: gst::ClockTime = gst::ClockTime::from_seconds(30 * 60);
const MIN_FREE_FOR_LARGE: u64 = 5_000_000_000;
const GOAL_RATIO: f64 = 0.5;
const GOAL_OPEN_MS: f64 = 1000.0;

struct Args {
    frames: u64,
    runs: usize,
    skip_large: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        frames: DEFAULT_FRAMES,
        runs: DEFAULT_RUNS,
        skip_large: false,
    };
    let Some(options) = bench_options(
        std::env::args().skip(1),
        &["--frames", "--runs"],
        &["--skip-large"],
    )?
    else {
        return Ok(None);
    };
    for (name, value) in options {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "--frames" => args.frames = bench_number(&name, &value, 1..=i32::MAX as u64)?,
            "--runs" => args.runs = bench_number(&name, &value, 1..=usize::MAX)?,
            _ => args.skip_large = true,
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match bench_args("bench_source", USAGE, parse_args()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    init();
    let mut report = Report::default();
    // The temporary files live inside `run` and are removed when it returns.
    let outcome = run(&args, &mut report);
    print!("{}", report.text);
    match outcome {
        Ok(()) => {
            println!("\nTemporary files removed. Done.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("\nFAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Report {
    text: String,
    goals: Vec<String>,
}

impl Report {
    fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }

    fn goal(&mut self, met: bool, what: String) {
        let verdict = if met { "GOAL MET   " } else { "GOAL MISSED" };
        self.goals.push(format!("{verdict} {what}"));
    }
}

fn run(args: &Args, report: &mut Report) -> Result<(), String> {
    let tmp = tempfile::Builder::new()
        .prefix("bench_source.")
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))?;

    report.line("lengthmjpegsrc benchmark (mjpegrtsp-tests/src/bin/bench_source.rs)");
    report.line("=================================================================");
    report.line(format!(
        "machine    : {} CPUs, {}, {} MB RAM",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        mem_total_mb()
    ));
    report.line(format!("GStreamer  : {}", gst::version_string()));
    report.line(format!(
        "settings   : --frames {} --runs {}; MB = 10^6 bytes",
        args.frames, args.runs
    ));
    report.line(format!("CPU time   : whole process, {}", cpu_method()));
    report.line(format!("temp dir   : {}", tmp.path().display()));

    throughput(args, tmp.path(), report)?;
    open_time(args, tmp.path(), report)?;

    report.line("");
    report.line("Goals");
    report.line("-----");
    for g in std::mem::take(&mut report.goals) {
        report.line(g);
    }
    tmp.close()
        .map_err(|e| format!("removing the temporary directory: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 1 + 2: throughput against filesrc

#[derive(Clone, Copy)]
enum Variant {
    OursLoop,
    OursConcat,
    FileSrc(Option<u32>),
}

impl Variant {
    fn label(self) -> String {
        match self {
            Variant::OursLoop => "lengthmjpegsrc loop=true num-buffers=N".into(),
            Variant::OursConcat => "lengthmjpegsrc on concatenated file".into(),
            Variant::FileSrc(None) => "filesrc (default blocksize=4096)".into(),
            Variant::FileSrc(Some(b)) => format!("filesrc blocksize={b}"),
        }
    }
}

/// One timed pipeline run. `timed_*` count what reached the sink between
/// PLAYING and EOS; `total_*` everything (including the preroll buffer).
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    cpu: f64,
    timed_buffers: u64,
    timed_bytes: u64,
    total_buffers: u64,
    total_bytes: u64,
}

fn throughput(args: &Args, tmp: &Path, report: &mut Report) -> Result<(), String> {
    // The source file: the project's sample clip.
    let source = sample_movie().to_path_buf();
    let source_note = "the project's sample clip (gstmjpegrtsp::sample: 240 frames 640x480 4:2:0, jpegenc quality=85)".to_string();
    let source = source.canonicalize().unwrap_or(source);
    let bytes = std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display()))?;
    let index = Index::build(&bytes[..]).map_err(|e| format!("{}: {e}", source.display()))?;
    let contiguous = index.anomalies().is_empty()
        && index.frames().first().map(|e| e.header_offset()) == Some(0)
        && index
            .frames()
            .last()
            .is_some_and(|e| e.offset + u64::from(e.len) == bytes.len() as u64);
    if !contiguous {
        return Err(format!(
            "{} is not a clean container ({:?}): a concatenation would not hold the same bytes",
            source.display(),
            index.anomalies()
        ));
    }
    let per_file = index.len() as u64;
    let (loops, rest) = (args.frames / per_file, args.frames % per_file);
    let lens: Vec<u64> = index.frames().iter().map(|e| u64::from(e.len)).collect();
    let payload = loops * lens.iter().sum::<u64>() + lens[..rest as usize].iter().sum::<u64>();
    let file_bytes = payload + args.frames * PREFIX_LEN as u64;
    let min_len = lens.iter().min().copied().unwrap_or(0);
    let max_len = lens.iter().max().copied().unwrap_or(0);

    // The peer's input: the same bytes as the N frames read, in one file.
    let concat = tmp.join("concatenated.Mjpeg");
    eprintln!(
        "writing {:.1} MB concatenated file ...",
        file_bytes as f64 / MB
    );
    write_concat(&concat, &bytes, &index, args.frames)
        .map_err(|e| format!("writing {}: {e}", concat.display()))?;
    let concat_size = std::fs::metadata(&concat).map_err(|e| e.to_string())?.len();
    if concat_size != file_bytes {
        return Err(format!(
            "concatenated file is {concat_size} bytes, expected {file_bytes}"
        ));
    }
    warm(&concat).map_err(|e| format!("reading {}: {e}", concat.display()))?;
    warm(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;

    report.line("");
    report.line("1+2. Throughput: lengthmjpegsrc vs filesrc on the same bytes (page cache warm)");
    report.line("-------------------------------------------------------------------------------");
    report.line(format!("source     : {} ({source_note})", source.display()));
    report.line(format!(
        "             {} frames, {} bytes, JPEG {}..{} bytes/frame (mean {:.0})",
        per_file,
        bytes.len(),
        min_len,
        max_len,
        lens.iter().sum::<u64>() as f64 / per_file as f64
    ));
    report.line(format!(
        "workload   : N = {} frames = {} loops + {} frames; JPEG payload {} bytes ({:.1} MB), incl. 5-byte prefixes {} bytes ({:.1} MB)",
        args.frames,
        loops,
        rest,
        payload,
        payload as f64 / MB,
        file_bytes,
        file_bytes as f64 / MB
    ));
    report.line(format!(
        "peer input : {} = source concatenated {} times (+ first {} frames), {} bytes: identical bytes",
        concat.display(),
        loops,
        rest,
        concat_size
    ));
    report.line(format!(
        "pipelines  : <src> ! fakesink sync=false; timed from PLAYING (after preroll) to EOS; 1 warm-up + {} runs each, variants alternated (rotating order), median by wall time",
        args.runs
    ));

    let variants = [
        Variant::OursLoop,
        Variant::OursConcat,
        Variant::FileSrc(None),
        Variant::FileSrc(Some(65_536)),
    ];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); variants.len()];
    // Round 0 is an untimed warm-up (allocator, page tables, CPU caches).
    for round in 0..=args.runs {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let v = variants[i];
            eprintln!("run {round}/{} (0 = warm-up): {}", args.runs, v.label());
            let src = match v {
                Variant::OursLoop => make_element(
                    "lengthmjpegsrc",
                    &source,
                    &[
                        ("loop", true.to_value()),
                        ("num-buffers", (args.frames as i32).to_value()),
                    ],
                )?,
                Variant::OursConcat => make_element("lengthmjpegsrc", &concat, &[])?,
                Variant::FileSrc(None) => make_element("filesrc", &concat, &[])?,
                Variant::FileSrc(Some(b)) => {
                    make_element("filesrc", &concat, &[("blocksize", b.to_value())])?
                }
            };
            if let Variant::FileSrc(None) = v {
                let b: u32 = src.property("blocksize");
                if b != 4096 {
                    eprintln!("note: filesrc default blocksize is {b}, not 4096");
                }
            }
            let r = play(src).map_err(|e| format!("{}: {e}", v.label()))?;
            // The element must deliver exactly the frames asked for.
            let expected = match v {
                Variant::OursLoop | Variant::OursConcat => (Some(args.frames), payload),
                Variant::FileSrc(_) => (None, file_bytes),
            };
            if expected.0.is_some_and(|n| n != r.total_buffers) || expected.1 != r.total_bytes {
                return Err(format!(
                    "{}: delivered {} buffers / {} bytes, expected {} / {} bytes",
                    v.label(),
                    r.total_buffers,
                    r.total_bytes,
                    expected.0.map_or("any".to_string(), |n| n.to_string()),
                    expected.1
                ));
            }
            if round > 0 {
                runs[i].push(r);
            }
        }
    }

    report.line("");
    report.line(format!(
        "{:<40} {:>8} {:>8} {:>7} {:>5} {:>9} {:>9} {:>9}  {}",
        "variant",
        "buffers",
        "wall ms",
        "CPU ms",
        "CPU%",
        "frames/s",
        "MB/s file",
        "MB/s JPEG",
        "wall ms of all runs"
    ));
    let mut medians = Vec::new();
    for (v, rs) in variants.iter().zip(&mut runs) {
        let all = rs
            .iter()
            .map(|r| format!("{:.0}", ms(r.wall)))
            .collect::<Vec<_>>()
            .join(" ");
        rs.sort_by_key(|r| r.wall);
        let m = rs[rs.len() / 2];
        let secs = m.wall.as_secs_f64();
        let ours = matches!(v, Variant::OursLoop | Variant::OursConcat);
        // File bytes moved: for our source, the payload plus the prefixes it
        // read past; for filesrc, what it delivered.
        let moved = if ours {
            m.timed_bytes + m.timed_buffers * PREFIX_LEN as u64
        } else {
            m.timed_bytes
        };
        let file_rate = moved as f64 / MB / secs;
        let (fps, jpeg_rate) = if ours {
            (
                format!("{:.0}", m.timed_buffers as f64 / secs),
                format!("{:.1}", m.timed_bytes as f64 / MB / secs),
            )
        } else {
            ("-".into(), "-".into())
        };
        report.line(format!(
            "{:<40} {:>8} {:>8.1} {:>7.0} {:>5.0} {:>9} {:>9.1} {:>9}  {}",
            v.label(),
            m.total_buffers,
            ms(m.wall),
            m.cpu * 1000.0,
            100.0 * m.cpu / secs,
            fps,
            file_rate,
            jpeg_rate,
            all
        ));
        medians.push((*v, m, file_rate));
    }
    let ours_loop = medians[0];
    let ours_concat = medians[1];
    report.line("");
    report.line(format!(
        "per frame  : lengthmjpegsrc {:.2} us wall, {:.2} us CPU (looped reference)",
        ours_loop.1.wall.as_secs_f64() * 1e6 / ours_loop.1.timed_buffers as f64,
        ours_loop.1.cpu * 1e6 / ours_loop.1.timed_buffers as f64
    ));
    report.line("ratio ours/filesrc (MB/s of file bytes; both move the same bytes):");
    for &(v, _, rate) in &medians[2..] {
        for (ours_label, ours_rate) in [("looped", ours_loop.2), ("concatenated", ours_concat.2)] {
            let ratio = ours_rate / rate;
            report.line(format!(
                "  {ours_label:<13} vs {:<34}: {ratio:.2}",
                v.label()
            ));
            report.goal(
                ratio >= GOAL_RATIO,
                format!(
                    "throughput ({ours_label}): lengthmjpegsrc {ours_rate:.0} MB/s = {ratio:.2} x {} {rate:.0} MB/s (goal >= {GOAL_RATIO:.2})",
                    v.label()
                ),
            );
        }
    }
    report.line(format!(
        "  (looped re-reads one {:.1} MB file, which can stay in the CPU caches; \
         concatenated reads the same {:.0} MB as filesrc)",
        bytes.len() as f64 / MB,
        file_bytes as f64 / MB
    ));
    std::fs::remove_file(&concat).map_err(|e| format!("removing {}: {e}", concat.display()))?;
    Ok(())
}

/// Writes the bytes of the first `frames` frames of `bytes` played in a loop.
fn write_concat(path: &Path, bytes: &[u8], index: &Index, frames: u64) -> io::Result<()> {
    let per_file = index.len() as u64;
    let (loops, rest) = (frames / per_file, (frames % per_file) as usize);
    let partial = match rest {
        0 => 0,
        r => {
            let e = index.frames()[r - 1];
            (e.offset + u64::from(e.len)) as usize
        }
    };
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    for _ in 0..loops {
        w.write_all(bytes)?;
    }
    w.write_all(&bytes[..partial])?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Reads a file once so that it is in the page cache.
fn warm(path: &Path) -> io::Result<()> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

fn make_element(
    factory: &str,
    location: &Path,
    props: &[(&str, gst::glib::Value)],
) -> Result<gst::Element, String> {
    let location = location
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", location.display()))?;
    let e = gst::ElementFactory::make(factory)
        .property("location", location)
        .build()
        .map_err(|e| format!("creating {factory}: {e}"))?;
    for (name, value) in props {
        e.set_property_from_value(name, value);
    }
    Ok(e)
}

/// `src ! fakesink sync=false` in a new pipeline.
fn pipeline_with(src: gst::Element) -> Result<(gst::Pipeline, gst::Element), String> {
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
        .map_err(|e| format!("creating fakesink: {e}"))?;
    let pipeline = gst::Pipeline::new();
    pipeline
        .add_many([&src, &sink])
        .map_err(|e| e.to_string())?;
    src.link(&sink).map_err(|e| e.to_string())?;
    Ok((pipeline, sink))
}

/// Plays `src ! fakesink` to EOS, counting what reaches the sink.
fn play(src: gst::Element) -> Result<Run, String> {
    let (pipeline, sink) = pipeline_with(src)?;
    let buffers = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    {
        let (buffers, bytes) = (buffers.clone(), bytes.clone());
        sink.static_pad("sink")
            .expect("fakesink has a sink pad")
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(b) = info.buffer() {
                    buffers.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(b.size() as u64, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
    }
    let result = (|| {
        preroll(&pipeline)?;
        let (b0, y0) = (buffers.load(Ordering::SeqCst), bytes.load(Ordering::SeqCst));
        let cpu0 = cpu_snapshot();
        let t0 = Instant::now();
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| bus_error(&pipeline, "going to PLAYING"))?;
        wait_eos(&pipeline)?;
        let wall = t0.elapsed();
        let cpu = cpu_since(&cpu0);
        let (b1, y1) = (buffers.load(Ordering::SeqCst), bytes.load(Ordering::SeqCst));
        Ok(Run {
            wall,
            cpu,
            timed_buffers: b1 - b0,
            timed_bytes: y1 - y0,
            total_buffers: b1,
            total_bytes: y1,
        })
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// NULL → PAUSED, waiting for the preroll.
fn preroll(pipeline: &gst::Pipeline) -> Result<(), String> {
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| bus_error(pipeline, "going to PAUSED"))?;
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(60));
    res.map(|_| ())
        .map_err(|_| bus_error(pipeline, "prerolling"))
}

fn wait_eos(pipeline: &gst::Pipeline) -> Result<(), String> {
    let bus = pipeline.bus().expect("pipeline has a bus");
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(600),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(format!(
            "error from {}: {} ({:?})",
            e.src().map_or("?".into(), |s| s.path_string().to_string()),
            e.error(),
            e.debug()
        )),
        _ => Err("no EOS within 600 s".into()),
    }
}

fn bus_error(pipeline: &gst::Pipeline, what: &str) -> String {
    let bus = pipeline.bus().expect("pipeline has a bus");
    match bus.pop_filtered(&[gst::MessageType::Error]) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(e) => format!(
                "{what}: error from {}: {} ({:?})",
                e.src().map_or("?".into(), |s| s.path_string().to_string()),
                e.error(),
                e.debug()
            ),
            _ => format!("{what} failed"),
        },
        None => format!("{what} failed (no error message on the bus)"),
    }
}

// ---------------------------------------------------------------------------
// 3: open/index time on a 30-minute file

fn open_time(args: &Args, tmp: &Path, report: &mut Report) -> Result<(), String> {
    report.line("");
    report.line("3. Open time: 30-minute files (43,200 frames, 24 fps), page cache warm");
    report.line("----------------------------------------------------------------------");
    report.line(format!(
        "(a) Index::build on the open File (pure); (b) lengthmjpegsrc ! fakesink NULL->PAUSED (open + index + first frame + preroll), then duration query; median of {} runs",
        args.runs
    ));
    report.line("");
    report.line(format!(
        "{:<34} {:>10} {:>12} {:>12} {:>10}  {}",
        "file", "MB", "index ms", "PAUSED ms", "duration", "index / PAUSED ms of all runs"
    ));

    let small = tmp.join("30min-small.Mjpeg");
    open_case(
        &small,
        "synthetic 2-4 KB frames",
        |n| 2048 + (n as usize * 7919) % 2049,
        args.runs,
        report,
    )?;
    std::fs::remove_file(&small).map_err(|e| e.to_string())?;

    let large_label = "synthetic 10.5-15.7 KB frames";
    if args.skip_large {
        report.line(format!("{large_label:<34} skipped (--skip-large)"));
    } else {
        match free_bytes(tmp) {
            Some(free) if free >= MIN_FREE_FOR_LARGE => {
                let large = tmp.join("30min-13k.Mjpeg");
                // Frame sizes over the reference file's range (10,528..15,723).
                open_case(
                    &large,
                    large_label,
                    |n| 10_528 + (n as usize * 7919) % 5196,
                    args.runs,
                    report,
                )?;
                std::fs::remove_file(&large).map_err(|e| e.to_string())?;
            }
            Some(free) => report.line(format!(
                "{large_label:<34} skipped: {:.1} GB free in {} (< 5 GB)",
                free as f64 / 1e9,
                tmp.display()
            )),
            None => report.line(format!(
                "{large_label:<34} skipped: could not read free space with df"
            )),
        }
    }
    Ok(())
}

fn open_case(
    path: &Path,
    label: &str,
    size: impl Fn(u32) -> usize,
    runs: usize,
    report: &mut Report,
) -> Result<(), String> {
    eprintln!("writing {} ({label}) ...", path.display());
    let len = write_movie(path, OPEN_FRAMES, size)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    warm(path).map_err(|e| e.to_string())?;

    let mut index_ms = Vec::new();
    let mut paused_ms = Vec::new();
    let mut duration = None;
    for _ in 0..runs {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let index = Index::build(&file).map_err(|e| format!("{}: {e}", path.display()))?;
        index_ms.push(ms(t0.elapsed()));
        if index.len() != OPEN_FRAMES as usize || !index.anomalies().is_empty() {
            return Err(format!(
                "{}: indexed {} frames with {} anomalies, expected {OPEN_FRAMES} and none",
                path.display(),
                index.len(),
                index.anomalies().len()
            ));
        }
        drop(index);

        let (d, frames, took) = open_element(path)?;
        if d != Some(OPEN_DURATION) || frames != Some(u64::from(OPEN_FRAMES)) {
            return Err(format!(
                "{}: duration query gave {} / {:?} frames, expected 0:30:00.000000000 / {OPEN_FRAMES}",
                path.display(),
                d.display(),
                frames
            ));
        }
        duration = d;
        paused_ms.push(ms(took));
    }
    let all = index_ms
        .iter()
        .zip(&paused_ms)
        .map(|(a, b)| format!("{a:.1}/{b:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (mi, mp) = (median(&index_ms), median(&paused_ms));
    let shown_duration = duration.map_or("?".to_string(), |d| {
        let s = d.seconds();
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    });
    report.line(format!(
        "{:<34} {:>10.1} {:>12.1} {:>12.1} {:>10}  {}",
        label,
        len as f64 / MB,
        mi,
        mp,
        shown_duration,
        all
    ));
    report.goal(
        mp < GOAL_OPEN_MS,
        format!(
            "open time, 30 min of {label} ({:.0} MB): NULL->PAUSED {mp:.1} ms, Index::build {mi:.1} ms (goal well under {GOAL_OPEN_MS:.0} ms)",
            len as f64 / MB
        ),
    );
    Ok(())
}

/// Times NULL→PAUSED of `lengthmjpegsrc location=path ! fakesink`, then
/// queries the duration in time and in frames.
fn open_element(path: &Path) -> Result<(Option<gst::ClockTime>, Option<u64>, Duration), String> {
    let src = make_element("lengthmjpegsrc", path, &[])?;
    let (pipeline, _) = pipeline_with(src)?;
    let t0 = Instant::now();
    let result = preroll(&pipeline).map(|()| t0.elapsed()).map(|took| {
        let d = pipeline.query_duration::<gst::ClockTime>();
        let frames = pipeline
            .query_duration::<gst::format::Default>()
            .map(|f| *f);
        (d, frames, took)
    });
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Writes `frames` synthetic 640×480 frames of `size(n)` bytes to `path`.
fn write_movie(path: &Path, frames: u32, size: impl Fn(u32) -> usize) -> io::Result<u64> {
    let mut w = FrameWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?));
    for n in 0..frames {
        w.write_frame(&synthetic_jpeg(640, 480, n, size(n)))?;
    }
    let f = w.into_inner().into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(f.metadata()?.len())
}

// ---------------------------------------------------------------------------
// Helpers

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time used by this process at one instant: per-thread on-CPU
/// nanoseconds from /proc/self/task/*/schedstat when the kernel provides
/// them, and utime+stime (10 ms ticks) from /proc/self/stat as a fallback.
struct CpuSnapshot {
    threads: Option<HashMap<String, u64>>,
    ticks: u64,
}

fn cpu_snapshot() -> CpuSnapshot {
    let threads = std::fs::read_dir("/proc/self/task").ok().and_then(|dir| {
        dir.map(|entry| {
            let entry = entry.ok()?;
            let stat = std::fs::read_to_string(entry.path().join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse::<u64>().ok()?;
            Some((entry.file_name().to_string_lossy().into_owned(), ns))
        })
        .collect::<Option<HashMap<_, _>>>()
    });
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    CpuSnapshot {
        threads,
        ticks: ticks(11) + ticks(12),
    }
}

/// CPU seconds used since `start`. Per thread, so a thread that ended in
/// between is not counted: none does in these pipelines (the streaming
/// thread lives from preroll until the pipeline is set to NULL).
fn cpu_since(start: &CpuSnapshot) -> f64 {
    let now = cpu_snapshot();
    match (&start.threads, &now.threads) {
        (Some(before), Some(after)) => {
            let ns: u64 = after
                .iter()
                .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
                .sum();
            ns as f64 / 1e9
        }
        _ => now.ticks.saturating_sub(start.ticks) as f64 / CLOCK_TICKS,
    }
}

fn cpu_method() -> &'static str {
    if cpu_snapshot().threads.is_some() {
        "sum over threads of /proc/self/task/*/schedstat (ns)"
    } else {
        "utime+stime from /proc/self/stat (10 ms ticks)"
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mem_total_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Free bytes for unprivileged users on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let kb: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}
