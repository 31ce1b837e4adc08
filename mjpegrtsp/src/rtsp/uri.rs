//! Request URIs: absolute (`rtsp://host:port/movie.Mjpeg/stream=0`), relative
//! (the classic client's `movie.Mjpeg`) and `*`; percent-decoding; the split
//! of a path into the media and its control segment; control URLs resolved
//! against a base.

use std::fmt;

/// The form of a request URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriForm {
    /// `*` (OPTIONS about the server as a whole).
    Asterisk,
    /// `scheme://host[:port]/path`.
    Absolute {
        /// The scheme in lower case (`rtsp`, `rtspu`, `rtsps`, …).
        scheme: String,
        /// The host, without the brackets of an IPv6 literal.
        host: String,
        /// The port, when one is given.
        port: Option<u16>,
    },
    /// A path alone (`movie.Mjpeg`, `/movie.Mjpeg`).
    Relative,
}

/// A parsed request URI.
///
/// The path is split into percent-decoded segments; empty segments (double
/// or trailing slashes) are dropped. A segment holding `=` at the end of the
/// path is the *control* of one stream of a presentation
/// (`stream=0`, `trackID=1`); the segments before it name the media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUri {
    raw: String,
    form: UriForm,
    segments: Vec<String>,
    query: Option<String>,
}

/// Why a request URI cannot be used. Servers answer 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// Nothing at all.
    Empty,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A decoded segment is not UTF-8.
    NotUtf8,
    /// A decoded segment holds `/`, a control character or whitespace other
    /// than a space.
    BadCharacter,
    /// A `.` or `..` segment.
    DotSegment,
    /// The host of an absolute URI is empty or malformed.
    BadHost,
    /// The port is not a number in 0‥=65535.
    BadPort,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::Empty => "empty URI",
            UriError::BadPercentEncoding => "bad percent-encoding",
            UriError::NotUtf8 => "path is not UTF-8",
            UriError::BadCharacter => "forbidden character in path",
            UriError::DotSegment => "'.' or '..' path segment",
            UriError::BadHost => "bad host",
            UriError::BadPort => "bad port",
        })
    }
}

impl std::error::Error for UriError {}

impl RequestUri {
    /// Parses a request URI.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(UriError::Empty);
        }
        if trimmed == "*" {
            return Ok(Self {
                raw: s.to_owned(),
                form: UriForm::Asterisk,
                segments: Vec::new(),
                query: None,
            });
        }
        let (form, rest) = match split_scheme(trimmed) {
            Some((scheme, after)) => {
                let end = after.find(['/', '?', '#']).unwrap_or(after.len());
                let (host, port) = parse_authority(&after[..end])?;
                (
                    UriForm::Absolute {
                        scheme: scheme.to_ascii_lowercase(),
                        host,
                        port,
                    },
                    &after[end..],
                )
            }
            None => (UriForm::Relative, trimmed),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (rest, None),
        };
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode_segment)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            raw: s.to_owned(),
            form,
            segments,
            query,
        })
    }

    /// The URI as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Absolute, relative or `*`.
    pub fn form(&self) -> &UriForm {
        &self.form
    }

    /// Whether the URI is `*`.
    pub fn is_asterisk(&self) -> bool {
        self.form == UriForm::Asterisk
    }

    /// The host of an absolute URI.
    pub fn host(&self) -> Option<&str> {
        match &self.form {
            UriForm::Absolute { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The port of an absolute URI, when it names one.
    pub fn port(&self) -> Option<u16> {
        match &self.form {
            UriForm::Absolute { port, .. } => *port,
            _ => None,
        }
    }

    /// The decoded, non-empty path segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The decoded path, segments joined by `/`, without a leading or
    /// trailing slash: `movie.Mjpeg/stream=0`.
    pub fn path(&self) -> String {
        self.segments.join("/")
    }

    /// The query string after `?`, undecoded.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The control segment: the last segment when it holds `=`
    /// (`stream=0`, `trackID=1`).
    pub fn control(&self) -> Option<&str> {
        self.segments
            .last()
            .filter(|s| s.contains('='))
            .map(String::as_str)
    }

    /// The path without its control segment: the media. `movie.Mjpeg` for
    /// `rtsp://h/movie.Mjpeg/stream=0`, `rtsp://h/movie.Mjpeg/` and
    /// `movie.Mjpeg`.
    pub fn media_path(&self) -> String {
        let n = self.segments.len() - usize::from(self.control().is_some());
        self.segments[..n].join("/")
    }
}

impl fmt::Display for RequestUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `scheme` and what follows `://`, when `s` starts with a URI scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    (first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
        .then_some((scheme, rest))
}

fn parse_authority(authority: &str) -> Result<(String, Option<u16>), UriError> {
    let hostport = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UriError::BadHost)?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or(UriError::BadHost)?),
            ),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"[]@/".contains(&b))
    {
        return Err(UriError::BadHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| UriError::BadPort)?)
        }
        Some(_) => return Err(UriError::BadPort),
    };
    Ok((host.to_owned(), port))
}

fn decode_segment(seg: &str) -> Result<String, UriError> {
    let decoded = String::from_utf8(percent_decode(seg)?).map_err(|_| UriError::NotUtf8)?;
    if decoded
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(UriError::BadCharacter);
    }
    if decoded == "." || decoded == ".." {
        return Err(UriError::DotSegment);
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes.
pub fn percent_decode(s: &str) -> Result<Vec<u8>, UriError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(UriError::BadPercentEncoding)?;
            let digit = |b: u8| {
                char::from(b)
                    .to_digit(16)
                    .ok_or(UriError::BadPercentEncoding)
            };
            out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The URL of a stream whose SDP `a=control:` is `control`, relative to
/// `base` (the `Content-Base` of the DESCRIBE reply, else its
/// `Content-Location`, else the request URL).
///
/// An absolute control is used as it is, `*` means the base itself, and a
/// relative one is appended to the base after a `/` (what ffmpeg and
/// GStreamer do): `rtsp://h/movie.Mjpeg/` + `stream=0` →
/// `rtsp://h/movie.Mjpeg/stream=0`, and so is `rtsp://h/movie.Mjpeg`.
pub fn resolve_control(base: &str, control: &str) -> String {
    let control = control.trim();
    if split_scheme(control).is_some() {
        return control.to_owned();
    }
    if control.is_empty() || control == "*" {
        return base.to_owned();
    }
    let control = control.trim_start_matches('/');
    if base.ends_with('/') {
        format!("{base}{control}")
    } else {
        format!("{base}/{control}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_with_control() {
        let u = RequestUri::parse("rtsp://127.0.0.1:18901/movie.Mjpeg/stream=0").unwrap();
        assert_eq!(
            u.form(),
            &UriForm::Absolute {
                scheme: "rtsp".into(),
                host: "127.0.0.1".into(),
                port: Some(18901)
            }
        );
        assert_eq!(u.path(), "movie.Mjpeg/stream=0");
        assert_eq!(u.control(), Some("stream=0"));
        assert_eq!(u.media_path(), "movie.Mjpeg");
    }

    #[test]
    fn aggregate_and_relative() {
        let u = RequestUri::parse("rtsp://127.0.0.1:18901/movie.Mjpeg/").unwrap();
        assert_eq!(
            (u.media_path().as_str(), u.control()),
            ("movie.Mjpeg", None)
        );
        let u = RequestUri::parse("movie.Mjpeg").unwrap();
        assert_eq!(u.form(), &UriForm::Relative);
        assert_eq!(
            (u.media_path().as_str(), u.control()),
            ("movie.Mjpeg", None)
        );
        let u = RequestUri::parse("/dir//movie.Mjpeg/trackID=1").unwrap();
        assert_eq!(u.segments(), ["dir", "movie.Mjpeg", "trackID=1"]);
        assert_eq!(u.media_path(), "dir/movie.Mjpeg");
        assert!(RequestUri::parse("*").unwrap().is_asterisk());
        let u = RequestUri::parse("rtsp://[::1]:8554/a?x=1#f").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.query()),
            (Some("::1"), Some(8554), Some("x=1"))
        );
        assert_eq!(u.path(), "a");
        let u = RequestUri::parse("RTSP://user:pw@cam.local/a").unwrap();
        assert_eq!((u.host(), u.port()), (Some("cam.local"), None));
    }

    #[test]
    fn percent_decoding() {
        let u = RequestUri::parse("rtsp://h/my%20movie%C3%A9.Mjpeg").unwrap();
        assert_eq!(u.path(), "my movieé.Mjpeg");
        assert_eq!(RequestUri::parse("a%2"), Err(UriError::BadPercentEncoding));
        assert_eq!(RequestUri::parse("a%zz"), Err(UriError::BadPercentEncoding));
        assert_eq!(RequestUri::parse("a%FF"), Err(UriError::NotUtf8));
        assert_eq!(RequestUri::parse("a%2Fb"), Err(UriError::BadCharacter));
        assert_eq!(RequestUri::parse("a%00"), Err(UriError::BadCharacter));
        assert_eq!(
            RequestUri::parse("rtsp://h/../etc"),
            Err(UriError::DotSegment)
        );
        assert_eq!(RequestUri::parse("%2e%2E/x"), Err(UriError::DotSegment));
        assert_eq!(
            RequestUri::parse("rtsp://h:99999/a"),
            Err(UriError::BadPort)
        );
        assert_eq!(RequestUri::parse("rtsp://:554/a"), Err(UriError::BadHost));
        assert_eq!(RequestUri::parse(" "), Err(UriError::Empty));
    }

    #[test]
    fn control_resolution() {
        for base in ["rtsp://h:1/movie.Mjpeg/", "rtsp://h:1/movie.Mjpeg"] {
            assert_eq!(
                resolve_control(base, "stream=0"),
                "rtsp://h:1/movie.Mjpeg/stream=0"
            );
            assert_eq!(resolve_control(base, "*"), base);
            assert_eq!(resolve_control(base, "rtsp://x/y"), "rtsp://x/y");
        }
    }
}
