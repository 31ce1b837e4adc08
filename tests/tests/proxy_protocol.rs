//! The PROXY protocol (v1 and v2) from a trusted proxy: the client the
//! header names gets the UDP media, counts against the per-address limits
//! and is the one logged; a PROXY header from anyone else closes the
//! connection. The proxy here is the test itself, on 127.0.0.1, speaking
//! for clients on 127.0.0.2 and beyond.

use mjpegrtsp::proxy_protocol::{V2_SIGNATURE, encode_v1, encode_v2};
use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

fn server_trusting(proxies: &[&str]) -> (tempfile::TempDir, TestServer) {
    let (dir, _) = media_dir();
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.max_connections_per_address = 2;
    config.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
    let server = TestServer::start_with(config);
    (dir, server)
}

/// A connection from this process (127.0.0.1) that starts with `header`.
fn via_proxy(server: &TestServer, header: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(header).unwrap();
    s
}

#[test]
fn udp_media_goes_to_the_client_the_header_names() {
    let (_dir, server) = server_trusting(&["127.0.0.1"]);
    for v2 in [false, true] {
        // The client: its RTP port on 127.0.0.2, a second loopback address.
        let udp = UdpSocket::bind("127.0.0.2:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let client: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        let header = if v2 {
            encode_v2(client, server.addr)
        } else {
            encode_v1(client, server.addr)
        };
        let mut ctl = via_proxy(&server, &header);
        let session = standard_setup_over(&mut ctl, &udp, &server, "movie.Mjpeg");
        let play = rtsp_request(
            &mut ctl,
            &format!(
                "PLAY rtsp://{}/movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n",
                server.addr
            ),
        );
        assert_eq!(status(&play), 200, "{play}");
        let mut buf = [0u8; 2048];
        let (n, from) = udp.recv_from(&mut buf).expect("RTP at 127.0.0.2");
        assert!(
            n > 12 && buf[1] & 0x7F == 26,
            "v2={v2}: RFC 2435 from {from}"
        );
    }
}

#[test]
fn limits_count_the_client_not_the_proxy() {
    let (_dir, server) = server_trusting(&["127.0.0.0/8"]);
    let from = |last: u8, port: u16| SocketAddr::from(([127, 0, 0, last], port));
    let options = |s: &mut TcpStream| rtsp_request(s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    // Two connections for 127.0.0.5 (the most per address), through one proxy.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|i| via_proxy(&server, &encode_v1(from(5, 5000 + i), server.addr)))
        .collect();
    for s in &mut held {
        assert_eq!(status(&options(s)), 200);
    }
    let mut third = via_proxy(&server, &encode_v2(from(5, 5002), server.addr));
    assert_eq!(status(&options(&mut third)), 503, "the third for 127.0.0.5");
    // Another client through the same proxy is not affected.
    let mut other = via_proxy(&server, &encode_v1(from(6, 6000), server.addr));
    assert_eq!(status(&options(&mut other)), 200);
    // A health check (v2 LOCAL) counts as the proxy's own connection.
    let mut local = V2_SIGNATURE.to_vec();
    local.extend_from_slice(&[0x20, 0, 0, 0]);
    let mut check = via_proxy(&server, &local);
    assert_eq!(status(&options(&mut check)), 200);
}

#[test]
fn a_proxy_header_from_an_untrusted_address_closes_the_connection() {
    let (_dir, server) = server_trusting(&["127.0.0.9"]);
    let forged: SocketAddr = "127.0.0.2:1234".parse().unwrap();
    for header in [
        encode_v1(forged, server.addr),
        encode_v2(forged, server.addr),
    ] {
        let mut s = via_proxy(&server, &header);
        s.write_all(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(got.is_empty(), "no reply, closed: {got:?}");
    }
    // A trusted proxy that sends garbage instead of a header is closed too.
    let (_dir, trusting) = server_trusting(&["127.0.0.1"]);
    let mut s = via_proxy(&trusting, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty(), "{got:?}");
    // Plain clients of the first server are served as ever.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    let reply = rtsp_request(&mut plain, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert_eq!(status(&reply), 200, "{reply}");
}
