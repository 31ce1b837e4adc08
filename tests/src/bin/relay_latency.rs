//! Benchmark (not a test): the latency a relay adds between the camera and
//! a viewer. Two viewers in this process, both this project's client over
//! UDP on loopback: one watches the upstream directly, one the relay's
//! mount. Each frame is matched across the two by its scan data (RFC 2435
//! carries it unchanged through the relay), and the relay's added latency is
//! the arrival of its last packet at the relay's viewer minus its arrival at
//! the direct viewer, on one clock. `scripts/bench_relay.sh` runs it while
//! `rtsp_load` holds its viewers on the relay.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin relay_latency -- DIRECT_URL RELAY_URL [--frames N]
//! ```

use mjpegrtsp::client::{ClientOptions, Events, Session, TransportPreference};
use mjpegrtsp_tests::{
    bench_args, bench_number, bench_options, block_on, jpeg_scan_data, quantile,
};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
relay_latency: the latency a relay adds, camera to viewer

USAGE:
    relay_latency DIRECT_URL RELAY_URL [--frames N]

    DIRECT_URL   the upstream stream (the camera)
    RELAY_URL    the relay's mount re-serving it
    --frames N   frames measured after 24 of warm-up (default 240)

Prints p50, p90, p99 and the largest added latency in ms, and how many
frames were matched; exits non-zero when fewer than half are.";

const WARMUP: usize = 24;

struct Args {
    direct: String,
    relay: String,
    frames: usize,
}

fn parse(args: Vec<String>) -> Result<Option<Args>, String> {
    let (urls, options): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| a.starts_with("rtsp"));
    let Some(parsed) = bench_options(options, &["--frames"], &[])? else {
        return Ok(None);
    };
    let [direct, relay] = <[String; 2]>::try_from(urls)
        .map_err(|_| "give DIRECT_URL and RELAY_URL (try --help)".to_owned())?;
    let mut frames = 240;
    for (name, value) in parsed {
        frames = bench_number(&name, &value.unwrap_or_default(), 10..=100_000)?;
    }
    Ok(Some(Args {
        direct,
        relay,
        frames,
    }))
}

/// Each frame's scan-data hash, with when its last packet arrived.
async fn arrivals(url: &str, frames: usize) -> Result<Vec<(u64, Instant)>, String> {
    let options = ClientOptions {
        transport: TransportPreference::Udp,
        ..ClientOptions::default()
    };
    let mut session = Session::connect(url, options)
        .await
        .map_err(|e| e.to_string())?;
    session.setup().await.map_err(|e| e.to_string())?;
    let mut events: Events = session.events().ok_or("no events")?;
    session.play(None).await.map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(frames);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 + frames as u64 / 10);
    while out.len() < frames {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(mjpegrtsp::client::Event::Frame(f))) => {
                let mut h = DefaultHasher::new();
                jpeg_scan_data(&f.jpeg).unwrap_or(&f.jpeg).hash(&mut h);
                out.push((h.finish(), f.arrival));
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let _ = session.teardown().await;
    Ok(out)
}

fn main() -> ExitCode {
    let args = match bench_args(
        "relay_latency",
        USAGE,
        parse(std::env::args().skip(1).collect()),
    ) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let wanted = WARMUP + args.frames;
    let (direct, relayed) = block_on(async {
        tokio::join!(
            arrivals(&args.direct, wanted + 48),
            arrivals(&args.relay, wanted)
        )
    });
    let (direct, relayed) = match (direct, relayed) {
        (Ok(d), Ok(r)) => (d, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("relay_latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut seen: HashMap<u64, Vec<Instant>> = HashMap::new();
    for (hash, at) in &direct {
        seen.entry(*hash).or_default().push(*at);
    }
    // A looping clip shows each frame again a loop later: the nearest
    // direct arrival is the same showing.
    let mut added: Vec<f64> = relayed
        .iter()
        .skip(WARMUP)
        .filter_map(|(hash, at)| {
            // Signed: a relayed frame could in principle arrive first.
            let since = |d: &Instant| match at.checked_duration_since(*d) {
                Some(after) => after.as_secs_f64() * 1e3,
                None => -(d.duration_since(*at).as_secs_f64() * 1e3),
            };
            seen.get(hash)?
                .iter()
                .map(since)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()))
        })
        .collect();
    added.sort_by(f64::total_cmp);
    let q = |p| quantile(&added, p).unwrap_or(f64::NAN);
    println!(
        "relay adds (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  over {} of {} frames matched",
        q(0.5),
        q(0.9),
        q(0.99),
        added.last().copied().unwrap_or(f64::NAN),
        added.len(),
        relayed.len().saturating_sub(WARMUP)
    );
    if added.len() * 2 < args.frames {
        eprintln!("relay_latency: too few frames matched");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
