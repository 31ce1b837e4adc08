//! A client that speaks RTSP as text over a plain socket, for tests that
//! check the server's replies and packets byte by byte: both dialects, UDP
//! and TCP interleaved, and the test clip they play.

use crate::{TestServer, encoded_movie, frames_of};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The test clip: 48 frames (2 s) of 320×240, every frame different, as
/// `movie.Mjpeg` and `sub/clip.Mjpeg`, beside a `notes.txt` that is not media.
pub fn media_dir() -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(48, 320, 240, 80, "ball");
    std::fs::write(dir.path().join("movie.Mjpeg"), &bytes).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/clip.Mjpeg"), &bytes).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not media").unwrap();
    (dir, frames_of(&bytes))
}

/// Sends `text` as it is and reads the reply.
pub fn rtsp_request(stream: &mut TcpStream, text: &str) -> String {
    stream.write_all(text.as_bytes()).unwrap();
    read_reply(stream)
}

/// Reads one reply (standard: up to the blank line plus body; classic: one read).
pub fn read_reply(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = header(&text, "Content-Length").map_or(0, |v| v.parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                break;
            }
        } else if !text.contains('\r') && text.ends_with('\n') {
            break; // classic: one write
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The value of header `name` in a reply (any case), trimmed.
pub fn header<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    reply.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status code of a reply; 0 if there is none.
pub fn status(reply: &str) -> u16 {
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The classic client's receiving socket.
pub fn classic_socket() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// Receives classic packets for `window`: (seq, payload, arrival).
pub fn receive_classic(socket: &UdpSocket, window: Duration) -> Vec<(u16, Vec<u8>, Instant)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let end = Instant::now() + window;
    while Instant::now() < end {
        socket
            .set_read_timeout(Some(
                end.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))
            .unwrap();
        match socket.recv(&mut buf) {
            Ok(n) if n >= 12 => {
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                assert_eq!(buf[0], 0x80, "V=2, no padding/extension/CSRC");
                assert_eq!(buf[1], 26, "marker 0, PT 26");
                assert_eq!(&buf[8..12], &[0, 0, 0, 0], "SSRC 0");
                out.push((seq, buf[12..n].to_vec(), Instant::now()));
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }
    out
}

/// A classic SETUP of movie.Mjpeg (the seed client's request); returns the
/// control connection, the receiving socket and the session id.
pub fn classic_setup(server: &TestServer) -> (TcpStream, UdpSocket, String) {
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let (udp, port) = classic_socket();
    let reply = rtsp_request(
        &mut ctl,
        &format!("SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}\n"),
    );
    let session = header(&reply, "Session").unwrap().to_string();
    (ctl, udp, session)
}

/// A classic request without a body (PLAY, PAUSE) for movie.Mjpeg; returns
/// the reply.
pub fn classic_request(ctl: &mut TcpStream, method: &str, session: &str, cseq: u32) -> String {
    rtsp_request(
        ctl,
        &format!("{method} movie.Mjpeg RTSP/1.0\nCSeq: {cseq}\nSession: {session}\n"),
    )
}

/// A classic PLAY of movie.Mjpeg; returns the reply.
pub fn classic_play(ctl: &mut TcpStream, session: &str, cseq: u32) -> String {
    classic_request(ctl, "PLAY", session, cseq)
}

/// Waits up to 5 s for `cond`, failing the test if it never holds.
pub fn wait_until(cond: impl Fn() -> bool) {
    wait_within("condition", 5, cond);
}

/// Waits up to `secs` for `cond`, failing the test (naming `what`) if it
/// never holds.
pub fn wait_within(what: &str, secs: u64, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < end, "{what}: not met in {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP port free on 127.0.0.1 when asked (another process may take it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits up to 10 s for something to listen at `addr` (`what`, for the
/// failure).
pub fn wait_listening(what: &str, addr: std::net::SocketAddr) {
    wait_within(&format!("{what} listening at {addr}"), 10, || {
        TcpStream::connect(addr).is_ok()
    });
}

/// The session id of a standard reply, without its `;timeout=`.
pub fn session_id(reply: &str) -> String {
    header(reply, "Session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A standard SETUP over UDP; returns the control connection, the RTP
/// socket and the session id.
pub fn standard_setup(server: &TestServer, path: &str) -> (TcpStream, UdpSocket, String) {
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let session = standard_setup_over(&mut ctl, &udp, server, path);
    (ctl, udp, session)
}

/// A standard SETUP of `path` on the control connection `ctl`, with `udp`
/// as the RTP port (the next port as RTCP); returns the session id.
pub fn standard_setup_over(
    ctl: &mut TcpStream,
    udp: &UdpSocket,
    server: &TestServer,
    path: &str,
) -> String {
    let url = format!("rtsp://{}/{path}", server.addr);
    let port = udp.local_addr().unwrap().port();
    let reply = rtsp_request(
        ctl,
        &format!(
            "SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port={port}-{}\r\n\r\n",
            port + 1
        ),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    session_id(&reply)
}

/// A standard SETUP of movie.Mjpeg over TCP interleaved; returns the control
/// connection and the reply.
pub fn interleaved_setup(server: &TestServer) -> (TcpStream, String) {
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
        ),
    );
    (ctl, reply)
}

/// A standard session over UDP: SETUP and PLAY; returns the control
/// connection, the RTP socket and the session id.
pub fn standard_session(server: &TestServer, path: &str) -> (TcpStream, UdpSocket, String) {
    let url = format!("rtsp://{}/{path}", server.addr);
    let (mut ctl, udp, session) = standard_setup(server, path);
    let reply = rtsp_request(
        &mut ctl,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    (ctl, udp, session)
}

/// From `ip`, a DESCRIBE of `movie.Mjpeg` that gets its Digest challenge,
/// then one with a wrong MD5 response for `user`: the second reply's status
/// and how long it took (the first reply's status, and no time, if it was
/// not 401).
pub fn wrong_guess(ip: IpAddr, server: SocketAddr, user: &str) -> (u16, Option<Duration>) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    sock.connect(&server.into()).unwrap();
    let mut s: TcpStream = sock.into();
    s.set_nodelay(true).unwrap();
    let u = format!("rtsp://{server}/movie.Mjpeg");
    let first = rtsp_request(&mut s, &format!("DESCRIBE {u} RTSP/1.0\r\nCSeq: 1\r\n\r\n"));
    if status(&first) != 401 {
        return (status(&first), None);
    }
    let nonce = first
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let guess = format!(
        "DESCRIBE {u} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Digest username=\"{user}\", realm=\"mjpegrtsp\", \
         nonce=\"{nonce}\", uri=\"{u}\", response=\"00000000000000000000000000000000\"\r\n\r\n"
    );
    let sent = Instant::now();
    let reply = rtsp_request(&mut s, &guess);
    (status(&reply), Some(sent.elapsed()))
}

/// A DESCRIBE of `url` on `ctl`: the reply, checked to be 200, and how long
/// it took.
pub fn timed_describe(ctl: &mut TcpStream, url: &str) -> (String, Duration) {
    let started = Instant::now();
    let reply = rtsp_request(
        ctl,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"),
    );
    let took = started.elapsed();
    assert_eq!(status(&reply), 200, "{reply}");
    (reply, took)
}

/// The end of the session-level `a=range:npt=0-END` in a DESCRIBE reply.
pub fn sdp_range_end(reply: &str) -> f64 {
    reply
        .lines()
        .find_map(|l| l.strip_prefix("a=range:npt=0-"))
        .and_then(|end| end.trim().parse().ok())
        .unwrap_or_else(|| panic!("no a=range:npt=0-END in {reply}"))
}

/// A PLAY of `session` at `url` from `from` seconds on `ctl`, checked to
/// be 200: the time until its first RTP packet reaches `udp` (at most 30 s).
pub fn play_to_first_packet(
    ctl: &mut TcpStream,
    udp: &UdpSocket,
    url: &str,
    session: &str,
    from: f64,
) -> Duration {
    let started = Instant::now();
    let reply = rtsp_request(
        ctl,
        &format!(
            "PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\nRange: npt={from:.3}-\r\n\r\n"
        ),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    udp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 2048];
    let n = udp.recv(&mut buf).expect("media after the PLAY");
    assert!(n > 12, "a {n}-byte packet");
    started.elapsed()
}
