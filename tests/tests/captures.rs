//! The byte-exact recordings in `tests/data/captures/` replayed: every
//! message real clients and servers put on the wire parses as what it is,
//! and the recorded clients' requests, sent to this server in order, get
//! the answers those clients need. The classic client's replies must be the
//! recorded bytes exactly, but for the session id.

use mjpegrtsp::rtsp::{Dialect, Item, Parsed, Parser, Request, RequestUri, Response};
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::net::{TcpStream, UdpSocket};
use std::path::Path;

/// Who sent a recorded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Client,
    Server,
}

/// One recorded `recv()`, in the section (`## …` heading) it is under.
#[derive(Debug, Clone)]
struct Recorded {
    section: String,
    from: From,
    bytes: Vec<u8>,
}

/// The messages of capture file `name`: the `C>S b'…'` and `S>C b'…'` lines,
/// less the interleaved media shown cut short (`'…`).
fn capture(name: &str) -> Vec<Recorded> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/captures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.to_string();
            continue;
        }
        let (from, literal) = match line.split_at_checked(4) {
            Some(("C>S ", rest)) => (From::Client, rest),
            Some(("S>C ", rest)) => (From::Server, rest),
            _ => continue,
        };
        let Some(bytes) = python_bytes(literal) else {
            continue; // a packet shown in part
        };
        out.push(Recorded {
            section: section.clone(),
            from,
            bytes,
        });
    }
    assert!(!out.is_empty(), "{} has recorded messages", path.display());
    out
}

/// The bytes of a whole Python byte literal `b'…'` (escapes `\r \n \t \\
/// \' \" \xNN`); `None` when the line holds more than the literal.
fn python_bytes(s: &str) -> Option<Vec<u8>> {
    let body = s.strip_prefix("b'")?.strip_suffix('\'')?;
    let mut out = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        match chars.next()? {
            'r' => out.push(b'\r'),
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            '\\' => out.push(b'\\'),
            '\'' => out.push(b'\''),
            '"' => out.push(b'"'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses one whole recorded message (a classic one is whole when the
/// stream rests after it).
fn parse(bytes: &[u8]) -> Item<'_> {
    match Parser::new().parse(bytes, true) {
        Parsed::Complete(item, used) => {
            assert_eq!(used, bytes.len(), "{:?}", String::from_utf8_lossy(bytes));
            item
        }
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

fn request(bytes: &[u8]) -> Request {
    match parse(bytes) {
        Item::Request(r) => r,
        other => panic!("a request: {other:?}"),
    }
}

fn response(bytes: &[u8]) -> Response {
    match parse(bytes) {
        Item::Response(r) => r,
        other => panic!("a response: {other:?}"),
    }
}

#[test]
fn python_literals_decode() {
    assert_eq!(
        python_bytes(r"b'A\r\n\x00\xff\'\\'").unwrap(),
        b"A\r\n\x00\xff'\\"
    );
    assert_eq!(python_bytes(r"b'$\x00'… (cut)"), None);
}

#[test]
fn every_recorded_message_parses_in_its_dialect() {
    for (file, dialect, messages) in [
        ("classic-dialect.md", Dialect::Classic, 14),
        ("standard-dialect.md", Dialect::Standard, 27),
    ] {
        let recorded = capture(file);
        assert_eq!(recorded.len(), messages, "{file}");
        for m in &recorded {
            let text = String::from_utf8_lossy(&m.bytes);
            match m.from {
                From::Client => {
                    let r = request(&m.bytes);
                    assert_eq!(r.dialect, dialect, "{text}");
                    assert_eq!(Some(r.method.as_str()), text.split(' ').next(), "{text}");
                    assert!(r.cseq().is_some(), "{text}");
                }
                From::Server => {
                    let r = response(&m.bytes);
                    assert_eq!(r.status.as_u16(), 200, "{text}");
                    assert!(r.cseq().is_some(), "{text}");
                    if let Some(len) = r.headers.get("Content-Length") {
                        assert_eq!(r.body.len(), len.parse::<usize>().unwrap());
                    }
                }
            }
        }
    }
}

/// The seed client's exact requests (section 1), sent to this server with
/// its own client port: every reply is what the recording shows, byte for
/// byte, with this server's session id.
#[test]
fn the_seed_clients_session_gets_the_recorded_replies() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let recorded: Vec<Recorded> = capture("classic-dialect.md")
        .into_iter()
        .filter(|m| m.section.starts_with("1."))
        .collect();
    assert_eq!(recorded.len(), 10);
    let (udp, port) = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port();
        (s, p)
    };
    let recorded_session = "419485";
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let mut ours = String::new();
    for pair in recorded.chunks(2) {
        let (ask, answer) = (&pair[0], &pair[1]);
        assert_eq!((ask.from, answer.from), (From::Client, From::Server));
        let ask = String::from_utf8(ask.bytes.clone())
            .unwrap()
            .replace("client_port= 18770", &format!("client_port= {port}"))
            .replace(recorded_session, &ours);
        let reply = rtsp_request(&mut ctl, &ask);
        if ours.is_empty() {
            ours = header(&reply, "Session").unwrap().to_string();
        }
        let want = String::from_utf8(answer.bytes.clone())
            .unwrap()
            .replace(recorded_session, &ours);
        assert_eq!(reply, want, "the reply to {ask:?}");
    }
    // It played between the PLAYs and PAUSE.
    udp.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 65_536];
    let mut packets = 0;
    while udp.recv(&mut buf).is_ok() {
        packets += 1;
    }
    assert!(packets > 0, "frames came");
    wait_until(|| server.sessions() == 0);
}

/// The requests ffprobe and rtspsrc recorded over UDP, sent to this server
/// with its address, the test's client ports and its session id: each gets
/// 200 with the same CSeq, SETUP a Transport with `server_port`, and PLAY an
/// RTP-Info.
#[test]
fn recorded_standard_clients_requests_get_what_they_need() {
    let (dir, _) = media_dir();
    let server = TestServer::start(dir.path(), true);
    let recorded = capture("standard-dialect.md");
    let sections: Vec<String> = {
        let mut s: Vec<String> = recorded.iter().map(|m| m.section.clone()).collect();
        s.dedup();
        s
    };
    let mut replayed = 0;
    for section in &sections {
        let asks: Vec<&Recorded> = recorded
            .iter()
            .filter(|m| &m.section == section && m.from == From::Client)
            .collect();
        let texts: Vec<String> = asks
            .iter()
            .map(|m| String::from_utf8(m.bytes.clone()).unwrap())
            .collect();
        if texts.iter().any(|t| t.contains("interleaved=")) || texts.len() < 5 {
            continue; // TCP: the media shares the connection; covered elsewhere
        }
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let ports = format!(
            "client_port={}-{}",
            rtp.local_addr().unwrap().port(),
            rtcp.local_addr().unwrap().port()
        );
        let mut ctl = TcpStream::connect(server.addr).unwrap();
        let mut session = String::new();
        let mut recorded_session = String::new();
        for (ask, text) in asks.iter().zip(&texts) {
            let r = request(&ask.bytes);
            let url = RequestUri::parse(&r.uri).unwrap();
            let mut text = text.replace(
                &format!("{}:{}", url.host().unwrap(), url.port().unwrap()),
                &server.addr.to_string(),
            );
            if let Some(t) = r.headers.get("Transport")
                && let Some((a, b)) = transport_ports(t, "client_port")
            {
                text = text.replace(&format!("client_port={a}-{}", b.unwrap()), &ports);
            }
            if let Some(s) = r.headers.get("Session") {
                recorded_session = s.to_string();
            }
            if !recorded_session.is_empty() && !session.is_empty() {
                text = text.replace(&recorded_session, &session);
            }
            let reply = rtsp_request(&mut ctl, &text);
            assert_eq!(status(&reply), 200, "{section}: {text:?} → {reply}");
            assert_eq!(header(&reply, "CSeq"), r.headers.get("CSeq"));
            match r.method.as_str() {
                "SETUP" => {
                    session = session_id(&reply);
                    assert!(
                        header(&reply, "Transport")
                            .unwrap()
                            .contains("server_port=")
                    );
                }
                "PLAY" => assert!(header(&reply, "RTP-Info").is_some(), "{reply}"),
                _ => {}
            }
        }
        replayed += 1;
    }
    assert_eq!(replayed, 2, "ffprobe and rtspsrc over UDP");
    wait_until(|| server.sessions() == 0);
}
