//! The fixed RTP header of RFC 3550, section 5.1.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The project's senders always write the 12-byte form (P=0, X=0, CC=0); the
//! parser also accepts and skips a CSRC list, a header extension and padding,
//! because other senders may use them.

use std::fmt;
use std::ops::Range;

/// Length of the fixed RTP header without CSRCs or extension.
pub const HEADER_LEN: usize = 12;
/// The only RTP version there is.
pub const RTP_VERSION: u8 = 2;
/// Largest payload type number (7 bits).
pub const MAX_PAYLOAD_TYPE: u8 = 127;

/// The fields of a fixed 12-byte RTP header that a sender chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtpHeader {
    /// The M bit: in the fragmented scheme, set on the last packet of a frame.
    pub marker: bool,
    /// Payload type, 0‥=127.
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes the header as V=2, P=0, X=0, CC=0 into the first 12 bytes of `out`.
    pub fn write_to(&self, out: &mut [u8]) -> Result<(), HeaderError> {
        if self.payload_type > MAX_PAYLOAD_TYPE {
            return Err(HeaderError::PayloadTypeOutOfRange(self.payload_type));
        }
        let len = out.len();
        let out = out
            .get_mut(..HEADER_LEN)
            .ok_or(HeaderError::OutputTooSmall { len })?;
        out[0] = RTP_VERSION << 6;
        out[1] = (u8::from(self.marker) << 7) | self.payload_type;
        out[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Ok(())
    }

    /// The header as 12 bytes (V=2, P=0, X=0, CC=0).
    pub fn to_bytes(&self) -> Result<[u8; HEADER_LEN], HeaderError> {
        let mut out = [0u8; HEADER_LEN];
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// A header extension (RFC 3550, section 5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The 16 "defined by profile" bits.
    pub profile: u16,
    /// The extension data, a whole number of 32-bit words.
    pub data: &'a [u8],
}

/// A parsed RTP packet: header fields, skipped parts and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: RtpHeader,
    csrc: &'a [u8],
    pub extension: Option<Extension<'a>>,
    /// Number of padding bytes at the end of the packet (0 if P=0).
    pub padding: usize,
    /// Where the payload lies in the packet, e.g. to share it without copying.
    pub payload_range: Range<usize>,
    pub payload: &'a [u8],
}

impl Packet<'_> {
    /// Number of contributing sources.
    pub fn csrc_count(&self) -> usize {
        self.csrc.len() / 4
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.csrc
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// Why bytes are not an RTP packet, or a header cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 12 bytes.
    TooShort { len: usize },
    /// The version field is not 2.
    BadVersion(u8),
    /// The CSRC list runs past the end of the packet.
    CsrcOverrun { csrc_count: usize, len: usize },
    /// The header extension runs past the end of the packet.
    ExtensionOverrun { needed: usize, len: usize },
    /// The padding count is zero or larger than what follows the header.
    BadPadding { padding: usize, available: usize },
    /// The second byte is that of an RTCP packet (RFC 5761 multiplexing).
    LooksLikeRtcp(u8),
    /// A payload type above 127 cannot be written.
    PayloadTypeOutOfRange(u8),
    /// The output slice is shorter than 12 bytes.
    OutputTooSmall { len: usize },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HeaderError::TooShort { len } => {
                write!(
                    f,
                    "{len} bytes are too short for an RTP header ({HEADER_LEN})"
                )
            }
            HeaderError::BadVersion(v) => write!(f, "RTP version {v}, expected {RTP_VERSION}"),
            HeaderError::CsrcOverrun { csrc_count, len } => {
                write!(f, "{csrc_count} CSRCs do not fit in a {len}-byte packet")
            }
            HeaderError::ExtensionOverrun { needed, len } => write!(
                f,
                "header extension needs {needed} bytes but the packet has {len}"
            ),
            HeaderError::BadPadding { padding, available } => write!(
                f,
                "padding count {padding} is invalid: {available} bytes follow the header"
            ),
            HeaderError::LooksLikeRtcp(b) => {
                write!(f, "second byte {b} is an RTCP packet type, not M/PT")
            }
            HeaderError::PayloadTypeOutOfRange(pt) => {
                write!(f, "payload type {pt} is out of range 0..=127")
            }
            HeaderError::OutputTooSmall { len } => {
                write!(f, "{len} bytes are too few to write an RTP header")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// Parses and validates an RTP packet. Never panics, whatever `data` holds.
pub fn parse(data: &[u8]) -> Result<Packet<'_>, HeaderError> {
    let len = data.len();
    if len < HEADER_LEN {
        return Err(HeaderError::TooShort { len });
    }
    let version = data[0] >> 6;
    if version != RTP_VERSION {
        return Err(HeaderError::BadVersion(version));
    }
    // RTCP SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR: 200..=207.
    if (200..=207).contains(&data[1]) {
        return Err(HeaderError::LooksLikeRtcp(data[1]));
    }
    let has_padding = data[0] & 0x20 != 0;
    let has_extension = data[0] & 0x10 != 0;
    let csrc_count = usize::from(data[0] & 0x0F);

    let header = RtpHeader {
        marker: data[1] & 0x80 != 0,
        payload_type: data[1] & 0x7F,
        sequence_number: u16::from_be_bytes([data[2], data[3]]),
        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
    };

    let csrc_end = HEADER_LEN + 4 * csrc_count;
    let csrc = data
        .get(HEADER_LEN..csrc_end)
        .ok_or(HeaderError::CsrcOverrun { csrc_count, len })?;

    let mut payload_start = csrc_end;
    let extension = if has_extension {
        let ext_header = data
            .get(csrc_end..csrc_end + 4)
            .ok_or(HeaderError::ExtensionOverrun {
                needed: csrc_end + 4,
                len,
            })?;
        let profile = u16::from_be_bytes([ext_header[0], ext_header[1]]);
        let words = usize::from(u16::from_be_bytes([ext_header[2], ext_header[3]]));
        let ext_end = csrc_end + 4 + 4 * words;
        let ext_data = data
            .get(csrc_end + 4..ext_end)
            .ok_or(HeaderError::ExtensionOverrun {
                needed: ext_end,
                len,
            })?;
        payload_start = ext_end;
        Some(Extension {
            profile,
            data: ext_data,
        })
    } else {
        None
    };

    let available = len - payload_start;
    let padding = if has_padding {
        let padding = usize::from(data[len - 1]);
        if padding == 0 || padding > available {
            return Err(HeaderError::BadPadding { padding, available });
        }
        padding
    } else {
        0
    };

    let payload_range = payload_start..len - padding;
    Ok(Packet {
        header,
        csrc,
        extension,
        padding,
        payload: &data[payload_range.clone()],
        payload_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first datagram of the classic server recording
    /// (tests/data/captures/classic-dialect.md, section 3), with a tiny payload.
    const CLASSIC: [u8; 16] = [
        0x80, 0x1a, 0x00, 0x01, 0x6b, 0x07, 0xe9, 0xba, 0x00, 0x00, 0x00, 0x00, 0xff, 0xd8, 0xff,
        0xd9,
    ];

    #[test]
    fn parses_the_classic_capture() {
        let p = parse(&CLASSIC).unwrap();
        assert_eq!(
            p.header,
            RtpHeader {
                marker: false,
                payload_type: 26,
                sequence_number: 1,
                timestamp: 0x6b07_e9ba,
                ssrc: 0,
            }
        );
        assert_eq!(p.payload, &[0xff, 0xd8, 0xff, 0xd9]);
        assert_eq!(p.payload_range, 12..16);
        assert_eq!(p.csrc_count(), 0);
        assert_eq!(p.extension, None);
        assert_eq!(p.padding, 0);
    }

    #[test]
    fn encodes_the_classic_capture() {
        let h = RtpHeader {
            marker: false,
            payload_type: 26,
            sequence_number: 1,
            timestamp: 0x6b07_e9ba,
            ssrc: 0,
        };
        assert_eq!(h.to_bytes().unwrap(), CLASSIC[..12]);
        let m = RtpHeader {
            marker: true,
            payload_type: 96,
            ..h
        };
        assert_eq!(m.to_bytes().unwrap()[1], 0x80 | 96);
    }

    #[test]
    fn encode_rejects_bad_input() {
        let h = RtpHeader {
            payload_type: 128,
            ..Default::default()
        };
        assert_eq!(h.to_bytes(), Err(HeaderError::PayloadTypeOutOfRange(128)));
        let mut small = [0u8; 11];
        assert_eq!(
            RtpHeader::default().write_to(&mut small),
            Err(HeaderError::OutputTooSmall { len: 11 })
        );
    }

    #[test]
    fn skips_csrcs_extension_and_padding() {
        let mut p = vec![
            0x80 | 0x20 | 0x10 | 2,
            0x80 | 96,
            0,
            7,
            0,
            0,
            0,
            9,
            1,
            2,
            3,
            4,
        ];
        p.extend_from_slice(&[0, 0, 0, 0x11, 0, 0, 0, 0x22]); // two CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // one-word extension
        p.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xD9]); // payload
        p.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let parsed = parse(&p).unwrap();
        assert!(parsed.header.marker);
        assert_eq!(parsed.header.payload_type, 96);
        assert_eq!(parsed.header.sequence_number, 7);
        assert_eq!(parsed.header.ssrc, 0x0102_0304);
        assert_eq!(parsed.csrcs().collect::<Vec<_>>(), vec![0x11, 0x22]);
        let ext = parsed.extension.unwrap();
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data, &[9, 9, 9, 9]);
        assert_eq!(parsed.padding, 3);
        assert_eq!(parsed.payload, &[0xFF, 0xD8, 0xFF, 0xD9]);
        assert_eq!(&p[parsed.payload_range.clone()], parsed.payload);
    }

    #[test]
    fn rejects_malformed_packets() {
        assert_eq!(
            parse(&CLASSIC[..11]),
            Err(HeaderError::TooShort { len: 11 })
        );
        let mut v1 = CLASSIC;
        v1[0] = 0x40;
        assert_eq!(parse(&v1), Err(HeaderError::BadVersion(1)));
        let mut cc = CLASSIC;
        cc[0] = 0x82; // two CSRCs need 8 bytes, only 4 follow
        assert!(matches!(parse(&cc), Err(HeaderError::CsrcOverrun { .. })));
        let mut x = CLASSIC;
        x[0] = 0x90; // extension header 0xFFD8FFD9: 0xFFD9 words
        assert!(matches!(
            parse(&x),
            Err(HeaderError::ExtensionOverrun { .. })
        ));
        let mut x_short = CLASSIC[..14].to_vec();
        x_short[0] = 0x90;
        assert!(matches!(
            parse(&x_short),
            Err(HeaderError::ExtensionOverrun { .. })
        ));
        let mut pad = CLASSIC;
        pad[0] = 0xA0;
        pad[15] = 5; // more padding than the 4 payload bytes
        assert!(matches!(parse(&pad), Err(HeaderError::BadPadding { .. })));
        pad[15] = 0;
        assert!(matches!(parse(&pad), Err(HeaderError::BadPadding { .. })));
        pad[15] = 4; // all four bytes are padding: valid, empty payload
        assert_eq!(parse(&pad).unwrap().payload, &[] as &[u8]);
        let mut rtcp = CLASSIC;
        rtcp[1] = 200;
        assert_eq!(parse(&rtcp), Err(HeaderError::LooksLikeRtcp(200)));
    }

    fn any_header() -> impl Strategy<Value = RtpHeader> {
        (
            any::<bool>(),
            0u8..=127,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(marker, payload_type, sequence_number, timestamp, ssrc)| RtpHeader {
                    marker,
                    payload_type,
                    sequence_number,
                    timestamp,
                    ssrc,
                },
            )
            // Marker + PT 72..=79 is RTCP's byte range and deliberately rejected.
            .prop_filter("RTCP-like second byte", |h| {
                !(h.marker && (72..=79).contains(&h.payload_type))
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(h in any_header(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut packet = h.to_bytes().unwrap().to_vec();
            packet.extend_from_slice(&payload);
            let parsed = parse(&packet).unwrap();
            prop_assert_eq!(parsed.header, h);
            prop_assert_eq!(parsed.payload, &payload[..]);
            prop_assert_eq!(parsed.payload_range, HEADER_LEN..packet.len());
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = parse(&data) {
                // Whatever it accepts is consistent with the input.
                prop_assert!(p.payload_range.end <= data.len());
                prop_assert!(p.payload_range.start >= HEADER_LEN);
                prop_assert_eq!(&data[p.payload_range.clone()], p.payload);
                prop_assert_eq!(data[0] >> 6, RTP_VERSION);
            }
        }

        #[test]
        fn decode_of_valid_prefix_never_panics(
            first in 0x80u8..=0xBF,
            rest in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            // Version 2 with random P/X/CC: exercises the length checks.
            let mut data = vec![first];
            data.extend_from_slice(&rest);
            let _ = parse(&data);
        }
    }
}
