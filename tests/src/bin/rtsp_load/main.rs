//! Load tool for RTSP servers (standard or classic dialect): opens many
//! sessions from a few event loops and reports how well the server kept up.
//! One concern a module: the command line ([`args`]), the control
//! connection ([`conn`]), one session ([`session`]), what the sessions
//! measure together ([`stats`]), `/proc` ([`sys`]) and the report
//! ([`report`]).
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin rtsp_load -- rtsp://127.0.0.1:8554/movie.Mjpeg \
//!     --sessions 200 --seconds 10 [--rate 50] [--tcp] [--server-pid PID] [--json]
//! ```
//!
//! An `http://…/stream/<mount>` URL makes each session a browser-style
//! viewer of the server's MJPEG over HTTP instead ([`http`]).
//!
//! Each session runs OPTIONS, DESCRIBE, SETUP (UDP with its own RTP/RTCP socket pair,
//! or RTP/AVP/TCP interleaved) and PLAY, then receives until the end of the measuring
//! window, then TEARDOWN. Sessions are tasks on current-thread tokio runtimes, one
//! per thread (`--threads`; by default one per 1,000 sessions, at most one per
//! core), each thread with its share of the sessions; the `--concurrency`
//! set-up slots are shared by all of them. A thread's datagrams are read
//! into one buffer. The measuring window is
//! the same for all threads. See `REPORTED` (and `--help`) for what is
//! measured.

use clap::Parser;
use mjpegrtsp::net;
use mjpegrtsp::rtp::rtcp;
use mjpegrtsp::rtsp::{self, Response};
use mjpegrtsp_tests::procfs::{ProcSample, cpu_percent, proc_sample};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::{Instant, sleep_until, timeout_at};

pub(crate) const REPORTED: &str = "\
Each session: OPTIONS, DESCRIBE, SETUP, PLAY; receive; TEARDOWN. It plays from its
PLAY reply to the end of the window, which starts once all sessions are set up (or
failed) and lasts T seconds. Reported:
  sessions ok/failed   ok = PLAY answered 200, at least one whole frame received and
                       no error while playing; failures are grouped by reason
  frames               whole frames (a marker packet whose frame has every sequence
                       number from its first packet) against the frames due at 0,
                       1/fps, 2/fps ... of the play time (capped by the SDP's a=range
                       when the media is finite)
  per session          whole frames of each session that played: min, median, max,
                       and the sessions whose share of the frames due to them is
                       under half the median share (starved ones)
  packets lost         gaps in the sequence numbers (late/duplicate counted apart)
  gap                  time between marker packets of a session, in the window
  setup                TCP connect to the PLAY reply
  first frame          PLAY reply to the first whole frame
  server CPU, RSS      from /proc/PID: CPU as % of one core over the window; RSS
                       before any session, at the start and end of the window, and
                       the growth per playing session
  load tool CPU        the same for this process, all its threads (it shares the
                       machine)
";

pub(crate) const RR_INTERVAL: Duration = Duration::from_secs(5);
/// A worker thread's receive buffer: 16 whole datagrams.
pub(crate) const SCRATCH: usize = 16 * DATAGRAM;
/// The largest UDP datagram, rounded up.
pub(crate) const DATAGRAM: usize = 65536;
/// Bytes of an RTP packet over UDP read out of the kernel: its header and
/// the start of its payload (a JPEG fragment offset), all the counting
/// needs ([`sys::recv_many`]; the whole length comes with it).
pub(crate) const RTP_HEAD: usize = 64;
pub(crate) const GAP_BUCKET_US: u64 = 100;
pub(crate) const GAP_BUCKETS: usize = 100_000; // 10 s in 100 µs buckets, then one overflow bucket

mod args;
mod conn;
mod http;
mod report;
mod session;
mod stats;
mod sys;

use args::*;
use conn::*;
use report::*;
use session::*;
use stats::*;
use sys::*;

/// What one thread of the tool brings back: its sessions' results and the
/// frame gaps they saw.
struct ThreadResult {
    results: Vec<SessionResult>,
    gaps: Histogram,
}

/// Runs sessions `index`, `index + threads`, … on this thread's own event
/// loop until `stop`, then tears them down and brings back their results.
fn run_thread(
    args: Args,
    addr: SocketAddr,
    global: Arc<Global>,
    (index, threads): (usize, usize),
    t0: Instant,
    stop: watch::Receiver<bool>,
) -> ThreadResult {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let failed = (index..args.sessions)
                .step_by(threads)
                .map(|_| SessionResult {
                    failure: Some(format!("tokio runtime: {e}")),
                    ..SessionResult::default()
                });
            return ThreadResult {
                results: failed.collect(),
                gaps: Histogram::new(),
            };
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let args = Rc::new(args);
        let shared = Rc::new(Shared {
            scratch: RefCell::new(vec![0u8; SCRATCH]),
            gaps: RefCell::new(Histogram::new()),
            global,
        });
        let mut handles = Vec::new();
        for i in (index..args.sessions).step_by(threads) {
            // Checked for every index before the threads start.
            let local = client_ip(addr.ip(), i, args.sessions_per_address).unwrap_or(addr.ip());
            let peer = Peer {
                server: addr,
                local,
            };
            let at = if args.rate > 0.0 {
                t0 + Duration::from_secs_f64(i as f64 / args.rate)
            } else {
                t0
            };
            let session = if args.url.starts_with("http://") {
                Box::pin(http::run_http_session(
                    args.clone(),
                    peer,
                    shared.clone(),
                    at,
                    stop.clone(),
                ))
                    as std::pin::Pin<Box<dyn std::future::Future<Output = SessionResult>>>
            } else {
                Box::pin(run_session(
                    args.clone(),
                    peer,
                    shared.clone(),
                    at,
                    stop.clone(),
                ))
            };
            handles.push(tokio::task::spawn_local(session));
        }
        let mut stop = stop;
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        let mut results = Vec::with_capacity(handles.len());
        let join_deadline = Instant::now() + args.timeout + Duration::from_secs(5);
        for h in handles {
            let abort = h.abort_handle();
            match timeout_at(join_deadline, h).await {
                Ok(Ok(r)) => results.push(r),
                Ok(Err(e)) => results.push(SessionResult {
                    failure: Some(format!("task failed: {e}")),
                    ..SessionResult::default()
                }),
                Err(_) => {
                    abort.abort();
                    results.push(SessionResult {
                        failure: Some("did not finish (teardown timed out)".into()),
                        ..SessionResult::default()
                    });
                }
            }
        }
        ThreadResult {
            results,
            gaps: shared.gaps.replace(Histogram::new()),
        }
    })
}

/// The threads to run `sessions` on: `asked`, or one per 1,000 sessions
/// up to the cores this process may use.
fn thread_count(asked: usize, sessions: usize) -> usize {
    if asked > 0 {
        return asked.min(sessions);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    sessions.div_ceil(1000).clamp(1, cores)
}

async fn run(args: Args, nofile: u64) -> ExitCode {
    let started = Instant::now();
    let addr = match url_addr(&args.url) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rtsp_load: {e}");
            return ExitCode::from(2);
        }
    };
    if client_ip(addr.ip(), args.sessions - 1, args.sessions_per_address).is_none() {
        eprintln!(
            "rtsp_load: {} sessions at --sessions-per-address {} need more client addresses \
             than {} has (IPv6 loopback is one address: use 127.0.0.1)",
            args.sessions,
            args.sessions_per_address,
            addr.ip()
        );
        return ExitCode::from(2);
    }
    let addresses = (args.sessions - 1) / args.sessions_per_address + 1;
    let threads = thread_count(args.threads, args.sessions);
    let global = Arc::new(Global::new(args.concurrency));
    let pid_s = args.server_pid.map(|p| p.to_string());
    let mut server = args.server_pid.map(|pid| ServerWindow {
        pid,
        idle: proc_sample(&pid.to_string()),
        start: None,
        end: None,
    });
    if let Some(s) = &server
        && s.idle.is_none()
    {
        eprintln!(
            "rtsp_load: warning: cannot read /proc/{}: server not sampled",
            s.pid
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let ramp = if args.rate > 0.0 {
        args.sessions as f64 / args.rate
    } else {
        0.0
    };
    let mut workers = Vec::with_capacity(threads);
    for index in 0..threads {
        let (args, global, stop) = (args.clone(), global.clone(), stop_rx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("rtsp-load-{index}"))
            .spawn(move || run_thread(args, addr, global, (index, threads), t0, stop));
        match spawned {
            Ok(w) => workers.push(w),
            Err(e) => {
                eprintln!("rtsp_load: cannot start a thread: {e}");
                let _ = stop_tx.send(true);
                return ExitCode::from(1);
            }
        }
    }

    let progress =
        tokio::task::spawn_local(show_progress(global.clone(), args.sessions, args.seconds));

    // Every setup ends by its timeouts (5 steps); queueing behind --concurrency adds
    // rounds of them.
    let rounds = (args.sessions as f64 / args.concurrency as f64).ceil();
    let setup_bound = Duration::from_secs_f64(ramp)
        + args.timeout * 5 * (rounds.min(20.0) as u32).max(1)
        + Duration::from_secs(5);
    let set_up = || global.set_up.load(Ordering::Relaxed);
    let all_set_up = set_up() == args.sessions
        || timeout_at(t0 + setup_bound, global.all_set_up.notified())
            .await
            .is_ok()
        || set_up() == args.sessions;

    // The measuring window.
    let own_start = proc_sample("self");
    if let (Some(s), Some(p)) = (server.as_mut(), pid_s.as_deref()) {
        s.start = proc_sample(p);
    }
    global.window.store(true, Ordering::Relaxed);
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let window = w0.elapsed();
    global.window.store(false, Ordering::Relaxed);
    if let (Some(s), Some(p)) = (server.as_mut(), pid_s.as_deref()) {
        s.end = proc_sample(p);
    }
    let own_end = proc_sample("self");
    progress.abort();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    let udp_drops = if args.tcp { None } else { own_udp_drops() };
    let _ = stop_tx.send(true);

    // The threads end by themselves: each bounds its teardowns.
    let mut results = Vec::with_capacity(args.sessions);
    let mut gaps = Histogram::new();
    for w in workers {
        match w.join() {
            Ok(t) => {
                results.extend(t.results);
                gaps.merge(&t.gaps);
            }
            Err(_) => results.push(SessionResult {
                failure: Some("a load thread panicked".into()),
                ..SessionResult::default()
            }),
        }
    }

    let info = RunInfo {
        window,
        all_set_up,
        server: server.as_ref(),
        own: (own_start, own_end),
        nofile,
        elapsed: started.elapsed(),
        udp_drops,
        threads,
        addresses,
    };
    let (table, json) = report(&args, &results, &gaps, &info);
    if args.json {
        eprint!("{table}");
        println!("{json}");
    } else {
        print!("{table}");
    }
    if results.iter().all(|r| r.failure.is_some()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Says on stderr how far the run is, about every second: sessions set up,
/// then how much of the measuring window has passed. On a terminal the line
/// is rewritten in place.
async fn show_progress(global: Arc<Global>, sessions: usize, seconds: f64) {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut window_start = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let set_up = global.set_up.load(Ordering::Relaxed);
        let line = if global.window.load(Ordering::Relaxed) {
            let w0 = *window_start.get_or_insert_with(Instant::now);
            format!(
                "rtsp_load: measuring {:.0}/{seconds:.0} s with {} sessions set up",
                w0.elapsed().as_secs_f64(),
                set_up
            )
        } else {
            format!(
                "rtsp_load: setting up {}/{sessions} sessions ({:.0} s)",
                set_up,
                start.elapsed().as_secs_f64()
            )
        };
        if terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    args.timeout = Duration::from_secs_f64(args.timeout_secs);
    // Three descriptors per session (RTSP, RTP, RTCP) and some to spare.
    let want = args.sessions as u64 * 3 + 64;
    let nofile = raise_nofile(want);
    if nofile < want {
        eprintln!(
            "rtsp_load: warning: open-file limit {nofile} < {want} needed for {} sessions: \
             sessions past about {} will fail with 'Too many open files' (raise the hard \
             limit, `ulimit -Hn`, as root, or split the sessions over several rtsp_load \
             processes)",
            args.sessions,
            nofile.saturating_sub(64) / 3
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtsp_load: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args, nofile))
}
