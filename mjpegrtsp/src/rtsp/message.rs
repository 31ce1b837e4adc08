//! Requests and responses, their methods and status codes, and how they are
//! written in each dialect.

use std::fmt;

use super::Dialect;
use super::headers::{Headers, InvalidHeader, SessionHeader, names};
use super::range::{NptRange, RangeError, RtpInfo, parse_rtp_info};
use super::transport::{Transport, TransportError, parse_transports};
use super::uri::{RequestUri, UriError};

/// A classic reply must be shorter than this: the classic client reads it
/// with one `recv(1024)`.
pub const CLASSIC_MAX_REPLY: usize = 1024;

/// An RTSP method. Names are case-sensitive (RFC 2326 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `OPTIONS`
    Options,
    /// `DESCRIBE`
    Describe,
    /// `SETUP`
    Setup,
    /// `PLAY`
    Play,
    /// `PAUSE`
    Pause,
    /// `TEARDOWN`
    Teardown,
    /// `GET_PARAMETER`
    GetParameter,
    /// `SET_PARAMETER`
    SetParameter,
    /// `ANNOUNCE`
    Announce,
    /// `RECORD`
    Record,
    /// `REDIRECT`
    Redirect,
    /// Any other token; a server answers 501 Not Implemented.
    Other(String),
}

impl Method {
    /// The method for a token from a request line.
    pub fn parse(token: &str) -> Self {
        match token {
            "OPTIONS" => Self::Options,
            "DESCRIBE" => Self::Describe,
            "SETUP" => Self::Setup,
            "PLAY" => Self::Play,
            "PAUSE" => Self::Pause,
            "TEARDOWN" => Self::Teardown,
            "GET_PARAMETER" => Self::GetParameter,
            "SET_PARAMETER" => Self::SetParameter,
            "ANNOUNCE" => Self::Announce,
            "RECORD" => Self::Record,
            "REDIRECT" => Self::Redirect,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The token as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Options => "OPTIONS",
            Self::Describe => "DESCRIBE",
            Self::Setup => "SETUP",
            Self::Play => "PLAY",
            Self::Pause => "PAUSE",
            Self::Teardown => "TEARDOWN",
            Self::GetParameter => "GET_PARAMETER",
            Self::SetParameter => "SET_PARAMETER",
            Self::Announce => "ANNOUNCE",
            Self::Record => "RECORD",
            Self::Redirect => "REDIRECT",
            Self::Other(s) => s,
        }
    }

    /// A `Public` header value listing `methods`: `OPTIONS, DESCRIBE, …`.
    pub fn format_public(methods: &[Method]) -> String {
        methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Method {
    fn from(token: &str) -> Self {
        Self::parse(token)
    }
}

/// The protocol of a start line: RTSP, or HTTP, whose message syntax
/// RTSP/1.0 borrows (RFC 2326 §4), so that one parser and one writer serve
/// the server's RTSP and HTTP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `RTSP/x.y`.
    Rtsp,
    /// `HTTP/x.y`.
    Http,
}

/// The protocol version of a start line, `RTSP/major.minor` (or
/// `HTTP/major.minor`). RTSP servers answer 505 to anything but RTSP/1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// RTSP or HTTP.
    pub protocol: Protocol,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl Version {
    /// RTSP/1.0, the only RTSP version this crate speaks.
    pub const RTSP_1_0: Version = Version::rtsp(1, 0);
    /// HTTP/1.1, what the server's HTTP port answers in.
    pub const HTTP_1_1: Version = Version {
        protocol: Protocol::Http,
        major: 1,
        minor: 1,
    };

    /// `RTSP/major.minor`.
    pub const fn rtsp(major: u8, minor: u8) -> Version {
        Version {
            protocol: Protocol::Rtsp,
            major,
            minor,
        }
    }

    /// Parses `RTSP/d.d` or `HTTP/d.d`.
    pub fn parse(s: &str) -> Option<Self> {
        let (protocol, number) = match (s.strip_prefix("RTSP/"), s.strip_prefix("HTTP/")) {
            (Some(n), _) => (Protocol::Rtsp, n),
            (None, Some(n)) => (Protocol::Http, n),
            (None, None) => return None,
        };
        let (major, minor) = number.split_once('.')?;
        let digits = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        Some(Self {
            protocol,
            major: digits(major)?,
            minor: digits(minor)?,
        })
    }
}

impl Default for Version {
    fn default() -> Self {
        Self::RTSP_1_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Rtsp => "RTSP",
            Protocol::Http => "HTTP",
        };
        write!(f, "{protocol}/{}.{}", self.major, self.minor)
    }
}

/// A three-digit status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

macro_rules! status_codes {
    ($($name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`")]
                pub const $name: StatusCode = StatusCode($code);
            )*

            /// The standard reason phrase, or a generic one for the class of
            /// an unknown code.
            pub fn reason_phrase(self) -> &'static str {
                match self.0 {
                    $($code => $reason,)*
                    100..=199 => "Informational",
                    200..=299 => "Success",
                    300..=399 => "Redirection",
                    400..=499 => "Client Error",
                    _ => "Server Error",
                }
            }
        }
    };
}

status_codes! {
    CONTINUE = 100, "Continue";
    OK = 200, "OK";
    CREATED = 201, "Created";
    LOW_ON_STORAGE_SPACE = 250, "Low on Storage Space";
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    SEE_OTHER = 303, "See Other";
    NOT_MODIFIED = 304, "Not Modified";
    USE_PROXY = 305, "Use Proxy";
    BAD_REQUEST = 400, "Bad Request";
    UNAUTHORIZED = 401, "Unauthorized";
    PAYMENT_REQUIRED = 402, "Payment Required";
    FORBIDDEN = 403, "Forbidden";
    NOT_FOUND = 404, "Not Found";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    REQUEST_TIMEOUT = 408, "Request Time-out";
    GONE = 410, "Gone";
    LENGTH_REQUIRED = 411, "Length Required";
    PRECONDITION_FAILED = 412, "Precondition Failed";
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    REQUEST_URI_TOO_LARGE = 414, "Request-URI Too Large";
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
    PARAMETER_NOT_UNDERSTOOD = 451, "Parameter Not Understood";
    CONFERENCE_NOT_FOUND = 452, "Conference Not Found";
    NOT_ENOUGH_BANDWIDTH = 453, "Not Enough Bandwidth";
    SESSION_NOT_FOUND = 454, "Session Not Found";
    METHOD_NOT_VALID_IN_THIS_STATE = 455, "Method Not Valid in This State";
    HEADER_FIELD_NOT_VALID_FOR_RESOURCE = 456, "Header Field Not Valid for Resource";
    INVALID_RANGE = 457, "Invalid Range";
    PARAMETER_IS_READ_ONLY = 458, "Parameter Is Read-Only";
    AGGREGATE_OPERATION_NOT_ALLOWED = 459, "Aggregate operation not allowed";
    ONLY_AGGREGATE_OPERATION_ALLOWED = 460, "Only aggregate operation allowed";
    UNSUPPORTED_TRANSPORT = 461, "Unsupported transport";
    DESTINATION_UNREACHABLE = 462, "Destination unreachable";
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    NOT_IMPLEMENTED = 501, "Not Implemented";
    BAD_GATEWAY = 502, "Bad Gateway";
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    GATEWAY_TIMEOUT = 504, "Gateway Time-out";
    RTSP_VERSION_NOT_SUPPORTED = 505, "RTSP Version not supported";
    OPTION_NOT_SUPPORTED = 551, "Option not supported";
}

impl StatusCode {
    /// A code in 100‥=999.
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 100 && code <= 999 {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code is 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason_phrase())
    }
}

/// An RTSP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request URI as written (`rtsp://host:port/path`, `movie.Mjpeg`,
    /// `*`); [`Request::url`] parses it.
    pub uri: String,
    /// The protocol version.
    pub version: Version,
    /// The headers, `Content-Length` included when it was received.
    pub headers: Headers,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
    /// The dialect it arrived in, or is to be written in.
    pub dialect: Dialect,
}

/// The builder methods requests and responses share (`with_header`,
/// `with_cseq`, `with_session`, `with_body`, `with_dialect`), written once.
macro_rules! builder_methods {
    ($what:literal) => {
        /// Sets a header (replacing one of the same name).
        pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.headers.insert(name, value);
            self
        }

        /// Sets `CSeq`.
        pub fn with_cseq(self, cseq: u32) -> Self {
            self.with_header(names::CSEQ, cseq.to_string())
        }

        /// Sets `Session`. In the classic dialect only its id is written.
        pub fn with_session(self, session: &SessionHeader) -> Self {
            self.with_header(names::SESSION, session.to_string())
        }

        /// Sets the body and its `Content-Type`.
        pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
            self.headers.insert(names::CONTENT_TYPE, content_type);
            self.body = body.into();
            self
        }

        #[doc = concat!("Sets the dialect to write the ", $what, " in.")]
        pub fn with_dialect(mut self, dialect: Dialect) -> Self {
            self.dialect = dialect;
            self
        }
    };
}

impl Request {
    /// A standard-dialect RTSP/1.0 request with no headers.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            version: Version::RTSP_1_0,
            headers: Headers::new(),
            body: Vec::new(),
            dialect: Dialect::Standard,
        }
    }

    builder_methods!("request");

    /// Parses [`Request::uri`].
    pub fn url(&self) -> Result<RequestUri, UriError> {
        RequestUri::parse(&self.uri)
    }

    /// The `CSeq`, if present and a number.
    pub fn cseq(&self) -> Option<u32> {
        self.headers.cseq()
    }

    /// The `Session` header, if any.
    pub fn session(&self) -> Result<Option<SessionHeader>, InvalidHeader> {
        self.headers.session()
    }

    /// The transports a SETUP offers, in the client's order of preference.
    pub fn transports(&self) -> Result<Vec<Transport>, TransportError> {
        parse_transports(
            self.headers
                .get(names::TRANSPORT)
                .ok_or(TransportError::Missing)?,
        )
    }

    /// The `Range` header of a PLAY, if any.
    pub fn range(&self) -> Result<Option<NptRange>, RangeError> {
        self.headers
            .get(names::RANGE)
            .map(NptRange::parse)
            .transpose()
    }

    /// Appends the request's wire form to `out`.
    ///
    /// The request line, then `CSeq` first of the headers (the classic server
    /// reads it from line 2), then the others in order; `Content-Length` is
    /// written from the body, whatever the headers say. Standard: CRLF and a
    /// blank line. Classic: bare LF and no blank line, unless there is a body
    /// (the classic dialect has none), which then follows a blank line.
    /// CR, LF and NUL in names and values are written as spaces, and spaces
    /// in the URI as `%20`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let eol: &[u8] = match self.dialect {
            Dialect::Classic => b"\n",
            Dialect::Standard => b"\r\n",
        };
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        for &b in self.uri.as_bytes() {
            match b {
                b' ' => out.extend_from_slice(b"%20"),
                b'\r' | b'\n' | 0 => out.extend_from_slice(b"%20"),
                _ => out.push(b),
            }
        }
        out.push(b' ');
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.extend_from_slice(eol);
        write_headers(out, &self.headers, eol, None);
        finish_body(out, &self.body, eol, self.dialect);
    }

    /// The request's wire form (see [`Request::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

/// An RTSP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase.
    pub reason: String,
    /// The headers, `Content-Length` included when it was received.
    pub headers: Headers,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
    /// The dialect it arrived in, or is to be written in.
    pub dialect: Dialect,
}

impl Response {
    /// A standard-dialect response with the standard reason phrase and no
    /// headers.
    pub fn new(status: StatusCode) -> Self {
        Self {
            version: Version::RTSP_1_0,
            status,
            reason: status.reason_phrase().to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
            dialect: Dialect::Standard,
        }
    }

    /// A response to `request`: its dialect and its `CSeq` (when it had a
    /// valid one).
    pub fn reply_to(request: &Request, status: StatusCode) -> Self {
        let mut r = Self::new(status).with_dialect(request.dialect);
        if let Some(cseq) = request.cseq() {
            r = r.with_cseq(cseq);
        }
        r
    }

    builder_methods!("response");

    /// The `CSeq`, if present and a number.
    pub fn cseq(&self) -> Option<u32> {
        self.headers.cseq()
    }

    /// The `Session` header, if any. The seed's classic server leaves it
    /// out of its SETUP and PLAY replies.
    pub fn session(&self) -> Result<Option<SessionHeader>, InvalidHeader> {
        self.headers.session()
    }

    /// The transport the server chose (the first, if it sent several).
    pub fn transport(&self) -> Result<Option<Transport>, TransportError> {
        match self.headers.get(names::TRANSPORT) {
            None => Ok(None),
            Some(v) => Ok(parse_transports(v)?.into_iter().next()),
        }
    }

    /// The `Range` header, if any.
    pub fn range(&self) -> Result<Option<NptRange>, RangeError> {
        self.headers
            .get(names::RANGE)
            .map(NptRange::parse)
            .transpose()
    }

    /// The `RTP-Info` header of a PLAY reply; empty when there is none.
    pub fn rtp_info(&self) -> Result<Vec<RtpInfo>, InvalidHeader> {
        self.headers
            .get(names::RTP_INFO)
            .map_or(Ok(Vec::new()), parse_rtp_info)
    }

    /// Appends the response's wire form to `out`.
    ///
    /// Standard: status line, `CSeq` first, the other headers in order,
    /// `Content-Length` from the body when there is one, a blank line, the
    /// body; CRLF line ends.
    ///
    /// Classic: what the seed's client can read — bare LF, no blank line,
    /// `CSeq` on line 2, `Session` (its id only, no `;timeout`) on line 3,
    /// then the other headers, all in fewer than [`CLASSIC_MAX_REPLY`]
    /// bytes: headers (and a body, which would follow a blank line) that do
    /// not fit are left out. `RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\n`.
    ///
    /// CR, LF and NUL in the reason, names and values are written as spaces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let eol: &[u8] = match self.dialect {
            Dialect::Classic => b"\n",
            Dialect::Standard => b"\r\n",
        };
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.status.as_u16().to_string().as_bytes());
        if !self.reason.is_empty() {
            out.push(b' ');
            push_clean(out, &self.reason);
        }
        out.extend_from_slice(eol);
        match self.dialect {
            Dialect::Standard => {
                write_headers(out, &self.headers, eol, None);
                finish_body(out, &self.body, eol, self.dialect);
            }
            Dialect::Classic => {
                let budget = CLASSIC_MAX_REPLY - 1;
                write_headers(out, &self.headers, eol, Some((start, budget)));
                if !self.body.is_empty() {
                    let mut tail = Vec::new();
                    finish_body(&mut tail, &self.body, eol, self.dialect);
                    if out.len() - start + tail.len() <= budget {
                        out.extend_from_slice(&tail);
                    }
                }
            }
        }
    }

    /// The response's wire form (see [`Response::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

/// Writes `CSeq`, then (classic only) `Session`, then the others except
/// `Content-Length`. With `budget = Some((start, max))`, the classic form:
/// the session id without parameters, and headers after the first two only
/// while `out[start..]` stays within `max` bytes.
fn write_headers(out: &mut Vec<u8>, headers: &Headers, eol: &[u8], budget: Option<(usize, usize)>) {
    let classic = budget.is_some();
    let mut line = Vec::new();
    let mut emit = |out: &mut Vec<u8>, name: &str, value: &str, required: bool| {
        line.clear();
        push_clean(&mut line, name);
        line.extend_from_slice(b": ");
        push_clean(&mut line, value);
        line.extend_from_slice(eol);
        if let Some((start, max)) = budget
            && !required
            && out.len() - start + line.len() > max
        {
            return;
        }
        out.extend_from_slice(&line);
    };
    if let Some(cseq) = headers.get(names::CSEQ) {
        emit(out, names::CSEQ, cseq, true);
    }
    if classic && let Some(session) = headers.get(names::SESSION) {
        let id = session.split(';').next().unwrap_or_default().trim();
        emit(out, names::SESSION, id, true);
    }
    for (name, value) in headers.iter() {
        let skip = name.eq_ignore_ascii_case(names::CSEQ)
            || name.eq_ignore_ascii_case(names::CONTENT_LENGTH)
            || (classic && name.eq_ignore_ascii_case(names::SESSION));
        if !skip {
            emit(out, name, value, false);
        }
    }
}

/// `Content-Length`, the blank line and the body; for a classic message
/// without a body, nothing (it has no blank line).
fn finish_body(out: &mut Vec<u8>, body: &[u8], eol: &[u8], dialect: Dialect) {
    if !body.is_empty() {
        out.extend_from_slice(names::CONTENT_LENGTH.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(eol);
    }
    if dialect == Dialect::Standard || !body.is_empty() {
        out.extend_from_slice(eol);
        out.extend_from_slice(body);
    }
}

fn push_clean(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().map(|b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        for m in [
            "OPTIONS",
            "DESCRIBE",
            "SETUP",
            "PLAY",
            "PAUSE",
            "TEARDOWN",
            "GET_PARAMETER",
            "SET_PARAMETER",
            "ANNOUNCE",
            "RECORD",
            "REDIRECT",
            "FOO",
        ] {
            assert_eq!(Method::parse(m).as_str(), m);
        }
        assert_eq!(Method::parse("play"), Method::Other("play".into()));
        assert_eq!(
            Method::format_public(&[Method::Options, Method::Describe, Method::Setup]),
            "OPTIONS, DESCRIBE, SETUP"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(Version::parse("RTSP/1.0"), Some(Version::RTSP_1_0));
        assert_eq!(Version::parse("RTSP/2.0"), Some(Version::rtsp(2, 0)));
        assert_eq!(Version::parse("HTTP/1.1"), Some(Version::HTTP_1_1));
        assert_eq!(Version::HTTP_1_1.to_string(), "HTTP/1.1");
        for bad in [
            "HTTP/1",
            "SIP/2.0",
            "RTSP/1",
            "RTSP/.0",
            "RTSP/1.+0",
            "RTSP/1.999",
            "rtsp/1.0",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert_eq!(Version::RTSP_1_0.to_string(), "RTSP/1.0");
    }

    #[test]
    fn status_codes() {
        let expected = [
            (200, "OK"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (431, "Request Header Fields Too Large"),
            (451, "Parameter Not Understood"),
            (453, "Not Enough Bandwidth"),
            (454, "Session Not Found"),
            (455, "Method Not Valid in This State"),
            (457, "Invalid Range"),
            (459, "Aggregate operation not allowed"),
            (461, "Unsupported transport"),
            (462, "Destination unreachable"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "RTSP Version not supported"),
        ];
        for (code, reason) in expected {
            assert_eq!(StatusCode::new(code).unwrap().reason_phrase(), reason);
        }
        assert_eq!(
            StatusCode::new(499).unwrap().reason_phrase(),
            "Client Error"
        );
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(1000), None);
        assert!(StatusCode::OK.is_success());
        assert!(!StatusCode::NOT_FOUND.is_success());
        assert_eq!(
            StatusCode::SESSION_NOT_FOUND.to_string(),
            "454 Session Not Found"
        );
    }

    #[test]
    fn classic_reply_is_byte_exact() {
        let r = Response::new(StatusCode::OK)
            .with_dialect(Dialect::Classic)
            .with_session(&SessionHeader::new("419485").with_timeout(60))
            .with_header(names::SERVER, "mjpegrtsp")
            .with_cseq(1);
        assert_eq!(
            r.to_bytes(),
            b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\nServer: mjpegrtsp\n"
        );
        let r = Response::new(StatusCode::OK)
            .with_dialect(Dialect::Classic)
            .with_cseq(1)
            .with_session(&SessionHeader::new("419485"));
        assert_eq!(r.to_bytes(), b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 419485\n");
    }

    #[test]
    fn classic_reply_stays_under_1024_bytes() {
        let r = Response::new(StatusCode::OK)
            .with_dialect(Dialect::Classic)
            .with_cseq(7)
            .with_session(&SessionHeader::new("123456"))
            .with_header("X-Big", "x".repeat(2000))
            .with_header("X-Small", "y")
            .with_body("text/plain", vec![b'z'; 2000]);
        let bytes = r.to_bytes();
        assert_eq!(
            bytes,
            b"RTSP/1.0 200 OK\nCSeq: 7\nSession: 123456\nX-Small: y\nContent-Type: text/plain\n"
        );
        assert!(bytes.len() < CLASSIC_MAX_REPLY);
    }

    #[test]
    fn standard_reply() {
        let r = Response::new(StatusCode::OK)
            .with_session(&SessionHeader::new("abc").with_timeout(60))
            .with_cseq(2)
            .with_header(names::CONTENT_LENGTH, "999")
            .with_body("application/sdp", b"v=0\r\n".to_vec());
        assert_eq!(
            r.to_bytes(),
            b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: abc;timeout=60\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
        );
        let r = Response::new(StatusCode::NOT_IMPLEMENTED).with_header("X-Evil", "a\r\nCSeq: 9");
        assert_eq!(
            r.to_bytes(),
            b"RTSP/1.0 501 Not Implemented\r\nX-Evil: a  CSeq: 9\r\n\r\n"
        );
    }

    #[test]
    fn requests_in_both_dialects() {
        let r = Request::new(Method::Setup, "movie.Mjpeg")
            .with_dialect(Dialect::Classic)
            .with_header(names::TRANSPORT, "RTP/UDP; client_port= 25000")
            .with_cseq(1);
        assert_eq!(
            r.to_bytes(),
            b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n"
        );
        let r = Request::new(Method::Options, "rtsp://h/a b").with_cseq(1);
        assert_eq!(
            r.to_bytes(),
            b"OPTIONS rtsp://h/a%20b RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        );
    }
}
