//! The client library and `mjpegrtspsrc` against a lying or hostile server
//! and forged packets, all on loopback: a small scripted RTSP server in this
//! file (any SDP, any error reply, any packets over UDP or TCP interleaved),
//! and forged RTCP/RTP sent from other sockets to the client's ports.

use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, EndReason, Error, Event, Session, TransportPreference};
use mjpegrtsp::rtsp::{
    Item, Method, Parsed, Parser, Request, Response, StatusCode, encode_interleaved,
};
use mjpegrtsp_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// A scripted server

/// The SSRC the scripted server sends with.
const SSRC: u32 = 0x1234_5678;

/// Where the PLAY's packets go, and how to send them.
struct Wire {
    conn: Arc<Mutex<TcpStream>>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    /// UDP: the client's RTP and RTCP ports; `None` over TCP.
    client: Option<(SocketAddr, SocketAddr)>,
}

impl Wire {
    fn rtp(&self, packet: &[u8]) {
        match self.client {
            Some((to, _)) => {
                let _ = self.rtp.send_to(packet, to);
            }
            None => {
                let mut framed = Vec::new();
                encode_interleaved(0, packet, &mut framed).unwrap();
                let _ = self.conn.lock().unwrap().write_all(&framed);
            }
        }
    }

    fn rtcp(&self, packet: &[u8]) {
        match self.client {
            Some((_, to)) => {
                let _ = self.rtcp.send_to(packet, to);
            }
            None => {
                let mut framed = Vec::new();
                encode_interleaved(1, packet, &mut framed).unwrap();
                let _ = self.conn.lock().unwrap().write_all(&framed);
            }
        }
    }

    /// `jpeg` as X-WHOLE-JPEG packets of at most `chunk` bytes.
    fn frame(&self, seq: &mut u16, ts: u32, jpeg: &[u8], chunk: usize) {
        let parts: Vec<&[u8]> = jpeg.chunks(chunk).collect();
        for (i, part) in parts.iter().enumerate() {
            self.rtp(&rtp_packet(*seq, ts, SSRC, i + 1 == parts.len(), part));
            *seq = seq.wrapping_add(1);
        }
    }
}

fn rtp_packet(seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96 | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn bye(ssrcs: &[u32]) -> Vec<u8> {
    let count = u8::try_from(ssrcs.len()).unwrap();
    let words = u16::from(count);
    let mut p = vec![0x80 | count, 203];
    p.extend_from_slice(&words.to_be_bytes());
    for s in ssrcs {
        p.extend_from_slice(&s.to_be_bytes());
    }
    p
}

type PlayScript = Arc<dyn Fn(&Wire) + Send + Sync>;

/// What the scripted server answers.
struct Script {
    /// The SDP DESCRIBE returns, or an error reply instead.
    describe: Result<String, Response>,
    /// Sent after the PLAY reply, on a thread of its own.
    play: PlayScript,
}

/// An X-WHOLE-JPEG SDP at 25 fps with `range` (e.g. `npt=0-2`).
fn sdp(range: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=t\r\nt=0 0\r\na=control:*\r\n\
         a=range:{range}\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 X-WHOLE-JPEG/90000\r\n\
         a=framerate:25\r\na=control:stream=0\r\n"
    )
}

/// Serves one connection at a time with `script`, until dropped with the test.
fn scripted_server(script: Script) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let script = script.clone();
            std::thread::spawn(move || serve(conn, &script));
        }
    });
    addr
}

fn serve(conn: TcpStream, script: &Script) {
    let peer = conn.peer_addr().unwrap();
    let writer = Arc::new(Mutex::new(conn.try_clone().unwrap()));
    let mut reader = conn;
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_ports = (
        rtp.local_addr().unwrap().port(),
        rtcp.local_addr().unwrap().port(),
    );
    let mut client = None;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    loop {
        let n = reader.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Parsed::Complete(item, used) = Parser::new().parse(&buf, true) {
            let req = match item {
                Item::Request(req) => Some(req),
                _ => None,
            };
            buf.drain(..used);
            let Some(req) = req else { continue };
            let reply = answer(&req, script, peer, server_ports, &mut client);
            if writer.lock().unwrap().write_all(&reply.to_bytes()).is_err() {
                return;
            }
            if req.method == Method::Play {
                let wire = Wire {
                    conn: writer.clone(),
                    rtp: rtp.try_clone().unwrap(),
                    rtcp: rtcp.try_clone().unwrap(),
                    client,
                };
                let play = script.play.clone();
                std::thread::spawn(move || play(&wire));
            }
        }
    }
}

fn answer(
    req: &Request,
    script: &Script,
    peer: SocketAddr,
    (rtp_port, rtcp_port): (u16, u16),
    client: &mut Option<(SocketAddr, SocketAddr)>,
) -> Response {
    let ok = Response::reply_to(req, StatusCode::OK);
    match req.method {
        Method::Options => ok.with_header("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"),
        Method::Describe => match &script.describe {
            Ok(sdp) => ok
                .with_header("Content-Base", format!("{}/", req.uri))
                .with_body("application/sdp", sdp.clone()),
            Err(reply) => {
                let mut reply = reply.clone();
                if let Some(c) = req.cseq() {
                    reply = reply.with_cseq(c);
                }
                reply
            }
        },
        Method::Setup => {
            let t = req.transports().unwrap().remove(0);
            let transport = match (t.client_port, t.interleaved) {
                (Some(p), _) => {
                    let rtcp = p.rtcp.unwrap();
                    *client = Some((
                        SocketAddr::new(peer.ip(), p.rtp),
                        SocketAddr::new(peer.ip(), rtcp),
                    ));
                    format!(
                        "RTP/AVP;unicast;client_port={}-{rtcp};server_port={rtp_port}-{rtcp_port}",
                        p.rtp
                    )
                }
                (None, _) => {
                    *client = None;
                    "RTP/AVP/TCP;unicast;interleaved=0-1".to_owned()
                }
            };
            ok.with_header("Session", "4242;timeout=60")
                .with_header("Transport", transport)
        }
        Method::Play => ok.with_header("Session", "4242").with_header(
            "RTP-Info",
            format!("url={}/stream=0;seq=100;rtptime=0", req.uri),
        ),
        Method::Teardown => ok.with_header("Session", "4242"),
        _ => Response::reply_to(req, StatusCode::NOT_IMPLEMENTED),
    }
}

/// A client session with the scripted server at `addr`.
async fn connect(addr: SocketAddr, transport: TransportPreference) -> Session {
    Session::connect(&format!("rtsp://{addr}/clip"), options(transport))
        .await
        .unwrap()
}

fn options(transport: TransportPreference) -> ClientOptions {
    ClientOptions {
        transport,
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// Frame `i` of a clip: a JPEG-shaped frame of `len` bytes.
fn clip_frame(i: u32, len: usize) -> Vec<u8> {
    synthetic_jpeg(320, 240, i, len)
}

// ---------------------------------------------------------------------------
// Item: RTCP and RTP only from the server, BYE only for the stream's SSRC

#[test]
fn forged_rtcp_bye_and_rtp_from_elsewhere_do_not_end_or_disturb_the_stream() {
    let addr = scripted_server(Script {
        describe: Ok(sdp("npt=0-2")),
        play: Arc::new(|w: &Wire| {
            let (rtp_to, rtcp_to) = w.client.expect("UDP");
            std::thread::sleep(Duration::from_millis(50));
            let mut seq = 100u16;
            for i in 0..50u32 {
                w.frame(&mut seq, 3600 * i, &clip_frame(i, 3000), 1400);
                if i == 10 {
                    // From an unrelated port on the server's own address:
                    // the 4 bytes of an empty BYE, a BYE naming the stream,
                    // and an RTP packet of another numbering.
                    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
                    stranger
                        .send_to(&[0x80, 0xCB, 0x00, 0x00], rtcp_to)
                        .unwrap();
                    stranger.send_to(&bye(&[SSRC]), rtcp_to).unwrap();
                    let junk = rtp_packet(seq.wrapping_add(20_000), 7, SSRC, true, b"junk");
                    stranger.send_to(&junk, rtp_to).unwrap();
                    // From another address (127.0.0.2 is loopback too).
                    if let Ok(other) = UdpSocket::bind("127.0.0.2:0") {
                        other.send_to(&bye(&[SSRC]), rtcp_to).unwrap();
                    }
                    // From the server itself, but not for the stream's source.
                    w.rtcp(&bye(&[]));
                    w.rtcp(&bye(&[0xDEAD_BEEF]));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            w.rtcp(&bye(&[SSRC]));
        }),
    });
    block_on(async {
        let mut s = connect(addr, TransportPreference::Udp).await;
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, end) = collect_frames(&mut events, usize::MAX, Duration::from_secs(8)).await;
        let stats = s.stats();
        assert_eq!(
            (frames.len(), end),
            (50, Some(EndReason::Bye)),
            "every frame, then the server's own BYE ({stats:?})"
        );
        assert_eq!(
            stats.restarts, 0,
            "the forged RTP did not restart the numbering"
        );
        assert!(
            stats.packets_rejected >= 5,
            "rejected packets counted: {stats:?}"
        );
        s.teardown().await.unwrap();
    });
}

// ---------------------------------------------------------------------------
// Item: durations from the network are checked

/// `a=range` ends a hostile server sends: exactly GST_CLOCK_TIME_NONE in
/// nanoseconds, and more (which would wrap).
const ABSURD_RANGES: [&str; 3] = [
    "npt=0-18446744073.709551615",
    "npt=0-99999999999",
    "npt=0-999999999:00:00",
];

#[test]
fn an_absurd_sdp_range_gives_no_duration() {
    for range in ABSURD_RANGES {
        let addr = scripted_server(Script {
            describe: Ok(sdp(range)),
            play: Arc::new(|_: &Wire| {}),
        });
        block_on(async {
            let mut s = connect(addr, TransportPreference::Tcp).await;
            s.describe().await.unwrap();
            assert_eq!(s.duration(), None, "{range}");
        });
    }
}

#[test]
fn mjpegrtspsrc_plays_a_stream_whose_sdp_range_is_absurd() {
    for range in ABSURD_RANGES {
        let addr = scripted_server(Script {
            describe: Ok(sdp(range)),
            play: Arc::new(|w: &Wire| {
                let mut seq = 100u16;
                for i in 0..5u32 {
                    w.frame(&mut seq, 3600 * i, &clip_frame(i, 3000), 1400);
                }
                std::thread::sleep(Duration::from_millis(50));
                w.rtcp(&bye(&[SSRC]));
            }),
        });
        let duration = Arc::new(Mutex::new(None));
        let seen = duration.clone();
        let out = run(
            &format!("mjpegrtspsrc location=rtsp://{addr}/clip protocols=tcp ! appsink name=sink"),
            move |p| *seen.lock().unwrap() = Some(p.query_duration::<gst::ClockTime>()),
        );
        assert!(out.eos, "{range}: {:?}", out.error);
        assert_eq!(out.frames.len(), 5, "{range}");
        assert_eq!(
            *duration.lock().unwrap(),
            Some(None),
            "{range}: prerolled, with no duration"
        );
    }
}

// ---------------------------------------------------------------------------
// Item: a connection cut without BYE is not the end of the stream

/// Sends 10 frames, then closes the connection without a BYE.
fn cut_after_ten_frames() -> Script {
    Script {
        describe: Ok(sdp("npt=0-20")),
        play: Arc::new(|w: &Wire| {
            std::thread::sleep(Duration::from_millis(50));
            let mut seq = 100u16;
            for i in 0..10u32 {
                w.frame(&mut seq, 3600 * i, &clip_frame(i, 3000), 1400);
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = w.conn.lock().unwrap().shutdown(std::net::Shutdown::Both);
        }),
    }
}

#[test]
fn a_connection_cut_without_bye_ends_the_client_as_closed() {
    let addr = scripted_server(cut_after_ten_frames());
    for transport in [TransportPreference::Udp, TransportPreference::Tcp] {
        block_on(async {
            let mut s = connect(addr, transport).await;
            s.setup().await.unwrap();
            let mut events = s.events().unwrap();
            s.play(None).await.unwrap();
            let (frames, end) =
                collect_frames(&mut events, usize::MAX, Duration::from_secs(8)).await;
            assert_eq!(frames.len(), 10, "{transport:?}");
            assert_eq!(end, Some(EndReason::ConnectionClosed), "{transport:?}");
        });
    }
}

#[test]
fn mjpegrtspsrc_posts_an_error_naming_the_server_when_the_connection_is_cut() {
    let addr = scripted_server(cut_after_ten_frames());
    for protocols in ["udp", "tcp"] {
        let out = run(
            &format!(
                "mjpegrtspsrc location=rtsp://{addr}/clip protocols={protocols} ! appsink name=sink"
            ),
            |_| {},
        );
        assert!(!out.eos, "{protocols}: a cut is not the end of the stream");
        let error = out.error.unwrap_or_default();
        assert!(
            error.contains(&addr.to_string()) && error.contains("closed the connection"),
            "{protocols}: {error}"
        );
        assert_eq!(
            out.frames.len(),
            10,
            "{protocols}: the frames before the cut"
        );
    }
}

// ---------------------------------------------------------------------------
// Item: bounded memory, shown text sanitised

#[test]
fn a_consumer_that_does_not_read_holds_a_bounded_number_of_bytes() {
    // 40 frames of 2 MiB as fast as TCP takes them: 80 MiB, while the
    // channel holds 64 events.
    const LEN: usize = 2 << 20;
    let addr = scripted_server(Script {
        describe: Ok(sdp("npt=0-2")),
        play: Arc::new(|w: &Wire| {
            let mut seq = 100u16;
            for i in 0..40u32 {
                w.frame(&mut seq, 3600 * i, &clip_frame(i, LEN), 60_000);
            }
            w.rtcp(&bye(&[SSRC]));
        }),
    });
    block_on(async {
        let mut s = connect(addr, TransportPreference::Tcp).await;
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        // Wait, reading nothing, until the stream is over.
        let end = Instant::now() + Duration::from_secs(20);
        while s.stats().frames < 40 {
            assert!(Instant::now() < end, "all frames arrived: {:?}", s.stats());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut queued = 0;
        let mut count = 0;
        while let Some(ev) = events.try_recv() {
            if let Event::Frame(f) = ev {
                queued += f.jpeg.len();
                count += 1;
            }
        }
        let stats = s.stats();
        assert!(
            queued <= 32 << 20,
            "{count} frames, {} MiB queued for the consumer",
            queued >> 20
        );
        assert_eq!(stats.frames_dropped, 40 - count, "{stats:?}");
    });
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[test]
fn an_error_reply_is_shown_without_control_characters() {
    // (A reason phrase with control characters is refused by the parser:
    // the body is what carries them through.)
    let reply = Response::new(StatusCode::NOT_FOUND).with_body(
        "text/plain",
        format!(
            "gone\x1b]0;owned\x07 \x1b[2J\x1b[31m{}\r\nsecond line",
            "x".repeat(2000)
        ),
    );
    let addr = scripted_server(Script {
        describe: Err(reply),
        play: Arc::new(|_: &Wire| {}),
    });
    block_on(async {
        let mut s = connect(addr, TransportPreference::Tcp).await;
        let e = s.describe().await.map(|_| ()).unwrap_err();
        let text = e.to_string();
        assert!(!has_control(&text), "{text:?}");
        assert!(text.len() < 1500, "capped: {} bytes", text.len());
        match &e {
            Error::Status {
                status: 404,
                reason,
                detail: Some(detail),
                ..
            } => {
                assert!(!has_control(reason) && !has_control(detail), "{e:?}");
                assert!(detail.starts_with("gone"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    });
}
