//! Watching the RTSP exchange: a [`MessageObserver`] in
//! [`ClientOptions::observer`](super::ClientOptions::observer) is called with
//! the head (start line and headers, no body) of each request as it is
//! written and of each reply as it is parsed, so that an application can log
//! the conversation its own way (the GStreamer element logs it to its debug
//! category). Credentials never reach the observer: `Authorization` and
//! `Proxy-Authorization` values are replaced by `<redacted>`, and a password
//! in a URL by `***`.

use std::fmt;
use std::sync::Arc;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageDirection {
    /// A request the client wrote.
    Sent,
    /// A reply the client read.
    Received,
}

/// A callback given the head (start line and headers, no body) of each RTSP
/// request as it is written and of each reply as it is parsed, with
/// `Authorization` values and URL passwords redacted. It runs on the
/// client's network task: it must be quick and must not block.
#[derive(Clone)]
pub struct MessageObserver(Arc<ObserverFn>);

/// What a [`MessageObserver`] calls.
type ObserverFn = dyn Fn(MessageDirection, &str) + Send + Sync;

impl MessageObserver {
    /// An observer that calls `f`.
    pub fn new(f: impl Fn(MessageDirection, &str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Calls the callback with the redacted head of the message in `bytes`.
    pub(crate) fn notify(&self, direction: MessageDirection, bytes: &[u8]) {
        (self.0)(direction, &redacted_head(bytes));
    }
}

impl fmt::Debug for MessageObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageObserver")
    }
}

/// The start line and headers of the message in `bytes` (up to the blank
/// line), without its trailing CRLFs, with credentials redacted.
fn redacted_head(bytes: &[u8]) -> String {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let name = line.split_once(':').map(|(n, _)| n.trim());
        if name.is_some_and(|n| {
            n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("proxy-authorization")
        }) {
            let (name, _) = line.split_once(':').unwrap_or((line, ""));
            out.push_str(name);
            out.push_str(": <redacted>");
        } else {
            out.push_str(&redact_urls(line));
        }
    }
    out
}

/// `line` with the password of each `scheme://user:password@` replaced by `***`.
fn redact_urls(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            let redacted = super::without_password(word);
            if redacted == word {
                word.to_owned()
            } else {
                // without_password drops the password; say one was there.
                redacted.replacen('@', ":***@", 1)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn heads_lose_their_body_and_credentials() {
        let msg = b"DESCRIBE rtsp://bob:hunter2@h/x RTSP/1.0\r\nCSeq: 2\r\nauthorization: Digest username=\"bob\", response=\"abc\"\r\nProxy-Authorization: Basic Ym9iOmh1bnRlcjI=\r\n\r\nv=0\r\n";
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let observer = MessageObserver::new(move |d, text| {
            sink.lock().unwrap().push((d, text.to_owned()));
        });
        observer.notify(MessageDirection::Sent, msg);
        let seen = seen.lock().unwrap();
        let (d, text) = &seen[0];
        assert_eq!(*d, MessageDirection::Sent);
        assert_eq!(
            text,
            "DESCRIBE rtsp://bob:***@h/x RTSP/1.0\r\nCSeq: 2\r\nauthorization: <redacted>\r\nProxy-Authorization: <redacted>"
        );
        assert!(!text.contains("hunter2") && !text.contains("Ym9i") && !text.contains("abc"));
    }

    #[test]
    fn a_head_without_blank_line_is_taken_whole() {
        assert_eq!(
            redacted_head(b"RTSP/1.0 200 OK\r\nCSeq: 1"),
            "RTSP/1.0 200 OK\r\nCSeq: 1"
        );
        assert_eq!(redacted_head(b""), "");
    }
}
