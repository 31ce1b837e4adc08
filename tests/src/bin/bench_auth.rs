//! Whether a failed Digest attempt takes the same time whether the user
//! exists or not (so that timing tells an attacker nothing about user
//! names), and what authentication and TLS cost the server per session
//! set up.
//!
//! `cargo run --release -p mjpegrtsp-tests --bin bench_auth`

use mjpegrtsp::client::{ClientOptions, Session, TlsOptions};
use mjpegrtsp_tests::rtsp_text::wrong_guess;
use mjpegrtsp_tests::{
    TestServer, bench_args, bench_number, bench_options, certificate, guarded_server, movie_dir,
    test_users,
};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "bench_auth [--addresses N] [--setups N]

Part 1: from N loopback addresses (127.0.1.x, each under the lockout's 10
failures), wrong Digest answers for an existing user (alice) and an unknown
one (mallory), interleaved; prints the reply times of each.
Part 2: N sequential DESCRIBE+SETUP+PLAY+TEARDOWN sessions with the client
library against one in-process server: plain, Digest, RTSPS, RTSPS+Digest;
prints the wall time per session (client and server together).
  --addresses N  addresses for part 1 (default 200; 4 guesses of each kind per address)
  --setups N     sessions per mode for part 2 (default 200)";

struct Args {
    addresses: u32,
    setups: u32,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let Some(options) = bench_options(args, &["--addresses", "--setups"], &[])? else {
        return Ok(None);
    };
    let mut out = Args {
        addresses: 200,
        setups: 200,
    };
    for (name, value) in options {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "--addresses" => out.addresses = bench_number(&name, &value, 1..=250)?,
            _ => out.setups = bench_number(&name, &value, 1..=10_000)?,
        }
    }
    Ok(Some(out))
}

/// Median, 10th and 90th percentiles, and the mean of the middle 80 %,
/// in µs (reply times on loopback are bimodal, as the CPU sleeps or not:
/// the trimmed mean is steadier than the median).
fn percentiles(mut v: Vec<Duration>) -> (f64, f64, f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let middle = &v[v.len() / 10..v.len() - v.len() / 10];
    let mean = middle.iter().map(|d| d.as_secs_f64() * 1e6).sum::<f64>() / middle.len() as f64;
    (at(0.5), at(0.1), at(0.9), mean)
}

fn main() -> ExitCode {
    let args = match bench_args("bench_auth", USAGE, parse(std::env::args().skip(1))) {
        Ok(a) => a,
        Err(code) => return code,
    };
    println!("auth benchmark (tests/src/bin/bench_auth.rs)");
    let (_dir, server) = guarded_server(&[]);
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for a in 0..args.addresses {
        let ip = IpAddr::from([127, 0, 1, (a % 250 + 2) as u8]);
        for _ in 0..4 {
            for (user, into) in [("alice", &mut known), ("mallory", &mut unknown)] {
                match wrong_guess(ip, server.addr, user) {
                    (401, Some(t)) => into.push(t),
                    other => panic!("{user} from {ip}: {other:?}"),
                }
            }
        }
    }
    let (n, k, u) = (known.len(), percentiles(known), percentiles(unknown));
    println!("wrong answer, {n} each   median     p10     p90  mean 10-90 % (µs)");
    println!(
        "  existing user     {:8.0} {:7.0} {:7.0} {:8.1}",
        k.0, k.1, k.2, k.3
    );
    println!(
        "  unknown user      {:8.0} {:7.0} {:7.0} {:8.1}",
        u.0, u.1, u.2, u.3
    );
    println!("  existing/unknown, trimmed means: {:.3}", k.3 / u.3);
    drop(server);

    println!(
        "\nsessions set up and torn down one after another, {} per mode",
        args.setups
    );
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let (cert, key) = certificate(dir.path());
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.tls = Some(mjpegrtsp::server::TlsConfig::new(&cert, &key, 0));
    let mut with_users = config.clone();
    with_users.access = Some(test_users(&[]));
    let open = TestServer::start_with(config);
    let guarded = TestServer::start_with(with_users);
    let tls = TlsOptions {
        verify: true,
        ca_file: Some(cert),
    };
    let mut base = None;
    for (mode, url) in [
        ("rtsp", format!("rtsp://{}/movie.Mjpeg", open.addr)),
        (
            "rtsp + Digest",
            format!("rtsp://alice:s3cret@{}/movie.Mjpeg", guarded.addr),
        ),
        (
            "rtsps + SRTP",
            format!("rtsps://{}/movie.Mjpeg", open.tls_addr.unwrap()),
        ),
        (
            "rtsps + SRTP + Digest",
            format!(
                "rtsps://alice:s3cret@{}/movie.Mjpeg",
                guarded.tls_addr.unwrap()
            ),
        ),
    ] {
        let per = setups(&url, &tls, args.setups);
        let ms = per.as_secs_f64() * 1e3;
        let base_ms = *base.get_or_insert(ms);
        println!(
            "  {mode:<22} {ms:7.2} ms per session  ({:.2}x rtsp)",
            ms / base_ms
        );
    }
    ExitCode::SUCCESS
}

/// The mean wall time of `n` sessions set up, played and torn down.
fn setups(url: &str, tls: &TlsOptions, n: u32) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let options = ClientOptions {
                tls: tls.clone(),
                ..ClientOptions::default()
            };
            let mut s = Session::connect(url, options).await.expect("connects");
            s.setup().await.expect("SETUP");
            s.play(None).await.expect("PLAY");
            s.teardown().await.expect("TEARDOWN");
        }
        start.elapsed() / n
    })
}
