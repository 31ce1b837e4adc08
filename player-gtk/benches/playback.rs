//! Benchmark (not a test): does the GTK4 player keep up with a 24 fps
//! stream, adding at most one frame (41.7 ms) of delay, and what does it cost
//! in CPU next to ffplay and `gst-launch-1.0 … ! ximagesink` playing the same
//! stream on the same X server in the same run?
//!
//! ```text
//! cargo bench -p player-gtk --bench playback -- [--seconds N] [--size WxH] [--help]
//! ```
//!
//! Without an X display of its own it runs itself again under `xvfb-run -a`
//! (like the window test). The movie is served by this project's server in a
//! separate process (this binary again, in its hidden `--serve` mode), so the
//! server's CPU is not counted. Prints a plain-text report on stdout
//! (progress on stderr) and exits 0 whether or not the player keeps up; it
//! exits non-zero only when something fails to run.

#[path = "../tests/common/display.rs"]
mod display;

use gtk::prelude::*;
use mjpegrtsp_tests::{
    TestServer, bench_args, bench_number, bench_options, encoded_movie, frames_of,
};
use player_gtk::application;
use player_gtk::state::Phase;
use player_gtk::window::{Inspect, Window};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "\
playback: does the GTK4 player keep up with a 24 fps stream, and at what CPU
cost next to ffplay and gst-launch-1.0 (ximagesink) on the same stream?

USAGE:
    cargo bench -p player-gtk --bench playback -- [OPTIONS]

OPTIONS:
    --seconds N      measured window per player, in seconds (default 15)
    --warmup N       seconds played before the window opens (default 2)
    --size WxH       video size (default 640x480; multiples of 8 up to 2040)
    --quality Q      jpegenc quality of the movie (default 75)
    --frames N       frames in the movie, looped by the server (default 240)
    --pattern P      videotestsrc pattern of the movie (default ball)
    --rounds R       runs of each player, interleaved (default 1)
    --renderer NAME  GSK_RENDERER for our player: gl, ngl or cairo (default: what
                     `player-gtk --renderer-info` picks on this display)
    --no-peers       measure our player only
    -h, --help       print this help

A movie of N frames (videotestsrc, 24 fps, jpegenc) is served, looped, by this
project's server in a separate process (RFC 2435 over UDP on 127.0.0.1). Each
player plays it on the same Xvfb (1280x1024x24): ours in this process
(player_gtk::application, mjpegrtspsrc ! jpegdec ! videoconvert !
gtk4paintablesink), then ffplay, then gst-launch-1.0 (rtspsrc ! rtpjpegdepay !
jpegdec ! videoconvert ! fpsdisplaysink video-sink=ximagesink). Each plays for
the warm-up, then for the measured window, in which the benchmark samples the
CPU time (utime+stime from /proc/PID/stat) of the player's process and of the
Xvfb server, and counts frames. For ours: frames reaching the sink (status bar
counter), given to the picture, painted (frame clock after-paint), replaced
before a paint, and the delay from a frame's arrival to the end of the paint
that showed it. Verdict: keeps up when painted >= 23 fps with at most 1 frame
in 200 replaced, in time when the p95 delay is at most one frame (41.7 ms).";

const DEFAULT_SECONDS: f64 = 15.0;
const DEFAULT_WARMUP: f64 = 2.0;
const DEFAULT_FRAMES: u32 = 240;
const DEFAULT_QUALITY: u32 = 75;
const FPS: f64 = 24.0;
const FRAME_MS: f64 = 1000.0 / FPS;
/// Painted frames per second that count as keeping up with 24 fps.
const KEEPS_UP_FPS: f64 = 23.0;
/// How long a player may take from start to its first shown frame.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
struct Config {
    seconds: f64,
    warmup: f64,
    width: u32,
    height: u32,
    quality: u32,
    frames: u32,
    pattern: String,
    rounds: u32,
    renderer: Option<String>,
    peers: bool,
}

fn parse_size(value: &str) -> Result<(u32, u32), String> {
    let (w, h) = value
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("--size: '{value}' is not WxH"))?;
    let w = bench_number("--size", w, 16..=2040u32)?;
    let h = bench_number("--size", h, 16..=2040u32)?;
    if w % 8 != 0 || h % 8 != 0 {
        return Err(format!(
            "--size: {w}x{h}: RFC 2435 carries multiples of 8 only"
        ));
    }
    Ok((w, h))
}

fn parse_args(args: Vec<String>) -> Result<Option<Config>, String> {
    let Some(options) = bench_options(
        args,
        &[
            "--seconds",
            "--warmup",
            "--size",
            "--quality",
            "--frames",
            "--pattern",
            "--rounds",
            "--renderer",
        ],
        // cargo bench passes --bench to harness = false benchmarks.
        &["--no-peers", "--bench"],
    )?
    else {
        return Ok(None);
    };
    let mut c = Config {
        seconds: DEFAULT_SECONDS,
        warmup: DEFAULT_WARMUP,
        width: 640,
        height: 480,
        quality: DEFAULT_QUALITY,
        frames: DEFAULT_FRAMES,
        pattern: "ball".into(),
        rounds: 1,
        renderer: None,
        peers: true,
    };
    for (name, value) in options {
        let v = value.as_deref().unwrap_or("");
        match name.as_str() {
            // Paint delays are kept for the last 8192 frames: 341 s at 24 fps.
            "--seconds" => c.seconds = bench_number(&name, v, 1.0..=300.0)?,
            "--warmup" => c.warmup = bench_number(&name, v, 0.0..=30.0)?,
            "--size" => (c.width, c.height) = parse_size(v)?,
            "--quality" => c.quality = bench_number(&name, v, 1..=100)?,
            "--frames" => c.frames = bench_number(&name, v, 24..=2400)?,
            "--pattern" => c.pattern = v.to_owned(),
            "--rounds" => c.rounds = bench_number(&name, v, 1..=10)?,
            "--renderer" => c.renderer = Some(v.to_owned()),
            "--no-peers" => c.peers = false,
            _ => {} // --bench
        }
    }
    Ok(Some(c))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve(&args[1..]);
    }
    let config = match bench_args("playback", USAGE, parse_args(args)) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let own_config = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("playback: FAILED: a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(code) = display::own_display(own_config.path(), "playback benchmark") {
        return code;
    }
    if let Some(renderer) = &config.renderer {
        // SAFETY: single-threaded so far; nothing reads the environment concurrently.
        unsafe { std::env::set_var("GSK_RENDERER", renderer) };
    }
    let players = if config.peers { 3.0 } else { 1.0 };
    let budget = Duration::from_secs_f64(
        120.0
            + f64::from(config.rounds)
                * players
                * (config.warmup + config.seconds + 2.0 * START_TIMEOUT.as_secs_f64()),
    );
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!("playback: FAILED: still running after {budget:?}, giving up");
        std::process::exit(101);
    });
    match bench(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("playback: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

// ------------------------------------------------------------ the server --

/// `--serve DIR WxH FRAMES QUALITY PATTERN`: encodes the movie into DIR,
/// serves DIR looped, prints `ADDR FRAMES MIN MEDIAN MAX` (JPEG bytes) on
/// stdout and runs until stdin closes.
fn serve(args: &[String]) -> ExitCode {
    let [dir, size, frames, quality, pattern] = args else {
        eprintln!("playback --serve: DIR WxH FRAMES QUALITY PATTERN");
        return ExitCode::from(2);
    };
    let parsed = parse_size(size).and_then(|(w, h)| {
        Ok((
            w,
            h,
            bench_number("frames", frames, 1..=100_000u32)?,
            bench_number("quality", quality, 1..=100u32)?,
        ))
    });
    let (w, h, frames, quality) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("playback --serve: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = encoded_movie(frames, w, h, quality, pattern);
    let mut sizes: Vec<usize> = frames_of(&bytes).iter().map(Vec::len).collect();
    sizes.sort_unstable();
    let dir = Path::new(dir);
    if let Err(e) = std::fs::write(dir.join("movie.Mjpeg"), &bytes) {
        eprintln!("playback --serve: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let server = TestServer::start(dir, true);
    println!(
        "{} {} {} {} {}",
        server.addr,
        sizes.len(),
        sizes[0],
        sizes[sizes.len() / 2],
        sizes[sizes.len() - 1]
    );
    let _ = std::io::stdout().flush();
    // Until the benchmark goes (it holds our stdin).
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    drop(server);
    ExitCode::SUCCESS
}

/// The server process, stopped when dropped (its stdin closes).
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: String,
    /// Frames in the movie, and their smallest, median and largest size.
    frames: u64,
    jpeg_bytes: [u64; 3],
}

impl ServerProcess {
    fn start(dir: &Path, c: &Config) -> Result<ServerProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--serve")
            .arg(dir)
            .arg(format!("{}x{}", c.width, c.height))
            .arg(c.frames.to_string())
            .arg(c.quality.to_string())
            .arg(&c.pattern)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the server process: {e}"))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| format!("reading the server's address: {e}"))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let numbers: Vec<u64> = fields
            .iter()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        if read == 0 || fields.len() != 5 || numbers.len() != 4 {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(format!(
                "the server process did not start ({status}; printed {line:?})"
            ));
        }
        Ok(ServerProcess {
            addr: fields[0].to_owned(),
            frames: numbers[0],
            jpeg_bytes: [numbers[1], numbers[2], numbers[3]],
            stdin,
            child,
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// -------------------------------------------------------------- /proc ----

/// The unit of /proc's CPU times (USER_HZ; 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &f64| t > 0.0)
            .unwrap_or(100.0)
    })
}

/// A /proc stat file's command name, parent pid and utime+stime (ticks).
fn proc_stat(path: &str) -> Option<(String, u32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the name: state (3), ppid (4), ... utime (14), stime (15).
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, ppid, utime + stime))
}

/// CPU time of process `pid` so far, in seconds (all its threads).
fn cpu_seconds(pid: u32) -> Option<f64> {
    proc_stat(&format!("/proc/{pid}/stat")).map(|(_, _, t)| t as f64 / clock_ticks_per_second())
}

/// CPU seconds of each thread of process `pid`, by thread id and name.
fn thread_seconds(pid: u32) -> HashMap<(u32, String), f64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    let hz = clock_ticks_per_second();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let (Ok(tid), Some((comm, _, ticks))) = (
            name.parse::<u32>(),
            proc_stat(&format!("/proc/{pid}/task/{name}/stat")),
        ) {
            out.insert((tid, comm), ticks as f64 / hz);
        }
    }
    out
}

/// The busiest threads of process `pid` between two [`thread_seconds`], as
/// "name %" (% of one core over `secs`; threads of the same name summed;
/// the process's first thread is "main").
fn hot_threads(
    pid: u32,
    before: &HashMap<(u32, String), f64>,
    after: &HashMap<(u32, String), f64>,
    secs: f64,
) -> String {
    let mut threads: Vec<(String, f64)> = Vec::new();
    for ((tid, comm), t) in after {
        let start = before.get(&(*tid, comm.clone())).copied().unwrap_or(0.0);
        let pct = (t - start) / secs * 100.0;
        let name = if *tid == pid { "main" } else { comm.as_str() };
        match threads.iter_mut().find(|(n, _)| n == name) {
            Some((_, sum)) => *sum += pct,
            None => threads.push((name.to_owned(), pct)),
        }
    }
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let hot: Vec<String> = threads
        .iter()
        .take(6)
        .map(|(n, p)| format!("{n} {p:.1}"))
        .collect();
    format!("threads (% of a core): {}", hot.join(", "))
}

/// The Xvfb that xvfb-run started for us: our sibling (same parent) named Xvfb.
fn find_xvfb() -> Option<u32> {
    let parent = std::os::unix::process::parent_id();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            proc_stat(&format!("/proc/{pid}/stat"))
                .is_some_and(|(comm, ppid, _)| comm == "Xvfb" && ppid == parent)
        })
}

/// The GL drivers mapped into this process (Mesa's DRI driver, LLVM).
fn gl_libraries() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter_map(|p| p.rsplit('/').next())
        .filter(|name| name.contains("_dri.so") || name.starts_with("libLLVM"))
        .map(str::to_owned)
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

// ------------------------------------------------------------- measures --

/// One player's run.
#[derive(Debug, Default)]
struct Row {
    name: String,
    round: u32,
    /// The measured window, in seconds.
    secs: f64,
    /// Frames per second that reached the video sink.
    received_fps: Option<f64>,
    /// Frames per second given to the picture (ours).
    given_fps: Option<f64>,
    /// Frames per second on screen (ours: painted; gst: rendered).
    shown_fps: Option<f64>,
    replaced: Option<u64>,
    dropped: Option<u64>,
    /// Paint delay p50, p95, p99, max (ms) and how many frames.
    delays: Option<([f64; 4], usize)>,
    /// Percent of one core.
    cpu: f64,
    xvfb_cpu: Option<f64>,
    /// Extra lines for the report.
    notes: Vec<String>,
}

impl Row {
    fn total_cpu(&self) -> f64 {
        self.cpu + self.xvfb_cpu.unwrap_or(0.0)
    }
}

/// CPU seconds of a process and of Xvfb at an instant.
#[derive(Clone, Copy)]
struct CpuMark {
    at: Instant,
    own: f64,
    xvfb: Option<f64>,
}

impl CpuMark {
    fn take(pid: u32, xvfb: Option<u32>) -> Result<CpuMark, String> {
        Ok(CpuMark {
            at: Instant::now(),
            own: cpu_seconds(pid).ok_or_else(|| format!("no /proc/{pid}/stat"))?,
            xvfb: xvfb.and_then(cpu_seconds),
        })
    }

    /// (wall seconds, CPU % of the process, CPU % of Xvfb) since `start`.
    fn since(&self, start: &CpuMark) -> (f64, f64, Option<f64>) {
        let wall = self.at.duration_since(start.at).as_secs_f64();
        let pct = |a: f64, b: f64| (a - b) / wall * 100.0;
        let xvfb = match (self.xvfb, start.xvfb) {
            (Some(a), Some(b)) => Some(pct(a, b)),
            _ => None,
        };
        (wall, pct(self.own, start.own), xvfb)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn sleep(d: Duration) {
    glib::timeout_future(d).await;
}

/// Waits (running the main loop) until `cond`, or fails after `timeout`.
async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(20)).await;
    }
    true
}

/// The number in a status label such as "Frame 120" or "21.5 fps".
fn number(text: &str) -> f64 {
    text.split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// The status bar's frame counter is refreshed every 250 ms: waits for the
/// next refresh and returns its moment and value.
async fn next_counter_tick(win: &Window) -> (Instant, u64) {
    let before = win.status().frame;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = win.status().frame;
        if now != before || Instant::now() > deadline {
            return (Instant::now(), number(&now) as u64);
        }
        sleep(Duration::from_millis(2)).await;
    }
}

/// Our player in this process: (re)starts the stream, plays the warm-up,
/// measures the window and stops.
async fn measure_ours(
    win: &Window,
    c: &Config,
    url: &str,
    round: u32,
    xvfb: Option<u32>,
) -> Result<Row, String> {
    if round > 1 {
        win.open_text(url, true);
    }
    let playing = wait_until(START_TIMEOUT, || {
        win.phase() == Phase::Playing && !win.is_busy() && win.paint_stats().on_screen > 0
    })
    .await;
    if !playing {
        return Err(format!(
            "our player did not play: status {:?}, error {:?}",
            win.status(),
            win.error_message()
        ));
    }
    sleep(Duration::from_secs_f64(c.warmup)).await;
    let (t0, counter0) = next_counter_tick(win).await;
    let (p0, s0) = (win.paint_stats(), win.status());
    let cpu0 = CpuMark::take(std::process::id(), xvfb)?;
    let threads0 = thread_seconds(std::process::id());
    sleep(Duration::from_secs_f64(c.seconds).saturating_sub(t0.elapsed())).await;
    let (t1, counter1) = next_counter_tick(win).await;
    let (p1, s1) = (win.paint_stats(), win.status());
    let cpu1 = CpuMark::take(std::process::id(), xvfb)?;
    let threads1 = thread_seconds(std::process::id());
    if let Some(e) = win.error_message() {
        return Err(format!("our player showed an error: {e}"));
    }
    let _ = WidgetExt::activate_action(win, "win.stop", None);
    if !wait_until(Duration::from_secs(10), || {
        win.phase() == Phase::Init && !win.is_busy()
    })
    .await
    {
        return Err(format!("our player did not stop: {:?}", win.status()));
    }

    let (secs, cpu, xvfb_cpu) = cpu1.since(&cpu0);
    let counter_secs = t1.duration_since(t0).as_secs_f64();
    // Delays of the frames painted in the window only (the list keeps the
    // latest 8192, more than warm-up and window hold at 24 fps).
    let new = p1.delays_ms.len().saturating_sub(p0.delays_ms.len());
    let mut delays = p1.delays_ms[p1.delays_ms.len() - new..].to_vec();
    delays.sort_by(f64::total_cmp);
    let delay_stats = (!delays.is_empty()).then(|| {
        (
            [
                percentile(&delays, 50.0),
                percentile(&delays, 95.0),
                percentile(&delays, 99.0),
                delays[delays.len() - 1],
            ],
            delays.len(),
        )
    });
    let dropped = number(&s1.dropped) - number(&s0.dropped);
    let lost = number(&s1.loss) - number(&s0.loss);
    Ok(Row {
        name: "ours: player-gtk".into(),
        round,
        secs,
        received_fps: Some(counter1.saturating_sub(counter0) as f64 / counter_secs),
        given_fps: Some(p1.given.saturating_sub(p0.given) as f64 / secs),
        shown_fps: Some(p1.on_screen.saturating_sub(p0.on_screen) as f64 / secs),
        replaced: Some(p1.replaced.saturating_sub(p0.replaced)),
        dropped: Some(dropped.max(0.0) as u64),
        delays: delay_stats,
        cpu,
        xvfb_cpu,
        notes: vec![
            format!(
                "status bar at the end: {} | {} | {} | {} | {} | {} (in the window: {} frames, {lost} packets lost)",
                s1.frame,
                s1.fps,
                s1.bitrate,
                s1.loss,
                s1.dropped,
                s1.latency,
                counter1.saturating_sub(counter0)
            ),
            hot_threads(std::process::id(), &threads0, &threads1, secs),
        ],
    })
}

/// What a peer's output says at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct PeerSample {
    rendered: Option<u64>,
    dropped: Option<u64>,
}

#[derive(Default)]
struct PeerOutput {
    /// Each progress line read, when, and what it says.
    samples: Vec<(Instant, PeerSample, String)>,
    tail: Vec<String>,
}

/// A peer player: a program, its arguments, and how to read its progress
/// from one line of its output (`None`: not playing yet / nothing to read).
struct Peer {
    name: String,
    program: &'static str,
    args: Vec<String>,
    parse: fn(&str) -> Option<PeerSample>,
}

/// ffplay's status line (`-stats`): `  3.45 M-V: -0.012 fd=   0 aq= ...`; the
/// first number is the clock (`nan` until it plays), fd frames dropped.
fn parse_ffplay(line: &str) -> Option<PeerSample> {
    let clock: f64 = line.split_whitespace().next()?.parse().ok()?;
    if !clock.is_finite() {
        return None;
    }
    let fd = line.split_once("fd=")?.1.trim_start();
    let digits: String = fd.chars().take_while(char::is_ascii_digit).collect();
    Some(PeerSample {
        rendered: None,
        dropped: digits.parse().ok(),
    })
}

/// fpsdisplaysink's last-message under `gst-launch-1.0 -v`:
/// `... last-message = rendered: 25, dropped: 0, current: 24.47, average: 24.47`.
fn parse_fpsdisplaysink(line: &str) -> Option<PeerSample> {
    let field = |name: &str| -> Option<u64> {
        let rest = line.split_once(name)?.1.trim_start();
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    let rendered = field("rendered:")?;
    (rendered > 0).then(|| PeerSample {
        rendered: Some(rendered),
        dropped: field("dropped:"),
    })
}

fn read_lines(
    stream: impl Read + Send + 'static,
    out: Arc<Mutex<PeerOutput>>,
    parse: fn(&str) -> Option<PeerSample>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut byte = [0u8; 4096];
        loop {
            let n = match reader.read(&mut byte) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for &b in &byte[..n] {
                if b != b'\n' && b != b'\r' {
                    line.push(b);
                    continue;
                }
                let text = String::from_utf8_lossy(&line).trim().to_owned();
                line.clear();
                if text.is_empty() {
                    continue;
                }
                let sample = parse(&text);
                let mut o = out.lock().unwrap();
                if let Some(s) = sample {
                    o.samples.push((Instant::now(), s, text.clone()));
                }
                if o.tail.len() == 20 {
                    o.tail.remove(0);
                }
                o.tail.push(text);
            }
        }
    });
}

/// Asks `child` to stop (SIGINT: gst-launch-1.0 then sets its pipeline to
/// NULL, which sends TEARDOWN; ffplay exits at once), then kills it if it has
/// not gone within 3 s.
async fn stop_child(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The latest sample taken at or before `at`.
fn sample_at(
    samples: &[(Instant, PeerSample, String)],
    at: Instant,
) -> Option<&(Instant, PeerSample, String)> {
    samples.iter().rev().find(|(t, _, _)| *t <= at)
}

async fn measure_peer(
    peer: &Peer,
    c: &Config,
    round: u32,
    xvfb: Option<u32>,
) -> Result<Row, String> {
    let mut child = Command::new(peer.program)
        .args(&peer.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", peer.program))?;
    let out = Arc::new(Mutex::new(PeerOutput::default()));
    read_lines(child.stdout.take().expect("piped"), out.clone(), peer.parse);
    read_lines(child.stderr.take().expect("piped"), out.clone(), peer.parse);
    let tail = |out: &Mutex<PeerOutput>| out.lock().unwrap().tail.join("\n    ");

    let mut exited = None;
    let playing = wait_until(START_TIMEOUT, || {
        exited = child.try_wait().ok().flatten();
        exited.is_some() || !out.lock().unwrap().samples.is_empty()
    })
    .await;
    if let Some(status) = exited {
        return Err(format!(
            "{} ended ({status}):\n    {}",
            peer.name,
            tail(&out)
        ));
    }
    if !playing {
        stop_child(&mut child).await;
        return Err(format!(
            "{} did not play within {START_TIMEOUT:?}:\n    {}",
            peer.name,
            tail(&out)
        ));
    }
    sleep(Duration::from_secs_f64(c.warmup)).await;
    let cpu0 = CpuMark::take(child.id(), xvfb)?;
    let threads0 = thread_seconds(child.id());
    sleep(Duration::from_secs_f64(c.seconds)).await;
    let cpu1 = CpuMark::take(child.id(), xvfb);
    let threads1 = thread_seconds(child.id());
    let still_running = matches!(child.try_wait(), Ok(None));
    stop_child(&mut child).await;
    let cpu1 = cpu1?;
    if !still_running {
        return Err(format!(
            "{} ended during the window:\n    {}",
            peer.name,
            tail(&out)
        ));
    }
    let (secs, cpu, xvfb_cpu) = cpu1.since(&cpu0);
    let o = out.lock().unwrap();
    let (start, end) = (
        sample_at(&o.samples, cpu0.at),
        sample_at(&o.samples, cpu1.at),
    );
    let mut row = Row {
        name: peer.name.clone(),
        round,
        secs,
        cpu,
        xvfb_cpu,
        ..Row::default()
    };
    if let (Some((ta, a, _)), Some((tb, b, _))) = (start, end) {
        let span = tb.duration_since(*ta).as_secs_f64();
        if let (Some(ra), Some(rb)) = (a.rendered, b.rendered)
            && span > 0.0
        {
            row.shown_fps = Some(rb.saturating_sub(ra) as f64 / span);
        }
        if let (Some(da), Some(db)) = (a.dropped, b.dropped) {
            row.dropped = Some(db.saturating_sub(da));
        }
    }
    if let Some((_, _, line)) = end {
        row.notes.push(format!("at the end of the window: {line}"));
    }
    row.notes
        .push(hot_threads(child.id(), &threads0, &threads1, secs));
    Ok(row)
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The peers that can run here, and notes about those that cannot.
fn peers(url: &str) -> (Vec<Peer>, Vec<String>) {
    let mut peers = Vec::new();
    let mut notes = Vec::new();
    if have("ffplay", "-version") {
        peers.push(Peer {
            name: "ffplay".into(),
            program: "ffplay",
            args: [
                "-loglevel",
                "error",
                "-stats",
                "-an",
                "-rtsp_transport",
                "udp",
                "-window_title",
                "ffplay (playback benchmark)",
                url,
            ]
            .map(str::to_owned)
            .to_vec(),
            parse: parse_ffplay,
        });
    } else {
        notes.push("ffplay not found (apt install ffmpeg): not measured".into());
    }
    let sinks = [
        "rtspsrc",
        "rtpjpegdepay",
        "jpegdec",
        "fpsdisplaysink",
        "ximagesink",
    ];
    let missing: Vec<&str> = sinks
        .iter()
        .copied()
        .filter(|f| gst::ElementFactory::find(f).is_none())
        .collect();
    if !have("gst-launch-1.0", "--version") {
        notes
            .push("gst-launch-1.0 not found (apt install gstreamer1.0-tools): not measured".into());
    } else if !missing.is_empty() {
        notes.push(format!(
            "GStreamer elements missing: {missing:?}: gst-launch-1.0 not measured"
        ));
    } else {
        let launch = format!(
            "rtspsrc location={url} protocols=udp latency=100 ! rtpjpegdepay ! jpegdec ! videoconvert \
             ! fpsdisplaysink video-sink=ximagesink text-overlay=false signal-fps-measurements=true"
        );
        peers.push(Peer {
            name: "gst-launch-1.0 (ximagesink)".into(),
            program: "gst-launch-1.0",
            args: std::iter::once("-v".to_owned())
                .chain(launch.split_whitespace().map(str::to_owned))
                .collect(),
            parse: parse_fpsdisplaysink,
        });
    }
    (peers, notes)
}

// ------------------------------------------------------------------ run ---

/// What the run inside the application found.
struct Outcome {
    rows: Vec<Row>,
    renderer: String,
    gl: Vec<String>,
    video_area: (i32, i32),
    longest_stall_ms: u64,
    notes: Vec<String>,
    peer_commands: Vec<String>,
}

async fn run_all(
    win: &Window,
    c: &Config,
    url: &str,
    xvfb: Option<u32>,
) -> Result<Outcome, String> {
    if !wait_until(Duration::from_secs(10), || win.is_mapped()).await {
        return Err("the window did not appear".into());
    }
    let renderer = win
        .renderer()
        .map_or_else(|| "none".to_owned(), |r| r.type_().name().to_owned());
    let (peer_list, notes) = if c.peers {
        peers(url)
    } else {
        (
            Vec::new(),
            vec!["--no-peers: only our player measured".into()],
        )
    };
    let mut rows = Vec::new();
    let mut video_area = (0, 0);
    for round in 1..=c.rounds {
        eprintln!("round {round}: our player ...");
        rows.push(measure_ours(win, c, url, round, xvfb).await?);
        if round == 1 {
            let (w, h, _) = win.video_area();
            video_area = (w, h);
        }
        for peer in &peer_list {
            eprintln!("round {round}: {} ...", peer.name);
            rows.push(measure_peer(peer, c, round, xvfb).await?);
        }
    }
    Ok(Outcome {
        rows,
        renderer,
        gl: gl_libraries(),
        video_area,
        longest_stall_ms: win.longest_stall_ms(),
        notes,
        peer_commands: peer_list
            .iter()
            .map(|p| format!("{} {}", p.program, p.args.join(" ")))
            .collect(),
    })
}

fn bench(c: &Config) -> Result<(), String> {
    application::init_gstreamer().map_err(|e| format!("GStreamer: {e}"))?;
    let media = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    eprintln!(
        "encoding {} frames of {}x{} and starting the server process ...",
        c.frames, c.width, c.height
    );
    let server = ServerProcess::start(media.path(), c)?;
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let xvfb = find_xvfb();
    if xvfb.is_none() {
        eprintln!("note: no Xvfb of our own found: the X server's CPU is not measured");
    }

    let app = application::build(application::Options {
        source: Some(url.clone()),
        play: true,
    });
    let outcome: Rc<RefCell<Option<Result<Outcome, String>>>> = Rc::default();
    {
        let (outcome, c, url) = (outcome.clone(), c.clone(), url.clone());
        app.connect_activate(move |app| {
            let Some(win) = app.active_window().and_downcast::<Window>() else {
                *outcome.borrow_mut() = Some(Err("the application made no window".into()));
                app.quit();
                return;
            };
            let (outcome, c, url, app) = (outcome.clone(), c.clone(), url.clone(), app.clone());
            glib::spawn_future_local(async move {
                let result = run_all(&win, &c, &url, xvfb).await;
                *outcome.borrow_mut() = Some(result);
                app.quit();
            });
        });
    }
    app.run_with_args(&["player-gtk-bench"]);
    let outcome = outcome
        .borrow_mut()
        .take()
        .ok_or("the application ended before the benchmark did")??;
    report(c, &server, xvfb, &outcome);
    Ok(())
}

// --------------------------------------------------------------- report ---

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_mb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    format!("{cpus} CPUs, {model}, {mem_mb} MB RAM")
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn report(c: &Config, server: &ServerProcess, xvfb: Option<u32>, o: &Outcome) {
    let title = "GTK4 player playback benchmark (player-gtk/benches/playback.rs)";
    println!("\n{title}\n{}", "=".repeat(title.len()));
    println!("machine    : {}", machine());
    println!(
        "software   : {}, GTK {}.{}.{}",
        gst::version_string(),
        gtk::major_version(),
        gtk::minor_version(),
        gtk::micro_version()
    );
    println!(
        "display    : {} on {} (-screen 0 1280x1024x24){}",
        xvfb.map_or_else(
            || "an X server (not ours)".to_owned(),
            |p| format!("Xvfb pid {p}")
        ),
        std::env::var("DISPLAY").unwrap_or_default(),
        if xvfb.is_none() {
            ": its CPU is not measured"
        } else {
            ""
        }
    );
    println!(
        "renderer   : {} (GSK_RENDERER={}); GL libraries mapped: {}",
        o.renderer,
        std::env::var("GSK_RENDERER").unwrap_or_else(|_| "unset".into()),
        if o.gl.is_empty() {
            "none".to_owned()
        } else {
            o.gl.join(", ")
        }
    );
    println!(
        "our window : picture area {}x{} for {}x{} video (scaled to fit, aspect kept)",
        o.video_area.0, o.video_area.1, c.width, c.height
    );
    println!(
        "media      : videotestsrc pattern={} {}x{} I420 -> jpegenc quality={}, {} frames looped at 24 fps; JPEG {}..{} bytes (median {})",
        c.pattern,
        c.width,
        c.height,
        c.quality,
        server.frames,
        server.jpeg_bytes[0],
        server.jpeg_bytes[2],
        server.jpeg_bytes[1]
    );
    println!(
        "server     : ours (TestServer = server-cli's code) in a separate process (pid {}), RFC 2435 over UDP on {}",
        server.child.id(),
        server.addr
    );
    println!(
        "settings   : --seconds {} --warmup {} --rounds {}; each player: start, first frame, warm-up, window, stop",
        c.seconds, c.warmup, c.rounds
    );
    println!("peers      :");
    for cmd in &o.peer_commands {
        println!("  {cmd}");
    }
    for note in &o.notes {
        println!("note       : {note}");
    }
    println!(
        "measured   : CPU = utime+stime (/proc/PID/stat) over the window / wall, % of one core; \
         'Xvfb' the X server's in the same window"
    );
    println!(
        "             ours: recv = frames at the sink (status bar counter), given = to the picture, painted = frame clock after-paint,"
    );
    println!(
        "             replaced = given but replaced before a paint, delay = arrival (running time) -> end of the paint that showed it"
    );
    println!(
        "             gst-launch: shown = fpsdisplaysink rendered, dropped = its dropped; ffplay: dropped = its status line fd="
    );
    println!();
    println!(
        "{:<28} {:>5} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>27} {:>7} {:>6} {:>7}",
        "player",
        "round",
        "secs",
        "recv fps",
        "given/s",
        "shown/s",
        "replaced",
        "dropped",
        "delay p50/p95/p99/max ms",
        "CPU %",
        "Xvfb %",
        "sum %"
    );
    for r in &o.rows {
        let delays = r.delays.map_or_else(
            || "-".to_owned(),
            |(d, _)| format!("{:.1}/{:.1}/{:.1}/{:.1}", d[0], d[1], d[2], d[3]),
        );
        println!(
            "{:<28} {:>5} {:>6.1} {:>8} {:>8} {:>8} {:>8} {:>7} {:>27} {:>7.1} {:>6} {:>7.1}",
            r.name,
            r.round,
            r.secs,
            opt(r.received_fps, 2),
            opt(r.given_fps, 2),
            opt(r.shown_fps, 2),
            r.replaced.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            r.dropped.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            delays,
            r.cpu,
            opt(r.xvfb_cpu, 1),
            r.total_cpu()
        );
    }
    println!();
    for r in &o.rows {
        for note in &r.notes {
            println!("{} (round {}): {note}", r.name, r.round);
        }
    }
    println!(
        "ours: longest main-loop stall over the run: {} ms",
        o.longest_stall_ms
    );

    let ours: Vec<&Row> = o
        .rows
        .iter()
        .filter(|r| r.name.starts_with("ours"))
        .collect();
    let cpu_of = |name: &str| {
        let rows: Vec<&Row> = o.rows.iter().filter(|r| r.name.starts_with(name)).collect();
        Some((
            mean(rows.iter().map(|r| r.cpu))?,
            mean(rows.iter().map(|r| r.total_cpu()))?,
        ))
    };
    println!("\nCPU ratios (means over rounds; own process, and process + Xvfb)");
    println!("-------------------------------------------------------------------");
    if let Some((own, sum)) = cpu_of("ours") {
        for peer in ["ffplay", "gst-launch"] {
            match cpu_of(peer) {
                Some((p_own, p_sum)) => println!(
                    "ours/{peer:<11}: process {own:.1} / {p_own:.1} % = {:.2}x   with Xvfb {sum:.1} / {p_sum:.1} % = {:.2}x",
                    own / p_own,
                    sum / p_sum
                ),
                None => println!("ours/{peer:<11}: not measured"),
            }
        }
    }

    println!("\nVerdict");
    println!("-------");
    println!(
        "keeps up = painted >= {KEEPS_UP_FPS} fps and replaced ~ 0 (at most 1 in 200 frames); \
         in time = p95 added delay <= one frame ({FRAME_MS:.1} ms)"
    );
    for r in ours {
        let painted = r.shown_fps.unwrap_or(0.0);
        let given = r.given_fps.unwrap_or(0.0) * r.secs;
        let replaced = r.replaced.unwrap_or(u64::MAX);
        let keeps_up = painted >= KEEPS_UP_FPS && (replaced as f64) <= given / 200.0;
        let p95 = r.delays.map_or(f64::INFINITY, |(d, _)| d[1]);
        let in_time = p95 <= FRAME_MS;
        let yes = |b: bool| if b { "yes" } else { "NO" };
        println!(
            "{} round {}: keeps up {} (painted {painted:.2} fps, {replaced} replaced), in time {} (p95 {p95:.1} ms)",
            if keeps_up && in_time {
                "GOAL MET   "
            } else {
                "GOAL MISSED"
            },
            r.round,
            yes(keeps_up),
            yes(in_time)
        );
    }
}
