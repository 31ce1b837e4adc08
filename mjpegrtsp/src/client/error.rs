//! The client's error type: what failed, where (server address, method, URL)
//! and why, in words a log reader can act on.
//!
//! Text that comes from the server (reason phrases, error bodies, names in a
//! description) is passed through [`shown`] before it is put in an error:
//! control characters are written out as escapes, so that a hostile server
//! cannot send terminal escape sequences to whoever reads the log or the
//! message, and the length is capped.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::rtsp::Method;

/// What went wrong in an RTSP client session.
///
/// Every variant that involves the server names its address, and those about
/// a request name the method (and URL, when one was sent), so that the failing
/// exchange can be found in a capture.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The TCP connection to the server could not be made (refused,
    /// unreachable, name not resolved, timed out).
    Connect {
        /// `host:port` as in the URL.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading or writing an established connection or a media socket failed.
    Io {
        /// The server.
        addr: SocketAddr,
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server closed the control connection.
    ConnectionClosed {
        /// The server.
        addr: SocketAddr,
        /// The request that was waiting for a reply, if any.
        method: Option<Method>,
    },
    /// No reply came in time.
    Timeout {
        /// The server.
        addr: SocketAddr,
        /// The request that got no reply.
        method: Method,
    },
    /// The server answered with an error status.
    Status {
        /// The server.
        addr: SocketAddr,
        /// The request.
        method: Method,
        /// Its URL.
        url: Box<str>,
        /// The status code.
        status: u16,
        /// The reason phrase the server gave.
        reason: Box<str>,
        /// The server's own explanation, when it sent one (a `text/plain`
        /// body, as this project's server does).
        detail: Option<Box<str>>,
    },
    /// The server wants credentials that were not given or that it refused.
    Unauthorized {
        /// The server.
        addr: SocketAddr,
        /// The request.
        method: Method,
        /// Its URL.
        url: String,
        /// What was missing or refused.
        reason: String,
    },
    /// The server's bytes do not follow the protocol (a malformed reply,
    /// a missing header the client needs, an RTP packet it cannot read).
    Protocol {
        /// The server.
        addr: SocketAddr,
        /// The request concerned, if any.
        method: Option<Method>,
        /// What is wrong.
        detail: String,
    },
    /// The presentation has no stream this client can play (JPEG video).
    NoMedia {
        /// The server.
        addr: SocketAddr,
        /// The URL described.
        url: String,
        /// What the description offered instead.
        detail: String,
    },
    /// The server or dialect cannot do what was asked (seeking in the classic
    /// dialect, TCP transport with a classic server, …).
    Unsupported {
        /// The server.
        addr: SocketAddr,
        /// What cannot be done.
        what: String,
    },
    /// The call does not fit the session's state (PLAY before SETUP, …).
    State {
        /// What was attempted.
        action: &'static str,
        /// The state the session was in.
        state: &'static str,
    },
}

impl Error {
    /// The RTSP status code of a [`Error::Status`] (401 for
    /// [`Error::Unauthorized`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            Error::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// The server's address, when the error involves it.
    pub fn server(&self) -> Option<SocketAddr> {
        match self {
            Error::Io { addr, .. }
            | Error::ConnectionClosed { addr, .. }
            | Error::Timeout { addr, .. }
            | Error::Status { addr, .. }
            | Error::Unauthorized { addr, .. }
            | Error::Protocol { addr, .. }
            | Error::NoMedia { addr, .. }
            | Error::Unsupported { addr, .. } => Some(*addr),
            _ => None,
        }
    }

    pub(crate) fn protocol(addr: SocketAddr, method: Option<Method>, detail: String) -> Self {
        Error::Protocol {
            addr,
            method,
            detail: shown(&detail, MAX_SHOWN),
        }
    }

    /// The server answered `method` on `url` with the error reply `resp`.
    pub(crate) fn from_reply(
        addr: SocketAddr,
        method: Method,
        url: &str,
        resp: &crate::rtsp::Response,
    ) -> Self {
        Error::Status {
            addr,
            method,
            url: shown(url, MAX_SHOWN).into(),
            status: resp.status.as_u16(),
            reason: shown(&resp.reason, MAX_REASON).into(),
            detail: explanation(resp),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => write!(f, "invalid RTSP URL {url:?}: {reason}"),
            Error::Connect { addr, source } => {
                write!(f, "cannot connect to RTSP server {addr}: {source}")
            }
            Error::Io {
                addr,
                context,
                source,
            } => write!(f, "RTSP server {addr}: {context}: {source}"),
            Error::ConnectionClosed { addr, method } => match method {
                Some(m) => write!(
                    f,
                    "RTSP server {addr} closed the connection before answering {m}"
                ),
                None => write!(f, "RTSP server {addr} closed the connection"),
            },
            Error::Timeout { addr, method } => {
                write!(f, "RTSP server {addr} did not answer {method} in time")
            }
            Error::Status {
                addr,
                method,
                url,
                status,
                reason,
                detail,
            } => {
                write!(f, "RTSP server {addr}: {method} {url}: {status} {reason}")?;
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                match status_hint(*status) {
                    Some(hint) => write!(f, " ({hint})"),
                    None => Ok(()),
                }
            }
            Error::Unauthorized {
                addr,
                method,
                url,
                reason,
            } => write!(
                f,
                "RTSP server {addr}: {method} {url}: 401 Unauthorized: {reason}"
            ),
            Error::Protocol {
                addr,
                method,
                detail,
            } => match method {
                Some(m) => write!(f, "RTSP server {addr}: bad reply to {m}: {detail}"),
                None => write!(f, "RTSP server {addr}: protocol error: {detail}"),
            },
            Error::NoMedia { addr, url, detail } => write!(
                f,
                "RTSP server {addr}: {url} has no JPEG video stream: {detail}"
            ),
            Error::Unsupported { addr, what } => {
                write!(f, "RTSP server {addr}: not supported: {what}")
            }
            Error::State { action, state } => {
                write!(f, "cannot {action}: the session is {state}")
            }
        }
    }
}

/// Characters of server text kept in an error (a detail, a URL).
pub(crate) const MAX_SHOWN: usize = 500;
/// Characters of a reason phrase kept.
const MAX_REASON: usize = 100;

/// `text` from the network, fit to be shown or logged: control characters
/// (ESC, CR, BEL, DEL, C1 controls, …) written as `\u{1b}`-style escapes, and
/// at most `max_chars` characters, with `…` when cut.
pub(crate) fn shown(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The explanation in an error reply's `text/plain` body: its first line,
/// cut at [`MAX_SHOWN`] characters, made [`shown`].
pub(crate) fn explanation(resp: &crate::rtsp::Response) -> Option<Box<str>> {
    let plain = resp
        .headers
        .get(crate::rtsp::names::CONTENT_TYPE)
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/plain"));
    if !plain {
        return None;
    }
    let text = String::from_utf8_lossy(&resp.body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(shown(line, MAX_SHOWN).into())
}

/// What an error status usually means for a player, where the reason
/// phrase alone does not say what to do.
fn status_hint(status: u16) -> Option<&'static str> {
    Some(match status {
        454 => {
            "the server no longer knows this session: it may have restarted or timed it out; set up a new one"
        }
        461 => {
            "the server cannot send over this transport; try the other one (protocols=tcp or udp)"
        }
        503 => "the server is busy or full; try again later",
        _ => return None,
    })
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, reason: &str) -> Error {
        Error::Status {
            addr: "127.0.0.1:8554".parse().unwrap(),
            method: Method::Play,
            url: "rtsp://127.0.0.1:8554/a.Mjpeg".into(),
            status,
            reason: reason.into(),
            detail: None,
        }
    }

    #[test]
    fn statuses_that_need_a_hint_get_one() {
        let lost = status(454, "Session Not Found").to_string();
        assert!(lost.contains("454 Session Not Found"), "{lost}");
        assert!(lost.contains("set up a new one"), "{lost}");
        let explained = Error::Status {
            addr: "127.0.0.1:8554".parse().unwrap(),
            method: Method::Describe,
            url: "rtsp://127.0.0.1:8554/live".into(),
            status: 415,
            reason: "Unsupported Media Type".into(),
            detail: Some("live cannot be sent as RFC 2435 JPEG".into()),
        }
        .to_string();
        assert!(
            explained.ends_with("415 Unsupported Media Type: live cannot be sent as RFC 2435 JPEG"),
            "{explained}"
        );
        let missing = status(404, "Not Found").to_string();
        assert!(
            missing.ends_with("PLAY rtsp://127.0.0.1:8554/a.Mjpeg: 404 Not Found"),
            "{missing}"
        );
    }

    #[test]
    fn server_text_is_shown_without_control_characters_and_capped() {
        assert_eq!(shown("plain text, é ok", 100), "plain text, é ok");
        assert_eq!(
            shown("a\x1b[2Jb\r\nc\x07\x7f\u{9b}", 100),
            "a\\u{1b}[2Jb\\u{d}\\u{a}c\\u{7}\\u{7f}\\u{9b}"
        );
        assert_eq!(shown("abcdef", 3), "abc…");
        assert_eq!(shown(&"\x1b".repeat(1000), 2), "\\u{1b}\\u{1b}…");
        let resp = crate::rtsp::Response::new(crate::rtsp::StatusCode::NOT_FOUND)
            .with_body("text/plain", "no \x1b[31mred\n");
        let e = Error::from_reply("127.0.0.1:1".parse().unwrap(), Method::Play, "u\x1b", &resp);
        let text = e.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("no \\u{1b}[31mred"), "{text}");
    }
}
