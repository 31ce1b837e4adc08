//! What SRTP costs the server: `server-cli` serving N `rtsps://` sessions
//! over UDP with SRTP (the default), then the same with `--no-srtp` (plain
//! RTP, same TLS signalling), then plain `rtsp://` — its CPU and memory from
//! /proc while this project's client library receives (and decrypts) every
//! session in this process.
//!
//! Build the server first: `cargo build --release -p server-cli`, then
//! `cargo run --release -p mjpegrtsp-tests --bin bench_srtp`.

use mjpegrtsp::client::{ClientOptions, Event, Session, TlsOptions, TransportPreference};
use mjpegrtsp_tests::rtsp_text::{free_port, wait_listening};
use mjpegrtsp_tests::{
    ProcSample, bench_args, bench_number, bench_options, certificate, cpu_percent, proc_sample,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const USAGE: &str = "bench_srtp [--sessions N] [--seconds S]

Serves N rtsps:// sessions over UDP from server-cli (built-in sample, looping)
three ways: SRTP, RTP/AVP inside the same TLS signalling (--no-srtp), and
plain rtsp://; prints the server's CPU and memory for each. Needs
target/release/server-cli (cargo build --release -p server-cli).
  --sessions N   sessions (default 200)
  --seconds S    measuring window per mode (default 20)";

struct Args {
    sessions: usize,
    seconds: f64,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let Some(options) = bench_options(args, &["--sessions", "--seconds"], &[])? else {
        return Ok(None);
    };
    let mut out = Args {
        sessions: 200,
        seconds: 20.0,
    };
    for (name, value) in options {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "--sessions" => out.sessions = bench_number(&name, &value, 1..=2000)?,
            _ => out.seconds = bench_number(&name, &value, 1.0..=3600.0)?,
        }
    }
    Ok(Some(out))
}

/// One mode's figures.
struct Row {
    mode: &'static str,
    cpu: f64,
    rss_mib: f64,
    frames: u64,
    expected: u64,
}

fn main() -> ExitCode {
    let args = match bench_args("bench_srtp", USAGE, parse(std::env::args().skip(1))) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let server = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.join("server-cli")))
        .filter(|p| p.exists());
    let Some(server) = server else {
        eprintln!(
            "bench_srtp: no server-cli beside this binary: cargo build --release -p server-cli"
        );
        return ExitCode::FAILURE;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let (cert, key) = certificate(dir.path());
    println!(
        "SRTP benchmark (tests/src/bin/bench_srtp.rs): {} sessions over UDP, {} s each, {} cores",
        args.sessions,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    for (mode, extra, secure) in [
        ("rtsps + SRTP", &[][..], true),
        ("rtsps, RTP/AVP", &["--no-srtp"][..], true),
        ("rtsp, RTP/AVP", &[][..], false),
    ] {
        let (mut child, url) = start_server(&server, &cert, &key, extra, secure);
        let row = measure(mode, &child, &url, &cert, &args);
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "{:<16} server CPU {:6.1} %  RSS {:6.1} MiB  frames {}/{} ({:.1} %)",
            row.mode,
            row.cpu,
            row.rss_mib,
            row.frames,
            row.expected,
            100.0 * row.frames as f64 / row.expected.max(1) as f64
        );
        rows.push(row);
    }
    let (srtp, avp) = (&rows[0], &rows[1]);
    println!(
        "SRTP costs the server {:.2}x the CPU of RTP/AVP under the same TLS signalling (+{:.1} points)",
        srtp.cpu / avp.cpu.max(0.01),
        srtp.cpu - avp.cpu
    );
    ExitCode::SUCCESS
}

fn start_server(
    server: &Path,
    cert: &Path,
    key: &Path,
    extra: &[&str],
    secure: bool,
) -> (Child, String) {
    let (port, tls_port) = (free_port(), free_port());
    let child = Command::new(server)
        .args(["--bind", "127.0.0.1", "--loop"])
        .args(["--max-sessions-per-address", "0"])
        .args(["--max-connections-per-address", "0"])
        .args([
            "--port",
            &port.to_string(),
            "--tls-port",
            &tls_port.to_string(),
        ])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server-cli starts");
    let (scheme, port) = if secure {
        ("rtsps", tls_port)
    } else {
        ("rtsp", port)
    };
    wait_listening("server-cli", ([127, 0, 0, 1], port).into());
    (child, format!("{scheme}://127.0.0.1:{port}/sample.Mjpeg"))
}

fn measure(mode: &'static str, child: &Child, url: &str, cert: &Path, args: &Args) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let frames = Arc::new(AtomicU64::new(0));
    let pid = child.id().to_string();
    let ca: PathBuf = cert.to_owned();
    runtime.block_on(async {
        let mut sessions = Vec::new();
        for _ in 0..args.sessions {
            let options = ClientOptions {
                transport: TransportPreference::Udp,
                tls: TlsOptions {
                    verify: true,
                    ca_file: Some(ca.clone()),
                },
                ..ClientOptions::default()
            };
            let mut s = Session::connect(url, options).await.expect("connects");
            s.setup().await.expect("SETUP");
            let mut events = s.events().expect("events");
            s.play(None).await.expect("PLAY");
            let frames = frames.clone();
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    if let Event::Frame(_) = ev {
                        frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            sessions.push(s);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before: ProcSample = proc_sample(&pid).expect("the server's /proc");
        let counted = frames.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
        let after = proc_sample(&pid).expect("the server's /proc");
        let got = frames.load(Ordering::Relaxed) - counted;
        for mut s in sessions {
            let _ = s.teardown().await;
        }
        Row {
            mode,
            cpu: cpu_percent(&before, &after),
            rss_mib: after.rss_kb as f64 / 1024.0,
            frames: got,
            // The built-in sample plays at 24 fps.
            expected: (24.0 * args.seconds) as u64 * args.sessions as u64,
        }
    })
}
