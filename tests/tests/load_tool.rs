//! The load tool (`rtsp_load`) against a real server on loopback, in a short
//! run: its JSON report, and its sessions spread over loopback addresses
//! once one address has `--sessions-per-address` of them (a UDP session
//! takes two ports; an address has about 28,000), shown by a server that
//! allows only so many sessions per address; a burst of PLAYs larger
//! than a media thread takes at once, which waits its turn, plays, and
//! leaves the thread's measured frame cost in the metrics; and
//! with `--gro`, a frame's segmented send taken as one datagram and still
//! counted packet by packet; and `--concurrency` bounding the set-ups of
//! all its threads together.

use mjpegrtsp::server::engine::load::{Admission, GROWTH_FLOOR};
use mjpegrtsp::server::{HttpConfig, ServerConfig};
use mjpegrtsp_tests::http::{get, metric_samples};
use mjpegrtsp_tests::rtsp_text::media_dir;
use mjpegrtsp_tests::*;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `rtsp_load` for a second against `server` and reads its JSON line.
fn load(server: &TestServer, sessions: usize, per_address: usize) -> serde_json::Value {
    load_with(server, sessions, per_address, &[])
}

/// `load`, with more of the tool's arguments.
fn load_with(
    server: &TestServer,
    sessions: usize,
    per_address: usize,
    more: &[&str],
) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_rtsp_load"))
        .arg(format!("rtsp://{}/movie.Mjpeg", server.addr))
        .args(["--sessions", &sessions.to_string()])
        .args(["--sessions-per-address", &per_address.to_string()])
        .args(["--seconds", "1", "--timeout", "5", "--json"])
        .args(more)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

#[test]
fn sessions_beyond_one_address_come_from_the_next_addresses() {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.max_sessions_per_address = 4;
    let server = TestServer::start_with(config);

    // 12 sessions, 4 from each of 127.0.0.1, .2 and .3: every one is
    // within the server's limit and plays.
    let spread = load(&server, 12, 4);
    assert_eq!(spread["client_addresses"], 3, "{spread}");
    assert_eq!(spread["ok"], 12, "{spread}");
    assert!(
        spread["per_session_frames"]["min"].as_u64() > Some(0),
        "{spread}"
    );
    let pct = spread["frames_pct"].as_f64().unwrap();
    assert!(pct > 50.0, "{spread}");

    // The same 12 from one address: the server takes 4, refuses 8.
    let one = load(&server, 12, 12);
    assert_eq!(one["client_addresses"], 1, "{one}");
    assert_eq!(one["ok"], 4, "{one}");
    assert_eq!(one["failed"], 8, "{one}");
}

#[test]
fn ipv6_loopback_is_one_address() {
    // No server needed: the tool refuses before it connects.
    let out = Command::new(env!("CARGO_BIN_EXE_rtsp_load"))
        .args(["rtsp://[::1]:9/x", "--sessions", "3"])
        .args(["--sessions-per-address", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("use 127.0.0.1"), "{stderr}");
}

#[test]
fn a_burst_past_what_a_thread_has_measured_waits_its_turn_and_plays() {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.media_threads = 1;
    config.max_sessions_per_address = 0;
    config.max_connections_per_address = 0;
    // Room without limit: only the pace at which a thread takes a burst
    // (64 more than it has measured, or a quarter again, each window)
    // stands between the PLAYs and the thread. Those past the first
    // step wait for the next window rather than get 453.
    config.admission = Admission {
        max_busy: f64::INFINITY,
        max_machine_busy: f64::INFINITY,
        ..Admission::default()
    };
    config.http = Some(HttpConfig::on(0));
    let server = TestServer::start_with(config);
    // Three steps' worth at the least.
    let sessions = 3 * GROWTH_FLOOR;
    let burst = load(&server, sessions, sessions);
    assert_eq!(burst["ok"], sessions, "{burst}");
    assert_eq!(burst["failed"], 0, "{burst}");
    // Each step was measured: the thread says what a frame cost it (the
    // figure stays once the sessions have gone), more than nothing and far
    // less than a frame's interval. The status API says the same.
    let http = server.http_addr.unwrap();
    let page = String::from_utf8_lossy(&get(http, "/metrics").body).into_owned();
    let cost = metric_samples(&page, "mjpegrtsp_media_thread_frame_cost_seconds");
    assert_eq!(cost.len(), 1, "{page}");
    assert!(cost[0] > 0.0 && cost[0] < 0.01, "frame cost {cost:?}");
    let status: serde_json::Value =
        serde_json::from_slice(&get(http, "/api/v1/status").body).unwrap();
    let us = status["server"]["media_threads"][0]["frame_cost_us"].as_f64();
    assert!(
        us.is_some_and(|us| (us - cost[0] * 1e6).abs() < 1.0),
        "{status}"
    );
}

#[test]
fn with_gro_a_frames_packets_are_still_counted_one_by_one() {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    let server = TestServer::start_with(config);
    let plain = load(&server, 3, 100);
    let gro = load_with(&server, 3, 100, &["--gro"]);
    for run in [&plain, &gro] {
        assert_eq!(run["ok"], 3, "{run}");
        assert_eq!(run["packets_lost"], 0, "{run}");
        assert_eq!(run["packets_invalid"], 0, "{run}");
        assert!(run["frames_pct"].as_f64().unwrap() > 90.0, "{run}");
    }
    // server-cli segments each frame (UDP GSO): taken whole, it is still
    // as many packets a frame as without GRO.
    let per_frame = |run: &serde_json::Value| {
        run["packets"].as_f64().unwrap() / run["frames"].as_f64().unwrap()
    };
    let (p, g) = (per_frame(&plain), per_frame(&gro));
    assert!(p >= 2.0, "{plain}");
    assert!(
        (g - p).abs() / p < 0.2,
        "packets a frame: {g} with GRO, {p} without"
    );
}

#[test]
fn the_concurrency_bounds_the_setups_of_all_threads_together() {
    // A server that takes connections and never answers: each session
    // holds its set-up slot until its OPTIONS times out.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let accepting = std::thread::spawn(move || {
        let start = Instant::now();
        let (mut held, mut at) = (Vec::new(), Vec::new());
        while start.elapsed() < Duration::from_secs(6) && at.len() < 8 {
            match listener.accept() {
                Ok((stream, _)) => {
                    at.push(start.elapsed());
                    held.push(stream);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        at
    });
    // 8 sessions on 4 threads, 2 setting up at a time: 4 rounds of 0.8 s.
    let out = Command::new(env!("CARGO_BIN_EXE_rtsp_load"))
        .arg(format!("rtsp://{addr}/movie.Mjpeg"))
        .args(["--sessions", "8", "--threads", "4", "--concurrency", "2"])
        .args(["--timeout", "0.8", "--seconds", "1", "--json"])
        .output()
        .unwrap();
    let at = accepting.join().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(at.len(), 8, "every session tried: {at:?}\n{report}");
    // Within the first round, two connections, not one for each thread.
    let first_round = at
        .iter()
        .filter(|&&t| t < at[0] + Duration::from_millis(500));
    assert_eq!(first_round.count(), 2, "{at:?}");
}
