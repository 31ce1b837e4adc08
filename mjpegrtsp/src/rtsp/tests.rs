//! The recorded exchanges of `tests/data/captures/` as test vectors, and property
//! tests of the parser and serialisers.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

// ---- tests/data/captures/classic-dialect.md ----------------------------------

/// §1: the seed client against a classic server that answers with `Session:`.
const CLASSIC_SESSION: [(&[u8], &[u8]); 5] = [
    (
        b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 18770\n",
        b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\n",
    ),
    (
        b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 419485\n",
        b"RTSP/1.0 200 OK\nCSeq: 2\nSession: 419485\n",
    ),
    (
        b"PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: 419485\n",
        b"RTSP/1.0 200 OK\nCSeq: 3\nSession: 419485\n",
    ),
    (
        b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: 419485\n",
        b"RTSP/1.0 200 OK\nCSeq: 4\nSession: 419485\n",
    ),
    (
        b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 5\nSession: 419485\n",
        b"RTSP/1.0 200 OK\nCSeq: 5\nSession: 419485\n",
    ),
];

/// §2: the seed client against the seed's own server.
const CLASSIC_SEED_SERVER: [(&[u8], &[u8]); 2] = [
    (
        b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 18750\n",
        b"RTSP/1.0 200 OK\nCSeq: 1\n",
    ),
    (
        b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 0\n",
        b"RTSP/1.0 200 OK\nCSeq: 2\nSession: 522582\n",
    ),
];

/// §3: the seed server's replies to SETUP, PLAY, PAUSE, PLAY, TEARDOWN.
const CLASSIC_SEED_REPLIES: [&[u8]; 5] = [
    b"RTSP/1.0 200 OK\nCSeq: 1\n",
    b"RTSP/1.0 200 OK\nCSeq: 2\n",
    b"RTSP/1.0 200 OK\nCSeq: 3\nSession: 178759\n",
    b"RTSP/1.0 200 OK\nCSeq: 4\n",
    b"RTSP/1.0 200 OK\nCSeq: 5\n",
];

/// §3: the OPTIONS the seed server never answered.
const CLASSIC_OPTIONS: &[u8] = b"OPTIONS * RTSP/1.0\r\nCSeq: 6\r\n\r\n";

// ---- tests/data/captures/standard-dialect.md ---------------------------------

/// ffprobe over UDP: requests.
const FFPROBE_UDP: [&[u8]; 5] = [
    b"OPTIONS rtsp://127.0.0.1:18901/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
    b"DESCRIBE rtsp://127.0.0.1:18901/movie.Mjpeg RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
    b"SETUP rtsp://127.0.0.1:18901/movie.Mjpeg/stream=0 RTSP/1.0\r\nTransport: RTP/AVP/UDP;unicast;client_port=19170-19171\r\nCSeq: 3\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
    b"PLAY rtsp://127.0.0.1:18901/movie.Mjpeg/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\nUser-Agent: Lavf59.27.100\r\nSession: d4c_QkGp7lgGq-d.\r\n\r\n",
    b"TEARDOWN rtsp://127.0.0.1:18901/movie.Mjpeg/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: Lavf59.27.100\r\nSession: d4c_QkGp7lgGq-d.\r\n\r\n",
];

/// gst-rtsp-server's replies to ffprobe over UDP.
const FFPROBE_UDP_REPLIES: [&[u8]; 4] = [
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, PLAY, RECORD, SETUP, SET_PARAMETER, TEARDOWN\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:49 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:18901/movie.Mjpeg/\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:49 GMT\r\nContent-Length: 378\r\n\r\nv=0\r\no=- 15272165293986869193 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\ni=rtsp-server\r\nt=0 0\r\na=tool:GStreamer\r\na=type:broadcast\r\na=control:*\r\na=range:npt=0-298.792\r\nm=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:26 JPEG/90000\r\na=framerate:24.000000\r\na=control:stream=0\r\na=ts-refclk:local\r\na=mediaclk:sender\r\na=ssrc:1205940147 cname:user3901003736@host-4ce457da\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=19170-19171;server_port=54586-54587;ssrc=47E12FB3;mode=\"PLAY\"\r\nServer: GStreamer RTSP server\r\nSession: d4c_QkGp7lgGq-d.\r\nDate: Thu, 26 Nov 2026 08:12:49 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: url=rtsp://127.0.0.1:18901/movie.Mjpeg/stream=0;seq=23676;rtptime=3112243204\r\nRange: npt=0-298.792\r\nServer: GStreamer RTSP server\r\nSession: d4c_QkGp7lgGq-d.\r\nDate: Thu, 26 Nov 2026 08:12:49 GMT\r\n\r\n",
];

/// ffprobe over TCP: requests.
const FFPROBE_TCP: [&[u8]; 4] = [
    b"DESCRIBE rtsp://127.0.0.1:18902/movie.Mjpeg RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
    b"SETUP rtsp://127.0.0.1:18902/movie.Mjpeg/stream=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nCSeq: 3\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
    b"PLAY rtsp://127.0.0.1:18902/movie.Mjpeg/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\nUser-Agent: Lavf59.27.100\r\nSession: WSijxmNimp04VCr+\r\n\r\n",
    b"TEARDOWN rtsp://127.0.0.1:18902/movie.Mjpeg/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: Lavf59.27.100\r\nSession: WSijxmNimp04VCr+\r\n\r\n",
];

/// gst-rtsp-server's replies to ffprobe over TCP.
const FFPROBE_TCP_REPLIES: [&[u8]; 4] = [
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, PLAY, RECORD, SETUP, SET_PARAMETER, TEARDOWN\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:51 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:18902/movie.Mjpeg/\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:51 GMT\r\nContent-Length: 376\r\n\r\nv=0\r\no=- 5550795510081571797 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\ni=rtsp-server\r\nt=0 0\r\na=tool:GStreamer\r\na=type:broadcast\r\na=control:*\r\na=range:npt=0-298.792\r\nm=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:26 JPEG/90000\r\na=framerate:24.000000\r\na=control:stream=0\r\na=ts-refclk:local\r\na=mediaclk:sender\r\na=ssrc:586121095 cname:user2573055171@host-d1787cb4\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=22EF7F87;mode=\"PLAY\"\r\nServer: GStreamer RTSP server\r\nSession: WSijxmNimp04VCr+\r\nDate: Thu, 26 Nov 2026 08:12:51 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: url=rtsp://127.0.0.1:18902/movie.Mjpeg/stream=0;seq=23817;rtptime=4213683535\r\nRange: npt=0-298.792\r\nServer: GStreamer RTSP server\r\nSession: WSijxmNimp04VCr+\r\nDate: Thu, 26 Nov 2026 08:12:51 GMT\r\n\r\n",
];

/// The start of the first interleaved frame after the PLAY reply over TCP.
const FIRST_FRAME_START: &[u8] = b"$\x00\x05x\x80\x1a]\x09\xfb'\xb5O\"\xef\x7f\x87\x00\x00\x00\x00\x01\xffP<\x00\x00\x00\x80\x06\x04\x05\x06";

/// GStreamer rtspsrc: requests.
const RTSPSRC: [&[u8]; 5] = [
    b"OPTIONS rtsp://127.0.0.1:18903/movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: GStreamer/1.22.0\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"DESCRIBE rtsp://127.0.0.1:18903/movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: GStreamer/1.22.0\r\nAccept: application/sdp\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"SETUP rtsp://127.0.0.1:18903/movie.Mjpeg/stream=0 RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: GStreamer/1.22.0\r\nTransport: RTP/AVP;unicast;client_port=39040-39041\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"PLAY rtsp://127.0.0.1:18903/movie.Mjpeg/ RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: GStreamer/1.22.0\r\nRange: npt=0-298.792\r\nSession: wwks2QuQ.OI+Ujw3\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"TEARDOWN rtsp://127.0.0.1:18903/movie.Mjpeg/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: GStreamer/1.22.0\r\nSession: wwks2QuQ.OI+Ujw3\r\nDate: Thu, 26 Nov 2026 08:12:53 GMT\r\n\r\n",
];

/// gst-rtsp-server's replies to rtspsrc.
const RTSPSRC_REPLIES: [&[u8]; 5] = [
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, PLAY, RECORD, SETUP, SET_PARAMETER, TEARDOWN\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:18903/movie.Mjpeg/\r\nServer: GStreamer RTSP server\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\nContent-Length: 377\r\n\r\nv=0\r\no=- 5628531713486531036 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\ni=rtsp-server\r\nt=0 0\r\na=tool:GStreamer\r\na=type:broadcast\r\na=control:*\r\na=range:npt=0-298.792\r\nm=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:26 JPEG/90000\r\na=framerate:24.000000\r\na=control:stream=0\r\na=ts-refclk:local\r\na=mediaclk:sender\r\na=ssrc:1426397483 cname:user2004052634@host-e97fb778\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=39040-39041;server_port=40584-40585;ssrc=5505192B;mode=\"PLAY\"\r\nServer: GStreamer RTSP server\r\nSession: wwks2QuQ.OI+Ujw3\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: url=rtsp://127.0.0.1:18903/movie.Mjpeg/stream=0;seq=6206;rtptime=3710720178\r\nRange: npt=0-298.792\r\nServer: GStreamer RTSP server\r\nSession: wwks2QuQ.OI+Ujw3\r\nDate: Thu, 26 Nov 2026 08:12:52 GMT\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nServer: GStreamer RTSP server\r\nSession: wwks2QuQ.OI+Ujw3\r\nConnection: close\r\nDate: Thu, 26 Nov 2026 08:12:53 GMT\r\n\r\n",
];

// ---- helpers ---------------------------------------------------------------

/// Parses a whole recorded message: it must take every byte, in the
/// expected dialect, and no proper prefix of it may be complete. A classic
/// message is complete before the stream is at rest only if its shape says
/// it is whole (see `classic_whole_at_once`).
fn whole(bytes: &[u8], dialect: Dialect) -> Item<'_> {
    for k in 0..bytes.len() {
        assert!(
            matches!(parse_message(&bytes[..k], false), Parsed::Incomplete(_)),
            "prefix of {k} bytes of {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    if dialect == Dialect::Classic {
        let at_once = parse_message(bytes, false);
        if classic_whole_at_once(bytes) {
            assert!(
                matches!(at_once, Parsed::Complete(_, n) if n == bytes.len()),
                "{at_once:?}"
            );
        } else {
            assert_eq!(at_once, Parsed::Incomplete(Incomplete::CompleteIfIdle));
        }
    }
    match parse_message(bytes, true) {
        Parsed::Complete(item, n) => {
            assert_eq!(n, bytes.len());
            match &item {
                Item::Request(r) => assert_eq!(r.dialect, dialect),
                Item::Response(r) => assert_eq!(r.dialect, dialect),
                Item::Interleaved(_) => panic!("unexpected frame"),
            }
            item
        }
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// The seed client's requests whose shape says they are whole: SETUP
/// ending with Transport; PLAY, PAUSE, TEARDOWN ending with Session.
fn classic_whole_at_once(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let method = lines.next().and_then(|l| l.split(' ').next()).unwrap_or("");
    let last = lines.last().unwrap_or("").to_ascii_lowercase();
    match method {
        "SETUP" => last.starts_with("transport:"),
        "PLAY" | "PAUSE" | "TEARDOWN" => last.starts_with("session:"),
        _ => false,
    }
}

fn request(bytes: &[u8], dialect: Dialect) -> Request {
    match whole(bytes, dialect) {
        Item::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

fn response(bytes: &[u8], dialect: Dialect) -> Response {
    match whole(bytes, dialect) {
        Item::Response(r) => r,
        other => panic!("{other:?}"),
    }
}

fn session_id(r: &Request) -> Option<String> {
    r.session().unwrap().map(|s| s.id)
}

// ---- the classic dialect ---------------------------------------------------

#[test]
fn classic_session_requests_parse_and_our_replies_are_byte_identical() {
    let methods = [
        Method::Setup,
        Method::Play,
        Method::Pause,
        Method::Play,
        Method::Teardown,
    ];
    for (i, ((req, reply), method)) in CLASSIC_SESSION.iter().zip(methods).enumerate() {
        let r = request(req, Dialect::Classic);
        assert_eq!(r.method, method);
        assert_eq!(r.cseq(), Some(i as u32 + 1));
        assert_eq!(r.version, Version::RTSP_1_0);
        let url = r.url().unwrap();
        assert_eq!(url.form(), &UriForm::Relative);
        assert_eq!(
            (url.media_path().as_str(), url.control()),
            ("movie.Mjpeg", None)
        );
        assert_eq!(r.range(), Ok(None));
        if method == Method::Setup {
            assert_eq!(session_id(&r), None);
            let offers = r.transports().unwrap();
            assert_eq!(offers.len(), 1);
            let t = &offers[0];
            assert!(t.classic);
            assert_eq!(
                t.client_port,
                Some(PortPair {
                    rtp: 18770,
                    rtcp: None
                })
            );
            assert_eq!(t.lower, LowerTransport::Udp);
            assert_eq!(t.check_playable(), Ok(()));
        } else {
            assert_eq!(session_id(&r).as_deref(), Some("419485"));
            assert_eq!(r.transports(), Err(TransportError::Missing));
        }
        // What our server sends back: the timeout is left out in the classic
        // dialect, CSeq is line 2 and Session line 3.
        let ours = Response::reply_to(&r, StatusCode::OK)
            .with_session(&SessionHeader::new("419485").with_timeout(60))
            .to_bytes();
        assert_eq!(ours, *reply, "{}", String::from_utf8_lossy(&ours));
    }
    let setup = request(CLASSIC_SESSION[0].0, Dialect::Classic);
    let reply = Response::reply_to(&setup, StatusCode::OK)
        .with_session(&SessionHeader::new("419485"))
        .to_bytes();
    assert_eq!(reply, b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\n");
}

#[test]
fn classic_replies_parse_with_and_without_session() {
    let mut replies: Vec<(&[u8], u32, Option<&str>)> = CLASSIC_SESSION
        .iter()
        .enumerate()
        .map(|(i, (_, reply))| (*reply, i as u32 + 1, Some("419485")))
        .collect();
    replies.push((CLASSIC_SEED_SERVER[0].1, 1, None));
    replies.push((CLASSIC_SEED_SERVER[1].1, 2, Some("522582")));
    for (i, reply) in CLASSIC_SEED_REPLIES.iter().enumerate() {
        replies.push((reply, i as u32 + 1, (i == 2).then_some("178759")));
    }
    for (bytes, cseq, session) in replies {
        let r = response(bytes, Dialect::Classic);
        assert_eq!((r.status, r.reason.as_str()), (StatusCode::OK, "OK"));
        assert_eq!(r.cseq(), Some(cseq));
        assert_eq!(r.session().unwrap().map(|s| s.id).as_deref(), session);
        assert_eq!(r.to_bytes(), bytes);
    }
    let r = request(CLASSIC_SEED_SERVER[1].0, Dialect::Classic);
    assert_eq!(
        (&r.method, session_id(&r).as_deref()),
        (&Method::Teardown, Some("0"))
    );
    let r = request(CLASSIC_SEED_SERVER[0].0, Dialect::Classic);
    assert_eq!(
        r.transports().unwrap()[0].client_port,
        Some(PortPair {
            rtp: 18750,
            rtcp: None
        })
    );
    let r = request(CLASSIC_OPTIONS, Dialect::Standard);
    assert_eq!((&r.method, r.cseq()), (&Method::Options, Some(6)));
    assert!(r.url().unwrap().is_asterisk());
}

#[test]
fn a_classic_client_session_in_one_stream() {
    // The five requests as a server reads them; requests arrive one at a
    // time, each after the previous reply.
    let parser = Parser::new();
    for (req, _) in CLASSIC_SESSION {
        let mut buf = Vec::new();
        for &b in &req[..req.len() - 1] {
            buf.push(b);
            let p = parser.parse(&buf, false);
            assert!(matches!(p, Parsed::Incomplete(_)), "{p:?}");
        }
        buf.push(req[req.len() - 1]);
        // Each is whole by its shape: no wait for the stream to rest.
        assert!(
            matches!(parser.parse(&buf, false), Parsed::Complete(Item::Request(_), n) if n == req.len())
        );
        assert!(
            matches!(parser.parse(&buf, true), Parsed::Complete(Item::Request(_), n) if n == req.len())
        );
    }
    // Our client, speaking to a classic server, writes the same bytes.
    let setup = Request::new(Method::Setup, "movie.Mjpeg")
        .with_dialect(Dialect::Classic)
        .with_cseq(1)
        .with_header(
            names::TRANSPORT,
            Transport {
                classic: true,
                client_port: Some(PortPair {
                    rtp: 18770,
                    rtcp: None,
                }),
                ..Transport::default()
            }
            .to_string(),
        );
    assert_eq!(setup.to_bytes(), CLASSIC_SESSION[0].0);
    let play = Request::new(Method::Play, "movie.Mjpeg")
        .with_dialect(Dialect::Classic)
        .with_cseq(2)
        .with_session(&SessionHeader::new("419485"));
    assert_eq!(play.to_bytes(), CLASSIC_SESSION[1].0);
}

// ---- the standard dialect --------------------------------------------------

struct Expected {
    method: Method,
    cseq: u32,
    media: &'static str,
    control: Option<&'static str>,
    session: Option<&'static str>,
    range: Option<NptRange>,
    transport: Option<Transport>,
}

fn check_requests(requests: &[&[u8]], expected: &[Expected], port: u16) {
    assert_eq!(requests.len(), expected.len());
    for (bytes, e) in requests.iter().zip(expected) {
        let r = request(bytes, Dialect::Standard);
        assert_eq!(r.method, e.method);
        assert_eq!(r.cseq(), Some(e.cseq));
        let url = r.url().unwrap();
        assert_eq!(url.host(), Some("127.0.0.1"));
        assert_eq!(url.port(), Some(port));
        assert_eq!(url.media_path(), e.media);
        assert_eq!(url.control(), e.control);
        assert_eq!(session_id(&r).as_deref(), e.session);
        assert_eq!(r.range(), Ok(e.range));
        match &e.transport {
            Some(t) => {
                assert_eq!(r.transports().as_ref(), Ok(&vec![t.clone()]));
                let value = r.headers.get(names::TRANSPORT).unwrap();
                assert_eq!(negotiate_transport(value).as_ref(), Ok(t));
            }
            None => assert_eq!(r.transports(), Err(TransportError::Missing)),
        }
        assert!(r.body.is_empty());
    }
}

fn standard_session(
    describe_cseq: u32,
    setup: Transport,
    play_range: NptRange,
    session: &'static str,
) -> Vec<Expected> {
    let e = |method, cseq, control, session, range, transport| Expected {
        method,
        cseq,
        media: "movie.Mjpeg",
        control,
        session,
        range,
        transport,
    };
    vec![
        e(Method::Describe, describe_cseq, None, None, None, None),
        e(Method::Setup, 3, Some("stream=0"), None, None, Some(setup)),
        e(Method::Play, 4, None, Some(session), Some(play_range), None),
        e(Method::Teardown, 5, None, Some(session), None, None),
    ]
}

#[test]
fn ffprobe_udp_requests() {
    let mut expected = vec![Expected {
        method: Method::Options,
        cseq: 1,
        media: "movie.Mjpeg",
        control: None,
        session: None,
        range: None,
        transport: None,
    }];
    expected.extend(standard_session(
        2,
        Transport::udp_unicast(PortPair::new(19170, 19171)),
        NptRange::starting_at(Duration::ZERO),
        "d4c_QkGp7lgGq-d.",
    ));
    check_requests(&FFPROBE_UDP, &expected, 18901);
}

#[test]
fn ffprobe_tcp_requests() {
    let expected = standard_session(
        2,
        Transport::tcp_interleaved(ChannelPair::new(0, 1)),
        NptRange::starting_at(Duration::ZERO),
        "WSijxmNimp04VCr+",
    );
    check_requests(&FFPROBE_TCP, &expected, 18902);
}

#[test]
fn rtspsrc_requests() {
    let mut expected = vec![Expected {
        method: Method::Options,
        cseq: 1,
        media: "movie.Mjpeg",
        control: None,
        session: None,
        range: None,
        transport: None,
    }];
    expected.extend(standard_session(
        2,
        Transport::udp_unicast(PortPair::new(39040, 39041)),
        NptRange::between(Duration::ZERO, Duration::from_millis(298_792)),
        "wwks2QuQ.OI+Ujw3",
    ));
    check_requests(&RTSPSRC, &expected, 18903);
}

#[test]
fn gstreamer_replies_parse_and_reserialise_byte_for_byte() {
    let all = FFPROBE_UDP_REPLIES
        .iter()
        .chain(&FFPROBE_TCP_REPLIES)
        .chain(&RTSPSRC_REPLIES);
    for bytes in all {
        let r = response(bytes, Dialect::Standard);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.to_bytes(), *bytes, "{}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn gstreamer_replies_as_a_client_reads_them() {
    for (replies, port, session, transport) in [
        (
            &FFPROBE_UDP_REPLIES,
            18901,
            "d4c_QkGp7lgGq-d.",
            Transport::udp_unicast(PortPair::new(19170, 19171))
                .with_server_port(PortPair::new(54586, 54587))
                .with_ssrc(0x47E1_2FB3)
                .with_mode(Mode::Play),
        ),
        (
            &FFPROBE_TCP_REPLIES,
            18902,
            "WSijxmNimp04VCr+",
            Transport::tcp_interleaved(ChannelPair::new(0, 1))
                .with_ssrc(0x22EF_7F87)
                .with_mode(Mode::Play),
        ),
        (
            &[
                RTSPSRC_REPLIES[0],
                RTSPSRC_REPLIES[1],
                RTSPSRC_REPLIES[2],
                RTSPSRC_REPLIES[3],
            ],
            18903,
            "wwks2QuQ.OI+Ujw3",
            Transport::udp_unicast(PortPair::new(39040, 39041))
                .with_server_port(PortPair::new(40584, 40585))
                .with_ssrc(0x5505_192B)
                .with_mode(Mode::Play),
        ),
    ] {
        let options = response(replies[0], Dialect::Standard);
        assert_eq!(
            options.headers.get("public").map(|p| p.split(", ").count()),
            Some(10)
        );

        let describe = response(replies[1], Dialect::Standard);
        assert_eq!(
            describe.headers.get(names::CONTENT_TYPE),
            Some("application/sdp")
        );
        let base = describe.headers.get(names::CONTENT_BASE).unwrap();
        assert_eq!(base, format!("rtsp://127.0.0.1:{port}/movie.Mjpeg/"));
        let sdp = Sdp::parse_bytes(&describe.body).unwrap();
        assert!(sdp.to_string().len() <= describe.body.len());
        assert_eq!(sdp.control(), Some("*"));
        assert_eq!(
            sdp.range(),
            Some(NptRange::between(
                Duration::ZERO,
                Duration::from_millis(298_792)
            ))
        );
        assert_eq!(sdp.aggregate_url(base), base);
        assert_eq!(sdp.media.len(), 1);
        let m = &sdp.media[0];
        assert_eq!(
            (m.kind.as_str(), m.port, m.proto.as_str()),
            ("video", 0, "RTP/AVP")
        );
        assert_eq!(m.payload_types(), [26]);
        let map = m.rtpmap(26).unwrap();
        assert_eq!(
            (map.encoding_name.as_str(), map.clock_rate),
            ("JPEG", 90_000)
        );
        assert_eq!(m.framerate(), crate::timing::FrameRate::new(24, 1));
        // The URL the clients then SETUP.
        assert_eq!(
            m.control_url(base),
            format!("rtsp://127.0.0.1:{port}/movie.Mjpeg/stream=0")
        );

        let setup = response(replies[2], Dialect::Standard);
        assert_eq!(setup.session().unwrap(), Some(SessionHeader::new(session)));
        assert_eq!(setup.transport().unwrap().as_ref(), Some(&transport));
        // Our own formatting of the same transport is byte-identical.
        assert_eq!(
            setup.headers.get(names::TRANSPORT),
            Some(transport.to_string().as_str())
        );

        let play = response(replies[3], Dialect::Standard);
        let info = play.rtp_info().unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(
            info[0].url,
            format!("rtsp://127.0.0.1:{port}/movie.Mjpeg/stream=0")
        );
        assert!(info[0].seq.is_some() && info[0].rtptime.is_some());
        assert_eq!(
            play.headers.get(names::RTP_INFO),
            Some(format_rtp_info(&info).as_str())
        );
        let range = play.range().unwrap().unwrap();
        assert_eq!(
            play.headers.get(names::RANGE),
            Some(range.to_string().as_str())
        );
    }
}

#[test]
fn interleaved_frames_after_the_play_reply() {
    // The recorded frame header says channel 0 and 0x0578 = 1400 bytes.
    let mut stream = FFPROBE_TCP_REPLIES[3].to_vec();
    let reply_len = stream.len();
    stream.extend_from_slice(FIRST_FRAME_START);
    let parser = Parser::new();
    match parser.parse(&stream, false) {
        Parsed::Complete(Item::Response(r), n) => {
            assert_eq!((r.cseq(), n), (Some(4), reply_len));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parser.parse(&stream[reply_len..], false),
        Parsed::Incomplete(Incomplete::NeedMore)
    );
    stream.resize(reply_len + 4 + 1400, 0xAB);
    stream.extend_from_slice(b"$\x01\x00\x02hi");
    let rest = &stream[reply_len..];
    match parser.parse(rest, false) {
        Parsed::Complete(Item::Interleaved(f), n) => {
            assert_eq!((f.channel, f.payload.len(), n), (0, 1400, 1404));
            assert_eq!(&f.payload[..4], &FIRST_FRAME_START[4..8]);
            let rtp = crate::rtp::parse(f.payload).unwrap();
            assert_eq!(rtp.header.payload_type, 26);
            assert_eq!(rtp.header.ssrc, 0x22EF_7F87);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parser.parse(&rest[1404..], false),
        Parsed::Complete(
            Item::Interleaved(InterleavedFrame {
                channel: 1,
                payload: b"hi"
            }),
            6
        )
    );
}

#[test]
fn a_standard_server_exchange_built_with_our_types() {
    let setup = request(RTSPSRC[2], Dialect::Standard);
    let offer = negotiate_transport(setup.headers.get(names::TRANSPORT).unwrap()).unwrap();
    let reply = Response::reply_to(&setup, StatusCode::OK)
        .with_header(
            names::TRANSPORT,
            offer
                .reply()
                .with_server_port(PortPair::new(40584, 40585))
                .with_ssrc(0x5505_192B)
                .to_string(),
        )
        .with_header(names::SERVER, "GStreamer RTSP server")
        .with_session(&SessionHeader::new("wwks2QuQ.OI+Ujw3"))
        .with_header(names::DATE, "Thu, 26 Nov 2026 08:12:52 GMT");
    assert_eq!(reply.to_bytes(), RTSPSRC_REPLIES[2]);
}

// ---- property tests --------------------------------------------------------

/// An item as a test compares it: frames owned.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Request(Request),
    Response(Response),
    Frame(u8, Vec<u8>),
}

impl Owned {
    fn from_item(item: Item<'_>) -> Self {
        match item {
            Item::Request(r) => Owned::Request(r),
            Item::Response(r) => Owned::Response(r),
            Item::Interleaved(f) => Owned::Frame(f.channel, f.payload.to_vec()),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Owned::Request(r) => r.to_bytes(),
            Owned::Response(r) => r.to_bytes(),
            Owned::Frame(ch, p) => {
                let mut out = Vec::new();
                encode_interleaved(*ch, p, &mut out).unwrap();
                out
            }
        }
    }

    /// What parsing `to_bytes()` gives back: `Content-Length` appears among
    /// the headers when there is a body.
    fn as_parsed(&self) -> Self {
        fn with_len(headers: &Headers, body: &[u8]) -> Headers {
            let mut h = headers.clone();
            if !body.is_empty() {
                h.append(names::CONTENT_LENGTH, body.len().to_string());
            }
            h
        }
        match self {
            Owned::Request(r) => Owned::Request(Request {
                headers: with_len(&r.headers, &r.body),
                ..r.clone()
            }),
            Owned::Response(r) => Owned::Response(Response {
                headers: with_len(&r.headers, &r.body),
                ..r.clone()
            }),
            f @ Owned::Frame(..) => f.clone(),
        }
    }
}

fn header_lines() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        ("X-[A-Za-z0-9-]{1,10}", "[ -~]{0,30}").prop_map(|(n, v)| (n, v.trim().to_owned())),
        0..6,
    )
}

fn uris() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        "[A-Za-z0-9._-]{1,12}",
        "rtsp://[a-z0-9.]{1,10}(:[0-9]{1,5})?(/[A-Za-z0-9._=~-]{1,8}){0,3}/?",
    ]
}

fn methods() -> impl Strategy<Value = Method> {
    "(OPTIONS|DESCRIBE|SETUP|PLAY|PAUSE|TEARDOWN|GET_PARAMETER|SET_PARAMETER|ANNOUNCE|RECORD|[A-Z_]{1,12})"
        .prop_map(|t| Method::parse(&t))
}

fn dialects() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(Dialect::Classic), Just(Dialect::Standard)]
}

fn requests() -> impl Strategy<Value = Request> {
    (
        methods(),
        uris(),
        proptest::option::of(any::<u32>()),
        header_lines(),
        proptest::collection::vec(any::<u8>(), 0..100),
        dialects(),
    )
        .prop_map(|(method, uri, cseq, extra, body, dialect)| {
            let mut r = Request::new(method, uri).with_dialect(dialect);
            if let Some(c) = cseq {
                r = r.with_cseq(c);
            }
            for (n, v) in extra {
                r.headers.append(n, v);
            }
            // The classic dialect has no bodies.
            if dialect == Dialect::Standard {
                r.body = body;
            }
            r
        })
}

fn responses() -> impl Strategy<Value = Response> {
    (
        100u16..=999,
        "[A-Za-z][A-Za-z -]{0,20}",
        proptest::option::of(any::<u32>()),
        proptest::option::of(prop_oneof!["[0-9]{1,9}", "[A-Za-z0-9$_.+-]{1,16}"]),
        header_lines(),
        proptest::collection::vec(any::<u8>(), 0..100),
        dialects(),
    )
        .prop_map(|(code, reason, cseq, session, extra, body, dialect)| {
            let mut r = Response::new(StatusCode::new(code).unwrap()).with_dialect(dialect);
            r.reason = reason.trim().to_owned();
            if let Some(c) = cseq {
                r = r.with_cseq(c);
            }
            if let Some(s) = session {
                r = r.with_session(&SessionHeader::new(s));
            }
            for (n, v) in extra {
                r.headers.append(n, v);
            }
            if dialect == Dialect::Standard {
                r.body = body;
            }
            r
        })
}

fn items() -> impl Strategy<Value = Owned> {
    prop_oneof![
        requests().prop_map(Owned::Request),
        responses().prop_map(Owned::Response),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(ch, p)| Owned::Frame(ch, p)),
    ]
}

/// Bytes that look like RTSP often enough to reach deep into the parser.
fn rtsp_ish() -> impl Strategy<Value = Vec<u8>> {
    let pieces: Vec<&'static [u8]> = vec![
        b"OPTIONS",
        b"SETUP",
        b"RTSP/1.0",
        b"RTSP/1.0 200 OK",
        b" ",
        b"\t",
        b"movie.Mjpeg",
        b"rtsp://h:554/a/stream=0",
        b"\r\n",
        b"\n",
        b"\r",
        b"CSeq: 1",
        b"Content-Length: 3",
        b"Content-Length: 99999999",
        b"Session: 1;timeout=x",
        b"Transport: RTP/AVP;client_port=1-2",
        b":",
        b"$",
        b"\x00",
        b"\xff",
        b"abc",
    ];
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(pieces).prop_map(<[u8]>::to_vec),
            proptest::collection::vec(any::<u8>(), 1..4),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

/// Checks what every parse must satisfy, whatever the input.
fn check_invariants(buf: &[u8], at_rest: bool) -> Result<(), TestCaseError> {
    let p = parse_message(buf, at_rest);
    if let Parsed::Complete(item, n) = p {
        prop_assert!(n > 0 && n <= buf.len());
        // The consumed bytes alone, at rest, are the same item.
        prop_assert_eq!(parse_message(&buf[..n], true), Parsed::Complete(item, n));
    }
    Ok(())
}

/// Parses a connection's bytes arriving in `chunks`, the way a server does
/// (at rest only once everything has arrived).
fn feed(bytes: &[u8], chunks: &[usize]) -> Result<Vec<Owned>, ParseError> {
    let mut buf = Vec::new();
    let mut items = Vec::new();
    let mut pos = 0;
    let mut chunks = chunks.iter().cycle();
    loop {
        let done = pos == bytes.len();
        loop {
            match parse_message(&buf, done) {
                Parsed::Complete(item, n) => {
                    items.push(Owned::from_item(item));
                    buf.drain(..n);
                }
                Parsed::Incomplete(_) => break,
                Parsed::Error(e) => return Err(e),
            }
        }
        if done {
            assert!(buf.is_empty(), "left over: {buf:?}");
            return Ok(items);
        }
        let n = (*chunks.next().unwrap()).min(bytes.len() - pos);
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        buf in proptest::collection::vec(any::<u8>(), 0..600),
        at_rest: bool,
    ) {
        check_invariants(&buf, at_rest)?;
    }

    #[test]
    fn parse_never_panics_on_rtsp_like_bytes(buf in rtsp_ish(), at_rest: bool) {
        check_invariants(&buf, at_rest)?;
        let _ = Sdp::parse(&String::from_utf8_lossy(&buf));
        if let Ok(s) = std::str::from_utf8(&buf) {
            let _ = parse_transports(s);
            let _ = NptRange::parse(s);
            let _ = parse_rtp_info(s);
            let _ = RequestUri::parse(s);
            let _ = SessionHeader::parse(s);
        }
    }

    #[test]
    fn requests_round_trip(r in requests()) {
        let bytes = r.to_bytes();
        let expected = Owned::Request(r).as_parsed();
        prop_assert_eq!(
            parse_message(&bytes, true).map(Owned::from_item),
            Parsed::Complete(expected, bytes.len())
        );
    }

    #[test]
    fn responses_round_trip(r in responses()) {
        let bytes = r.to_bytes();
        if r.dialect == Dialect::Classic {
            prop_assert!(bytes.len() < CLASSIC_MAX_REPLY);
        }
        let expected = Owned::Response(r).as_parsed();
        prop_assert_eq!(
            parse_message(&bytes, true).map(Owned::from_item),
            Parsed::Complete(expected, bytes.len())
        );
    }

    #[test]
    fn every_split_of_a_message_gives_the_same_result(item in items()) {
        let bytes = item.to_bytes();
        for k in 0..bytes.len() {
            let p = parse_message(&bytes[..k], false);
            prop_assert!(matches!(p, Parsed::Incomplete(_)), "prefix {} gave {:?}", k, p);
            prop_assert_eq!(feed(&bytes, &[k.max(1), bytes.len()]), Ok(vec![item.as_parsed()]));
        }
    }

    #[test]
    fn a_stream_of_items_parses_the_same_in_any_chunks(
        items in proptest::collection::vec(items(), 1..6),
        chunks in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let bytes: Vec<u8> = items.iter().flat_map(Owned::to_bytes).collect();
        let expected: Vec<Owned> = items.iter().map(Owned::as_parsed).collect();
        prop_assert_eq!(feed(&bytes, &[bytes.len()]), Ok(expected.clone()));
        prop_assert_eq!(feed(&bytes, &chunks), Ok(expected));
    }

    #[test]
    fn transports_round_trip(
        tcp: bool,
        classic: bool,
        a: u16,
        b: Option<u16>,
        ch in proptest::option::of((any::<u8>(), any::<u8>())),
        ssrc: Option<u32>,
        server in proptest::option::of((any::<u16>(), any::<u16>())),
        play: bool,
    ) {
        let t = if classic {
            Transport { classic: true, client_port: Some(PortPair { rtp: a, rtcp: None }), ..Transport::default() }
        } else {
            let mut t = if tcp {
                Transport::tcp_interleaved(ChannelPair { rtp: a as u8, rtcp: b.map(|b| b as u8) })
            } else {
                Transport::udp_unicast(PortPair { rtp: a, rtcp: b })
            };
            if let Some((x, y)) = ch {
                t.interleaved = Some(ChannelPair::new(x, y));
            }
            t.ssrc = ssrc;
            t.server_port = server.map(|(x, y)| PortPair::new(x, y));
            t.mode = play.then_some(Mode::Play);
            t
        };
        prop_assert_eq!(Transport::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn ranges_round_trip(
        (start_ms, end_ms) in prop_oneof![
            (proptest::option::of(0u64..100_000_000), proptest::option::of(0u64..100_000_000))
                .prop_filter("one end", |(s, e)| s.is_some() || e.is_some()),
            (0u64..100_000_000).prop_map(|e| (None, Some(e))),
        ],
        now: bool,
    ) {
        let time = |ms: u64| NptTime::Time(Duration::from_millis(ms));
        let r = NptRange {
            start: if now { Some(NptTime::Now) } else { start_ms.map(time) },
            end: end_ms.map(time),
        };
        prop_assert_eq!(NptRange::parse(&r.to_string()), Ok(r));
    }
}
