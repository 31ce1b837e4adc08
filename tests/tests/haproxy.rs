//! Two servers behind HAProxy (Debian's, TCP mode, `send-proxy-v2`, health
//! checks that send the PROXY header too), all on loopback: clients from
//! 127.0.0.2 get their UDP media at 127.0.0.2, not at the proxy; the
//! sessions spread over both servers; ffprobe plays through it over UDP
//! and TCP.

use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Haproxy {
    child: Child,
    front: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy in front of `servers`, round robin.
fn haproxy(servers: &[SocketAddr]) -> Haproxy {
    let dir = tempfile::tempdir().unwrap();
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let backends: String = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!("    server s{i} {s} send-proxy-v2 check check-send-proxy inter 500ms\n")
        })
        .collect();
    let config = format!(
        "global\n    maxconn 512\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\
         frontend rtsp\n    bind {front}\n    default_backend servers\n\
         backend servers\n    balance roundrobin\n{backends}"
    );
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy runs (apt install haproxy)");
    wait_listening("haproxy", front);
    Haproxy {
        child,
        front,
        _dir: dir,
    }
}

fn behind_proxy(dir: &std::path::Path) -> TestServer {
    let mut config = ServerConfig::new(dir);
    config.looping = true;
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    TestServer::start_with(config)
}

#[test]
fn clients_behind_haproxy_get_media_at_their_own_address_and_spread() {
    let (dir, _) = media_dir();
    let servers = [behind_proxy(dir.path()), behind_proxy(dir.path())];
    let proxy = haproxy(&[servers[0].addr, servers[1].addr]);
    let url = format!("rtsp://{}/movie.Mjpeg", proxy.front);
    let mut clients = Vec::new();
    for i in 0..4 {
        // The client's control connection and RTP port, both on 127.0.0.2.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .unwrap();
        sock.connect(&proxy.front.into()).unwrap();
        let mut ctl: TcpStream = sock.into();
        let udp = UdpSocket::bind("127.0.0.2:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let port = udp.local_addr().unwrap().port();
        let setup = rtsp_request(
            &mut ctl,
            &format!(
                "SETUP {url}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port={port}-{}\r\n\r\n",
                port + 1
            ),
        );
        assert_eq!(status(&setup), 200, "client {i}: {setup}");
        let session = session_id(&setup);
        let play = rtsp_request(
            &mut ctl,
            &format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"),
        );
        assert_eq!(status(&play), 200, "client {i}: {play}");
        let mut buf = [0u8; 2048];
        let (n, _) = udp.recv_from(&mut buf).expect("RTP at 127.0.0.2");
        assert!(n > 12 && buf[1] & 0x7F == 26);
        clients.push((ctl, udp));
    }
    // HAProxy's round robin is not strictly alternating (its threads and
    // health checks share the rotation), so the test asks for a spread: every
    // session is somewhere, and each server holds at least one.
    let counts = [servers[0].sessions(), servers[1].sessions()];
    assert_eq!(
        counts[0] + counts[1],
        4,
        "every session is served: {counts:?}"
    );
    assert!(
        counts.iter().all(|&n| n >= 1),
        "round robin spreads over both servers: {counts:?}"
    );
    // Standard clients through the proxy, over UDP and interleaved.
    for transport in ["udp", "tcp"] {
        let out = Command::new("timeout")
            .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", transport])
            .args(["-show_entries", "stream=codec_name", "-of", "csv"])
            .arg(&url)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("mjpeg"),
            "{transport}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
