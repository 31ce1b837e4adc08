//! RTP payload format for JPEG (RFC 2435), the packetizer side, as plain Rust.
//!
//! Standard RTSP clients (ffmpeg/ffplay, GStreamer `rtpjpegdepay`) only decode
//! JPEG over RTP in this form. A frame is packetized once by [`packetize`]; the
//! result holds the RTP *payloads* only, so a server can reuse them for every
//! session and write just the 12-byte RTP header (sequence number, timestamp,
//! SSRC, marker on the last packet) per session.
//!
//! Every payload is
//!
//! ```text
//! main JPEG header (8 bytes): type-specific=0 | fragment offset (24 bits)
//!                             | type | Q=255 | width/8 | height/8
//! restart marker header (4 bytes, types 64/65 only): restart interval
//!                             | F=1 | L=1 | restart count=0x3FFF
//! quantization table header (first packet only): MBZ=0 | precision=0
//!                             | length=128 | luma table | chroma table
//! a slice of the entropy-coded scan data followed by the EOI marker
//! ```
//!
//! The fragment offset counts bytes of that data (scan + EOI).
//!
//! Choices, and why:
//!
//! * **Q=255, tables in-band**: the encoder's own quantization tables travel
//!   in the first packet of every frame, so any 8-bit table is carried exactly
//!   and a client never has to remember tables between frames.
//! * **Huffman tables are checked.** RFC 2435 has no way to carry Huffman
//!   tables: the receiver always rebuilds the standard ones of the JPEG spec
//!   (ITU T.81 Annex K.3), with table 0 for Y and table 1 for Cb and Cr.
//!   GStreamer's `rtpjpegpay` skips the DHT segment without looking at it, so
//!   a JPEG with optimised tables (ffmpeg's default `-huffman optimal`,
//!   `jpegtran -optimize`) goes out anyway and the receiver cannot decode it
//!   (`rtpjpegpay ! rtpjpegdepay ! jpegdec` stops with a decoding error on
//!   an ffmpeg JPEG), or decodes garbage. Here such a JPEG is
//!   [`Unsupported::HuffmanTables`]; the caller can send it another way. A JPEG
//!   without any DHT segment (the Motion-JPEG/AVI1 convention) is taken to use
//!   the standard tables.
//! * **Restart markers** (a DRI segment with a non-zero interval) give types
//!   64/65. Packets are cut at fixed sizes, not at restart intervals, so per
//!   RFC 2435 section 3.1.7 every packet says F=1, L=1, count=0x3FFF: "the
//!   receiver must reassemble the entire frame before decoding it". Cutting at
//!   restart intervals would allow partial decoding but would break the equal
//!   packet sizes that UDP GSO needs; the clients above reassemble whole
//!   frames anyway. (`rtpjpegpay` makes the same choice.)
//! * **Equal sizes**: every payload but the last is exactly `mtu - 12` bytes,
//!   so one `sendmsg` with `UDP_SEGMENT` = [`Packetized::gso_segment_size`]
//!   can carry a whole frame.
//! * **The EOI marker is sent** after the scan data (RFC 2435 section 3.1.9
//!   lets the scan end implicitly or with EOI), whether or not the JPEG had
//!   one; fill bytes and anything after EOI are not. Depayloaders do not
//!   reliably add it: ffmpeg 5.1's decoder then warns "EOI missing,
//!   emulating", and GStreamer 1.22's `rtpjpegdepay` adds it only when the
//!   data does not end in `FF xx` or `xx D9`. Both decode the same pixels
//!   either way, but with EOI no one complains, and the payloads are byte for
//!   byte those of GStreamer's `rtpjpegpay`.
//!
//! Which JPEGs cannot be carried is listed in [`Unsupported`].

mod parse;
mod unsupported;

pub use unsupported::Unsupported;

use super::header::{HEADER_LEN, HeaderError, RtpHeader};
use crate::container::jpeg::EOI;
use parse::parse;

/// The static payload type of JPEG (RFC 3551).
pub const PAYLOAD_TYPE: u8 = 26;
/// The RTP clock rate of JPEG video.
pub const CLOCK_RATE: u32 = 90_000;
/// The `encoding-name` in caps and SDP (`a=rtpmap:26 JPEG/90000`).
pub const ENCODING_NAME: &str = "JPEG";
/// The Q value meaning "quantization tables follow in the first packet".
pub const Q_IN_BAND: u8 = 255;
/// Length of the main JPEG header in every payload.
pub const MAIN_HEADER_LEN: usize = 8;
/// Length of the restart marker header (types 64–127).
pub const RESTART_HEADER_LEN: usize = 4;
/// Length of the quantization table header and its two 8-bit tables.
pub const QUANT_HEADER_LEN: usize = 4 + 2 * 64;
/// Largest width or height: 255 units of 8 pixels.
pub const MAX_DIMENSION: u16 = 255 * 8;
/// Largest scan data plus EOI: the fragment offset has 24 bits.
pub const MAX_DATA_LEN: usize = 1 << 24;

/// The chroma subsampling of the two RFC 2435 types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subsampling {
    /// Type 0: Y is 2×1 (4:2:2), Cb and Cr 1×1.
    Yuv422,
    /// Type 1: Y is 2×2 (4:2:0), Cb and Cr 1×1.
    Yuv420,
}

/// What the main JPEG header says about every packet of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    pub subsampling: Subsampling,
    /// Width in pixels, a multiple of 8.
    pub width: u16,
    /// Height in pixels, a multiple of 8.
    pub height: u16,
    /// MCUs per restart interval from the DRI segment, 0 for none.
    pub restart_interval: u16,
}

impl FrameInfo {
    /// The RFC 2435 type: 0 or 1, plus 64 with restart markers.
    pub fn rtp_type(&self) -> u8 {
        let base = match self.subsampling {
            Subsampling::Yuv422 => 0,
            Subsampling::Yuv420 => 1,
        };
        if self.restart_interval > 0 {
            base + 64
        } else {
            base
        }
    }

    /// Bytes of RFC 2435 headers before the scan data in every packet but the
    /// first (which also has [`QUANT_HEADER_LEN`]).
    pub fn header_len(&self) -> usize {
        if self.restart_interval > 0 {
            MAIN_HEADER_LEN + RESTART_HEADER_LEN
        } else {
            MAIN_HEADER_LEN
        }
    }

    /// The smallest MTU (RTP header included) that can carry such a frame:
    /// the first packet needs all headers, both tables and one byte of scan.
    pub fn min_mtu(&self) -> usize {
        HEADER_LEN + self.header_len() + QUANT_HEADER_LEN + 1
    }
}

/// Which Huffman table of a component is not the standard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HuffmanClass {
    Dc = 0,
    Ac = 1,
}

/// One frame's RFC 2435 payloads, without RTP headers.
///
/// The payloads lie back to back in one buffer; every payload but the last is
/// exactly [`segment_len`](Self::segment_len) bytes long, so payload `i` starts
/// at `i * segment_len`. The last payload is the one to send with the marker
/// bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packetized {
    bytes: Vec<u8>,
    segment_len: usize,
    info: FrameInfo,
    data_len: usize,
}

impl Packetized {
    /// Number of packets: at least 1.
    pub fn packet_count(&self) -> usize {
        self.bytes.len().div_ceil(self.segment_len)
    }

    /// Length of every payload except the last.
    pub fn segment_len(&self) -> usize {
        self.segment_len
    }

    /// Length of the last payload (at most [`segment_len`](Self::segment_len)).
    pub fn last_len(&self) -> usize {
        self.bytes.len() - (self.packet_count() - 1) * self.segment_len
    }

    /// The UDP GSO segment size (`UDP_SEGMENT`) for sending the frame as
    /// header+payload datagrams back to back: RTP header plus
    /// [`segment_len`](Self::segment_len).
    pub fn gso_segment_size(&self) -> usize {
        HEADER_LEN + self.segment_len
    }

    /// Payload `i`, or `None` past the last.
    pub fn payload(&self, i: usize) -> Option<&[u8]> {
        let start = i.checked_mul(self.segment_len)?;
        if start >= self.bytes.len() {
            return None;
        }
        let end = (start + self.segment_len).min(self.bytes.len());
        Some(&self.bytes[start..end])
    }

    /// The payloads in order.
    pub fn payloads(&self) -> std::slice::Chunks<'_, u8> {
        self.bytes.chunks(self.segment_len)
    }

    /// All payloads back to back (for scatter I/O: payload `i` starts at
    /// `i * segment_len`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether packet `i` is the frame's last and takes the marker bit.
    pub fn marker(&self, i: usize) -> bool {
        i + 1 == self.packet_count()
    }

    /// What the main JPEG header says.
    pub fn info(&self) -> FrameInfo {
        self.info
    }

    /// Length of the data the fragment offsets address: the entropy-coded
    /// scan data and the EOI marker.
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// Appends the frame's datagrams (12-byte RTP header + payload each) to
    /// `out`, back to back as UDP GSO wants them. The first packet gets
    /// `first.sequence_number`, the others the following numbers (mod 2^16);
    /// the marker bit is set on the last packet only; payload type, timestamp
    /// and SSRC come from `first`. Returns the sequence number for the next
    /// frame.
    pub fn write_packets(&self, first: RtpHeader, out: &mut Vec<u8>) -> Result<u16, HeaderError> {
        let count = self.packet_count();
        out.reserve(self.bytes.len() + count * HEADER_LEN);
        let mut header = first;
        for (i, payload) in self.payloads().enumerate() {
            header.marker = i + 1 == count;
            out.extend_from_slice(&header.to_bytes()?);
            out.extend_from_slice(payload);
            header.sequence_number = header.sequence_number.wrapping_add(1);
        }
        Ok(header.sequence_number)
    }
}

/// Whether RFC 2435 can carry `jpeg` (packetized at a usual 1,400-byte
/// MTU); why not, when it cannot. What the server checks a source's first
/// frame with.
pub fn carries(jpeg: &[u8]) -> Result<(), Unsupported> {
    packetize(jpeg, 1400).map(|_| ())
}

/// Splits a JPEG into RFC 2435 payloads for packets of at most `mtu` bytes
/// (RTP header included: each payload is at most `mtu - 12` bytes).
///
/// Only the entropy-coded scan data is sent; headers are described by the
/// main JPEG header and the in-band quantization tables (Q=255). Fails with a
/// reason if the JPEG is one RFC 2435 cannot carry or if `mtu` is smaller than
/// [`FrameInfo::min_mtu`].
pub fn packetize(jpeg: &[u8], mtu: usize) -> Result<Packetized, Unsupported> {
    let parsed = parse(jpeg)?;
    let scan = &jpeg[parsed.scan.clone()];
    let data_len = scan.len() + EOI.len();
    if data_len > MAX_DATA_LEN {
        return Err(Unsupported::ScanTooLong { len: data_len });
    }
    let info = parsed.info;
    let min = info.min_mtu();
    if mtu < min {
        return Err(Unsupported::MtuTooSmall { mtu, min });
    }
    let segment_len = mtu - HEADER_LEN;
    let header_len = info.header_len();
    let first_room = segment_len - header_len - QUANT_HEADER_LEN;
    let room = segment_len - header_len;
    let count = 1 + data_len.saturating_sub(first_room).div_ceil(room);

    let total = data_len + count * header_len + QUANT_HEADER_LEN;
    let mut bytes = Vec::with_capacity(total);
    let mut offset = 0;
    for i in 0..count {
        let [_, o2, o1, o0] = (offset as u32).to_be_bytes();
        bytes.extend_from_slice(&[
            0,
            o2,
            o1,
            o0,
            info.rtp_type(),
            Q_IN_BAND,
            (info.width / 8) as u8,
            (info.height / 8) as u8,
        ]);
        if info.restart_interval > 0 {
            let [r1, r0] = info.restart_interval.to_be_bytes();
            // F=1, L=1, restart count 0x3FFF: not aligned to restart intervals.
            bytes.extend_from_slice(&[r1, r0, 0xFF, 0xFF]);
        }
        let room = if i == 0 {
            // MBZ, precision (both tables 8-bit), length 128, then the tables.
            bytes.extend_from_slice(&[0, 0, 0, 128]);
            bytes.extend_from_slice(&parsed.luma_table);
            bytes.extend_from_slice(&parsed.chroma_table);
            first_room
        } else {
            room
        };
        let end = (offset + room).min(data_len);
        // The data is the scan, then EOI: copy the part of each in range.
        bytes.extend_from_slice(&scan[offset.min(scan.len())..end.min(scan.len())]);
        let eoi_range = offset.max(scan.len()) - scan.len()..end.max(scan.len()) - scan.len();
        bytes.extend_from_slice(&EOI[eoi_range]);
        offset = end;
    }
    debug_assert_eq!(offset, data_len);
    debug_assert_eq!(bytes.len(), total);
    let segment_len = if count == 1 { bytes.len() } else { segment_len };
    Ok(Packetized {
        bytes,
        segment_len,
        info,
        data_len,
    })
}

#[cfg(test)]
mod tests;
