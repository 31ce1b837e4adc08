//! The server's HTTP port on loopback: the index page, the status API and
//! the metrics (checked by Prometheus' own `promtool`), MJPEG over HTTP read
//! by this project's multipart reader, ffmpeg and GStreamer, snapshots,
//! errors as HTTP statuses, limits shared with RTSP, slow readers, and
//! users.

use mjpegrtsp::server::{HttpConfig, LiveMount, ServerConfig};
use mjpegrtsp_tests::http::{MjpegStream, get, request};
use mjpegrtsp_tests::rtsp_text::{rtsp_request, status, wait_within};
use mjpegrtsp_tests::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A server of a 48-frame 160×120 `movie.Mjpeg`, with its HTTP port.
fn http_server(configure: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, TestServer) {
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let mut config = ServerConfig::new(dir.path());
    config.http = Some(HttpConfig::on(0));
    configure(&mut config);
    let server = TestServer::start_with(config);
    (dir, server)
}

fn http(server: &TestServer) -> SocketAddr {
    server.http_addr.expect("an HTTP port")
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON")
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn pages_status_and_metrics_describe_what_is_served() {
    let (_dir, server) = http_server(|c| c.looping = true);
    let web = http(&server);
    let index = get(web, "/");
    assert_eq!(index.status.as_u16(), 200);
    assert_eq!(
        index.headers.get("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = text(&index.body);
    let rtsp_url = format!("rtsp://127.0.0.1:{}/movie.Mjpeg", server.addr.port());
    for wanted in [
        "/watch/movie.Mjpeg",
        "/snapshot/movie.Mjpeg",
        rtsp_url.as_str(),
        "160×120",
        "24 fps",
        "0:02",
        "0 viewers",
        "#181818",
        "#FF0000",
        "#3EA6FF",
    ] {
        assert!(page.contains(wanted), "index lacks {wanted:?}");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external resources"
    );

    // A viewer shows up in the API, the metrics and the index.
    let mut viewer = MjpegStream::open(web, "/stream/movie.Mjpeg").expect("a stream");
    assert!(viewer.next_frame(Duration::from_secs(5)).is_some());
    let api = json(&get(web, "/api/v1/status").body);
    assert_eq!(api["server"]["rtsp_port"], server.addr.port());
    assert_eq!(api["server"]["http_port"], web.port());
    let movie = &api["mounts"][0];
    assert_eq!(movie["path"], "movie.Mjpeg");
    assert_eq!(movie["kind"], "file");
    assert_eq!(
        (movie["width"].as_u64(), movie["height"].as_u64()),
        (Some(160), Some(120))
    );
    assert_eq!(movie["frames"], 48);
    assert_eq!(movie["viewers"], 1);
    let session = &api["sessions"][0];
    assert_eq!(session["protocol"], "http");
    assert_eq!(session["dialect"], "http");
    assert_eq!(session["transport"], "tcp");
    assert_eq!(session["state"], "playing");
    assert_eq!(session["peer"], "127.0.0.1");
    assert!(session["bytes_sent"].as_u64().unwrap() > 0);
    assert!(session["position_s"].as_f64().is_some());
    assert!(text(&get(web, "/").body).contains("1 viewer"));

    // An RTSP viewer too, then the metrics.
    let mut rtsp = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut rtsp,
        &format!(
            "OPTIONS rtsp://{}/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status(&reply), 200);
    let metrics = get(web, "/metrics");
    assert_eq!(metrics.status.as_u16(), 200);
    assert!(
        metrics
            .headers
            .get("Content-Type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let exposition = text(&metrics.body);
    for wanted in [
        "mjpegrtsp_sessions{protocol=\"http\",transport=\"tcp\",dialect=\"http\"} 1",
        "mjpegrtsp_requests_total{protocol=\"rtsp\",method=\"OPTIONS\",status=\"200\"} 1",
        "mjpegrtsp_requests_total{protocol=\"http\",method=\"GET\",status=\"200\"}",
        "mjpegrtsp_connections{protocol=\"rtsp\"} 1",
        "mjpegrtsp_mount_viewers{mount=\"movie.Mjpeg\",kind=\"file\"} 1",
        "mjpegrtsp_sent_frames_total ",
    ] {
        assert!(
            exposition.contains(wanted),
            "metrics lack {wanted:?}:\n{exposition}"
        );
    }
    promtool_check(&metrics.body);
    drop(viewer);
    wait_within("the HTTP viewer's session ended", 5, || {
        server.sessions() == 0
    });
}

/// `promtool check metrics` (Debian's prometheus) on an exposition.
fn promtool_check(exposition: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt install prometheus)");
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_stream_is_the_files_frames_paced_then_closed() {
    let (dir, server) = http_server(|_| {});
    let web = http(&server);
    let frames = frames_of(&std::fs::read(dir.path().join("movie.Mjpeg")).unwrap());
    let mut viewer = MjpegStream::open(web, "/stream/movie.Mjpeg").expect("a stream");
    assert_eq!(
        viewer.head.headers.get("Content-Type"),
        Some(mjpegrtsp::http::multipart::CONTENT_TYPE)
    );
    assert_eq!(viewer.head.headers.get("Content-Length"), None);
    assert_eq!(server.sessions(), 1, "a viewer is a session");
    let started = Instant::now();
    let mut got = Vec::new();
    while let Some(jpeg) = viewer.next_frame(Duration::from_secs(5)) {
        got.push(jpeg);
    }
    let took = started.elapsed();
    assert_eq!(got, frames, "every frame, whole and in order");
    assert!(
        viewer.ended(),
        "the closing boundary at the end of the file"
    );
    // 48 frames at 24 fps: paced, not bursted.
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    wait_within("the session ended", 5, || server.sessions() == 0);

    // ?t= starts elsewhere.
    let mut later = MjpegStream::open(web, "/stream/movie.Mjpeg?t=1.5").expect("a stream");
    assert_eq!(
        later.next_frame(Duration::from_secs(5)).as_ref(),
        Some(&frames[36])
    );
}

#[test]
fn ffmpeg_and_gstreamer_read_the_stream() {
    let (_dir, server) = http_server(|c| c.looping = true);
    let url = format!("http://{}/stream/movie.Mjpeg", http(&server));
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-f",
            "mpjpeg",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "csv=p=0", &url])
        .output()
        .expect("ffprobe runs");
    assert_eq!(
        text(&out.stdout).trim(),
        "mjpeg,160,120",
        "{}",
        text(&out.stderr)
    );
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "mpjpeg",
            "-i",
            &url,
            "-frames:v",
            "30",
            "-f",
            "framemd5",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let decoded = text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(decoded, 30, "{}", text(&out.stderr));
    let launch = format!(
        "souphttpsrc location={url} ! multipartdemux ! image/jpeg ! jpegdec ! identity eos-after=30 ! fakesink"
    );
    let out = Command::new("gst-launch-1.0")
        .args(["-q"])
        .args(launch.split(' '))
        .output()
        .expect("gst-launch-1.0 runs");
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn snapshots_of_files_and_live_mounts() {
    let launch = "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=24/1 ! jpegenc";
    let (dir, server) = http_server(|c| c.live = vec![LiveMount::new("cams/ball", launch)]);
    let web = http(&server);
    let frames = frames_of(&std::fs::read(dir.path().join("movie.Mjpeg")).unwrap());
    let first = get(web, "/snapshot/movie.Mjpeg");
    assert_eq!(first.headers.get("Content-Type"), Some("image/jpeg"));
    assert_eq!(first.body, frames[0]);
    assert_eq!(get(web, "/snapshot/movie.Mjpeg?t=1").body, frames[24]);
    assert_eq!(
        get(web, "/snapshot/movie.Mjpeg?t=99").body,
        frames[47],
        "past the end: the last"
    );
    wait_within("the live mount's first frame", 10, || {
        get(web, "/snapshot/cams/ball").status.as_u16() == 200
    });
    let live = get(web, "/snapshot/cams/ball");
    let info = mjpegrtsp::container::jpeg::parse_info(&live.body).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    // Live viewers join live: frames keep coming at the source's rate.
    let mut viewer = MjpegStream::open(web, "/stream/cams/ball").expect("a stream");
    let started = Instant::now();
    for _ in 0..24 {
        let jpeg = viewer
            .next_frame(Duration::from_secs(5))
            .expect("a live frame");
        assert!(mjpegrtsp::container::is_whole_jpeg(&jpeg));
    }
    assert!(
        started.elapsed() > Duration::from_millis(700),
        "paced by the source"
    );
    let index = text(&get(web, "/").body);
    assert!(
        index.contains("/watch/cams/ball") && index.contains("live"),
        "{index}"
    );
}

#[test]
fn errors_are_http_statuses() {
    let (dir, server) = http_server(|c| c.max_sessions = 1);
    let web = http(&server);
    std::fs::write(dir.path().join("../secret.Mjpeg"), b"x").ok();
    for (path, want) in [
        ("/stream/nope.Mjpeg", 404),
        ("/watch/nope.Mjpeg", 404),
        ("/snapshot/nope.Mjpeg", 404),
        ("/stream/../secret.Mjpeg", 404),
        ("/stream/%2e%2e/secret.Mjpeg", 404),
        ("/snapshot/sub/..%2f..%2fsecret.Mjpeg", 404),
        ("/stream/", 404),
        ("/nothing", 404),
        ("/stream/movie.Mjpeg?t=abc", 400),
        ("/stream/movie.Mjpeg?t=99", 400),
    ] {
        let reply = get(web, path);
        assert_eq!(reply.status.as_u16(), want, "{path}: {}", text(&reply.body));
        assert!(!reply.body.is_empty(), "{path}: says why");
    }
    let post = request(
        web,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status.as_u16(), 405);
    assert_eq!(post.headers.get("Allow"), Some("GET, HEAD"));
    // HEAD: the head only, with the length GET would have.
    let mut conn = TcpStream::connect(web).unwrap();
    conn.write_all(b"HEAD /snapshot/movie.Mjpeg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut all).unwrap();
    let all = text(&all);
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(all.ends_with("\r\n\r\n"), "no body: {all}");
    let length = format!(
        "Content-Length: {}\r\n",
        get(web, "/snapshot/movie.Mjpeg").body.len()
    );
    assert!(all.contains(&length), "{all}");
    // Keep-alive: two requests on one connection.
    let mut conn = TcpStream::connect(web).unwrap();
    let mut rest = Vec::new();
    for _ in 0..2 {
        conn.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let reply = mjpegrtsp_tests::http::read_reply(&mut conn, &mut rest);
        assert_eq!(reply.status.as_u16(), 200);
    }
    // Wrong ports say where to go.
    let reply = get(server.addr, "/");
    assert_eq!(reply.status.as_u16(), 505);
    assert!(text(&reply.body).contains(&format!("HTTP side is on port {}", web.port())));
    let mut wrong = TcpStream::connect(web).unwrap();
    let reply = rtsp_request(&mut wrong, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains(&format!("RTSP is on port {}", server.addr.port())));
    // An HTTP viewer takes a session like an RTSP one: over the limit, 503.
    let _viewer = MjpegStream::open(web, "/stream/movie.Mjpeg").expect("a stream");
    let full = MjpegStream::open(web, "/stream/movie.Mjpeg")
        .err()
        .expect("refused");
    assert_eq!(full.status.as_u16(), 503);
    assert!(full.headers.get("Retry-After").is_some());
    let mut rtsp = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut rtsp,
        &format!(
            "SETUP rtsp://{}/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status(&reply), 453, "{reply}");
    let metrics = text(&get(web, "/metrics").body);
    assert!(
        metrics.contains("mjpegrtsp_refusals_total{reason=\"max_sessions\"} 2"),
        "{metrics}"
    );
}

#[test]
fn a_slow_reader_never_stalls_others() {
    // Noise at 640×480: frames of tens of KB, MBs a second, more than
    // the socket buffers and the connection's queue hold.
    let dir = movie_dir(24, 640, 480, 25, "snow");
    let mut config = ServerConfig::new(dir.path());
    config.http = Some(HttpConfig::on(0));
    config.looping = true;
    let server = TestServer::start_with(config);
    let web = http(&server);
    // A viewer that reads nothing, with a small receive buffer.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&web.into()).unwrap();
    let mut stuck: TcpStream = socket.into();
    stuck
        .write_all(b"GET /stream/movie.Mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = MjpegStream::open(web, "/stream/movie.Mjpeg").expect("a stream");
    let started = Instant::now();
    let mut frames = 0;
    while started.elapsed() < Duration::from_secs(4) {
        if reader.next_frame(Duration::from_secs(1)).is_some() {
            frames += 1;
        }
    }
    assert!(frames >= 85, "{frames} frames in 4 s beside a stuck viewer");
    let status = json(&get(web, "/api/v1/status").body);
    let dropped: u64 = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["frames_dropped"].as_u64().unwrap())
        .sum();
    assert!(
        dropped > 0,
        "the stuck viewer's frames are dropped and counted"
    );
    assert_eq!(status["server"]["frames_dropped"], dropped);
    drop(stuck);
}

#[test]
fn with_users_http_asks_for_the_same_credentials() {
    let (_dir, server) = http_server(|c| c.access = Some(test_users(&[])));
    let web = http(&server);
    let challenge = get(web, "/");
    assert_eq!(challenge.status.as_u16(), 401);
    let offered: Vec<&str> = challenge.headers.get_all("WWW-Authenticate").collect();
    assert!(
        offered.iter().any(|c| c.starts_with("Digest ")),
        "{offered:?}"
    );
    let curl = |user: &str, path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--digest",
                "-u",
                user,
            ])
            .arg(format!("http://{web}{path}"))
            .output()
            .expect("curl runs");
        text(&out.stdout)
    };
    assert_eq!(curl("alice:s3cret", "/"), "200");
    assert_eq!(curl("alice:s3cret", "/snapshot/movie.Mjpeg"), "200");
    assert_eq!(curl("alice:wrong", "/snapshot/movie.Mjpeg"), "401");
    assert_eq!(
        curl("bob:hunter2", "/snapshot/movie.Mjpeg"),
        "403",
        "bob may play other.Mjpeg only"
    );
    assert_eq!(curl("bob:hunter2", "/metrics"), "200");
}

#[test]
fn relays_and_publishers_show_in_the_api_and_metrics() {
    // A relay of an upstream file, with a password in its URL.
    let up_dir = movie_dir(48, 160, 120, 70, "ball");
    let mut up = ServerConfig::new(up_dir.path());
    up.looping = true;
    let upstream = TestServer::start_with(up);
    let relayed = format!("rtsp://cam:secret@{}/movie.Mjpeg", upstream.addr);
    let (_dir, server) = http_server(|c| {
        c.live = vec![LiveMount::relay("door", &relayed)];
        c.publish = true;
    });
    let web = http(&server);
    let mount = |api: &serde_json::Value, path: &str| {
        api["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("no mount {path}: {api}"))
    };
    let door = mount(&json(&get(web, "/api/v1/status").body), "door");
    assert_eq!(door["kind"], "relay");
    assert_eq!(
        door["upstream_open"], false,
        "on demand: closed without viewers"
    );
    let shown = door["upstream"].as_str().unwrap();
    assert!(!shown.contains("secret"), "no password: {shown}");
    let exposition = text(&get(web, "/metrics").body);
    assert!(
        exposition.contains("mjpegrtsp_relay_upstream_open{mount=\"door\"} 0"),
        "{exposition}"
    );
    // An HTTP viewer opens the upstream like an RTSP one.
    let mut viewer = MjpegStream::open(web, "/stream/door").expect("a stream");
    assert!(
        viewer.next_frame(Duration::from_secs(10)).is_some(),
        "relayed frames"
    );
    let door = mount(&json(&get(web, "/api/v1/status").body), "door");
    assert_eq!(
        (door["upstream_open"].as_bool(), door["viewers"].as_u64()),
        (Some(true), Some(1))
    );
    let metrics = get(web, "/metrics");
    let exposition = text(&metrics.body);
    for wanted in [
        "mjpegrtsp_relay_upstream_open{mount=\"door\"} 1",
        "mjpegrtsp_relay_upstream_opens_total{mount=\"door\"} 1",
        "mjpegrtsp_mount_viewers{mount=\"door\",kind=\"relay\"} 1",
        "mjpegrtsp_publishers 0",
    ] {
        assert!(
            exposition.contains(wanted),
            "metrics lack {wanted:?}:\n{exposition}"
        );
    }
    promtool_check(&metrics.body);
    drop(viewer);

    // ffmpeg publishes at /pub; an HTTP viewer watches until it leaves.
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi"])
        .args(["-i", "testsrc=size=320x240:rate=25"])
        .args([
            "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-huffman", "default", "-q:v", "5",
        ])
        .args(["-f", "rtsp", "-rtsp_transport", "tcp"])
        .arg(format!("rtsp://{}/pub", server.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg runs");
    wait_within("/pub published", 20, || {
        get(web, "/snapshot/pub").status.as_u16() == 200
    });
    let mut watcher = MjpegStream::open(web, "/stream/pub").expect("a stream");
    for _ in 0..10 {
        let jpeg = watcher
            .next_frame(Duration::from_secs(5))
            .expect("published frames");
        let info = mjpegrtsp::container::jpeg::parse_info(&jpeg).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
    }
    let api = json(&get(web, "/api/v1/status").body);
    let published = mount(&api, "pub");
    assert_eq!(published["kind"], "published");
    assert_eq!(published["publisher"], "127.0.0.1");
    let exposition = text(&get(web, "/metrics").body);
    assert!(
        exposition.contains("mjpegrtsp_publishers 1"),
        "{exposition}"
    );
    assert!(
        exposition.contains("mjpegrtsp_mount_viewers{mount=\"pub\",kind=\"published\"} 1"),
        "{exposition}"
    );
    ffmpeg.kill().unwrap();
    ffmpeg.wait().unwrap();
    // The publisher left: the viewer's stream ends, with its closing boundary.
    let until = Instant::now() + Duration::from_secs(10);
    while watcher.next_frame(Duration::from_secs(1)).is_some() {
        assert!(
            Instant::now() < until,
            "the stream goes on after the publisher left"
        );
    }
    assert!(watcher.ended(), "closed with the closing boundary");
    assert_eq!(
        get(web, "/snapshot/pub").status.as_u16(),
        404,
        "the path is free"
    );
}
