//! The server against hostile or unusual requests, over real sockets on
//! loopback: transports nothing can be sent to, interleaved channels, Range
//! starts beyond what can be played, PLAY after the end of a file, other
//! RTSP versions, how many sessions one connection may hold, and whose RTCP
//! counts. Most tests were written against a defect an audit found, and
//! failed before its fix (each says what it saw then).

use mjpegrtsp::rtsp::{Parsed, decode_interleaved};
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn setup_reply(server: &TestServer, transport: &str) -> String {
    let url = format!("rtsp://{}/movie.Mjpeg/stream=0", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    rtsp_request(
        &mut ctl,
        &format!("SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: {transport}\r\n\r\n"),
    )
}

/// Ports nothing can be sent to, and port or channel pairs that are not two
/// ports or channels, get 461 with the reason; before, `client_port=0` was
/// accepted (and its send errors switched UDP GSO off for every session),
/// and `client_port=65535-…` overflowed computing an RTCP port.
#[test]
fn unusable_ports_and_channels_get_461() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    for transport in [
        "RTP/AVP;unicast;client_port=0-1",
        "RTP/AVP;unicast;client_port=0",
        "RTP/AVP;unicast;client_port=5000-0",
        "RTP/AVP;unicast;client_port=65535-65535",
        "RTP/AVP;unicast;client_port=6000-6000",
        "RTP/AVP/TCP;unicast;interleaved=255",
        "RTP/AVP/TCP;unicast;interleaved=4-4",
    ] {
        let reply = setup_reply(&server, transport);
        assert_eq!(status(&reply), 461, "{transport}: {reply}");
        assert!(
            reply.contains("client_port=") || reply.contains("interleaved="),
            "the reason names what is wrong: {reply}"
        );
    }
    // The classic client's single port, 0.
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut ctl,
        "SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 0\n",
    );
    assert_eq!(status(&reply), 461, "{reply}");
    // The highest port, alone, is fine (no RTCP).
    let reply = setup_reply(&server, "RTP/AVP;unicast;client_port=65535");
    assert_eq!(status(&reply), 200, "{reply}");
    wait_until(|| server.sessions() == 0); // its connection closed
}

/// Sends `request` (a PLAY) and reads for `window`: the reply, then the
/// interleaved frames that follow it, as (channel, payload).
fn play_interleaved(
    ctl: &mut TcpStream,
    request: &str,
    window: Duration,
) -> (String, Vec<(u8, Vec<u8>)>) {
    ctl.write_all(request.as_bytes()).unwrap();
    let end = Instant::now() + window;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65_536];
    while Instant::now() < end {
        ctl.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        match ctl.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a reply first, before any media")
        + 4;
    let reply = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut frames = Vec::new();
    let mut rest = &buf[head_end..];
    loop {
        match decode_interleaved(rest) {
            Parsed::Complete(frame, used) => {
                frames.push((frame.channel, frame.payload.to_vec()));
                rest = &rest[used..];
            }
            // The window ended inside a frame.
            Parsed::Incomplete(_) => break,
            Parsed::Error(e) => panic!("only interleaved frames after the reply: {e:?}"),
        }
    }
    (reply, frames)
}

/// SETUP and PLAY of movie.Mjpeg over TCP with `interleaved`; returns the
/// SETUP reply, the channels of what came in the next second and how many
/// sender reports.
fn interleaved_play(server: &TestServer, interleaved: &str) -> (String, BTreeSet<u8>, usize) {
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved={interleaved}\r\n\r\n"
        ),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    let session = session_id(&reply);
    let (play, frames) = play_interleaved(
        &mut ctl,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"),
        Duration::from_secs(1),
    );
    assert_eq!(status(&play), 200, "{play}");
    let sr = frames
        .iter()
        .filter(|(_, p)| p.get(1) == Some(&200))
        .count();
    let channels = frames.iter().map(|(c, _)| *c).collect();
    (reply, channels, sr)
}

/// RTP and RTCP go on the channels the SETUP negotiated; before, sender
/// reports went to `rtp + 1` (5 for `4-9`, and 0 for `255`, by wrapping).
#[test]
fn interleaved_rtcp_uses_the_negotiated_channel() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let (reply, channels, sender_reports) = interleaved_play(&server, "4-9");
    assert!(
        header(&reply, "Transport")
            .unwrap()
            .contains("interleaved=4-9"),
        "{reply}"
    );
    assert!(sender_reports >= 1, "a sender report at the start");
    assert_eq!(channels, BTreeSet::from([4, 9]), "RTP on 4, RTCP on 9");
    let (_, channels, sender_reports) = interleaved_play(&server, "254-255");
    assert!(sender_reports >= 1);
    assert_eq!(channels, BTreeSet::from([254, 255]));
}

/// Two TCP sessions on one connection that do not name channels get two
/// different pairs; naming a pair already in use gets 461.
#[test]
fn sessions_of_one_connection_never_share_channels() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let url = format!("rtsp://{}/movie.Mjpeg/stream=0", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let mut setup = |cseq: u32, transport: &str| {
        rtsp_request(
            &mut ctl,
            &format!("SETUP {url} RTSP/1.0\r\nCSeq: {cseq}\r\nTransport: {transport}\r\n\r\n"),
        )
    };
    let first = setup(1, "RTP/AVP/TCP;unicast");
    let second = setup(2, "RTP/AVP/TCP;unicast");
    assert!(first.contains("interleaved=0-1"), "{first}");
    assert!(second.contains("interleaved=2-3"), "{second}");
    let taken = setup(3, "RTP/AVP/TCP;unicast;interleaved=3-4");
    assert_eq!(status(&taken), 461, "{taken}");
}

/// A Range start beyond what the server can play gets 457; before, a
/// looping file accepted `npt=999999999999-` and sent every frame with the
/// same RTP timestamp. A start a day into a looping file plays normally,
/// its timestamps advancing one frame (3750 ticks at 24 fps) at a time.
#[test]
fn range_beyond_what_can_be_played_gets_457() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (mut ctl, udp, session) = standard_setup(&server, "movie.Mjpeg");
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\nRange: npt=999999999999-\r\n\r\n"
        ),
    );
    assert_eq!(status(&reply), 457, "{reply}");
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\nRange: npt=86400-\r\n\r\n"
        ),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    let mut stamps = BTreeSet::new();
    let mut buf = vec![0u8; 2048];
    let end = Instant::now() + Duration::from_millis(600);
    while Instant::now() < end {
        if let Ok(n) = udp.recv(&mut buf)
            && let Some(rtp) = rtp_fields(&buf[..n])
        {
            stamps.insert(rtp.timestamp);
        }
    }
    let stamps: Vec<u32> = stamps.into_iter().collect();
    assert!(stamps.len() >= 8, "timestamps advance: {stamps:?}");
    for pair in stamps.windows(2) {
        assert_eq!(pair[1].wrapping_sub(pair[0]), 3750, "{stamps:?}");
    }
}

/// PLAY after a file that does not loop has ended starts it again; before,
/// the server answered 200 and sent nothing. A classic client's sequence
/// numbers go on counting.
#[test]
fn play_after_the_end_starts_again() {
    let (dir, frames) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let (mut ctl, udp, session) = classic_setup(&server);
    assert_eq!(status(&classic_play(&mut ctl, &session, 2)), 200);
    let first = receive_classic(&udp, Duration::from_millis(2500));
    assert_eq!(first.len(), 48, "the whole file, once");
    assert_eq!(status(&classic_play(&mut ctl, &session, 3)), 200);
    let again = receive_classic(&udp, Duration::from_millis(600));
    assert!(again.len() >= 10, "playing again: {} frames", again.len());
    assert_eq!(again[0].0, 49, "numbers go on");
    assert!(again[0].1 == frames[0], "from the first frame");

    // The same for a standard client, whose PLAY may say where.
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let (mut ctl, udp, session) = standard_session(&server, "movie.Mjpeg");
    std::thread::sleep(Duration::from_millis(2300));
    while udp.recv(&mut [0u8; 2048]).is_ok() {} // the first run
    let reply = rtsp_request(
        &mut ctl,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\nRange: npt=1-\r\n\r\n"),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    assert_eq!(header(&reply, "Range"), Some("npt=1.000-2.000"));
    let mut packets = 0;
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    while udp.recv(&mut [0u8; 2048]).is_ok() {
        packets += 1;
    }
    assert!(packets >= 12, "the second half again: {packets} packets");
}

/// Anything but RTSP/1.0 gets 505, as the docs say; before, RTSP/2.0 got 200.
#[test]
fn other_rtsp_versions_get_505() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    for version in ["RTSP/2.0", "RTSP/1.1", "RTSP/0.9"] {
        let mut ctl = TcpStream::connect(server.addr).unwrap();
        let reply = rtsp_request(
            &mut ctl,
            &format!("DESCRIBE {url} {version}\r\nCSeq: 7\r\n\r\n"),
        );
        assert_eq!(status(&reply), 505, "{version}: {reply}");
        assert_eq!(header(&reply, "CSeq"), Some("7"));
    }
}

/// One connection holds at most MAX_SESSIONS_PER_CONNECTION sessions, and
/// sessions never played end after the session timeout, classic ones too;
/// before, one idle connection's 20 classic SETUPs took every slot of
/// `--max-sessions 20` until it closed. A classic session that plays lives
/// as long as its connection.
#[test]
fn one_connection_cannot_take_every_session() {
    let (dir, _) = media_dir();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.max_sessions = 20;
    config.session_timeout = Duration::from_secs(2);
    config.looping = true;
    let server = TestServer::start_with(config);
    let cap = mjpegrtsp::server::MAX_SESSIONS_PER_CONNECTION;
    let mut hog = TcpStream::connect(server.addr).unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let mut codes = Vec::new();
    for cseq in 1..=20 {
        let reply = rtsp_request(
            &mut hog,
            &format!(
                "SETUP movie.Mjpeg RTSP/1.0\nCSeq: {cseq}\nTransport: RTP/UDP; client_port= {port}\n"
            ),
        );
        codes.push(status(&reply));
    }
    assert!(codes[..cap].iter().all(|&c| c == 200), "{codes:?}");
    assert!(codes[cap..].iter().all(|&c| c == 453), "{codes:?}");
    assert_eq!(server.sessions(), cap);
    // Someone else still gets in, and plays.
    let (mut ctl, udp, session) = classic_setup(&server);
    classic_play(&mut ctl, &session, 2);
    // The hog's sessions, never played, end after the timeout; the
    // playing classic session stays while its connection is open.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(server.sessions(), 1, "only the playing session is left");
    let frames = receive_classic(&udp, Duration::from_millis(400));
    assert!(frames.len() >= 6, "still playing: {}", frames.len());
    drop(hog);
}

/// RTCP from a client's RTCP port keeps its session alive; RTCP from
/// anywhere else does not.
#[test]
fn rtcp_from_the_client_keeps_only_its_session_alive() {
    let (dir, _) = media_dir();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.session_timeout = Duration::from_secs(2);
    config.looping = true;
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    // Two sessions whose RTCP ports are sockets of ours.
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = |s: &UdpSocket| s.local_addr().unwrap().port();
        let (p, q) = (port(&rtp), port(&rtcp));
        let mut ctl = TcpStream::connect(server.addr).unwrap();
        let reply = rtsp_request(
            &mut ctl,
            &format!(
                "SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port={p}-{q}\r\n\r\n"
            ),
        );
        let server_rtcp = transport_ports(header(&reply, "Transport").unwrap(), "server_port")
            .and_then(|(_, rtcp)| rtcp)
            .unwrap();
        sessions.push((ctl, rtp, rtcp, server_rtcp));
    }
    // A receiver report (empty) every 0.5 s from the first session's RTCP
    // port, and from a stranger's port on behalf of the second.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
    for _ in 0..8 {
        let (_, _, rtcp, server_rtcp) = &sessions[0];
        rtcp.send_to(&rr, ("127.0.0.1", *server_rtcp)).unwrap();
        stranger.send_to(&rr, ("127.0.0.1", *server_rtcp)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(server.sessions(), 1, "the one with RTCP from its port");
}
