//! What the fuzz targets (`fuzz/`, `cargo fuzz`) check, one function a
//! target, so that the inputs they once failed on (`fuzz/regressions/`)
//! replay as ordinary tests (`tests/tests/fuzz_regressions.rs`). Each
//! function takes any bytes and panics only when an invariant it states is
//! broken. Behind the `fuzzing` feature.

use crate::container::stream::Item as ContainerItem;
use crate::container::{EOI, Index, SOI, StreamParser, is_whole_jpeg};
use crate::rtp::header;
use crate::rtp::reassembly::{Limits, Reassembler, ReassemblyMode};
use crate::rtp::rfc2435_depay::Depacketizer;
use crate::rtsp::{
    Item, NptRange, Parsed, Parser, RtpMap, SdesCrypto, Sdp, SessionHeader, decode_interleaved,
    encode_interleaved, negotiate_secure_transport, negotiate_transport, parse_rtp_info,
    parse_transports,
};

/// RTSP messages in both dialects, requests and replies, as a server or
/// client reads them: bytes arriving in chunks, parsed until nothing whole
/// is left. Whatever the bytes: no panic, every item takes at least one byte
/// and no more than there are, the bytes an item took parse alone as the
/// same item, and a request or reply written back out parses again as what
/// was written.
pub fn rtsp_message(data: &[u8]) {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let parser = Parser::new();
    let mut buf = Vec::new();
    let mut pos = 0;
    loop {
        let at_rest = pos == bytes.len();
        while let Parsed::Complete(item, used) = parser.parse(&buf, at_rest) {
            assert!(used > 0 && used <= buf.len());
            assert_eq!(
                parser.parse(&buf[..used], true),
                Parsed::Complete(item.clone(), used)
            );
            rewritten_parses_back(&parser, &item);
            buf.drain(..used);
        }
        if at_rest {
            return;
        }
        let n = chunk.min(bytes.len() - pos);
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
    }
}

/// A parsed request or reply, written out, parses back to itself.
fn rewritten_parses_back(parser: &Parser, item: &Item<'_>) {
    match item {
        Item::Request(r) => {
            let bytes = r.to_bytes();
            match parser.parse(&bytes, true) {
                Parsed::Complete(Item::Request(again), n) => {
                    assert_eq!(n, bytes.len());
                    assert_eq!(again.to_bytes(), bytes);
                }
                other => panic!("{r:?} wrote {bytes:?}, which parses as {other:?}"),
            }
        }
        Item::Response(r) => {
            let bytes = r.to_bytes();
            match parser.parse(&bytes, true) {
                Parsed::Complete(Item::Response(again), n) => {
                    assert_eq!(n, bytes.len());
                    assert_eq!(again.to_bytes(), bytes);
                }
                other => panic!("{r:?} wrote {bytes:?}, which parses as {other:?}"),
            }
        }
        Item::Interleaved(_) => {}
    }
}

/// The structured RTSP header values: Transport, Range, RTP-Info, Session,
/// Authorization and WWW-Authenticate. No panic whatever the text, and a value that parses, written
/// back out, parses to the same value.
pub fn rtsp_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(transports) = parse_transports(text) {
        for t in transports {
            let written = t.to_string();
            let again = parse_transports(&written).expect("a written Transport parses");
            assert_eq!(again.len(), 1, "{written}");
            assert_eq!(again[0].to_string(), written);
        }
    }
    let _ = negotiate_transport(text);
    let _ = negotiate_secure_transport(text);
    if let Ok(range) = NptRange::parse(text) {
        let written = range.to_string();
        assert_eq!(
            NptRange::parse(&written).map(|r| r.to_string()),
            Ok(written.clone()),
            "{text:?}"
        );
    }
    let _ = parse_rtp_info(text);
    if let Ok(session) = SessionHeader::parse(text) {
        let written = session.to_string();
        assert_eq!(
            SessionHeader::parse(&written).map(|s| s.to_string()),
            Ok(written)
        );
    }
    if let Ok(auth) = crate::rtsp::auth::Authorization::parse(text) {
        let written = auth.to_string();
        assert_eq!(
            crate::rtsp::auth::Authorization::parse(&written).as_ref(),
            Ok(&auth),
            "{text:?} → {written:?}"
        );
    }
    for challenge in crate::rtsp::auth::parse_challenges(text) {
        let written = challenge.to_string();
        assert_eq!(
            crate::rtsp::auth::parse_challenges(&written),
            vec![challenge],
            "{text:?} → {written:?}"
        );
    }
}

/// SDP session descriptions as a client reads them from DESCRIBE, and the
/// bytes as a MIKEY message. No panic whatever the text; an SRTP key read
/// (SDES or MIKEY) is written back as read.
pub fn sdp(data: &[u8]) {
    if let Ok(sdp) = Sdp::parse_bytes(data) {
        for media in &sdp.media {
            let _ = format!("{media:?}");
            let _ = (media.crypto(), media.key_mgmt(), media.is_secure());
        }
    }
    // The bytes as a MIKEY message: a key read is written and read again.
    if let Ok(read) = crate::rtsp::mikey::parse(data) {
        let ssrc = read.sessions.first().map_or(0, |s| s.0);
        let again = crate::rtsp::mikey::parse(&crate::rtsp::mikey::offer(&read.key, ssrc));
        assert_eq!(again.map(|m| m.key), Ok(read.key));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RtpMap::parse(text);
        if let Some(crypto) = SdesCrypto::parse(text) {
            let again = SdesCrypto::parse(&crypto.to_string()).expect("a written key parses");
            assert_eq!(again, crypto);
        }
    }
}

/// `$`-framed interleaved data (RFC 2326 §10.12). No panic; a frame taken
/// is the header and exactly its payload, and framing it again gives back
/// the same bytes.
pub fn interleaved(data: &[u8]) {
    let mut rest = data;
    while let Parsed::Complete(frame, used) = decode_interleaved(rest) {
        assert!(used >= 4 && used <= rest.len());
        assert_eq!(used, 4 + frame.payload.len());
        let mut again = Vec::new();
        encode_interleaved(frame.channel, frame.payload, &mut again).expect("it fitted before");
        assert_eq!(again, &rest[..used]);
        rest = &rest[used..];
    }
}

/// The `.Mjpeg` container (five ASCII digits of length, then a JPEG) read
/// both ways: indexed as a file (seekable) and parsed as a stream arriving
/// in chunks. No panic; every frame either gives is a whole JPEG (the index
/// checks a frame's end when it is read, and a frame that is not whole is
/// an `InvalidData` error, never data); and both find the same frames.
pub fn container(data: &[u8]) {
    let Some((&chunk, file)) = data.split_first() else {
        return;
    };
    let index = Index::build(file).expect("reading a slice never fails");
    let mut indexed = Vec::new();
    for entry in index.frames() {
        match entry.read(file) {
            Ok(frame) => {
                assert!(is_whole_jpeg(&frame));
                indexed.push(frame);
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}"),
        }
    }
    let mut parser = StreamParser::new();
    let mut streamed = Vec::new();
    for piece in file.chunks(usize::from(chunk).max(1)) {
        parser.push(piece);
        while let Some(item) = parser.next_item() {
            if let ContainerItem::Frame { data, .. } = item {
                assert!(is_whole_jpeg(&data));
                streamed.push(data);
            }
        }
    }
    let _ = parser.finish();
    assert_eq!(indexed, streamed);
}

/// The RFC 2435 depacketizer fed a stream of RTP packets (each a one-byte
/// length, then the packet). No panic, and every JPEG it hands out is
/// whole: SOI first, EOI last — never a partial frame shown as whole.
pub fn rfc2435_depay(data: &[u8]) {
    let mut depay = Depacketizer::with_max_frame_len(1 << 20);
    let mut rest = data;
    while let Some((&len, after)) = rest.split_first() {
        let len = usize::from(len).min(after.len());
        let (packet, next) = after.split_at(len);
        rest = next;
        let Ok(p) = header::parse(packet) else {
            continue;
        };
        let h = p.header;
        if let Ok(Some(jpeg)) = depay.push(h.sequence_number, h.timestamp, h.marker, p.payload) {
            assert!(
                is_whole_jpeg(&jpeg),
                "a partial JPEG of {} bytes",
                jpeg.len()
            );
        }
    }
}

/// The 12-byte-header scheme's reassembler fed a stream of RTP packets
/// (each a one-byte length, then the packet) in the mode the first byte
/// picks. No panic, every frame it hands out is a whole JPEG, and what it
/// holds stays within its limits.
pub fn reassembly(data: &[u8]) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mode = match mode % 3 {
        0 => ReassemblyMode::Auto,
        1 => ReassemblyMode::WholeFrame,
        _ => ReassemblyMode::Fragmented,
    };
    let limits = Limits {
        max_pending_frames: 8,
        max_pending_bytes: 4096,
        ..Limits::default()
    };
    let mut r = Reassembler::<Vec<u8>>::with_limits(mode, limits);
    while let Some((&len, after)) = rest.split_first() {
        let len = usize::from(len).min(after.len());
        let (packet, next) = after.split_at(len);
        rest = next;
        let Ok(p) = header::parse(packet) else {
            r.record_invalid();
            continue;
        };
        for frame in r.push(&p.header, p.payload.to_vec(), None) {
            let jpeg = frame.pieces.concat();
            assert!(jpeg.starts_with(&SOI) && jpeg.ends_with(&EOI), "{jpeg:?}");
        }
        assert!(r.pending_frames() <= limits.max_pending_frames);
    }
    r.drain();
}

/// The first bytes of a connection as a PROXY protocol header (v1 or v2).
/// No panic; a header read took no more bytes than there are, and what it
/// says, written again, reads back the same.
pub fn proxy_protocol(data: &[u8]) {
    use crate::proxy_protocol::{Parsed, ProxyHeader, encode_v1, encode_v2, parse};
    let _ = crate::proxy_protocol::looks_like_header(data);
    if let Parsed::Complete(header, used) = parse(data) {
        assert!(used <= data.len());
        if let ProxyHeader::Proxied {
            source,
            destination,
        } = header
        {
            if source.is_ipv4() == destination.is_ipv4() {
                let v1 = encode_v1(source, destination);
                assert_eq!(parse(&v1), Parsed::Complete(header, v1.len()));
            }
            let v2 = encode_v2(source, destination);
            assert!(matches!(parse(&v2), Parsed::Complete(_, n) if n == v2.len()));
        }
    }
}
