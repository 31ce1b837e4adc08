//! RTCP (RFC 3550 §6), written and read in one place: the server's sender
//! reports and BYE, the client's receiver reports, and what either reads.
//!
//! [`Packet`] is one RTCP packet: a sender report with its sender info, a
//! receiver report with its report blocks, SDES (the CNAME item and any
//! other), BYE with its list of sources, or another type kept as raw bytes.
//! [`build`] writes packets one after another as a compound packet;
//! [`parse_compound`] reads one back and [`packets`] walks one packet at a
//! time.
//!
//! Choices, and why:
//! * The parser checks what RFC 3550 §6.4, §6.5, §6.6 and appendix A.2 make
//!   checkable per packet — version 2, a length that fits, a padding count
//!   inside the packet, a body long enough for its count of blocks, chunks
//!   or sources — and returns a [`ParseError`] that says where. It never
//!   indexes past a slice, so arbitrary bytes never panic (a property test
//!   holds it to that).
//! * It does not insist that a compound start with SR or RR: a server's
//!   lone BYE at the end of a stream (ours, and others') is accepted.
//! * Padding is accepted on any packet (only its count is checked); what
//!   follows the report blocks of an SR or RR (profile extensions) is
//!   skipped. The builder writes neither, so build → parse gives back the
//!   packets that were built.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

mod parse;
pub use parse::{Packets, ParseError, packets, parse_compound};

/// Packet type of a sender report.
pub const SENDER_REPORT: u8 = 200;
/// Packet type of a receiver report.
pub const RECEIVER_REPORT: u8 = 201;
/// Packet type of source descriptions.
pub const SOURCE_DESCRIPTION: u8 = 202;
/// Packet type of BYE.
pub const GOODBYE: u8 = 203;
/// The SDES item type of the canonical name.
pub const CNAME: u8 = 1;

/// Most report blocks, SDES chunks or BYE sources in one packet (a 5-bit count).
pub const MAX_COUNT: usize = 31;
/// Longest packet: the length field counts up to 65,536 32-bit words.
pub const MAX_PACKET_LEN: usize = 65_536 * 4;

const HEADER: usize = 4;
const SENDER_INFO: usize = 20;
const REPORT_BLOCK: usize = 24;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// One RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A sender report (RFC 3550 §6.4.1).
    SenderReport(SenderReport),
    /// A receiver report (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport),
    /// Source descriptions (RFC 3550 §6.5).
    Sdes(Vec<SdesChunk>),
    /// BYE (RFC 3550 §6.6).
    Bye(Bye),
    /// Any other packet type (APP, feedback, …), kept as it came.
    Other {
        /// The packet type.
        packet_type: u8,
        /// The 5-bit count field.
        count: u8,
        /// The bytes after the 4-byte header, padding removed.
        body: Vec<u8>,
    },
}

/// A sender report: who sends, what it has sent, and what it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// The sender info.
    pub info: SenderInfo,
    /// Reports on the sources the sender receives (at most [`MAX_COUNT`]).
    pub blocks: Vec<ReportBlock>,
}

/// The sender info of a sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time in 64-bit NTP format (see [`ntp_timestamp`]).
    pub ntp_timestamp: u64,
    /// The same instant in RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start (wrapping).
    pub packet_count: u32,
    /// Payload octets sent since the start (wrapping).
    pub octet_count: u32,
}

impl SenderInfo {
    /// The middle 32 bits of the NTP timestamp: what a receiver report
    /// returns as LSR.
    pub fn ntp_middle(&self) -> u32 {
        (self.ntp_timestamp >> 16) as u32
    }
}

/// `time` in 64-bit NTP format: seconds since 1900 (wrapping at 2^32) and
/// a binary fraction.
pub fn ntp_timestamp(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = (since.as_secs() + NTP_UNIX_OFFSET) & 0xFFFF_FFFF;
    let frac = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// A receiver report: who reports, on which sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// One block per source received (at most [`MAX_COUNT`]).
    pub blocks: Vec<ReportBlock>,
}

/// One report block of a sender or receiver report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start: 24 bits on the wire, signed; written
    /// clamped to −2^23 … 2^23 − 1.
    pub cumulative_lost: i32,
    /// Highest sequence number received, extended with the cycle count.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last sender report's NTP time (0: none yet).
    pub lsr: u32,
    /// Delay since that report, in 1/65536 s.
    pub dlsr: u32,
}

/// The descriptions of one source in an SDES packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its items, in order.
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// A chunk with just a CNAME item (cut to 255 bytes, the most an item holds).
    pub fn cname(ssrc: u32, cname: &str) -> Self {
        let value = &cname.as_bytes()[..cname.len().min(255)];
        Self {
            ssrc,
            items: vec![SdesItem {
                kind: CNAME,
                value: value.to_vec(),
            }],
        }
    }

    /// The value of the chunk's first CNAME item.
    pub fn cname_value(&self) -> Option<&[u8]> {
        self.items
            .iter()
            .find(|i| i.kind == CNAME)
            .map(|i| i.value.as_slice())
    }
}

/// One SDES item: its type (1 = CNAME, … 8 = PRIV) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// The item type; 0 (END) is not an item.
    pub kind: u8,
    /// The value, at most 255 bytes.
    pub value: Vec<u8>,
}

/// BYE: these sources leave, perhaps saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    /// The sources leaving (at most [`MAX_COUNT`]).
    pub ssrcs: Vec<u32>,
    /// The reason, at most 255 bytes.
    pub reason: Option<Vec<u8>>,
}

/// Why [`build`] could not write a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// More report blocks, chunks or sources than the 5-bit count holds.
    TooMany {
        /// What there were too many of.
        what: &'static str,
        /// How many there were.
        count: usize,
    },
    /// An SDES item or BYE reason longer than 255 bytes.
    TooLong {
        /// The length.
        len: usize,
    },
    /// An SDES item of type 0, which marks the end of a chunk's items.
    EndItem,
    /// A packet longer than [`MAX_PACKET_LEN`], or a raw body not a whole
    /// number of 32-bit words, or a count above 31.
    BadLength {
        /// The packet's length in bytes.
        len: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::TooMany { what, count } => {
                write!(f, "{count} {what} in one RTCP packet (at most {MAX_COUNT})")
            }
            BuildError::TooLong { len } => {
                write!(f, "an RTCP text of {len} bytes (at most 255)")
            }
            BuildError::EndItem => write!(f, "an SDES item of type 0 (END)"),
            BuildError::BadLength { len } => {
                write!(f, "an RTCP packet of {len} bytes cannot be written")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Writes `packets` one after another: a compound packet (RFC 3550 §6.1).
/// Whether the first is an SR or RR, as §6.1 asks, is the caller's choice.
pub fn build(packets: &[Packet]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::with_capacity(64);
    for packet in packets {
        packet.write(&mut out)?;
    }
    Ok(out)
}

impl Packet {
    /// Appends this packet to `out`; on error `out` is left as it was.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let start = out.len();
        let result = self.write_unchecked(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write_unchecked(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let start = out.len();
        match self {
            Packet::SenderReport(sr) => {
                header(out, count(sr.blocks.len(), "report blocks")?, SENDER_REPORT);
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                let i = &sr.info;
                out.extend_from_slice(&i.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&i.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&i.packet_count.to_be_bytes());
                out.extend_from_slice(&i.octet_count.to_be_bytes());
                sr.blocks.iter().for_each(|b| b.write(out));
            }
            Packet::ReceiverReport(rr) => {
                header(
                    out,
                    count(rr.blocks.len(), "report blocks")?,
                    RECEIVER_REPORT,
                );
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                rr.blocks.iter().for_each(|b| b.write(out));
            }
            Packet::Sdes(chunks) => {
                header(out, count(chunks.len(), "SDES chunks")?, SOURCE_DESCRIPTION);
                for chunk in chunks {
                    let chunk_start = out.len();
                    out.extend_from_slice(&chunk.ssrc.to_be_bytes());
                    for item in &chunk.items {
                        if item.kind == 0 {
                            return Err(BuildError::EndItem);
                        }
                        out.push(item.kind);
                        text(out, &item.value)?;
                    }
                    // END, then null bytes to the next 32-bit boundary.
                    out.push(0);
                    let len = out.len() - chunk_start;
                    out.resize(chunk_start + len.div_ceil(4) * 4, 0);
                }
            }
            Packet::Bye(bye) => {
                header(out, count(bye.ssrcs.len(), "BYE sources")?, GOODBYE);
                bye.ssrcs
                    .iter()
                    .for_each(|s| out.extend_from_slice(&s.to_be_bytes()));
                if let Some(reason) = &bye.reason {
                    text(out, reason)?;
                    let len = out.len() - start;
                    out.resize(start + len.div_ceil(4) * 4, 0);
                }
            }
            Packet::Other {
                packet_type,
                count,
                body,
            } => {
                if usize::from(*count) > MAX_COUNT || body.len() % 4 != 0 {
                    return Err(BuildError::BadLength {
                        len: HEADER + body.len(),
                    });
                }
                header(out, *count, *packet_type);
                out.extend_from_slice(body);
            }
        }
        let len = out.len() - start;
        if len > MAX_PACKET_LEN {
            return Err(BuildError::BadLength { len });
        }
        let words = (len / 4 - 1) as u16;
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
        Ok(())
    }
}

/// A header with the length left 0 (filled in once the body is written).
fn header(out: &mut Vec<u8>, count: u8, packet_type: u8) {
    out.extend_from_slice(&[0x80 | count, packet_type, 0, 0]);
}

fn count(n: usize, what: &'static str) -> Result<u8, BuildError> {
    if n > MAX_COUNT {
        return Err(BuildError::TooMany { what, count: n });
    }
    Ok(n as u8)
}

/// A length byte and the bytes.
fn text(out: &mut Vec<u8>, value: &[u8]) -> Result<(), BuildError> {
    let len = u8::try_from(value.len()).map_err(|_| BuildError::TooLong { len: value.len() })?;
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

impl ReportBlock {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0xFF_FFFF;
        out.push(self.fraction_lost);
        out.extend_from_slice(&lost.to_be_bytes()[1..]);
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.lsr.to_be_bytes());
        out.extend_from_slice(&self.dlsr.to_be_bytes());
    }
}

/// A receiver report with `block` (or none) and an SDES with `cname`: what
/// a receiver sends every few seconds.
pub fn receiver_report(ssrc: u32, block: Option<ReportBlock>, cname: &str) -> Vec<u8> {
    let rr = ReceiverReport {
        ssrc,
        blocks: block.into_iter().collect(),
    };
    with_cname(Packet::ReceiverReport(rr), ssrc, cname)
}

/// A sender report without report blocks and an SDES with `cname`: what a
/// sender that receives nothing sends every few seconds.
pub fn sender_report(ssrc: u32, info: SenderInfo, cname: &str) -> Vec<u8> {
    let sr = SenderReport {
        ssrc,
        info,
        blocks: Vec::new(),
    };
    with_cname(Packet::SenderReport(sr), ssrc, cname)
}

/// `report` (with one block at most) and an SDES with `cname` (cut to
/// 255 bytes): a compound [`build`] cannot refuse.
fn with_cname(report: Packet, ssrc: u32, cname: &str) -> Vec<u8> {
    let sdes = Packet::Sdes(vec![SdesChunk::cname(ssrc, cname)]);
    build(&[report, sdes]).unwrap_or_default()
}

/// A BYE for `ssrc` alone, with no reason: the stream has ended.
pub fn bye(ssrc: u32) -> Vec<u8> {
    let bye = Bye {
        ssrcs: vec![ssrc],
        reason: None,
    };
    build(&[Packet::Bye(bye)]).unwrap_or_default()
}

#[cfg(test)]
mod tests;
