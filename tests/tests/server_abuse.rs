//! The server under abuse, over real sockets on loopback: one address
//! opening more connections or sessions than it may, a flood filling the
//! server's connection maximum, a request that never ends (slowloris), and
//! connections that hold nothing and say nothing. In each case the abuser
//! is refused or closed and a client from another address (127.0.0.2)
//! still connects and plays.

use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const ABUSER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const VIEWER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn server_with(limits: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, TestServer) {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    limits(&mut config);
    (dir, TestServer::start_with(config))
}

/// A TCP connection to `server` from `ip`.
fn connect_from(ip: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    socket.connect(&server.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// What the server says on a connection it does not take: everything up to
/// its close.
fn refusal(mut stream: TcpStream) -> String {
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

/// Whether the server closed `stream` (within the read timeout).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
}

/// A viewer at `ip` plays movie.Mjpeg over UDP; how many RTP packets reach
/// it in half a second.
fn viewer_plays(ip: IpAddr, server: &TestServer) -> usize {
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let mut ctl = connect_from(ip, server.addr);
    let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let session = standard_setup_over(&mut ctl, &udp, server, "movie.Mjpeg");
    let reply = rtsp_request(
        &mut ctl,
        &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    let mut packets = 0;
    let mut buf = [0u8; 2048];
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if udp.recv(&mut buf).is_ok() {
            packets += 1;
        }
    }
    packets
}

#[test]
fn one_address_cannot_take_every_connection() {
    let (_dir, server) = server_with(|c| c.max_connections_per_address = 20);
    let held: Vec<TcpStream> = (0..20).map(|_| connect_from(ABUSER, server.addr)).collect();
    // The server counts a connection once it accepts it: let it.
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let text = refusal(connect_from(ABUSER, server.addr));
        assert!(text.starts_with("RTSP/1.0 503 "), "{text:?}");
        assert!(text.contains("your address"), "{text:?}");
    }
    assert!(viewer_plays(VIEWER, &server) > 0, "the other address plays");
    // The abuser's held connections still work.
    let mut first = held.into_iter().next().unwrap();
    let reply = rtsp_request(&mut first, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert_eq!(status(&reply), 200, "{reply}");
}

#[test]
fn a_full_server_answers_503_and_takes_connections_again_once_some_close() {
    let (_dir, server) = server_with(|c| {
        c.max_connections = 10;
        c.max_connections_per_address = 0;
    });
    let mut held: Vec<TcpStream> = (0..10).map(|_| connect_from(ABUSER, server.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let text = refusal(connect_from(VIEWER, server.addr));
    assert!(text.starts_with("RTSP/1.0 503 "), "{text:?}");
    assert!(text.contains("as many connections as it can"), "{text:?}");
    held.truncate(5);
    wait_until(|| {
        let mut probe = connect_from(VIEWER, server.addr);
        probe
            .write_all(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            .is_ok()
            && status(&read_reply(&mut probe)) == 200
    });
    assert!(viewer_plays(VIEWER, &server) > 0);
}

#[test]
fn one_address_cannot_take_every_session() {
    let (_dir, server) = server_with(|c| c.max_sessions_per_address = 3);
    let held: Vec<_> = (0..3)
        .map(|_| standard_setup(&server, "movie.Mjpeg"))
        .collect();
    let url = format!("rtsp://{}/movie.Mjpeg/stream=0", server.addr);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=40000-40001\r\n\r\n"
        ),
    );
    assert_eq!(status(&reply), 453, "{reply}");
    assert!(reply.contains("--max-sessions-per-address"), "{reply}");
    assert!(viewer_plays(VIEWER, &server) > 0);
    // A session given back makes room again.
    drop(held);
    wait_until(|| server.sessions() == 0);
    let (_ctl, _udp, _session) = standard_setup(&server, "movie.Mjpeg");
    assert_eq!(server.sessions(), 1);
}

/// A request whose bytes trickle in closes its connection at the request
/// timeout, however often a byte comes.
#[test]
fn a_request_that_never_ends_is_closed() {
    let (_dir, server) = server_with(|c| c.request_timeout = Duration::from_secs(1));
    let mut slow = connect_from(ABUSER, server.addr);
    slow.write_all(b"OPTIONS * RTSP/1.0\r\n").unwrap();
    let started = Instant::now();
    let mut closed = false;
    // One header byte every 200 ms, for at most 5 s.
    while started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        slow.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let read = slow.read(&mut byte);
        slow.set_nonblocking(false).unwrap();
        if matches!(read, Ok(0)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling request was not closed");
    assert!(viewer_plays(VIEWER, &server) > 0);
}

#[test]
fn connections_holding_nothing_are_closed_when_idle_and_sessions_keep_theirs_open() {
    let (_dir, server) = server_with(|c| c.idle_timeout = Duration::from_secs(1));
    let mut silent = connect_from(ABUSER, server.addr);
    let mut answered = connect_from(ABUSER, server.addr);
    let reply = rtsp_request(&mut answered, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert_eq!(status(&reply), 200);
    let (mut with_session, _udp, session) = standard_setup(&server, "movie.Mjpeg");
    assert!(closed_by_server(&mut silent), "a silent connection");
    assert!(
        closed_by_server(&mut answered),
        "one whose request was answered"
    );
    // Twice the idle timeout later, the session's connection still works.
    std::thread::sleep(Duration::from_secs(2));
    let reply = rtsp_request(
        &mut with_session,
        &format!(
            "GET_PARAMETER rtsp://{}/movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status(&reply), 200, "{reply}");
    assert_eq!(server.sessions(), 1);
}
