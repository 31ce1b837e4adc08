//! Benchmark of opening long files (not a test): how soon the first frame,
//! a DESCRIBE reply and a seek near the end come, and when the exact
//! duration is known, against `filesrc`'s first buffer on the same file in
//! the same run; cold (evicted from the page cache, no remembered index),
//! cold with the index remembered, and warm.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin bench_open -- [--minutes "30 120"] [--runs 3] [--dir DIR]
//! ```

use gst::prelude::*;
use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::media::{evict_from_page_cache, numbered_long_movie};
use mjpegrtsp_tests::rtsp_text::{play_to_first_packet, standard_setup, timed_describe};
use mjpegrtsp_tests::{TestServer, bench_args, bench_number, bench_options, init};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
bench_open: time to first frame, DESCRIBE, seek near the end and exact duration on long files

USAGE:
    cargo run --release -p mjpegrtsp-tests --bin bench_open -- [OPTIONS]

OPTIONS:
    --minutes LIST  file lengths in minutes at 24 fps (default \"30 120\"): copies
                    of the 640x480 sample clip, every frame numbered
    --runs R        runs per measurement; the median is reported (default 3)
    --dir DIR       where the files are made and kept between runs
                    (default /var/tmp/bench_open; needs ~3 GB per hour)
    -h, --help      print this help

For each file and condition: `filesrc ! appsink` first buffer (the peer),
`lengthmjpegsrc ! appsink` preroll (first frame), a flushing accurate seek
to 45 s before the end (to the frame after it), the time until the element
posts DURATION_CHANGED (the index is complete), and against the server
(in this process, loopback): DESCRIBE's reply, and PLAY with a Range 45 s
before the end to its first RTP packet. Conditions: cold (page cache
dropped with posix_fadvise, no remembered index), cached (cold, the index
remembered from an earlier open), warm (in the page cache, no remembered
index). Goal: each within 5x of filesrc's first buffer and under 200 ms.";

struct Args {
    minutes: Vec<u64>,
    runs: usize,
    dir: PathBuf,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let Some(options) = bench_options(args, &["--minutes", "--runs", "--dir"], &[])? else {
        return Ok(None);
    };
    let mut out = Args {
        minutes: vec![30, 120],
        runs: 3,
        dir: PathBuf::from("/var/tmp/bench_open"),
    };
    for (name, value) in options {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "--minutes" => {
                out.minutes = value
                    .split_whitespace()
                    .map(|m| bench_number(&name, m, 1..=600))
                    .collect::<Result<_, _>>()?
            }
            "--runs" => out.runs = bench_number(&name, &value, 1..=50)?,
            _ => out.dir = PathBuf::from(value),
        }
    }
    Ok(Some(out))
}

#[derive(Clone, Copy, PartialEq)]
enum Condition {
    Cold,
    Cached,
    Warm,
}

impl Condition {
    fn label(self) -> &'static str {
        match self {
            Condition::Cold => "cold",
            Condition::Cached => "cold, index remembered",
            Condition::Warm => "warm",
        }
    }
}

/// One run's figures, in milliseconds.
#[derive(Default, Clone, Copy)]
struct Figures {
    filesrc: f64,
    first: f64,
    seek: f64,
    exact: f64,
    describe: f64,
    play: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Puts the file in the state `cond` needs, and the index cache (`cache`:
/// its `mjpegrtsp/index` folder for the element's).
fn prepare(path: &Path, cache: &Path, cond: Condition) {
    if cond != Condition::Cached {
        let _ = std::fs::remove_dir_all(cache);
    }
    match cond {
        Condition::Warm => {
            // Read it all once: in the page cache.
            let mut f = std::fs::File::open(path).unwrap();
            std::io::copy(&mut f, &mut std::io::sink()).unwrap();
        }
        _ => {
            evict_from_page_cache(path);
            // The remembered indexes are cold too.
            for entry in std::fs::read_dir(cache).into_iter().flatten().flatten() {
                evict_from_page_cache(&entry.path());
            }
        }
    }
}

/// `filesrc ! appsink`: time to the first buffer.
fn filesrc_first(path: &Path) -> Duration {
    let started = Instant::now();
    let (pipeline, sink) = mjpegrtsp_tests::launch_with_appsink(&format!(
        "filesrc location={} ! appsink name=sink",
        path.display()
    ));
    pipeline.set_state(gst::State::Paused).unwrap();
    sink.try_pull_preroll(gst::ClockTime::from_seconds(30))
        .expect("filesrc's first buffer");
    let took = started.elapsed();
    pipeline.set_state(gst::State::Null).unwrap();
    took
}

/// `lengthmjpegsrc ! appsink`: first frame, seek to `target`, exact duration.
fn element(path: &Path, target: u64) -> (Duration, Duration, Duration) {
    let started = Instant::now();
    let (pipeline, sink) = mjpegrtsp_tests::launch_with_appsink(&format!(
        "lengthmjpegsrc location={} ! appsink name=sink",
        path.display()
    ));
    pipeline.set_state(gst::State::Paused).unwrap();
    sink.try_pull_preroll(gst::ClockTime::from_seconds(60))
        .expect("a first frame");
    let first = started.elapsed();
    let at = gst::ClockTime::from_nseconds(target * 1_000_000_000 / 24);
    let seek_started = Instant::now();
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, at)
        .unwrap();
    sink.try_pull_preroll(gst::ClockTime::from_seconds(60))
        .expect("a frame after the seek");
    let seek = seek_started.elapsed();
    let bus = pipeline.bus().unwrap();
    // Complete at open (remembered, or a small file) posts it at once too.
    bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(600),
        &[gst::MessageType::DurationChanged],
    )
    .expect("DURATION_CHANGED");
    let exact = started.elapsed();
    pipeline.set_state(gst::State::Null).unwrap();
    (first, seek, exact)
}

/// The server: DESCRIBE's reply, and PLAY of `target` to its first packet.
fn server(dir: &Path, name: &str, cache: &Path, target: u64) -> (Duration, Duration) {
    let mut config = ServerConfig::new(dir);
    config.index_cache = Some(mjpegrtsp::container::IndexCache::new(cache));
    config.http = None;
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/{name}", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let (_, describe) = timed_describe(&mut ctl, &url);
    let (mut ctl, udp, session) = standard_setup(&server, name);
    let play = play_to_first_packet(&mut ctl, &udp, &url, &session, target as f64 / 24.0);
    (describe, play)
}

fn main() -> ExitCode {
    let args = match bench_args("bench_open", USAGE, parse(std::env::args().skip(1))) {
        Ok(a) => a,
        Err(code) => return code,
    };
    init();
    std::fs::create_dir_all(&args.dir).unwrap();
    let cache = args.dir.join("cache");
    // The element remembers indexes in the user's cache: this one.
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var("XDG_CACHE_HOME", args.dir.join("xdg")) };
    let element_cache = args.dir.join("xdg").join("mjpegrtsp").join("index");
    println!(
        "| file | condition | filesrc first buffer | first frame | seek near the end | exact duration | DESCRIBE | PLAY to first packet | worst / filesrc |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &minutes in &args.minutes {
        let media = args.dir.join(format!("{minutes}min"));
        std::fs::create_dir_all(&media).unwrap();
        let name = "long.Mjpeg";
        let path = media.join(name);
        let frames = minutes * 60 * 24;
        let made = media.join("frames");
        let total = match std::fs::read_to_string(&made)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            Some(n) if path.exists() => n,
            _ => {
                eprintln!("bench_open: making {} ({minutes} min)…", path.display());
                let n = numbered_long_movie(&path, 0, frames);
                std::fs::write(&made, n.to_string()).unwrap();
                n
            }
        };
        let size = std::fs::metadata(&path).unwrap().len();
        let target = total.saturating_sub(24 * 45);
        for cond in [Condition::Cold, Condition::Cached, Condition::Warm] {
            let mut runs = Vec::new();
            for _ in 0..args.runs {
                prepare(&path, &element_cache, cond);
                let filesrc = filesrc_first(&path);
                prepare(&path, &element_cache, cond);
                let (first, seek, exact) = element(&path, target);
                prepare(&path, &cache, cond);
                let (describe, play) = server(&media, name, &cache, target);
                runs.push(Figures {
                    filesrc: ms(filesrc),
                    first: ms(first),
                    seek: ms(seek),
                    exact: ms(exact),
                    describe: ms(describe),
                    play: ms(play),
                });
            }
            let m = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
            let f = Figures {
                filesrc: m(|r| r.filesrc),
                first: m(|r| r.first),
                seek: m(|r| r.seek),
                exact: m(|r| r.exact),
                describe: m(|r| r.describe),
                play: m(|r| r.play),
            };
            let worst = [f.first, f.seek, f.describe, f.play]
                .into_iter()
                .fold(0.0, f64::max);
            println!(
                "| {minutes} min, {:.2} GB, {total} frames | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} ms | {:.1} ms | {:.1} ms | {:.1}× |",
                size as f64 / 1e9,
                cond.label(),
                f.filesrc,
                f.first,
                f.seek,
                f.exact,
                f.describe,
                f.play,
                worst / f.filesrc.max(0.001),
            );
        }
    }
    ExitCode::SUCCESS
}
