//! The media engine on several threads, and its admission control, over
//! real sockets on loopback: sessions spread over the threads and a live
//! source's frames reach its viewers on every one of them; a thread that
//! cannot keep pace refuses new PLAYs (453 on RTSP, 503 on HTTP, counted in
//! the metrics) while the session already playing there goes on, and takes
//! them again once it has room; a PLAY waits for room on its own thread
//! only, not behind a busy one.

use mjpegrtsp::server::{Admission, HttpConfig, LiveMount, ServerConfig};
use mjpegrtsp_tests::http::{get, metric_samples as samples};
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::net::UdpSocket;

/// A reply's body as text.
fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}
use std::time::{Duration, Instant};

/// RTP packets `udp` receives within `window`.
fn packets_within(udp: &UdpSocket, window: Duration) -> usize {
    let end = Instant::now() + window;
    let mut buf = [0u8; 65536];
    let mut n = 0;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        udp.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        if udp.recv(&mut buf).is_ok_and(|len| len >= 12) {
            n += 1;
        }
    }
    n
}

fn metrics(server: &TestServer) -> String {
    text(&get(server.http_addr.unwrap(), "/metrics").body)
}

#[test]
fn sessions_spread_over_the_threads_and_live_frames_reach_every_one() {
    let (dir, _) = media_dir();
    let upstream = TestServer::start(dir.path(), true);
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.media_threads = 3;
    config.http = Some(HttpConfig::on(0));
    config.live = vec![LiveMount::relay(
        "cam",
        format!("rtsp://{}/movie.Mjpeg", upstream.addr),
    )];
    let server = TestServer::start_with(config);
    // Three viewers of the file and three of the live mount (a relay).
    let mut sessions = Vec::new();
    for path in ["movie.Mjpeg", "cam"].repeat(3) {
        sessions.push(standard_session(&server, path));
    }
    for (i, (_, udp, _)) in sessions.iter().enumerate() {
        let got = packets_within(udp, Duration::from_millis(1500));
        assert!(got >= 10, "session {i} got {got} packets");
    }
    let page = metrics(&server);
    assert_eq!(samples(&page, "mjpegrtsp_media_threads"), [3.0], "{page}");
    let per_thread = samples(&page, "mjpegrtsp_media_thread_sessions");
    assert_eq!(per_thread.len(), 3, "{page}");
    assert_eq!(per_thread.iter().sum::<f64>(), 6.0, "{page}");
    assert!(
        per_thread.iter().all(|&n| n > 0.0),
        "every thread plays some: {per_thread:?}"
    );
    // The status API shows the same threads.
    let status = text(&get(server.http_addr.unwrap(), "/api/v1/status").body);
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    let threads = json["server"]["media_threads"].as_array().unwrap();
    assert_eq!(threads.len(), 3, "{status}");
    assert_eq!(json["server"]["overloaded"], false, "{status}");
}

#[test]
fn past_capacity_new_plays_are_refused_and_the_playing_session_goes_on() {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.media_threads = 1;
    config.http = Some(HttpConfig::on(0));
    // A thread "at capacity" as soon as it has any work: the one session
    // it takes (an idle thread always takes one) is all it may have.
    config.admission = Admission {
        max_busy: 0.0,
        ..Admission::default()
    };
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (mut first_ctl, first_udp, first) = standard_session(&server, "movie.Mjpeg");
    assert!(packets_within(&first_udp, Duration::from_millis(300)) > 0);

    // Once the thread has measured itself (a one-second window), a second
    // session's PLAY is refused with why.
    let (mut ctl, _udp, second) = standard_setup(&server, "movie.Mjpeg");
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let reply = rtsp_request(
            &mut ctl,
            &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {second}\r\n\r\n"),
        );
        if status(&reply) == 453 {
            break reply;
        }
        assert_eq!(status(&reply), 200, "{reply}");
        assert!(Instant::now() < deadline, "never refused: {reply}");
        // Admitted before the first window: stop it and try again.
        let pause = rtsp_request(
            &mut ctl,
            &format!("PAUSE {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {second}\r\n\r\n"),
        );
        assert_eq!(status(&pause), 200, "{pause}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(refused.contains("cannot keep pace"), "{refused}");
    assert!(refused.contains("media thread 1 of 1"), "{refused}");
    // An HTTP viewer is refused the same way, with a time to come back.
    let http = get(server.http_addr.unwrap(), "/stream/movie.Mjpeg");
    assert_eq!(http.status.as_u16(), 503, "{}", text(&http.body));
    assert!(http.headers.get("Retry-After").is_some());
    assert!(text(&http.body).contains("cannot keep pace"));
    // The session playing goes on: about 24 frames a second.
    let got = packets_within(&first_udp, Duration::from_secs(1));
    assert!(got >= 20, "the first session got {got} packets in a second");
    let page = metrics(&server);
    assert!(
        page.contains("mjpegrtsp_refusals_total{reason=\"overload\"} "),
        "{page}"
    );
    assert!(
        samples(&page, "mjpegrtsp_refusals_total")
            .iter()
            .any(|&n| n >= 2.0),
        "{page}"
    );
    assert_eq!(
        samples(&page, "mjpegrtsp_engine_overloaded"),
        [1.0],
        "{page}"
    );

    // Once the first session leaves, the idle thread says so by itself
    // (no PLAY needed to clear the gauge), and takes the second.
    let teardown = rtsp_request(
        &mut first_ctl,
        &format!("TEARDOWN {url} RTSP/1.0\r\nCSeq: 9\r\nSession: {first}\r\n\r\n"),
    );
    assert_eq!(status(&teardown), 200, "{teardown}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while samples(&metrics(&server), "mjpegrtsp_engine_overloaded") != [0.0] {
        assert!(Instant::now() < deadline, "still overloaded when idle");
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = rtsp_request(
            &mut ctl,
            &format!("PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: {second}\r\n\r\n"),
        );
        if status(&reply) == 200 {
            break;
        }
        assert_eq!(status(&reply), 453, "{reply}");
        assert!(Instant::now() < deadline, "still refused: {reply}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_play_waits_only_for_its_own_thread() {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.media_threads = 2;
    // A thread "at capacity" once it has any work (an idle one always
    // takes a session); the machine's load left out, so that only the
    // threads decide.
    config.admission = Admission {
        max_busy: 0.0,
        max_machine_busy: f64::INFINITY,
        ..Admission::default()
    };
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    // Sessions are placed on the threads in turn: the first and the third
    // on one thread, the second on the other.
    let (_first_ctl, first_udp, _first) = standard_session(&server, "movie.Mjpeg");
    assert!(packets_within(&first_udp, Duration::from_millis(600)) > 0);
    let play = |ctl: &mut std::net::TcpStream, session: &str| {
        let began = Instant::now();
        let reply = rtsp_request(
            ctl,
            &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"),
        );
        (reply, began.elapsed())
    };
    let (mut second_ctl, second_udp, second) = standard_setup(&server, "movie.Mjpeg");
    let (mut third_ctl, _third_udp, third) = standard_setup(&server, "movie.Mjpeg");
    // The second's thread is idle: its PLAY does not wait behind the busy
    // thread (which would hold it a second, ADMISSION_WAIT).
    let (reply, took) = play(&mut second_ctl, &second);
    assert_eq!(status(&reply), 200, "{reply}");
    assert!(
        took < Duration::from_millis(500),
        "PLAY on an idle thread took {took:?}"
    );
    assert!(packets_within(&second_udp, Duration::from_millis(600)) > 0);
    // The third's thread is the first's, at capacity: a second's wait for
    // room, then 453 with why.
    let (reply, took) = play(&mut third_ctl, &third);
    assert_eq!(status(&reply), 453, "{reply}");
    assert!(reply.contains("cannot keep pace"), "{reply}");
    assert!(
        took >= Duration::from_millis(900),
        "refused after {took:?}, not waited"
    );
}
