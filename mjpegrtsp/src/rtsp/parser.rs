//! The incremental parser of an RTSP connection's byte stream.
//!
//! [`Parser::parse`] looks at the start of a buffer and finds one item:
//! a request, a response, or an interleaved binary frame. It keeps no state
//! between calls: the caller appends what it reads to its buffer, calls
//! `parse` until it stops returning [`Parsed::Complete`], and drops the
//! consumed bytes after each item. Empty lines before a message are skipped
//! (and counted in the consumed bytes).
//!
//! Both dialects are understood; the module docs of [`super`] explain how a
//! classic message, which has no blank line at its end, is found complete
//! and what `at_rest` means. Whatever the bytes, parsing never panics, and a
//! malformed head is reported as soon as the line that breaks it is seen
//! (or, for a line that is still incomplete, as soon as it holds a byte that
//! no valid line holds), so that garbage does not fill the buffer up to the
//! limits first.

use std::fmt;

use super::headers::{Headers, names};
use super::interleaved::{InterleavedFrame, MAGIC, decode_interleaved};
use super::message::{Method, Request, Response, StatusCode, Version};
use super::{Dialect, Incomplete, Parsed};

/// Size limits of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head: start line, headers and the blank line, in bytes.
    pub max_head: usize,
    /// Most header lines (continuation lines not counted).
    pub max_headers: usize,
    /// Largest body (`Content-Length`).
    pub max_body: usize,
}

impl Default for Limits {
    /// 8 KiB of head, 64 headers, 64 KiB of body.
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_headers: 64,
            max_body: 64 * 1024,
        }
    }
}

/// What one parse found at the start of the buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// A request (what a server reads).
    Request(Request),
    /// A response (what a client reads).
    Response(Response),
    /// An interleaved binary frame, borrowed from the buffer.
    Interleaved(InterleavedFrame<'a>),
}

/// Why the bytes are not an RTSP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The first line is neither `METHOD URI RTSP/x.y` nor
    /// `RTSP/x.y CODE [reason]`.
    BadStartLine,
    /// A header line is not `Name: value` (`line` counts from 1, the start
    /// line being line 1).
    BadHeaderLine {
        /// Which line.
        line: usize,
    },
    /// `Content-Length` is not a number, or two of them differ, or a message
    /// without a blank line claims a body.
    BadContentLength,
    /// The head is longer than [`Limits::max_head`].
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header lines than [`Limits::max_headers`].
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// `Content-Length` is over [`Limits::max_body`].
    BodyTooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// [`decode_interleaved`] was given bytes that do not start with `$`.
    NotInterleaved,
}

impl ParseError {
    /// The status a server answers with: 400, 413 for a body over the
    /// limit, 431 for a head over the limits.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadStartLine
            | Self::BadHeaderLine { .. }
            | Self::BadContentLength
            | Self::NotInterleaved => StatusCode::BAD_REQUEST,
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::BodyTooLarge { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadStartLine => f.write_str("malformed request or status line"),
            Self::BadHeaderLine { line } => write!(f, "malformed header on line {line}"),
            Self::BadContentLength => f.write_str("invalid Content-Length"),
            Self::HeadTooLarge { limit } => write!(f, "message head over {limit} bytes"),
            Self::TooManyHeaders { limit } => write!(f, "more than {limit} headers"),
            Self::BodyTooLarge { len, limit } => {
                write!(f, "body of {len} bytes is over the limit of {limit}")
            }
            Self::NotInterleaved => f.write_str("not an interleaved frame"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The parser: its [`Limits`] and nothing else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parser {
    limits: Limits,
}

/// [`Parser::parse`] with the default [`Limits`].
pub fn parse_message(buf: &[u8], at_rest: bool) -> Parsed<Item<'_>> {
    Parser::new().parse(buf, at_rest)
}

impl Parser {
    /// A parser with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self { limits }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Finds the item at the start of `buf`.
    ///
    /// `at_rest` says that no more bytes are on their way for now (see the
    /// module docs of [`super`]); it only matters for a classic message that
    /// ends exactly at the end of `buf`.
    pub fn parse<'a>(&self, buf: &'a [u8], at_rest: bool) -> Parsed<Item<'a>> {
        let lead = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if lead > self.limits.max_head {
            return Parsed::Error(ParseError::HeadTooLarge {
                limit: self.limits.max_head,
            });
        }
        let rest = &buf[lead..];
        match rest.first() {
            None => return Parsed::Incomplete(Incomplete::NeedMore),
            Some(&MAGIC) => {
                return match decode_interleaved(rest) {
                    Parsed::Complete(frame, n) => {
                        Parsed::Complete(Item::Interleaved(frame), lead + n)
                    }
                    Parsed::Incomplete(i) => Parsed::Incomplete(i),
                    Parsed::Error(e) => Parsed::Error(e),
                };
            }
            Some(_) => {}
        }
        match self.scan(rest, at_rest) {
            Ok(Scan::Incomplete(i)) => Parsed::Incomplete(i),
            Ok(Scan::Head(head)) => match self.build(rest, head) {
                Ok(Some((item, n))) => Parsed::Complete(item, lead + n),
                Ok(None) => Parsed::Incomplete(Incomplete::NeedMore),
                Err(e) => Parsed::Error(e),
            },
            Err(e) => Parsed::Error(e),
        }
    }

    /// Reads lines until the head is complete.
    fn scan<'a>(&self, rest: &'a [u8], at_rest: bool) -> Result<Scan<'a>, ParseError> {
        let max_head = self.limits.max_head;
        let head_too_large = ParseError::HeadTooLarge { limit: max_head };
        let mut pos = 0;
        let mut line_no = 0;
        let mut start: Option<&[u8]> = None;
        let mut bare_lf = false;
        let mut headers: Vec<(&[u8], Vec<u8>)> = Vec::new();

        loop {
            let Some(nl) = rest[pos..].iter().position(|&b| b == b'\n') else {
                check_partial_line(&rest[pos..], start.is_none(), line_no + 1)?;
                if rest.len() > max_head {
                    return Err(head_too_large);
                }
                return Ok(Scan::Incomplete(Incomplete::NeedMore));
            };
            let end = pos + nl;
            let next = end + 1;
            if next > max_head {
                return Err(head_too_large);
            }
            let raw = &rest[pos..end];
            let (line, crlf) = match raw.strip_suffix(b"\r") {
                Some(l) => (l, true),
                None => (raw, false),
            };
            line_no += 1;

            if start.is_none() {
                parse_start_line(line)?;
                start = Some(line);
                bare_lf = !crlf;
            } else if line.is_empty() {
                return Ok(Scan::Head(Head {
                    start: start.unwrap_or_default(),
                    headers,
                    len: next,
                    blank_line: true,
                }));
            } else if bare_lf && parse_start_line(line).is_ok() {
                // A classic message ends where the next one begins.
                return classic_end(start, headers, pos);
            } else if line[0] == b' ' || line[0] == b'\t' {
                let bad = ParseError::BadHeaderLine { line: line_no };
                check_value(line).map_err(|()| bad)?;
                let (_, value) = headers.last_mut().ok_or(bad)?;
                // One space joins two non-empty parts, and nothing else: the
                // value must read the same once written out again.
                let more = line.trim_ascii();
                if !value.is_empty() && !more.is_empty() {
                    value.push(b' ');
                }
                value.extend_from_slice(more);
            } else {
                let (name, value) =
                    split_header(line).ok_or(ParseError::BadHeaderLine { line: line_no })?;
                headers.push((name, value.to_vec()));
                if headers.len() > self.limits.max_headers {
                    return Err(ParseError::TooManyHeaders {
                        limit: self.limits.max_headers,
                    });
                }
            }
            pos = next;

            if bare_lf {
                match rest.get(pos) {
                    None => {
                        if self.content_length(&headers)?.unwrap_or(0) > 0 {
                            return Ok(Scan::Incomplete(Incomplete::NeedMore));
                        }
                        if !at_rest && !classic_shape_is_whole(start, &headers) {
                            return Ok(Scan::Incomplete(Incomplete::CompleteIfIdle));
                        }
                        return classic_end(start, headers, pos);
                    }
                    Some(&MAGIC) => return classic_end(start, headers, pos),
                    Some(_) => {}
                }
            }
        }
    }

    /// `Content-Length`: `None` when absent; an error when malformed,
    /// inconsistent or over the limit.
    fn content_length(&self, headers: &[(&[u8], Vec<u8>)]) -> Result<Option<u64>, ParseError> {
        let mut len = None;
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case(names::CONTENT_LENGTH.as_bytes()) {
                continue;
            }
            let v = value.trim_ascii();
            if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
                return Err(ParseError::BadContentLength);
            }
            let n = v
                .iter()
                .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
            if len.is_some_and(|l| l != n) {
                return Err(ParseError::BadContentLength);
            }
            len = Some(n);
        }
        if let Some(n) = len
            && n > self.limits.max_body as u64
        {
            return Err(ParseError::BodyTooLarge {
                len: n,
                limit: self.limits.max_body,
            });
        }
        Ok(len)
    }

    /// The whole item once the head is known; `None` while the body is
    /// still incomplete.
    fn build<'a>(
        &self,
        rest: &'a [u8],
        head: Head<'_>,
    ) -> Result<Option<(Item<'a>, usize)>, ParseError> {
        let body_len = self.content_length(&head.headers)?.unwrap_or(0);
        if !head.blank_line && body_len > 0 {
            return Err(ParseError::BadContentLength);
        }
        // body_len <= max_body, a usize.
        let total = head.len + body_len as usize;
        let Some(body) = rest.get(head.len..total) else {
            return Ok(None);
        };
        let headers: Headers = head
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let dialect = if head.blank_line {
            Dialect::Standard
        } else {
            Dialect::Classic
        };
        let item = match parse_start_line(head.start)? {
            StartLine::Request {
                method,
                uri,
                version,
            } => Item::Request(Request {
                method: Method::parse(method),
                uri: uri.to_owned(),
                version,
                headers,
                body: body.to_vec(),
                dialect,
            }),
            StartLine::Response {
                version,
                status,
                reason,
            } => Item::Response(Response {
                version,
                status,
                reason,
                headers,
                body: body.to_vec(),
                dialect,
            }),
        };
        Ok(Some((item, total)))
    }
}

enum Scan<'a> {
    Incomplete(Incomplete),
    Head(Head<'a>),
}

struct Head<'a> {
    /// The start line without its line end.
    start: &'a [u8],
    /// Names and (unfolded) values.
    headers: Vec<(&'a [u8], Vec<u8>)>,
    /// Bytes of the head, its line end or blank line included.
    len: usize,
    /// Whether a blank line ended it (else it is a classic message).
    blank_line: bool,
}

/// Whether a classic request is whole by the seed client's known shape,
/// with no need to wait for silence: its SETUP ends with its `Transport`
/// line, its PLAY, PAUSE and TEARDOWN with `Session`. Anything else (a
/// reply, another method, another last header) is not known to be whole.
fn classic_shape_is_whole(start: Option<&[u8]>, headers: &[(&[u8], Vec<u8>)]) -> bool {
    let (Some(start), Some((last, _))) = (start, headers.last()) else {
        return false;
    };
    let method = start.split(|&b| b == b' ').next().unwrap_or_default();
    let ends_with = match method {
        b"SETUP" => names::TRANSPORT,
        b"PLAY" | b"PAUSE" | b"TEARDOWN" => names::SESSION,
        _ => return false,
    };
    last.eq_ignore_ascii_case(ends_with.as_bytes())
}

fn classic_end<'a>(
    start: Option<&'a [u8]>,
    headers: Vec<(&'a [u8], Vec<u8>)>,
    len: usize,
) -> Result<Scan<'a>, ParseError> {
    Ok(Scan::Head(Head {
        start: start.unwrap_or_default(),
        headers,
        len,
        blank_line: false,
    }))
}

enum StartLine<'a> {
    Request {
        method: &'a str,
        uri: &'a str,
        version: Version,
    },
    Response {
        version: Version,
        status: StatusCode,
        reason: String,
    },
}

/// `token` characters of RFC 2616 §2.2: what a method or header name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A control character that may not appear inside a line (TAB may).
fn is_forbidden(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7F
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    let bad = ParseError::BadStartLine;
    if line.iter().any(|&b| is_forbidden(b)) {
        return Err(bad);
    }
    if let Some(after) = line
        .strip_prefix(b"RTSP/")
        .or_else(|| line.strip_prefix(b"HTTP/"))
    {
        let sp = after.iter().position(|&b| b == b' ').ok_or(bad)?;
        let version = std::str::from_utf8(&line[..5 + sp])
            .ok()
            .and_then(Version::parse)
            .ok_or(bad)?;
        let rest = after[sp..].trim_ascii_start();
        let code = rest.get(..3).ok_or(bad)?;
        if !code.iter().all(u8::is_ascii_digit)
            || rest.get(3).is_some_and(|&b| b != b' ' && b != b'\t')
        {
            return Err(bad);
        }
        let code = code
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        let status = StatusCode::new(code).ok_or(bad)?;
        let reason = String::from_utf8_lossy(rest[3..].trim_ascii()).into_owned();
        return Ok(StartLine::Response {
            version,
            status,
            reason,
        });
    }
    let line = std::str::from_utf8(line).map_err(|_| bad)?;
    let (method, rest) = line.split_once([' ', '\t']).ok_or(bad)?;
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad);
    }
    let rest = rest.trim_ascii();
    let (uri, version) = rest.rsplit_once([' ', '\t']).ok_or(bad)?;
    let uri = uri.trim_ascii();
    let version = Version::parse(version).ok_or(bad)?;
    if uri.is_empty() {
        return Err(bad);
    }
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

/// Rejects an incomplete line as soon as it cannot begin a valid one: a
/// forbidden byte (a CR only as the very last byte, before its LF), or, for
/// a start line, a first word that is neither a method nor `RTSP/…`.
fn check_partial_line(partial: &[u8], is_start: bool, line: usize) -> Result<(), ParseError> {
    let bad = if is_start {
        ParseError::BadStartLine
    } else {
        ParseError::BadHeaderLine { line }
    };
    let body = partial.strip_suffix(b"\r").unwrap_or(partial);
    if body.iter().any(|&b| is_forbidden(b)) {
        return Err(bad);
    }
    if is_start && !partial.is_empty() {
        let word_end = partial
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(partial.len());
        let word = &partial[..word_end];
        let n = word.len().min(5);
        let status_like = word[..n] == b"RTSP/"[..n];
        if word.is_empty() || (!status_like && !word.iter().all(|&b| is_tchar(b))) {
            return Err(bad);
        }
    }
    Ok(())
}

fn check_value(v: &[u8]) -> Result<(), ()> {
    if v.iter().any(|&b| is_forbidden(b)) {
        Err(())
    } else {
        Ok(())
    }
}

/// `Name: value` into the name and the trimmed value.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line[..colon].trim_ascii_end();
    let value = line[colon + 1..].trim_ascii();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    check_value(value).ok()?;
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buf: &[u8], at_rest: bool) -> (Request, usize) {
        match parse_message(buf, at_rest) {
            Parsed::Complete(Item::Request(r), n) => (r, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn standard_request_with_body_and_folding() {
        let buf = b"\r\nSET_PARAMETER rtsp://h/a RTSP/1.0\r\nCSeq: 9\r\nX-Long: a\r\n  b\r\ncontent-length: 3\r\n\r\nabcNEXT";
        let (r, n) = request(buf, false);
        assert_eq!(n, buf.len() - 4);
        assert_eq!(r.method, Method::SetParameter);
        assert_eq!(r.headers.get("X-LONG"), Some("a b"));
        assert_eq!(r.body, b"abc");
        assert_eq!(r.dialect, Dialect::Standard);
        assert_eq!(r.cseq(), Some(9));
    }

    /// Found by fuzzing: a value folded onto an empty one began with a
    /// space, which writing the header out and reading it back lost.
    #[test]
    fn folding_onto_an_empty_value_adds_no_space() {
        let (r, _) = request(
            b"OPTIONS * RTSP/1.0\r\nX-A:\r\n  folded\r\nCSeq: 1\r\n\r\n",
            false,
        );
        assert_eq!(r.headers.get("X-A"), Some("folded"));
    }

    #[test]
    fn the_seed_clients_requests_are_whole_by_their_shape() {
        for whole in [
            &b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n"[..],
            b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 419485\n",
            b"PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nsession: 419485\n",
            b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: 419485\n",
        ] {
            let (r, n) = request(whole, false);
            assert_eq!((r.dialect, n), (Dialect::Classic, whole.len()));
            // Cut after an earlier line, it still waits.
            let cut = whole.len()
                - 1
                - whole[..whole.len() - 1]
                    .iter()
                    .rev()
                    .position(|&b| b == b'\n')
                    .unwrap();
            assert_eq!(
                parse_message(&whole[..cut], false),
                Parsed::Incomplete(Incomplete::CompleteIfIdle)
            );
        }
        // Other shapes wait for rest: a reply, another method, another
        // last header.
        for unsure in [
            &b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\n"[..],
            b"DESCRIBE movie.Mjpeg RTSP/1.0\nCSeq: 1\nSession: 1\n",
            b"SETUP movie.Mjpeg RTSP/1.0\nTransport: RTP/UDP; client_port= 25000\nCSeq: 1\n",
        ] {
            assert_eq!(
                parse_message(unsure, false),
                Parsed::Incomplete(Incomplete::CompleteIfIdle)
            );
        }
    }

    #[test]
    fn classic_request_needs_rest_or_a_successor() {
        // Not of a known whole shape (its last line is CSeq).
        let one = b"PLAY movie.Mjpeg RTSP/1.0\nSession: 419485\nCSeq: 2\n";
        assert_eq!(
            parse_message(one, false),
            Parsed::Incomplete(Incomplete::CompleteIfIdle)
        );
        let (r, n) = request(one, true);
        assert_eq!((r.dialect, n), (Dialect::Classic, one.len()));
        let two = [&one[..], b"PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\n"].concat();
        let (r, n) = request(&two, false);
        assert_eq!((r.method, n), (Method::Play, one.len()));
        let (r, _) = request(&two[n..], true);
        assert_eq!(r.method, Method::Pause);
        let with_frame = [&one[..], b"$\x01\x00\x00"].concat();
        assert_eq!(request(&with_frame, false).1, one.len());
        // An incomplete last line is never complete, at rest or not.
        assert_eq!(
            parse_message(&one[..one.len() - 1], true),
            Parsed::Incomplete(Incomplete::NeedMore)
        );
        // A bare-LF message with a blank line is framed the standard way.
        let (r, _) = request(b"OPTIONS * RTSP/1.0\nCSeq: 1\n\n", false);
        assert_eq!(r.dialect, Dialect::Standard);
        // CRLF messages never complete without their blank line.
        assert_eq!(
            parse_message(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n", true),
            Parsed::Incomplete(Incomplete::NeedMore)
        );
        // A classic head announcing a body waits for its blank line.
        assert_eq!(
            parse_message(b"SET_PARAMETER x RTSP/1.0\nContent-Length: 2\n", true),
            Parsed::Incomplete(Incomplete::NeedMore)
        );
        assert_eq!(
            parse_message(
                b"SET_PARAMETER x RTSP/1.0\nContent-Length: 2\n$\x00\x00\x00",
                true
            ),
            Parsed::Error(ParseError::BadContentLength)
        );
    }

    #[test]
    fn responses() {
        let buf = b"RTSP/1.0 200 OK\nCSeq: 1\n";
        match parse_message(buf, true) {
            Parsed::Complete(Item::Response(r), n) => {
                assert_eq!(n, buf.len());
                assert_eq!((r.status, r.reason.as_str()), (StatusCode::OK, "OK"));
                assert_eq!(r.dialect, Dialect::Classic);
                assert_eq!(r.session(), Ok(None));
            }
            other => panic!("{other:?}"),
        }
        match parse_message(b"RTSP/1.0 454\r\nCSeq: 3\r\n\r\n", false) {
            Parsed::Complete(Item::Response(r), _) => {
                assert_eq!(
                    (r.status, r.reason.as_str()),
                    (StatusCode::SESSION_NOT_FOUND, "")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_messages_share_the_syntax() {
        let (r, used) = request(
            b"GET /stream/a.Mjpeg?t=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            false,
        );
        assert_eq!(used, 45);
        assert_eq!(r.version, Version::HTTP_1_1);
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.uri, "/stream/a.Mjpeg?t=1");
        match parse_message(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", false) {
            Parsed::Complete(Item::Response(r), 40) => {
                assert_eq!(
                    (r.version, r.body.as_slice()),
                    (Version::HTTP_1_1, &b"hi"[..])
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_come_early() {
        let cases: [(&[u8], ParseError); 12] = [
            (b"\x00", ParseError::BadStartLine),
            (b" OPTIONS", ParseError::BadStartLine),
            (b"GET\x80", ParseError::BadStartLine),
            (b"OPT:ONS", ParseError::BadStartLine),
            (b"OPTIONS *\r\n", ParseError::BadStartLine),
            (b"GET / SIP/2.0\r\n", ParseError::BadStartLine),
            (b"RTSP/1.0 20 OK\r\n", ParseError::BadStartLine),
            (
                b"OPTIONS * RTSP/1.0\r\nno colon\r\n",
                ParseError::BadHeaderLine { line: 2 },
            ),
            (
                b"OPTIONS * RTSP/1.0\r\n : x\r\n",
                ParseError::BadHeaderLine { line: 2 },
            ),
            (
                b"OPTIONS * RTSP/1.0\r\nA: \x01",
                ParseError::BadHeaderLine { line: 2 },
            ),
            (
                b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ParseError::BadContentLength,
            ),
        ];
        for (buf, err) in cases {
            assert_eq!(
                parse_message(buf, false),
                Parsed::Error(err),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        // A request for a method we don't know parses: the server answers 501.
        let (r, _) = request(b"FROBNICATE * RTSP/1.0\r\n\r\n", false);
        assert_eq!(r.method, Method::Other("FROBNICATE".into()));
        // So does another version: the server answers 505.
        let (r, _) = request(b"OPTIONS * RTSP/2.0\r\n\r\n", false);
        assert_eq!(r.version, Version::rtsp(2, 0));
    }

    #[test]
    fn limits() {
        let limits = Limits::default();
        let big = [b"OPTIONS * RTSP/1.0\r\nX: ".as_slice(), &[b'a'; 8200]].concat();
        assert_eq!(
            parse_message(&big, false),
            Parsed::Error(ParseError::HeadTooLarge {
                limit: limits.max_head
            })
        );
        assert_eq!(
            ParseError::HeadTooLarge { limit: 1 }.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let mut many = b"OPTIONS * RTSP/1.0\r\n".to_vec();
        for i in 0..65 {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        assert_eq!(
            parse_message(&many, false),
            Parsed::Error(ParseError::TooManyHeaders { limit: 64 })
        );
        let body = b"ANNOUNCE x RTSP/1.0\r\nContent-Length: 65537\r\n\r\n";
        let err = ParseError::BodyTooLarge {
            len: 65_537,
            limit: 65_536,
        };
        assert_eq!(parse_message(body, false), Parsed::Error(err));
        assert_eq!(err.status(), StatusCode::REQUEST_ENTITY_TOO_LARGE);
        let huge = b"ANNOUNCE x RTSP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n";
        assert_eq!(
            parse_message(huge, false),
            Parsed::Error(ParseError::BadContentLength)
        );
        let tight = Parser::with_limits(Limits {
            max_head: 30,
            max_headers: 1,
            max_body: 0,
        });
        assert_eq!(
            tight.parse(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", false),
            Parsed::Error(ParseError::HeadTooLarge { limit: 30 })
        );
        assert_eq!(
            tight.parse(&[b'\n'; 31], false),
            Parsed::Error(ParseError::HeadTooLarge { limit: 30 })
        );
    }

    #[test]
    fn interleaved_between_messages() {
        let buf = b"\r\n$\x01\x00\x02ab";
        assert_eq!(
            parse_message(buf, false),
            Parsed::Complete(
                Item::Interleaved(InterleavedFrame {
                    channel: 1,
                    payload: b"ab"
                }),
                8
            )
        );
        assert_eq!(
            parse_message(&buf[..7], true),
            Parsed::Incomplete(Incomplete::NeedMore)
        );
    }
}
