//! RTSP/1.0 (RFC 2326) messages as plain Rust: no GStreamer, no async runtime,
//! no I/O. The server and the client put bytes from their sockets into a
//! buffer and hand it to [`Parser::parse`]; they build replies and requests
//! with [`Response`] and [`Request`] and write [`Response::to_bytes`].
//!
//! * [`parser`]: the incremental parser of a connection's byte stream —
//!   requests, responses and `$`-framed interleaved binary data, in both
//!   dialects.
//! * [`message`]: [`Request`], [`Response`], [`Method`], [`StatusCode`] and
//!   their serialisation.
//! * [`headers`]: the header list and the `CSeq` and `Session` headers.
//! * [`uri`]: request URLs (absolute, relative, `*`), percent-decoding and
//!   control URLs.
//! * [`transport`]: the `Transport` header: offers, the server's choice, replies.
//! * [`range`]: `Range: npt=…` and `RTP-Info`.
//! * [`sdp`]: an SDP writer for one JPEG video stream and a small SDP parser.
//! * [`interleaved`]: `$`, channel, 16-bit length framing (RFC 2326 §10.12).
//!
//! # The two dialects
//!
//! *Standard* messages (ffmpeg, GStreamer `rtspsrc`, …) end their lines with
//! CRLF, end the head with a blank line and announce a body with
//! `Content-Length`.
//!
//! *Classic* messages (the seed system's Python client and server) end their
//! lines with a bare LF and have **no** blank line at the end: a request is
//! whatever one `send()` carried, e.g.
//! `SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n`.
//! The parser records which one it saw in [`Request::dialect`] and a
//! [`Response`] made with [`Response::reply_to`] answers in the same dialect.
//!
//! # When is a classic message complete?
//!
//! A message whose start line ends in a bare LF and that has no blank line
//! (and no `Content-Length` above 0) is complete when
//!
//! 1. the next line is the start line of another message
//!    (`PLAY movie.Mjpeg RTSP/1.0`, `RTSP/1.0 200 OK`), or the next byte is
//!    the `$` of an interleaved frame; or
//! 2. its last line is whole, the buffer ends right after it, and its shape
//!    is the seed client's whole request: a SETUP whose last line is
//!    `Transport`, a PLAY, PAUSE or TEARDOWN whose last line is `Session`
//!    (the seed client writes these headers last); or
//! 3. its last line is whole, the buffer ends right after it, and the caller
//!    says the stream is *at rest* (`at_rest = true`): no more bytes of this
//!    message are on their way.
//!
//! Called with `at_rest = false`, such a buffer gives
//! [`Parsed::Incomplete`]`(`[`Incomplete::CompleteIfIdle`]`)`. A server
//! establishes "at rest" like this:
//!
//! ```text
//! loop {
//!     match parser.parse(&buf, false) {
//!         Parsed::Complete(item, used) => { handle(item); buf.advance(used); }
//!         Parsed::Incomplete(Incomplete::NeedMore) => read more bytes (no deadline),
//!         Parsed::Incomplete(Incomplete::CompleteIfIdle) =>
//!             read more bytes, but for at most CLASSIC_IDLE_DELAY; if nothing came:
//!             parser.parse(&buf, true)  // → Complete
//!         Parsed::Error(e) => { write the e.status() reply; close the connection }
//!     }
//! }
//! ```
//!
//! Rule 2 answers the seed client at once. For other classic messages the
//! idle wait ends with nothing more (the classic client sends each request
//! in one write and then waits for the reply) and costs one
//! [`CLASSIC_IDLE_DELAY`] of latency. Standard (CRLF)
//! messages never depend on `at_rest`: they need their blank line. A server
//! may also skip the delay and pass `at_rest = true` whenever its buffer
//! holds just what its reads returned (a classic request arrives in one read
//! in practice); the delay only protects against a request split by the
//! network at a line boundary.

pub mod auth;
pub mod headers;
pub mod interleaved;
pub mod message;
pub mod mikey;
pub mod parser;
pub mod range;
pub mod sdp;
pub mod transport;
pub mod uri;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use headers::{Headers, InvalidHeader, SessionHeader, generate_session_id, http_date, names};
pub use interleaved::{
    InterleavedFrame, PayloadTooLarge, decode_interleaved, encode_interleaved, interleaved_header,
};
pub use message::{CLASSIC_MAX_REPLY, Method, Protocol, Request, Response, StatusCode, Version};
pub use parser::{Item, Limits, ParseError, Parser, parse_message};
pub use range::{NptRange, NptTime, RangeError, RtpInfo, format_rtp_info, parse_rtp_info};
pub use sdp::{JpegVideoSdp, Media, RtpMap, SdesCrypto, Sdp, SdpError};
pub use transport::{
    ChannelPair, Delivery, LowerTransport, Mode, PortPair, Profile, Transport, TransportError,
    Unsupported, negotiate_record_transport, negotiate_secure_transport, negotiate_transport,
    parse_transports,
};
pub use uri::{RequestUri, UriError, UriForm, resolve_control};

/// Which of the two wire dialects a message uses (see the module docs).
///
/// The parser says [`Dialect::Classic`] for a message that ended without a
/// blank line (only a message whose start line ends in a bare LF can); a
/// bare-LF message that does end with a blank line is framed, and answered,
/// the standard way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// The seed system's: bare LF line ends, no blank line ending the
    /// message, replies with `CSeq` on line 2 and `Session` on line 3.
    Classic,
    /// RFC 2326: CRLF line ends, a blank line ending the head,
    /// `Content-Length` bodies.
    #[default]
    Standard,
}

/// What a parse of a buffer found.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<T> {
    /// A whole item, made of the first `usize` bytes of the buffer (leading
    /// empty lines included): drop them from the buffer before the next call.
    Complete(T, usize),
    /// The buffer holds no whole item yet.
    Incomplete(Incomplete),
    /// The bytes are not RTSP. The stream cannot be resynchronised: answer
    /// with [`ParseError::status`] (no CSeq is known) and close the connection.
    Error(ParseError),
}

impl<T> Parsed<T> {
    /// The same result with the item mapped, e.g. to copy a borrowed
    /// interleaved frame out of the buffer before dropping the consumed bytes.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Complete(t, n) => Parsed::Complete(f(t), n),
            Parsed::Incomplete(i) => Parsed::Incomplete(i),
            Parsed::Error(e) => Parsed::Error(e),
        }
    }
}

/// Why a buffer holds no whole item yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Incomplete {
    /// More bytes are needed; wait for them without a deadline.
    NeedMore,
    /// The buffer ends with a whole classic-dialect message unless more bytes
    /// follow: wait up to [`CLASSIC_IDLE_DELAY`] for more, and if none come,
    /// parse again with `at_rest = true`.
    CompleteIfIdle,
}

/// How long a server waits for more bytes before it takes a buffer that
/// ended in [`Incomplete::CompleteIfIdle`] as a whole classic message.
pub const CLASSIC_IDLE_DELAY: Duration = Duration::from_millis(30);
