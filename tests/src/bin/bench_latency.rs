//! Benchmark of the client side's latency (not a test): the time from the
//! server sending a frame's last packet to the element pushing the frame, for
//! `mjpegrtspsrc` with its defaults and for `rtspsrc ! rtpjpegdepay` with its
//! defaults (and with `latency=0`), on loopback at 24 fps, in the same run.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin bench_latency -- [--frames N] [--rounds R]
//! ```
//!
//! Prints a plain-text report on stdout (progress on stderr) and exits 0
//! whether or not the goal is met ("GOAL MET" / "GOAL MISSED"); it exits
//! non-zero only when a pipeline fails, delivers too few frames, or delivers
//! a frame that is not one the server sent.

use gst::prelude::*;
use mjpegrtsp_tests::{
    RtspProxy, StampLog, Stamper, TestServer, bench_args, bench_number, bench_options, frames_of,
    init, jpeg_scan_data, sample_movie,
};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "\
bench_latency: latency of mjpegrtspsrc against rtspsrc ! rtpjpegdepay

USAGE:
    cargo run --release -p mjpegrtsp-tests --bin bench_latency -- [OPTIONS]

OPTIONS:
    --frames N     frames measured per pipeline (default 240), split evenly
                   over the rounds
    --rounds R     runs per pipeline, interleaved A B C A B C ... (default 2)
    -h, --help     print this help

Our server (in this process, looping the project's 640x480 sample clip at
24 fps) streams over UDP on loopback through
a relay in this process that forwards every packet unchanged and notes the
monotonic time at which it sent each frame's last packet (the RTP marker) on to
the client. A pad probe notes the time each frame is pushed: on the src pad of
mjpegrtspsrc, and on the src pad of rtpjpegdepay after rtspsrc. Latency =
push time - marker send time, matching the Nth frame pushed with the Nth
marker (checked: each pushed frame's scan data is that file frame's).
Pipelines end in fakesink sync=false. Goal: p99 <= 10 ms for mjpegrtspsrc.
An extra table times the same with fakesink sync=true (its handoff signal):
when a display sink would show each frame, each source's latency included.
Runs take about 75 s with the defaults.";

const DEFAULT_FRAMES: usize = 240;
const DEFAULT_ROUNDS: usize = 2;
const WARMUP_FRAMES: usize = 12;
const GOAL_P99_MS: f64 = 10.0;
/// 90 kHz timestamps at 24 fps.
const TS_PER_FRAME: u32 = 90_000 / 24;

struct Args {
    frames: usize,
    rounds: usize,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        frames: DEFAULT_FRAMES,
        rounds: DEFAULT_ROUNDS,
    };
    let Some(options) = bench_options(std::env::args().skip(1), &["--frames", "--rounds"], &[])?
    else {
        return Ok(None);
    };
    for (name, value) in options {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "--frames" => args.frames = bench_number(&name, &value, 1..=100_000)?,
            _ => args.rounds = bench_number(&name, &value, 1..=100)?,
        }
    }
    if args.frames < args.rounds {
        return Err(format!(
            "--frames {} is fewer than --rounds {}",
            args.frames, args.rounds
        ));
    }
    Ok(Some(args))
}

/// Where a pipeline's frames are timed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// A buffer probe on the src pad of the element named `probe`: when it
    /// pushes the frame.
    SrcPad,
    /// The `handoff` signal of the fakesink named `probe` (sync=true): when
    /// a display sink would show the frame.
    Handoff,
}

/// One pipeline under test.
struct Variant {
    name: &'static str,
    /// gst-launch description; `{url}` is replaced.
    launch: &'static str,
    probe: Probe,
}

/// The measurement the goal is about: push times.
const VARIANTS: [Variant; 3] = [
    Variant {
        name: "mjpegrtspsrc (defaults: latency=30)",
        launch: "mjpegrtspsrc name=probe location={url} ! fakesink sync=false",
        probe: Probe::SrcPad,
    },
    Variant {
        name: "rtspsrc ! rtpjpegdepay (defaults: latency=2000)",
        launch: "rtspsrc location={url} ! rtpjpegdepay name=probe ! fakesink sync=false",
        probe: Probe::SrcPad,
    },
    Variant {
        name: "rtspsrc latency=0 ! rtpjpegdepay",
        launch: "rtspsrc location={url} latency=0 ! rtpjpegdepay name=probe ! fakesink sync=false",
        probe: Probe::SrcPad,
    },
];

/// An extra: when a synchronising sink renders the frames (each source's
/// advertised latency is added there).
const SYNC_VARIANTS: [Variant; 3] = [
    Variant {
        name: "mjpegrtspsrc ! fakesink sync=true",
        launch: "mjpegrtspsrc location={url} ! fakesink name=probe sync=true signal-handoffs=true",
        probe: Probe::Handoff,
    },
    Variant {
        name: "mjpegrtspsrc ! queue ! fakesink sync=true",
        launch: "mjpegrtspsrc location={url} ! queue ! fakesink name=probe sync=true signal-handoffs=true",
        probe: Probe::Handoff,
    },
    Variant {
        name: "rtspsrc ! rtpjpegdepay ! fakesink sync=true",
        launch: "rtspsrc location={url} ! rtpjpegdepay ! fakesink name=probe sync=true signal-handoffs=true",
        probe: Probe::Handoff,
    },
];

/// What one run measured.
#[derive(Default)]
struct RunResult {
    /// Latency of each pushed frame, in ms, in push order.
    latencies_ms: Vec<f64>,
    /// Frames the relay forwarded (before the last one pushed) that were
    /// never pushed.
    lost: usize,
    /// The pushed frames matched the markers one to one, in order.
    exact: bool,
}

/// Runs `variant` until it pushed `frames` frames; the latencies of them.
fn run(
    server: &TestServer,
    variant: &Variant,
    file: &[Vec<u8>],
    frames: usize,
) -> Result<RunResult, String> {
    let (stamper, log) = Stamper::new();
    let proxy = RtspProxy::start(server.addr, stamper);
    let launch = variant.launch.replace("{url}", &proxy.url("movie.Mjpeg"));
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| format!("{launch}: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let probed = pipeline.by_name("probe").ok_or("no element named probe")?;
    let pushes: Arc<Mutex<Vec<(Instant, gst::Buffer)>>> = Arc::default();
    let pushed = pushes.clone();
    match variant.probe {
        Probe::SrcPad => {
            let pad = probed.static_pad("src").ok_or("no src pad")?;
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                let at = Instant::now();
                if let Some(b) = info.buffer() {
                    pushed.lock().unwrap().push((at, b.clone()));
                }
                gst::PadProbeReturn::Ok
            });
        }
        Probe::Handoff => {
            probed.connect("handoff", false, move |values| {
                let at = Instant::now();
                if let Ok(b) = values[1].get::<gst::Buffer>() {
                    pushed.lock().unwrap().push((at, b));
                }
                None
            });
        }
    }
    let bus = pipeline.bus().unwrap();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("{}: PLAYING: {e}", variant.name))?;
    // rtspsrc's default jitterbuffer holds the first packet for 2 s.
    let deadline = Instant::now() + Duration::from_secs_f64(frames as f64 / 24.0 + 15.0);
    let mut error = None;
    while pushes.lock().unwrap().len() < frames {
        if Instant::now() > deadline {
            error = Some(format!(
                "{}: {} of {frames} frames in time",
                variant.name,
                pushes.lock().unwrap().len()
            ));
            break;
        }
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(5),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            error = Some(format!("{}: {msg:?}", variant.name));
            break;
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    drop(proxy);
    if let Some(e) = error {
        return Err(e);
    }
    let pushes = pushes.lock().unwrap()[..frames].to_vec();
    let log = log.lock().unwrap().clone();
    match_frames(&pushes, &log, file).map_err(|e| format!("{}: {e}", variant.name))
}

/// Matches pushed frames with the relay's markers: the Nth pushed with the
/// Nth marker when nothing was lost (checked by scan data), else each pushed
/// frame with the next marker whose file frame it equals.
fn match_frames(
    pushes: &[(Instant, gst::Buffer)],
    log: &StampLog,
    file: &[Vec<u8>],
) -> Result<RunResult, String> {
    let markers = &log.markers;
    if log.input_gaps > 0 {
        return Err(format!(
            "{} packets lost between the server and the relay",
            log.input_gaps
        ));
    }
    if let Some(&(ts0, _)) = markers.first() {
        for (k, &(ts, _)) in markers.iter().enumerate() {
            // The server rounds each frame's media time to the 90 kHz clock.
            let frame = (ts.wrapping_sub(ts0) + TS_PER_FRAME / 2) / TS_PER_FRAME;
            if frame as usize != k {
                return Err(format!("marker {k} has timestamp {ts}: not frame {k}"));
            }
        }
    }
    let scans: Vec<Vec<u8>> = pushes
        .iter()
        .map(|(_, b)| {
            let map = b
                .map_readable()
                .map_err(|_| "unreadable buffer".to_string())?;
            jpeg_scan_data(&map)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "a pushed buffer is not a whole JPEG".to_string())
        })
        .collect::<Result<_, _>>()?;
    let file_scan = |k: usize| jpeg_scan_data(&file[k % file.len()]);
    let exact = pushes.len() <= markers.len()
        && scans
            .iter()
            .enumerate()
            .all(|(j, s)| Some(s.as_slice()) == file_scan(j));
    let mut result = RunResult {
        exact,
        ..RunResult::default()
    };
    let mut next = 0usize;
    for (j, ((at, _), scan)) in pushes.iter().zip(&scans).enumerate() {
        let k = if exact {
            j
        } else {
            (next..markers.len())
                .find(|&k| file_scan(k) == Some(scan.as_slice()))
                .ok_or_else(|| format!("pushed frame {j} matches no frame the relay sent"))?
        };
        result.lost += k - next;
        next = k + 1;
        let sent = markers[k].1;
        if *at < sent {
            return Err(format!("frame {k} pushed before its last packet was sent"));
        }
        result
            .latencies_ms
            .push(at.duration_since(sent).as_secs_f64() * 1e3);
    }
    Ok(result)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    mjpegrtsp_tests::quantile(sorted, p / 100.0).unwrap_or(f64::NAN)
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_mb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    format!("{cpus} CPUs, {model}, {mem_mb} MB RAM")
}

fn main() -> ExitCode {
    let args = match bench_args("bench_latency", USAGE, parse_args()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_latency: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &Args) -> Result<(), String> {
    init();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = sample_movie();
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let source = "the project's sample clip (gstmjpegrtsp::sample: 640x480, jpegenc quality=85)";
    let file = frames_of(&bytes);
    std::fs::write(dir.path().join("movie.Mjpeg"), &bytes).map_err(|e| e.to_string())?;
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    let server = TestServer::start_with(config);

    let sizes = sorted(&file.iter().map(|f| f.len() as f64).collect::<Vec<_>>());
    let per_run: Vec<usize> = (0..args.rounds)
        .map(|r| args.frames / args.rounds + usize::from(r < args.frames % args.rounds))
        .collect();
    println!("client latency benchmark (mjpegrtsp-tests/src/bin/bench_latency.rs)");
    println!("===================================================================");
    println!("machine    : {}", machine());
    println!("GStreamer  : {}", gst::version_string());
    println!(
        "settings   : --frames {} --rounds {} ({} frames per run); 1 warm-up run of {WARMUP_FRAMES} frames per pipeline",
        args.frames,
        args.rounds,
        per_run
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("+")
    );
    println!(
        "media      : {source}; {} frames looped at 24 fps, JPEG {}..{} bytes (median {})",
        file.len(),
        sizes[0],
        sizes[sizes.len() - 1],
        percentile(&sizes, 50.0)
    );
    println!("server     : ours, in this process, RFC 2435 over UDP, MTU 1400, on 127.0.0.1");
    println!(
        "measured   : push (pad probe) or render (fakesink handoff) time - the relay's send time of the frame's marker packet"
    );
    println!(
        "             (std::time::Instant = CLOCK_MONOTONIC, all in this process); Nth frame <-> Nth marker, checked by scan data"
    );
    println!();

    let all_variants: Vec<&Variant> = VARIANTS.iter().chain(&SYNC_VARIANTS).collect();
    for v in &all_variants {
        eprintln!("warm-up: {}", v.name);
        run(&server, v, &file, WARMUP_FRAMES)?;
    }
    let mut results: Vec<Vec<RunResult>> = all_variants.iter().map(|_| Vec::new()).collect();
    for (round, &n) in per_run.iter().enumerate() {
        for (i, v) in all_variants.iter().enumerate() {
            eprintln!("round {}: {} ({n} frames)", round + 1, v.name);
            let r = run(&server, v, &file, n)?;
            results[i].push(r);
        }
    }

    println!("1. Push latency: last packet sent -> frame pushed by the element (the goal)");
    println!("---------------------------------------------------------------------------");
    let ours_p99 = table(
        &VARIANTS.iter().collect::<Vec<_>>(),
        &results[..VARIANTS.len()],
    );
    println!();
    println!("2. Extra: last packet sent -> frame rendered by fakesink sync=true (handoff)");
    println!("---------------------------------------------------------------------------");
    table(
        &SYNC_VARIANTS.iter().collect::<Vec<_>>(),
        &results[VARIANTS.len()..],
    );
    println!();
    println!("Goal");
    println!("----");
    println!(
        "{}  mjpegrtspsrc p99 {ours_p99:.2} ms (goal <= {GOAL_P99_MS:.0} ms)",
        if ours_p99 <= GOAL_P99_MS {
            "GOAL MET   "
        } else {
            "GOAL MISSED"
        }
    );
    Ok(())
}

/// Prints the latency table of `variants` (all frames, then the steady
/// state); returns the first variant's p99.
fn table(variants: &[&Variant], results: &[Vec<RunResult>]) -> f64 {
    println!(
        "{:<48} {:>6} {:>4} {:>8} {:>8} {:>8} {:>8} {:>14}  p50/p99 ms of each run",
        "pipeline", "frames", "lost", "p50 ms", "p99 ms", "max ms", "mean ms", "first ms"
    );
    let mut first_p99 = f64::NAN;
    for (i, v) in variants.iter().enumerate() {
        let all: Vec<f64> = results[i]
            .iter()
            .flat_map(|r| r.latencies_ms.iter().copied())
            .collect();
        let s = sorted(&all);
        let lost: usize = results[i].iter().map(|r| r.lost).sum();
        let first = results[i]
            .iter()
            .map(|r| format!("{:.1}", r.latencies_ms[0]))
            .collect::<Vec<_>>()
            .join("/");
        let runs = results[i]
            .iter()
            .map(|r| {
                let s = sorted(&r.latencies_ms);
                format!("{:.2}/{:.2}", percentile(&s, 50.0), percentile(&s, 99.0))
            })
            .collect::<Vec<_>>()
            .join("  ");
        let p99 = percentile(&s, 99.0);
        if i == 0 {
            first_p99 = p99;
        }
        println!(
            "{:<48} {:>6} {:>4} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>14}  {runs}",
            v.name,
            all.len(),
            lost,
            percentile(&s, 50.0),
            p99,
            s[s.len() - 1],
            all.iter().sum::<f64>() / all.len() as f64,
            first
        );
        if results[i].iter().any(|r| !r.exact) {
            println!("  (matched by scan data: frames were lost)");
        }
    }
    println!(
        "{:<48} {:>6} {:>4} {:>8} {:>8} {:>8}",
        "steady state: frames 72+ of each run (after 3 s)",
        "frames",
        "",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    for (i, v) in variants.iter().enumerate() {
        let steady: Vec<f64> = results[i]
            .iter()
            .flat_map(|r| r.latencies_ms.iter().skip(72).copied())
            .collect();
        if steady.is_empty() {
            println!("{:<48} (runs shorter than 3 s)", v.name);
            continue;
        }
        let s = sorted(&steady);
        println!(
            "{:<48} {:>6} {:>4} {:>8.2} {:>8.2} {:>8.2}",
            v.name,
            s.len(),
            "",
            percentile(&s, 50.0),
            percentile(&s, 99.0),
            s[s.len() - 1]
        );
    }
    first_p99
}
