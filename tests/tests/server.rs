//! The RTSP server against real clients on loopback: ffprobe over UDP and
//! TCP, GStreamer's rtspsrc, a classic-dialect client speaking the seed's exact
//! bytes, several clients at once, seeking, and the error codes.

use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn classic_client_gets_whole_frames_at_24_fps() {
    let (dir, frames) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let (udp, port) = classic_socket();
    // The seed client's exact bytes.
    let setup =
        format!("SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}\n");
    let reply = rtsp_request(&mut ctl, &setup);
    let lines: Vec<&str> = reply.split('\n').collect();
    assert_eq!(lines[0], "RTSP/1.0 200 OK", "{reply:?}");
    assert_eq!(lines[1], "CSeq: 1", "CSeq on line 2: {reply:?}");
    let session = lines[2]
        .strip_prefix("Session: ")
        .expect("Session on line 3");
    assert!(
        session.bytes().all(|b| b.is_ascii_digit()),
        "bare digits: {session}"
    );
    assert!(
        session.len() >= 15,
        "unguessable (64 random bits): {session}"
    );
    assert!(!reply.contains('\r') && reply.len() < 1024);

    let reply = rtsp_request(
        &mut ctl,
        &format!("PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: {session}\n"),
    );
    assert_eq!(
        reply,
        format!("RTSP/1.0 200 OK\nCSeq: 2\nSession: {session}\n")
    );
    let got = receive_classic(&udp, Duration::from_millis(2300));
    assert_eq!(got.len(), 48, "every frame once");
    for (i, (seq, payload, _)) in got.iter().enumerate() {
        assert_eq!(
            *seq as usize,
            i + 1,
            "sequence number = frame number from 1"
        );
        assert!(payload == &frames[i], "frame {i} whole and unchanged");
    }
    let span = got.last().unwrap().2 - got[0].2;
    let fps = 47.0 / span.as_secs_f64();
    assert!((22.0..26.0).contains(&fps), "paced at 24 fps: {fps:.2}");

    let reply = rtsp_request(
        &mut ctl,
        &format!("TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: {session}\n"),
    );
    assert_eq!(status(&reply), 200);
    wait_until(|| server.sessions() == 0);
}

#[test]
fn pause_resumes_where_it_paused_and_numbers_continue() {
    let (dir, frames) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let (mut ctl, udp, session) = classic_setup(&server);
    classic_play(&mut ctl, &session, 2);
    std::thread::sleep(Duration::from_millis(500));
    let reply = classic_request(&mut ctl, "PAUSE", &session, 3);
    assert_eq!(status(&reply), 200);
    let before = receive_classic(&udp, Duration::from_millis(300));
    let quiet = receive_classic(&udp, Duration::from_millis(300));
    assert!(quiet.is_empty(), "nothing is sent while paused");
    classic_play(&mut ctl, &session, 4);
    let after = receive_classic(&udp, Duration::from_millis(400));
    let last = before.last().unwrap();
    let first = &after[0];
    assert_eq!(first.0, last.0 + 1, "numbers continue after PAUSE");
    assert!(
        first.1 == frames[first.0 as usize - 1],
        "and so does the picture"
    );
}

#[test]
fn three_clients_play_independently() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let mut clients: Vec<(TcpStream, UdpSocket, String)> = (0..3)
        .map(|i| {
            let (mut ctl, udp, session) = classic_setup(&server);
            let reply = classic_play(&mut ctl, &session, 2);
            assert_eq!(status(&reply), 200, "client {i}");
            (ctl, udp, session)
        })
        .collect();
    assert_eq!(server.sessions(), 3);
    std::thread::sleep(Duration::from_millis(300));
    let (ctl, _, session) = &mut clients[1];
    let reply = classic_request(ctl, "PAUSE", session, 3);
    assert_eq!(status(&reply), 200);
    std::thread::sleep(Duration::from_millis(100));
    for (_, udp, _) in &clients {
        while udp.set_nonblocking(true).is_ok() && udp.recv(&mut [0u8; 65536]).is_ok() {}
        udp.set_nonblocking(false).unwrap();
    }
    let counts: Vec<usize> = clients
        .iter()
        .map(|(_, udp, _)| receive_classic(udp, Duration::from_millis(1000)).len())
        .collect();
    assert!(
        counts[0] >= 20 && counts[2] >= 20,
        "the others go on: {counts:?}"
    );
    assert_eq!(counts[1], 0, "the paused one gets nothing: {counts:?}");
}

#[test]
fn range_seeks_to_the_exact_frame() {
    let (dir, frames) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let (mut ctl, udp, session) = classic_setup(&server);
    // 1.03 s lies in frame 24 (1.000–1.042 s).
    rtsp_request(
        &mut ctl,
        &format!("PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: {session}\nRange: npt=1.03-\n"),
    );
    let got = receive_classic(&udp, Duration::from_millis(300));
    assert!(
        got[0].1 == frames[24],
        "first frame after the seek is frame 24"
    );
    // And a standard client's RTP-Info matches the packets.
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (mut ctl, udp, session) = standard_setup(&server, "movie.Mjpeg");
    let reply = rtsp_request(
        &mut ctl,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\nRange: npt=1.5-\r\n\r\n"),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    assert_eq!(header(&reply, "Range"), Some("npt=1.500-2.000"), "{reply}");
    let info = header(&reply, "RTP-Info").unwrap();
    let field = |name: &str| -> u32 {
        info.split(';')
            .find_map(|p| p.strip_prefix(name))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (seq, rtptime) = (field("seq="), field("rtptime="));
    let mut buf = [0u8; 2048];
    let n = udp.recv(&mut buf).unwrap();
    assert!(n > 12);
    assert_eq!(u16::from_be_bytes([buf[2], buf[3]]) as u32, seq);
    assert_eq!(
        u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        rtptime
    );
    assert_eq!(buf[1] & 0x7F, 26);
}

/// Runs ffprobe on `url`, killed after 20 s (it waits for ever when no packet comes).
fn ffprobe(url: &str, transport: &str) -> String {
    let mut child = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-select_streams",
            "v:0",
        ])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate",
            "-of",
            "compact",
        ])
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ffprobe runs (apt install ffmpeg)");
    let end = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("ffprobe {transport} did not finish in 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ffprobe {transport}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ffprobe_reads_codec_size_and_rate_over_udp_and_tcp() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), false);
    for transport in ["udp", "tcp"] {
        let out = ffprobe(&format!("rtsp://{}/movie.Mjpeg", server.addr), transport);
        assert!(
            out.contains("codec_name=mjpeg")
                && out.contains("width=320")
                && out.contains("height=240")
                && out.contains("r_frame_rate=24/1"),
            "{transport}: {out}"
        );
    }
    let out = ffprobe(&format!("rtsp://{}/sub/clip.Mjpeg", server.addr), "tcp");
    assert!(out.contains("width=320"), "{out}");
    wait_until(|| server.sessions() == 0);
}

#[test]
fn rtspsrc_decodes_every_frame_over_udp_and_tcp() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), false);
    for protocols in ["udp", "tcp"] {
        let out = run(
            &format!(
                "rtspsrc location=rtsp://{}/movie.Mjpeg protocols={protocols} latency=100 ! rtpjpegdepay ! jpegdec ! appsink name=sink",
                server.addr
            ),
            |_| {},
        );
        assert!(out.eos, "{protocols}: {:?}", out.error);
        assert!(
            out.frames.len() >= 46,
            "{protocols}: {} of 48 frames",
            out.frames.len()
        );
        assert_eq!(
            out.frames[0].data.len(),
            320 * 240 * 3 / 2,
            "decoded 320×240 I420"
        );
    }
}

fn error_status(server: &TestServer, request: &str) -> (u16, String) {
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(&mut ctl, request);
    (status(&reply), reply)
}

#[test]
fn errors_have_the_right_codes_and_hurt_no_one() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    // A session that must keep playing throughout.
    let (mut ctl, udp, session) = classic_setup(&server);
    classic_play(&mut ctl, &session, 2);

    let base = format!("rtsp://{}", server.addr);
    let cases: Vec<(u16, String)> = vec![
        (400, "GARBAGE\r\n\r\n".into()),
        (400, "PLAY\r\nCSeq: 1\r\n\r\n".into()),
        (
            404,
            format!("DESCRIBE {base}/missing.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            404,
            format!("DESCRIBE {base}/notes.txt RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            404,
            format!("DESCRIBE {base}/../movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            404,
            format!("DESCRIBE {base}/%2e%2e/%2e%2e/etc/passwd RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            404,
            format!("DESCRIBE {base}//etc/passwd RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            454,
            format!("PLAY {base}/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nSession: 12345\r\n\r\n"),
        ),
        (
            455,
            format!("PLAY {base}/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            461,
            format!(
                "SETUP {base}/movie.Mjpeg/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;multicast\r\n\r\n"
            ),
        ),
        (
            501,
            format!("FROBNICATE {base}/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        ),
        (
            431,
            format!(
                "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Big: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
        ),
    ];
    for (want, request) in &cases {
        let (got, reply) = error_status(&server, request);
        assert_eq!(
            got,
            *want,
            "{:?} → {reply:?}",
            &request[..request.len().min(80)]
        );
    }
    // The playing session was not disturbed.
    let frames = receive_classic(&udp, Duration::from_millis(500));
    assert!(
        frames.len() >= 9,
        "still playing: {} frames in 0.5 s",
        frames.len()
    );
    assert_eq!(server.sessions(), 1);
}

#[test]
fn a_vanished_client_frees_its_session() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    {
        let (mut ctl, _udp, session) = classic_setup(&server);
        classic_play(&mut ctl, &session, 2);
        assert_eq!(server.sessions(), 1);
    } // connection and socket dropped without TEARDOWN
    wait_until(|| server.sessions() == 0);
}

#[test]
fn describe_gives_sdp_with_range_and_rate() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (code, reply) = error_status(
        &server,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nAccept: application/sdp\r\n\r\n"),
    );
    assert_eq!(code, 200);
    assert_eq!(header(&reply, "CSeq"), Some("7"));
    assert_eq!(
        header(&reply, "Content-Base"),
        Some(format!("{url}/").as_str())
    );
    for line in [
        "a=range:npt=0-2.000",
        "m=video 0 RTP/AVP 26",
        "a=rtpmap:26 JPEG/90000",
        "a=framerate:24",
        "a=control:stream=0",
    ] {
        assert!(reply.contains(line), "{line} in {reply}");
    }
}

/// A number field of the classic client's JSON summary.
fn json_number(json: &str, field: &str) -> i64 {
    let at = json
        .find(&format!("\"{field}\": "))
        .unwrap_or_else(|| panic!("{field} in {json}"));
    json[at + field.len() + 4..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn seed_style_python_client_plays_pauses_and_tears_down() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/classic_client.py");
    let out = Command::new("timeout")
        .args(["30", "python3"])
        .arg(script)
        .args([
            "--port",
            &server.addr.port().to_string(),
            "--file",
            "movie.Mjpeg",
        ])
        .args([
            "--setup",
            "--play",
            "2",
            "--pause",
            "0.5",
            "--play",
            "1",
            "--teardown",
            "--no-frames",
        ])
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{json} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json.contains("\"statuses\": [200, 200, 200, 200, 200]"),
        "{json}"
    );
    assert!(
        json.contains("\"stuck_in_init\": false") && json.contains("\"all_jpeg_ok\": true"),
        "{json}"
    );
    assert_eq!(json_number(&json, "first_seq"), 1);
    let shown = json_number(&json, "frames_shown");
    assert!(
        (66..=80).contains(&shown),
        "3 s of play at 24 fps: {shown} frames"
    );
    assert_eq!(
        json_number(&json, "last_seq"),
        shown,
        "every frame shown, numbers rising"
    );
    wait_until(|| server.sessions() == 0);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn silent_standard_sessions_time_out_and_keep_alives_keep_them() {
    let (dir, _) = media_dir();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    config.session_timeout = Duration::from_secs(2);
    let server = TestServer::start_with(config);
    let (_silent, _udp1, _) = standard_session(&server, "movie.Mjpeg");
    let (mut chatty, _udp2, session) = standard_session(&server, "movie.Mjpeg");
    assert_eq!(server.sessions(), 2);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    for cseq in 3..8 {
        std::thread::sleep(Duration::from_millis(700));
        let reply = rtsp_request(
            &mut chatty,
            &format!("GET_PARAMETER {url} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {session}\r\n\r\n"),
        );
        assert_eq!(status(&reply), 200);
        assert_eq!(
            header(&reply, "Session"),
            Some(format!("{session};timeout=2").as_str())
        );
    }
    // 3.5 s later: the silent one (its connection still open) is gone.
    assert_eq!(server.sessions(), 1);
    let reply = rtsp_request(
        &mut chatty,
        &format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 9\r\nSession: {session}\r\n\r\n"),
    );
    assert_eq!(status(&reply), 200);
}

#[test]
fn every_resource_is_freed_after_many_sessions() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    std::thread::sleep(Duration::from_millis(200));
    let baseline = open_fds();
    for round in 0..3 {
        let clients: Vec<_> = (0..20)
            .map(|_| standard_session(&server, "movie.Mjpeg"))
            .collect();
        // Half over TCP interleaved.
        let tcp: Vec<TcpStream> = (0..10)
            .map(|_| {
                let (ctl, reply) = interleaved_setup(&server);
                assert_eq!(status(&reply), 200, "{reply}");
                ctl
            })
            .collect();
        assert_eq!(server.sessions(), 30, "round {round}");
        drop(clients);
        drop(tcp);
        wait_until(|| server.sessions() == 0);
    }
    wait_until(|| open_fds() <= baseline);
}

#[test]
fn a_client_that_stops_reading_does_not_stall_the_others() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    // A TCP-interleaved client that never reads what it is sent.
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (mut stuck, reply) = interleaved_setup(&server);
    let session = session_id(&reply);
    stuck
        .write_all(
            format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    // Meanwhile a classic client plays normally.
    let (mut ctl, udp, id) = classic_setup(&server);
    classic_play(&mut ctl, &id, 2);
    let got = receive_classic(&udp, Duration::from_secs(3));
    assert!(
        got.len() >= 68,
        "24 fps for 3 s while another client is stuck: {}",
        got.len()
    );
    let gaps: Vec<f64> = got
        .windows(2)
        .map(|w| (w[1].2 - w[0].2).as_secs_f64())
        .collect();
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    assert!(worst < 0.2, "no stall: worst gap {worst:.3} s");
}

/// A live source whose JPEG RFC 2435 cannot carry (4:4:4): standard clients
/// get 415 with the reason and the fix in the reply's body, as soon as the
/// first frame has come; a classic client still plays it, whole JPEGs.
#[test]
fn live_source_rfc2435_cannot_carry_is_refused_with_why() {
    init();
    let media = tempfile::tempdir().unwrap();
    let mut config = mjpegrtsp::server::ServerConfig::new(media.path());
    config.live = vec![mjpegrtsp::server::LiveMount::default_path(
        "videotestsrc is-live=true ! video/x-raw,format=Y444,width=160,height=120,framerate=24/1 ! jpegenc",
    )];
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/live", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let mut reply = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        reply = rtsp_request(
            &mut ctl,
            &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"),
        );
        if status(&reply) == 415 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100)); // the first frame is not there yet
    }
    assert_eq!(status(&reply), 415, "{reply}");
    assert_eq!(
        header(&reply, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        reply.contains("RFC 2435") && reply.contains("format=I420"),
        "the body says why and how to fix it: {reply}"
    );

    // What a player shows: the client library puts the body in its error.
    let err = run(
        &format!("mjpegrtspsrc location={url} timeout=5 ! appsink name=sink"),
        |_| {},
    )
    .error
    .expect("an error");
    assert!(
        err.contains("415 Unsupported Media Type: live cannot be sent as RFC 2435"),
        "{err}"
    );

    // The classic dialect carries whole JPEGs: any kind.
    let mut classic = TcpStream::connect(server.addr).unwrap();
    let (udp, port) = classic_socket();
    let setup = rtsp_request(
        &mut classic,
        &format!("SETUP live RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}\n"),
    );
    assert_eq!(status(&setup), 200, "{setup}");
    let session = header(&setup, "Session").unwrap().to_string();
    assert_eq!(status(&classic_play(&mut classic, &session, 2)), 200);
    let frames = receive_classic(&udp, Duration::from_millis(800));
    assert!(frames.len() >= 5, "{} classic frames", frames.len());
    for (_, jpeg, _) in &frames {
        assert!(mjpegrtsp::container::is_whole_jpeg(jpeg));
    }
}
