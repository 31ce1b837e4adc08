//! Soak: many sessions that come and go against one server for a long
//! time, with the server's memory, descriptors and threads read each minute.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin soak -- rtsp://127.0.0.1:8554/movie.Mjpeg \
//!     --sessions 200 --minutes 30 --server-pid PID [--csv soak.csv]
//! ```
//!
//! Each of `--sessions` workers, until the time is up, opens a session
//! (standard over UDP, standard over TCP, or the classic dialect, in turn),
//! plays it for a few seconds at a time with pauses and seeks between, and
//! ends it with TEARDOWN; frames are counted against what the playing time
//! was worth. `scripts/soak.sh` adds clients that vanish without TEARDOWN
//! (whole processes killed) and starts the server. See `--help`.

use clap::Parser;
use mjpegrtsp::client::{
    ClientOptions, DialectPreference, EndReason, Event, Events, Session, TransportPreference,
};
use mjpegrtsp_tests::procfs::{ProcSample, cpu_percent, proc_sample};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ABOUT: &str = "\
Each worker, until the time is up: connect; SETUP; PLAY; then 1 to 4 times: play
3-12 s, then PAUSE (1 s) and PLAY, or a seek (standard dialect), or nothing;
TEARDOWN. Sessions take turns: standard over UDP, standard over TCP, classic.
Every minute a line: sessions opened and ended in that minute, failures, frames
received against those due (24 fps unless --fps, over the time each session was
playing), and the server's RSS, open descriptors, threads and CPU (--server-pid).
After the time is up it waits --settle seconds and reads the server again.";

/// soak: sessions that come and go for a long time, and the server read
/// each minute.
#[derive(Debug, Parser)]
#[command(name = "soak", after_help = ABOUT)]
struct Args {
    /// The stream: rtsp://127.0.0.1:PORT/path (a looping file).
    url: String,
    /// Workers, each with one session at a time.
    #[arg(long, default_value_t = 200)]
    sessions: usize,
    /// How long to run.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// The server process to read in /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds to wait at the end before the last reading (sessions that
    /// vanished time out meanwhile).
    #[arg(long, default_value_t = 40)]
    settle: u64,
    /// Frame rate of the stream.
    #[arg(long, default_value_t = 24.0)]
    fps: f64,
    /// Also write the series as CSV here.
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
}

/// What the workers did, added up as they go.
#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    ended: AtomicU64,
    pauses: AtomicU64,
    seeks: AtomicU64,
    frames: AtomicU64,
    /// Frames due over the time sessions played, in thousandths.
    due_milli: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn fail(&self, why: String) {
        *self.failures.lock().unwrap().entry(why).or_default() += 1;
    }

    fn failed(&self) -> u64 {
        self.failures.lock().unwrap().values().sum()
    }
}

/// A small deterministic generator (xorshift64*), one per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The three kinds of session, in turn.
fn options(turn: u64) -> ClientOptions {
    let (transport, dialect) = match turn % 3 {
        0 => (TransportPreference::Udp, DialectPreference::Standard),
        1 => (TransportPreference::Tcp, DialectPreference::Standard),
        _ => (TransportPreference::Udp, DialectPreference::Classic),
    };
    ClientOptions {
        transport,
        dialect,
        stats_interval: None,
        ..ClientOptions::default()
    }
}

/// Counts frames for `secs` of playing; an end or error ends it early.
async fn play_for(events: &mut Events, secs: Duration) -> Result<u64, String> {
    let deadline = tokio::time::Instant::now() + secs;
    let mut frames = 0;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return Ok(frames),
            Ok(Some(Event::Frame(_))) => frames += 1,
            Ok(Some(Event::End(EndReason::Bye))) => return Err("stream ended (BYE)".into()),
            Ok(Some(Event::End(EndReason::ConnectionClosed))) => {
                return Err("connection closed while playing".into());
            }
            Ok(Some(Event::Error(e))) => return Err(format!("while playing: {e}")),
            Ok(None) => return Err("session task gone".into()),
            Ok(Some(_)) => {}
        }
    }
}

/// One session from connect to TEARDOWN.
async fn one_session(
    url: &str,
    turn: u64,
    rng: &mut Rng,
    fps: f64,
    t: &Tally,
) -> Result<(), String> {
    let opts = options(turn);
    let classic = opts.dialect == DialectPreference::Classic;
    let mut s = Session::connect(url, opts)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.setup().await.map_err(|e| format!("setup: {e}"))?;
    let mut events = s.events().ok_or("no events")?;
    t.opened.fetch_add(1, Ordering::Relaxed);
    s.play(None).await.map_err(|e| format!("play: {e}"))?;
    for _ in 0..1 + rng.below(4) {
        let secs = Duration::from_millis(3000 + rng.below(9000));
        let frames = play_for(&mut events, secs).await?;
        t.frames.fetch_add(frames, Ordering::Relaxed);
        t.due_milli.fetch_add(
            (secs.as_secs_f64() * fps * 1000.0) as u64,
            Ordering::Relaxed,
        );
        match rng.below(3) {
            0 => {
                s.pause().await.map_err(|e| format!("pause: {e}"))?;
                tokio::time::sleep(Duration::from_secs(1)).await;
                s.play(None).await.map_err(|e| format!("play: {e}"))?;
                t.pauses.fetch_add(1, Ordering::Relaxed);
            }
            1 if !classic => {
                let end = s.duration().unwrap_or_default().as_millis() as u64;
                let to = Duration::from_millis(rng.below(end.max(1)));
                s.seek(to).await.map_err(|e| format!("seek: {e}"))?;
                t.seeks.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        // What came between the count and the pause or seek is not
        // counted, nor due.
        while events.try_recv().is_some() {}
    }
    s.teardown().await.map_err(|e| format!("teardown: {e}"))?;
    t.ended.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn worker(id: usize, url: String, until: Instant, fps: f64, t: Arc<Tally>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    // Spread the starts over the first 10 s.
    tokio::time::sleep(Duration::from_millis(rng.below(10_000))).await;
    let mut turn = id as u64;
    while Instant::now() < until {
        if let Err(why) = one_session(&url, turn, &mut rng, fps, &t).await {
            t.fail(why);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        turn += 1;
    }
}

/// One minute's line of the series.
struct Row {
    minute: u64,
    opened: u64,
    ended: u64,
    failed: u64,
    frames: u64,
    due: u64,
    server: Option<ProcSample>,
    cpu: Option<f64>,
}

/// The series' columns: their names and widths in the table.
const COLUMNS: [(&str, usize); 11] = [
    ("minute", 6),
    ("opened", 7),
    ("ended", 6),
    ("failed", 6),
    ("frames", 9),
    ("due", 9),
    ("got", 7),
    ("RSS MiB", 8),
    ("fds", 6),
    ("threads", 7),
    ("CPU%", 6),
];

fn table_line(cells: &[String]) -> String {
    cells
        .iter()
        .zip(COLUMNS)
        .map(|(c, (_, w))| format!("{c:>w$}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_row(r: &Row, csv: &mut Option<std::fs::File>) {
    let pct = if r.due > 0 {
        r.frames as f64 * 100.0 / r.due as f64
    } else {
        100.0
    };
    let (rss, fds, threads) = r.server.map_or((0.0, 0, 0), |s| {
        (s.rss_kb as f64 / 1024.0, s.fds, s.threads)
    });
    let cells = [
        r.minute.to_string(),
        r.opened.to_string(),
        r.ended.to_string(),
        r.failed.to_string(),
        r.frames.to_string(),
        r.due.to_string(),
        format!("{pct:.1}%"),
        format!("{rss:.1}"),
        fds.to_string(),
        threads.to_string(),
        format!("{:.1}", r.cpu.unwrap_or(0.0)),
    ];
    println!("{}", table_line(&cells));
    if let Some(f) = csv.as_mut() {
        // The CSV leaves out the percentage (frames and due are there).
        let mut fields: Vec<&str> = cells.iter().map(String::as_str).collect();
        fields.remove(6);
        let _ = writeln!(f, "{}", fields.join(","));
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let pid = args.server_pid.map(|p| p.to_string());
    let read_server = || pid.as_deref().and_then(proc_sample);
    let mut csv = args.csv.as_ref().map(|p| {
        let mut f = std::fs::File::create(p).expect("the --csv file");
        let _ = writeln!(
            f,
            "minute,opened,ended,failed,frames,due,rss_mib,fds,threads,cpu_pct"
        );
        f
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(args.minutes * 60.0);
    let workers: Vec<_> = (0..args.sessions)
        .map(|id| runtime.spawn(worker(id, args.url.clone(), until, args.fps, tally.clone())))
        .collect();
    let names: Vec<String> = COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
    println!("{}", table_line(&names));
    let first = read_server();
    print_row(
        &Row {
            minute: 0,
            opened: 0,
            ended: 0,
            failed: 0,
            frames: 0,
            due: 0,
            server: first,
            cpu: None,
        },
        &mut csv,
    );
    let mut last = (0, 0, 0, 0, 0, first);
    let mut minute = 0;
    while Instant::now() < until {
        minute += 1;
        let at = start + Duration::from_secs(60 * minute);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let now = (
            tally.opened.load(Ordering::Relaxed),
            tally.ended.load(Ordering::Relaxed),
            tally.failed(),
            tally.frames.load(Ordering::Relaxed),
            tally.due_milli.load(Ordering::Relaxed) / 1000,
            read_server(),
        );
        let cpu = match (last.5, now.5) {
            (Some(a), Some(b)) => Some(cpu_percent(&a, &b)),
            _ => None,
        };
        print_row(
            &Row {
                minute,
                opened: now.0 - last.0,
                ended: now.1 - last.1,
                failed: now.2 - last.2,
                frames: now.3 - last.3,
                due: now.4 - last.4,
                server: now.5,
                cpu,
            },
            &mut csv,
        );
        let _ = std::io::stdout().flush();
        last = now;
    }
    runtime.block_on(async {
        for w in workers {
            let _ = w.await;
        }
    });
    drop(runtime);
    std::thread::sleep(Duration::from_secs(args.settle));
    let settled = read_server();
    let frames = tally.frames.load(Ordering::Relaxed);
    let due = tally.due_milli.load(Ordering::Relaxed) / 1000;
    println!();
    println!(
        "sessions: {} opened, {} ended with TEARDOWN, {} pauses, {} seeks",
        tally.opened.load(Ordering::Relaxed),
        tally.ended.load(Ordering::Relaxed),
        tally.pauses.load(Ordering::Relaxed),
        tally.seeks.load(Ordering::Relaxed)
    );
    println!(
        "frames: {frames} of {due} due ({:.2}%)",
        frames as f64 * 100.0 / due.max(1) as f64
    );
    let failures = tally.failures.lock().unwrap();
    println!("failures: {}", failures.values().sum::<u64>());
    for (why, n) in failures.iter() {
        println!("  {n:>6}  {why}");
    }
    if let (Some(a), Some(b)) = (first, settled) {
        println!(
            "server, before → {} s after the end: RSS {:.1} → {:.1} MiB, fds {} → {}, threads {} → {}",
            args.settle,
            a.rss_kb as f64 / 1024.0,
            b.rss_kb as f64 / 1024.0,
            a.fds,
            b.fds,
            a.threads,
            b.threads
        );
    }
    ExitCode::SUCCESS
}
