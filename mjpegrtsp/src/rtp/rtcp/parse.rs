//! Reading RTCP compound packets: see the choices at the top of
//! [`super`](crate::rtp::rtcp).

use super::{
    Bye, GOODBYE, HEADER, MAX_COUNT, Packet, RECEIVER_REPORT, REPORT_BLOCK, ReceiverReport,
    ReportBlock, SENDER_INFO, SENDER_REPORT, SOURCE_DESCRIPTION, SdesChunk, SdesItem, SenderInfo,
    SenderReport,
};
use std::fmt;

/// Why [`parse_compound`] or [`packets`] stopped; `offset` is where the
/// offending packet starts in the compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No packet at all.
    Empty,
    /// Fewer than 4 bytes left for a header.
    Truncated {
        /// Where the header would start.
        offset: usize,
    },
    /// A version other than 2.
    BadVersion {
        /// Where the packet starts.
        offset: usize,
        /// The version it has.
        version: u8,
    },
    /// The length field says more than the compound holds.
    Overrun {
        /// Where the packet starts.
        offset: usize,
        /// The packet's length from its length field, in bytes.
        len: usize,
        /// The bytes left from `offset`.
        available: usize,
    },
    /// The padding bit is set, but the padding count is 0 or reaches into
    /// the header.
    BadPadding {
        /// Where the packet starts.
        offset: usize,
        /// The padding count (the packet's last byte).
        padding: u8,
    },
    /// The body is shorter than the packet's count and type need, or an SDES
    /// chunk's items run past it.
    ShortBody {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "an empty RTCP packet"),
            ParseError::Truncated { offset } => {
                write!(f, "RTCP header at byte {offset} is cut short")
            }
            ParseError::BadVersion { offset, version } => {
                write!(
                    f,
                    "RTCP packet at byte {offset} has version {version}, not 2"
                )
            }
            ParseError::Overrun {
                offset,
                len,
                available,
            } => write!(
                f,
                "RTCP packet at byte {offset} says {len} bytes, but {available} are left"
            ),
            ParseError::BadPadding { offset, padding } => write!(
                f,
                "RTCP packet at byte {offset} has a padding count of {padding} that does not fit"
            ),
            ParseError::ShortBody {
                offset,
                packet_type,
            } => write!(
                f,
                "RTCP packet of type {packet_type} at byte {offset} is too short for what it holds"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Every packet of a compound, or the first error.
pub fn parse_compound(data: &[u8]) -> Result<Vec<Packet>, ParseError> {
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    packets(data).collect()
}

/// The packets of a compound one at a time; after an error the walk ends
/// (the packets before it stand).
pub fn packets(data: &[u8]) -> Packets<'_> {
    Packets {
        data,
        offset: 0,
        failed: false,
    }
}

/// The iterator of [`packets`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    data: &'a [u8],
    offset: usize,
    failed: bool,
}

impl Iterator for Packets<'_> {
    type Item = Result<Packet, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.offset..).filter(|r| !r.is_empty())?;
        if self.failed {
            return None;
        }
        match parse_one(rest, self.offset) {
            Ok((packet, len)) => {
                self.offset += len;
                Some(Ok(packet))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The packet at the start of `data` and its length in bytes.
fn parse_one(data: &[u8], offset: usize) -> Result<(Packet, usize), ParseError> {
    let Some(&[first, packet_type, hi, lo]) = data.get(..HEADER) else {
        return Err(ParseError::Truncated { offset });
    };
    let version = first >> 6;
    if version != 2 {
        return Err(ParseError::BadVersion { offset, version });
    }
    let count = first & 0x1F;
    let len = (usize::from(u16::from_be_bytes([hi, lo])) + 1) * 4;
    let Some(packet) = data.get(..len) else {
        return Err(ParseError::Overrun {
            offset,
            len,
            available: data.len(),
        });
    };
    let mut body = &packet[HEADER..];
    if first & 0x20 != 0 {
        let padding = packet[len - 1];
        if padding == 0 || usize::from(padding) > body.len() {
            return Err(ParseError::BadPadding { offset, padding });
        }
        body = &body[..body.len() - usize::from(padding)];
    }
    let short = ParseError::ShortBody {
        offset,
        packet_type,
    };
    let n = usize::from(count);
    let parsed = match packet_type {
        SENDER_REPORT => {
            let fixed = body.get(..4 + SENDER_INFO).ok_or(short.clone())?;
            let info = SenderInfo {
                ntp_timestamp: (u64::from(be32(fixed, 4)) << 32) | u64::from(be32(fixed, 8)),
                rtp_timestamp: be32(fixed, 12),
                packet_count: be32(fixed, 16),
                octet_count: be32(fixed, 20),
            };
            Packet::SenderReport(SenderReport {
                ssrc: be32(fixed, 0),
                info,
                blocks: blocks(&body[4 + SENDER_INFO..], n).ok_or(short)?,
            })
        }
        RECEIVER_REPORT => {
            let ssrc = body.get(..4).ok_or(short.clone())?;
            Packet::ReceiverReport(ReceiverReport {
                ssrc: be32(ssrc, 0),
                blocks: blocks(&body[4..], n).ok_or(short)?,
            })
        }
        SOURCE_DESCRIPTION => Packet::Sdes(sdes(body, n).ok_or(short)?),
        GOODBYE => {
            let list = body.get(..4 * n).ok_or(short.clone())?;
            let reason = match body.get(4 * n..).unwrap_or_default() {
                [] => None,
                [len, rest @ ..] => Some(rest.get(..usize::from(*len)).ok_or(short)?.to_vec()),
            };
            Packet::Bye(Bye {
                ssrcs: list.chunks_exact(4).map(|c| be32(c, 0)).collect(),
                reason,
            })
        }
        _ => Packet::Other {
            packet_type,
            count,
            body: body.to_vec(),
        },
    };
    Ok((parsed, len))
}

/// `n` report blocks from the start of `body`.
fn blocks(body: &[u8], n: usize) -> Option<Vec<ReportBlock>> {
    let bytes = body.get(..n * REPORT_BLOCK)?;
    Some(
        bytes
            .chunks_exact(REPORT_BLOCK)
            .map(ReportBlock::read)
            .collect(),
    )
}

/// `n` SDES chunks from the start of `body`.
fn sdes(body: &[u8], n: usize) -> Option<Vec<SdesChunk>> {
    let mut chunks = Vec::with_capacity(n.min(MAX_COUNT));
    let mut at = 0;
    for _ in 0..n {
        let ssrc = be32(body.get(at..at + 4)?, 0);
        at += 4;
        let mut items = Vec::new();
        loop {
            let kind = *body.get(at)?;
            if kind == 0 {
                break;
            }
            let len = usize::from(*body.get(at + 1)?);
            let value = body.get(at + 2..at + 2 + len)?;
            items.push(SdesItem {
                kind,
                value: value.to_vec(),
            });
            at += 2 + len;
        }
        // The END byte and the null bytes up to the next 32-bit boundary.
        at = (at + 1).div_ceil(4) * 4;
        if at > body.len() {
            return None;
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    Some(chunks)
}

/// The big-endian 32-bit word at `at` (the caller has checked the length).
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl ReportBlock {
    fn read(b: &[u8]) -> Self {
        // 24-bit two's complement, sign-extended.
        let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            lsr: be32(b, 16),
            dlsr: be32(b, 20),
        }
    }
}
