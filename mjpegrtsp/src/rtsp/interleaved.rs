//! Interleaved binary data on the RTSP connection (RFC 2326 §10.12): `$`,
//! a one-byte channel, a 16-bit big-endian length, then that many bytes of
//! RTP or RTCP.

use std::fmt;

use super::parser::ParseError;
use super::{Incomplete, Parsed};

/// The byte that starts an interleaved frame.
pub const MAGIC: u8 = b'$';
/// Length of the frame header.
pub const HEADER_LEN: usize = 4;
/// Largest payload a frame can carry.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// One interleaved frame, borrowed from the buffer it was found in: the
/// payload is `buf[4..consumed]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterleavedFrame<'a> {
    /// The channel (the `interleaved=` numbers of the transport).
    pub channel: u8,
    /// The RTP or RTCP packet.
    pub payload: &'a [u8],
}

/// A payload too large for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTooLarge {
    /// The payload's length.
    pub len: usize,
}

impl fmt::Display for PayloadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes do not fit an interleaved frame (at most {MAX_PAYLOAD})",
            self.len
        )
    }
}

impl std::error::Error for PayloadTooLarge {}

/// The 4-byte header of a frame carrying `len` bytes on `channel`, for a
/// vectored write of header and payload without copying the payload.
pub fn interleaved_header(channel: u8, len: usize) -> Result<[u8; HEADER_LEN], PayloadTooLarge> {
    let len16 = u16::try_from(len).map_err(|_| PayloadTooLarge { len })?;
    let [hi, lo] = len16.to_be_bytes();
    Ok([MAGIC, channel, hi, lo])
}

/// Appends a whole frame to `out`.
pub fn encode_interleaved(
    channel: u8,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), PayloadTooLarge> {
    out.extend_from_slice(&interleaved_header(channel, payload.len())?);
    out.extend_from_slice(payload);
    Ok(())
}

/// Decodes the frame at the start of `buf`: `Complete(frame, 4 + len)`,
/// `Incomplete(NeedMore)` until it is all there, and
/// `Error(NotInterleaved)` when `buf` does not start with `$`.
pub fn decode_interleaved(buf: &[u8]) -> Parsed<InterleavedFrame<'_>> {
    match buf.first() {
        None => return Parsed::Incomplete(Incomplete::NeedMore),
        Some(&MAGIC) => {}
        Some(_) => return Parsed::Error(ParseError::NotInterleaved),
    }
    let Some(&[_, channel, hi, lo]) = buf.get(..HEADER_LEN) else {
        return Parsed::Incomplete(Incomplete::NeedMore);
    };
    let end = HEADER_LEN + usize::from(u16::from_be_bytes([hi, lo]));
    match buf.get(HEADER_LEN..end) {
        Some(payload) => Parsed::Complete(InterleavedFrame { channel, payload }, end),
        None => Parsed::Incomplete(Incomplete::NeedMore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        encode_interleaved(1, b"rtcp", &mut out).unwrap();
        encode_interleaved(0, &[], &mut out).unwrap();
        assert_eq!(out, b"$\x01\x00\x04rtcp$\x00\x00\x00");
        assert_eq!(
            decode_interleaved(&out),
            Parsed::Complete(
                InterleavedFrame {
                    channel: 1,
                    payload: b"rtcp"
                },
                8
            )
        );
        assert_eq!(
            decode_interleaved(&out[8..]),
            Parsed::Complete(
                InterleavedFrame {
                    channel: 0,
                    payload: b""
                },
                4
            )
        );
        for n in 0..8 {
            assert_eq!(
                decode_interleaved(&out[..n]),
                Parsed::Incomplete(Incomplete::NeedMore)
            );
        }
        assert_eq!(
            decode_interleaved(b"RTSP/1.0"),
            Parsed::Error(ParseError::NotInterleaved)
        );
    }

    #[test]
    fn limits() {
        assert_eq!(interleaved_header(3, 65_535), Ok([b'$', 3, 0xFF, 0xFF]));
        assert_eq!(
            interleaved_header(3, 65_536),
            Err(PayloadTooLarge { len: 65_536 })
        );
        let mut out = Vec::new();
        assert!(encode_interleaved(0, &vec![0; 70_000], &mut out).is_err());
        assert!(out.is_empty());
    }
}
