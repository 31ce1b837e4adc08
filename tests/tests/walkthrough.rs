//! `docs/walkthrough.md` shows real exchanges with the server, in both
//! dialects. This replays every request on that page against the server
//! (serving a clip like the page's: 10 s, 640×480, 24 fps), and checks that
//! each reply is the one the page shows and that the first packets start
//! with the bytes it shows. Ports, session numbers, SSRCs, sequence numbers,
//! timestamps, byte counts and the version differ from run to run and are
//! masked on both sides; everything else must match.

use mjpegrtsp_tests::{TestServer, movie_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

/// The page's fenced blocks of these kinds, in order: (kind, text).
fn page_blocks() -> Vec<(String, String)> {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/walkthrough.md"),
    )
    .unwrap();
    let kinds = [
        "rtsp-request",
        "rtsp-reply",
        "rtp-hex",
        "classic-request",
        "classic-reply",
        "classic-hex",
    ];
    let mut out = Vec::new();
    // The open block: its tag and lines.
    let mut open: Option<(&str, Vec<&str>)> = None;
    for line in page.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(tag), None) => open = Some((tag, Vec::new())),
            (Some(_), Some((tag, lines))) => {
                if kinds.contains(&tag) {
                    out.push((tag.to_owned(), lines.join("\n")));
                }
            }
            (None, Some((tag, mut lines))) => {
                lines.push(line);
                open = Some((tag, lines));
            }
            (None, None) => {}
        }
    }
    out
}

/// Replaces what follows each `key` (a run of `chars`) with `#`.
fn mask_after(line: &str, key: &str, chars: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(key) {
        out.push_str(&rest[..at + key.len()]);
        rest = &rest[at + key.len()..];
        let end = rest.find(|c: char| !chars(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push('#');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A reply with the values that change from run to run masked.
fn masked(reply: &str) -> String {
    let digits = |c: char| c.is_ascii_digit();
    reply
        .trim_end()
        .lines()
        .map(|line| {
            let mut l = mask_after(line, "127.0.0.1:", digits);
            l = mask_after(&l, "Session: ", digits);
            for key in ["client_port=", "server_port="] {
                l = mask_after(&l, key, |c| c.is_ascii_digit() || c == '-');
            }
            l = mask_after(&l, "ssrc=", |c| c.is_ascii_hexdigit());
            for key in ["seq=", "rtptime=", "Content-Length: ", "b=AS:"] {
                l = mask_after(&l, key, digits);
            }
            mask_after(&l, "mjpegrtsp/", |c| c.is_ascii_digit() || c == '.')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a standard reply: headers to the empty line, then the body.
fn read_reply(r: &mut BufReader<TcpStream>) -> String {
    let mut text = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "the server hung up");
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse().unwrap();
        }
        let end = line == "\r\n";
        text.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    text.push_str(&String::from_utf8(body).unwrap());
    text.replace("\r\n", "\n")
}

/// The first `n` bytes of the next datagram on `socket`.
fn first_bytes(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0; 65_536];
    let n = socket.recv(&mut buf).expect("a packet within 5 s");
    buf.truncate(n);
    buf
}

/// `80 1a 0e …` → bytes.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The packet starts as the page shows, except at the `variable` offsets.
fn assert_packet_starts(packet: &[u8], shown: &[u8], variable: std::ops::Range<usize>, what: &str) {
    assert!(
        packet.len() >= shown.len(),
        "{what}: {} bytes",
        packet.len()
    );
    for (i, (&got, &want)) in packet.iter().zip(shown).enumerate() {
        if !variable.contains(&i) {
            assert_eq!(
                got, want,
                "{what}: byte {i} is {got:02x}, the page shows {want:02x}"
            );
        }
    }
}

fn udp_pair() -> (UdpSocket, UdpSocket, u16) {
    let (rtp, rtcp) = mjpegrtsp::net::bind_rtp_pair(std::net::Ipv4Addr::LOCALHOST.into())
        .expect("an even/odd UDP port pair on 127.0.0.1");
    rtp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rtp.local_addr().unwrap().port();
    (rtp, rtcp, port)
}

/// The number after `key` in `text`.
fn number_after<'a>(text: &'a str, key: &str) -> &'a str {
    let at = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    let rest = &text[at..];
    &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())]
}

#[test]
fn the_walkthrough_shows_what_the_server_sends() {
    let blocks = page_blocks();
    assert!(blocks.len() >= 20, "{} blocks found", blocks.len());
    let dir = movie_dir(240, 640, 480, 75, "smpte");
    let server = TestServer::start(dir.path(), false);
    let addr = server.addr.to_string();

    // The page's session numbers become the real ones as SETUP replies come.
    let mut sessions: Vec<(String, String)> = Vec::new();
    let (rtp, _rtcp, rtp_port) = udp_pair();
    let classic_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    classic_udp
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let classic_port = classic_udp.local_addr().unwrap().port();
    let standard = TcpStream::connect(server.addr).unwrap();
    let mut standard_reader = BufReader::new(standard.try_clone().unwrap());
    let mut standard = standard;
    let mut classic = TcpStream::connect(server.addr).unwrap();
    classic
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    let mut request: Option<String> = None;
    let mut checked = 0;
    for (kind, text) in &blocks {
        let mut text = text
            .replace("127.0.0.1:8554", &addr)
            .replace(
                "client_port=50000-50001",
                &format!("client_port={}-{}", rtp_port, rtp_port + 1),
            )
            .replace(
                "client_port= 25000",
                &format!("client_port= {classic_port}"),
            );
        for (shown, real) in &sessions {
            text = text.replace(shown, real);
        }
        match kind.as_str() {
            "rtsp-request" => {
                let wire = format!("{}\r\n\r\n", text.trim_end().replace('\n', "\r\n"));
                standard.write_all(wire.as_bytes()).unwrap();
                request = Some(text);
            }
            "classic-request" => {
                let wire = text.trim_end().replace("\\n", "\n");
                classic.write_all(wire.as_bytes()).unwrap();
                request = Some(text);
            }
            "rtsp-reply" | "classic-reply" => {
                let asked = request.take().expect("a request before each reply");
                let got = if kind == "rtsp-reply" {
                    read_reply(&mut standard_reader)
                } else {
                    let mut buf = [0u8; 1024];
                    let n = classic.read(&mut buf).unwrap();
                    String::from_utf8_lossy(&buf[..n]).replace('\n', "\\n")
                };
                if asked.starts_with("SETUP") {
                    let shown = number_after(&text, "Session: ").to_owned();
                    let real = number_after(&got, "Session: ").to_owned();
                    sessions.push((shown, real));
                }
                assert_eq!(
                    masked(&got),
                    masked(&text),
                    "the reply to\n{asked}\nis not the page's"
                );
                checked += 1;
            }
            "rtp-hex" => {
                let packet = first_bytes(&rtp);
                // Sequence number, timestamp and SSRC change from run to run;
                // the headers end at byte 24, where the clip's own
                // quantization tables start.
                let shown = hex(&text);
                assert_packet_starts(&packet, &shown[..24], 2..12, "the first RTP packet");
                checked += 1;
            }
            "classic-hex" => {
                let packet = first_bytes(&classic_udp);
                // The timestamp is the wall clock.
                assert_packet_starts(&packet, &hex(&text), 4..8, "the first classic datagram");
                checked += 1;
            }
            _ => unreachable!(),
        }
    }
    assert!(checked >= 12, "{checked} replies and packets checked");
    assert_eq!(server.sessions(), 0, "both sessions ended with TEARDOWN");
}
