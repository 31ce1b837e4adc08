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

use std::fmt;

use super::header::{HEADER_LEN, HeaderError, RtpHeader};
use crate::container::jpeg::tables::{
    HuffmanTable, STD_CHROMA_AC, STD_CHROMA_DC, STD_LUMA_AC, STD_LUMA_DC,
};
use crate::container::jpeg::{Component, EOI, SegmentError, Sof, marker, segments};

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

/// Why a JPEG cannot be sent as RFC 2435 (or not with this MTU). The
/// [`Display`](fmt::Display) text is meant for people: it says what the JPEG
/// has and what RFC 2435 would need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Not a JPEG, or its marker segments are cut short or inconsistent.
    Malformed { offset: usize, what: &'static str },
    /// A coding process other than baseline or extended sequential Huffman
    /// (progressive, lossless, hierarchical, arithmetic): `marker` is the SOF
    /// (or DHP) marker's second byte.
    Coding { marker: u8 },
    /// The components are R, G, B rather than Y, Cb, Cr (as libjpeg decides:
    /// no JFIF APP0 segment, and an Adobe APP14 segment with transform 0 or
    /// else component ids `R`, `G`, `B`): receivers rebuild headers that say
    /// YCbCr.
    Rgb,
    /// Samples of other than 8 bits.
    SamplePrecision(u8),
    /// Other than 3 colour components: grayscale (1) or CMYK (4) has no
    /// RFC 2435 type.
    Components(u8),
    /// Sampling factors (H<<4 | V of Y, Cb, Cr) other than 4:2:2 (21 11 11)
    /// or 4:2:0 (22 11 11), e.g. 4:4:4.
    Sampling { y: u8, cb: u8, cr: u8 },
    /// Width or height zero (set later by a DNL segment), above 2040 or not a
    /// multiple of 8: the header carries them in 8-pixel units in one byte.
    Dimensions { width: u16, height: u16 },
    /// A 16-bit quantization table (table number `table`).
    QuantPrecision { table: u8 },
    /// Cb and Cr use quantization tables with different contents; RFC 2435
    /// carries one chroma table.
    ChromaQuantTables,
    /// A component's Huffman table is not the standard one of T.81 Annex K.3
    /// that the receiver rebuilds (`component` 0 is Y, 1 Cb, 2 Cr).
    HuffmanTables { component: u8, class: HuffmanClass },
    /// Not one interleaved scan of Y, Cb, Cr over all 64 coefficients
    /// followed by EOI (e.g. separate scans per component, or a DNL).
    ScanLayout { what: &'static str },
    /// Scan data (with EOI) longer than the 24-bit fragment offset can address.
    ScanTooLong { len: usize },
    /// The MTU leaves no room for the first packet's headers and tables.
    MtuTooSmall { mtu: usize, min: usize },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unsupported::Malformed { offset, what } => {
                write!(f, "malformed JPEG at byte {offset}: {what}")
            }
            Unsupported::Coding { marker } => {
                let name = match marker {
                    0xC2 => "progressive",
                    0xC3 => "lossless",
                    0xC9 => "arithmetic-coded",
                    0xCA => "arithmetic-coded progressive",
                    0xCB => "arithmetic-coded lossless",
                    0xC5..=0xC7 | 0xCD..=0xCF | 0xDE => "hierarchical",
                    _ => "non-baseline",
                };
                write!(
                    f,
                    "{name} JPEG (marker FF{marker:02X}): RFC 2435 carries only \
                     baseline sequential Huffman-coded JPEG"
                )
            }
            Unsupported::Rgb => write!(
                f,
                "RGB components: RFC 2435 receivers decode the scan as YCbCr"
            ),
            Unsupported::SamplePrecision(p) => {
                write!(f, "{p}-bit samples: RFC 2435 carries only 8-bit JPEG")
            }
            Unsupported::Components(1) => {
                write!(f, "grayscale JPEG: RFC 2435 has no type for one component")
            }
            Unsupported::Components(n) => {
                write!(f, "{n} colour components: RFC 2435 carries only YCbCr (3)")
            }
            Unsupported::Sampling { y, cb, cr } => write!(
                f,
                "sampling factors Y {}x{}, Cb {}x{}, Cr {}x{}: RFC 2435 carries \
                 only 4:2:2 (Y 2x1) and 4:2:0 (Y 2x2) with Cb, Cr 1x1",
                y >> 4,
                y & 15,
                cb >> 4,
                cb & 15,
                cr >> 4,
                cr & 15
            ),
            Unsupported::Dimensions { width, height } => write!(
                f,
                "{width}x{height} pixels: RFC 2435 needs width and height that \
                 are multiples of 8 from 8 to {MAX_DIMENSION}"
            ),
            Unsupported::QuantPrecision { table } => write!(
                f,
                "16-bit quantization table {table}: only 8-bit tables are sent"
            ),
            Unsupported::ChromaQuantTables => write!(
                f,
                "Cb and Cr use different quantization tables: RFC 2435 carries \
                 one table for both"
            ),
            Unsupported::HuffmanTables { component, class } => {
                let comp = ["Y", "Cb", "Cr"][usize::from(component.min(2))];
                let class = match class {
                    HuffmanClass::Dc => "DC",
                    HuffmanClass::Ac => "AC",
                };
                write!(
                    f,
                    "the {comp} {class} Huffman table is not the standard one \
                     (JPEG Annex K.3) that RFC 2435 receivers assume \
                     (e.g. an optimised table)"
                )
            }
            Unsupported::ScanLayout { what } => {
                write!(
                    f,
                    "scan layout: {what}; RFC 2435 carries one interleaved scan"
                )
            }
            Unsupported::ScanTooLong { len } => write!(
                f,
                "{len} bytes of scan data exceed the 24-bit fragment offset"
            ),
            Unsupported::MtuTooSmall { mtu, min } => write!(
                f,
                "an MTU of {mtu} bytes is too small for RFC 2435 JPEG (at least {min})"
            ),
        }
    }
}

impl std::error::Error for Unsupported {}

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
pub fn carries(jpeg: &[u8]) -> Result<(), String> {
    packetize(jpeg, 1400).map(|_| ()).map_err(|e| e.to_string())
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

/// What [`parse`] takes from the JPEG.
struct Parsed {
    info: FrameInfo,
    luma_table: [u8; 64],
    chroma_table: [u8; 64],
    /// The entropy-coded data, without EOI and trailing fill bytes.
    scan: std::ops::Range<usize>,
}

fn malformed(offset: usize, what: &'static str) -> Unsupported {
    Unsupported::Malformed { offset, what }
}

impl From<SegmentError> for Unsupported {
    fn from(e: SegmentError) -> Self {
        malformed(e.offset(), e.what())
    }
}

/// Walks the marker segments up to SOS, checks everything RFC 2435 needs and
/// finds the scan data.
fn parse(data: &[u8]) -> Result<Parsed, Unsupported> {
    // Definitions in force, by table number: quantization tables (offset of
    // the 64 bytes), Huffman tables (DC, AC) as slices of the DHT segment.
    let mut quant: [Option<usize>; 4] = [None; 4];
    let mut huffman: [[Option<&[u8]>; 4]; 2] = [[None; 4]; 2];
    let mut frame: Option<(u16, u16, [Component; 3])> = None;
    let mut restart_interval = 0u16;
    let mut adobe_transform = None;
    let mut jfif = false;

    for segment in segments(data) {
        let segment = segment?;
        let (seg, marker_pos, seg_start) = (segment.body, segment.offset, segment.body_offset());
        match segment.marker {
            marker::SOF0 | marker::SOF1 => {
                if frame.is_some() {
                    return Err(malformed(marker_pos, "second SOF segment"));
                }
                frame = Some(parse_sof(segment.marker, seg, marker_pos)?);
            }
            m if marker::is_sof(m) || m == marker::DHP => {
                return Err(Unsupported::Coding { marker: m });
            }
            marker::DHT => parse_dht(seg, marker_pos, &mut huffman)?,
            marker::DQT => parse_dqt(seg, seg_start, &mut quant)?,
            marker::DRI => {
                if seg.len() < 2 {
                    return Err(malformed(marker_pos, "DRI segment too short"));
                }
                restart_interval = u16::from_be_bytes([seg[0], seg[1]]);
            }
            marker::SOS => {
                let (width, height, comps) =
                    frame.ok_or_else(|| malformed(marker_pos, "SOS before SOF"))?;
                let ids = [comps[0].id, comps[1].id, comps[2].id];
                let rgb = match adobe_transform {
                    _ if jfif => false,
                    Some(transform) => transform == 0,
                    None => ids == *b"RGB",
                };
                if rgb {
                    return Err(Unsupported::Rgb);
                }
                check_sos(seg, marker_pos, &comps, &huffman)?;
                let table = |c: &Component| {
                    quant
                        .get(usize::from(c.quant_table))
                        .copied()
                        .flatten()
                        .ok_or_else(|| malformed(marker_pos, "a component's DQT table is missing"))
                };
                let (y, cb, cr) = (table(&comps[0])?, table(&comps[1])?, table(&comps[2])?);
                if data[cb..cb + 64] != data[cr..cr + 64] {
                    return Err(Unsupported::ChromaQuantTables);
                }
                let subsampling = if comps[0].sampling == 0x21 {
                    Subsampling::Yuv422
                } else {
                    Subsampling::Yuv420
                };
                let mut luma_table = [0; 64];
                luma_table.copy_from_slice(&data[y..y + 64]);
                let mut chroma_table = [0; 64];
                chroma_table.copy_from_slice(&data[cb..cb + 64]);
                return Ok(Parsed {
                    info: FrameInfo {
                        subsampling,
                        width,
                        height,
                        restart_interval,
                    },
                    luma_table,
                    chroma_table,
                    scan: find_scan_end(data, segment.end())?,
                });
            }
            marker::APP0 if seg.starts_with(b"JFIF\0") => jfif = true,
            marker::APP14 if seg.len() >= 12 && seg.starts_with(b"Adobe") => {
                adobe_transform = Some(seg[11]);
            }
            // APPn, COM, DAC and the rest carry nothing RFC 2435 needs.
            _ => {}
        }
    }
    // The walk ends at SOS, which returned above, or with an error.
    Err(malformed(data.len(), "data ends inside the headers"))
}

fn parse_sof(marker: u8, seg: &[u8], at: usize) -> Result<(u16, u16, [Component; 3]), Unsupported> {
    let sof = Sof::parse(marker, seg).ok_or_else(|| malformed(at, "SOF segment too short"))?;
    if sof.precision != 8 {
        return Err(Unsupported::SamplePrecision(sof.precision));
    }
    let (width, height) = (sof.width, sof.height);
    if sof.components != 3 {
        return Err(Unsupported::Components(sof.components));
    }
    let comp = |i: usize| {
        sof.component(i)
            .ok_or_else(|| malformed(at, "SOF segment too short for 3 components"))
    };
    let comps = [comp(0)?, comp(1)?, comp(2)?];
    let (y, cb, cr) = (comps[0].sampling, comps[1].sampling, comps[2].sampling);
    if !matches!(y, 0x21 | 0x22) || cb != 0x11 || cr != 0x11 {
        return Err(Unsupported::Sampling { y, cb, cr });
    }
    let ok = |d: u16| d > 0 && d <= MAX_DIMENSION && d.is_multiple_of(8);
    if !ok(width) || !ok(height) {
        return Err(Unsupported::Dimensions { width, height });
    }
    Ok((width, height, comps))
}

fn parse_dqt(
    seg: &[u8],
    seg_start: usize,
    quant: &mut [Option<usize>; 4],
) -> Result<(), Unsupported> {
    let mut i = 0;
    while i < seg.len() {
        let (precision, id) = (seg[i] >> 4, seg[i] & 0x0F);
        if precision != 0 {
            return Err(Unsupported::QuantPrecision { table: id });
        }
        if id > 3 {
            return Err(malformed(
                seg_start + i,
                "quantization table number above 3",
            ));
        }
        if seg.len() < i + 65 {
            return Err(malformed(seg_start + i, "DQT segment too short"));
        }
        quant[usize::from(id)] = Some(seg_start + i + 1);
        i += 65;
    }
    Ok(())
}

fn parse_dht<'a>(
    seg: &'a [u8],
    at: usize,
    huffman: &mut [[Option<&'a [u8]>; 4]; 2],
) -> Result<(), Unsupported> {
    let mut i = 0;
    while i < seg.len() {
        let (class, id) = (usize::from(seg[i] >> 4), usize::from(seg[i] & 0x0F));
        if class > 1 || id > 3 {
            return Err(malformed(at, "bad Huffman table class or number"));
        }
        let counts = seg
            .get(i + 1..i + 17)
            .ok_or_else(|| malformed(at, "DHT segment too short"))?;
        let symbols: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let table = seg
            .get(i + 1..i + 17 + symbols)
            .ok_or_else(|| malformed(at, "DHT segment too short"))?;
        huffman[class][id] = Some(table);
        i += 17 + symbols;
    }
    Ok(())
}

/// Checks that the scan is one interleaved scan of the frame's components in
/// order, with the standard Huffman tables.
fn check_sos(
    seg: &[u8],
    at: usize,
    comps: &[Component; 3],
    huffman: &[[Option<&[u8]>; 4]; 2],
) -> Result<(), Unsupported> {
    let ns = *seg
        .first()
        .ok_or_else(|| malformed(at, "empty SOS segment"))?;
    if ns != 3 {
        return Err(Unsupported::ScanLayout {
            what: "the first scan does not hold all three components",
        });
    }
    if seg.len() < 1 + 2 * 3 + 3 {
        return Err(malformed(at, "SOS segment too short"));
    }
    for (i, comp) in comps.iter().enumerate() {
        let (id, tables) = (seg[1 + 2 * i], seg[2 + 2 * i]);
        if id != comp.id {
            return Err(Unsupported::ScanLayout {
                what: "the scan's components are not those of the frame, in order",
            });
        }
        let (dc, ac): (&HuffmanTable, &HuffmanTable) = if i == 0 {
            (&STD_LUMA_DC, &STD_LUMA_AC)
        } else {
            (&STD_CHROMA_DC, &STD_CHROMA_AC)
        };
        let checks = [
            (HuffmanClass::Dc, tables >> 4, dc),
            (HuffmanClass::Ac, tables & 0x0F, ac),
        ];
        for (class, table, standard) in checks {
            let defined = huffman[class as usize].get(usize::from(table));
            // Never defined: the Motion-JPEG convention for the standard tables.
            let is_standard = defined.is_some_and(|t| t.is_none_or(|t| standard.is_defined_by(t)));
            if !is_standard {
                return Err(Unsupported::HuffmanTables {
                    component: i as u8,
                    class,
                });
            }
        }
    }
    let spectral = &seg[1 + 2 * 3..1 + 2 * 3 + 3];
    if spectral != [0, 63, 0] {
        return Err(Unsupported::ScanLayout {
            what: "the scan does not cover coefficients 0 to 63 in one pass",
        });
    }
    Ok(())
}

/// Finds the end of the entropy-coded data that starts at `start`: the EOI
/// marker (or the end of `data`), without fill bytes before it. Restart
/// markers and stuffed `FF 00` pairs belong to the scan; any other marker
/// means a layout RFC 2435 cannot carry.
fn find_scan_end(data: &[u8], start: usize) -> Result<std::ops::Range<usize>, Unsupported> {
    let mut pos = start;
    let mut end = data.len();
    while let Some(found) = data[pos..].iter().position(|&b| b == 0xFF) {
        let ff = pos + found;
        match data.get(ff + 1) {
            None => break,
            Some(0x00 | 0xD0..=0xD7) => pos = ff + 2,
            Some(0xFF) => pos = ff + 1,
            Some(&marker::EOI) => {
                end = ff;
                break;
            }
            Some(_) => {
                return Err(Unsupported::ScanLayout {
                    what: "a marker other than RST or EOI follows the scan data \
                           (another scan, DNL or DHT)",
                });
            }
        }
    }
    while end > start && data[end - 1] == 0xFF {
        end -= 1;
    }
    if end == start {
        return Err(malformed(start, "no scan data"));
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::jpeg::{SOI, stuffed, write_segment};
    use proptest::prelude::*;

    /// A JPEG's headers, built segment by segment.
    struct Builder {
        sof_marker: u8,
        jfif: bool,
        /// The transform byte of an Adobe APP14 segment.
        adobe: Option<u8>,
        precision: u8,
        width: u16,
        height: u16,
        /// (id, sampling, quant table) per component.
        comps: Vec<(u8, u8, u8)>,
        /// (precision/id byte, fill value) per quantization table.
        dqt: Vec<(u8, u8)>,
        dri: Option<u16>,
        /// Class/id byte and table body per Huffman table.
        dht: Vec<(u8, Vec<u8>)>,
        /// Table selectors of the scan, per component.
        sos_tables: Vec<u8>,
        spectral: [u8; 3],
    }

    impl Builder {
        fn new(y_sampling: u8) -> Self {
            Builder {
                sof_marker: 0xC0,
                jfif: true,
                adobe: None,
                precision: 8,
                width: 320,
                height: 240,
                comps: vec![(1, y_sampling, 0), (2, 0x11, 1), (3, 0x11, 1)],
                dqt: vec![(0x00, 10), (0x01, 20)],
                dri: None,
                dht: [STD_LUMA_DC, STD_LUMA_AC, STD_CHROMA_DC, STD_CHROMA_AC]
                    .iter()
                    .map(|t| (t.class_id, [&t.counts[..], t.symbols].concat()))
                    .collect(),
                sos_tables: vec![0x00, 0x11, 0x11],
                spectral: [0, 63, 0],
            }
        }

        fn build(&self, scan: &[u8]) -> Vec<u8> {
            let mut v = SOI.to_vec();
            let mut segment = |marker: u8, body: &[u8]| write_segment(&mut v, marker, &[body]);
            if self.jfif {
                segment(marker::APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
            }
            if let Some(transform) = self.adobe {
                segment(
                    marker::APP14,
                    &[b"Adobe\0\x64\0\0\0\0".as_slice(), &[transform]].concat(),
                );
            }
            for &(pq_tq, fill) in &self.dqt {
                let mut body = vec![pq_tq];
                let n = if pq_tq >> 4 == 0 { 64 } else { 128 };
                body.extend((0..n).map(|k| fill.wrapping_add(k as u8)));
                segment(marker::DQT, &body);
            }
            let mut sof = vec![self.precision];
            sof.extend_from_slice(&self.height.to_be_bytes());
            sof.extend_from_slice(&self.width.to_be_bytes());
            sof.push(self.comps.len() as u8);
            for &(id, s, q) in &self.comps {
                sof.extend_from_slice(&[id, s, q]);
            }
            segment(self.sof_marker, &sof);
            if let Some(ri) = self.dri {
                segment(marker::DRI, &ri.to_be_bytes());
            }
            for (tc_th, table) in &self.dht {
                let mut body = vec![*tc_th];
                body.extend_from_slice(table);
                segment(marker::DHT, &body);
            }
            let mut sos = vec![self.comps.len() as u8];
            for (&(id, _, _), &t) in self.comps.iter().zip(&self.sos_tables) {
                sos.extend_from_slice(&[id, t]);
            }
            sos.extend_from_slice(&self.spectral);
            segment(marker::SOS, &sos);
            v.extend_from_slice(scan);
            v.extend_from_slice(&EOI);
            v
        }
    }

    /// What a receiver reads from one payload.
    #[derive(Debug)]
    struct Parts<'a> {
        offset: usize,
        rtp_type: u8,
        q: u8,
        width: u16,
        height: u16,
        restart: Option<[u8; 4]>,
        tables: Option<&'a [u8]>,
        data: &'a [u8],
    }

    fn parts(p: &[u8]) -> Parts<'_> {
        let offset = usize::from(p[1]) << 16 | usize::from(p[2]) << 8 | usize::from(p[3]);
        let rtp_type = p[4];
        let mut rest = &p[8..];
        let restart = (rtp_type >= 64).then(|| {
            let r = [rest[0], rest[1], rest[2], rest[3]];
            rest = &rest[4..];
            r
        });
        let tables = (offset == 0).then(|| {
            assert_eq!(&rest[..2], &[0, 0], "MBZ and precision");
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            let t = &rest[4..4 + len];
            rest = &rest[4 + len..];
            t
        });
        Parts {
            offset,
            rtp_type,
            q: p[5],
            width: u16::from(p[6]) * 8,
            height: u16::from(p[7]) * 8,
            restart,
            tables,
            data: rest,
        }
    }

    fn scan(len: usize) -> Vec<u8> {
        stuffed(&(0..len).map(|i| (i * 7 + i / 13) as u8).collect::<Vec<_>>())
    }

    /// Checks every packet against the frame and returns the scan data
    /// (checking that EOI follows it).
    fn check_packets(p: &Packetized, mtu: usize, info: FrameInfo, tables: &[u8]) -> Vec<u8> {
        let count = p.packet_count();
        assert!(count >= 1);
        assert_eq!(p.payloads().len(), count);
        let mut scan = Vec::new();
        for (i, payload) in p.payloads().enumerate() {
            assert!(payload.len() <= mtu - HEADER_LEN, "packet {i} too long");
            assert_eq!(Some(payload), p.payload(i));
            if i + 1 < count {
                assert_eq!(payload.len(), mtu - HEADER_LEN, "packet {i} not full");
                assert_eq!(payload.len(), p.segment_len());
            } else {
                assert_eq!(payload.len(), p.last_len());
            }
            assert_eq!(p.marker(i), i + 1 == count);
            let parts = parts(payload);
            assert_eq!(parts.offset, scan.len(), "offsets are contiguous");
            assert_eq!(parts.rtp_type, info.rtp_type());
            assert_eq!(parts.q, 255);
            assert_eq!((parts.width, parts.height), (info.width, info.height));
            if info.restart_interval > 0 {
                let [r1, r0] = info.restart_interval.to_be_bytes();
                assert_eq!(parts.restart, Some([r1, r0, 0xFF, 0xFF]));
            } else {
                assert_eq!(parts.restart, None);
            }
            assert_eq!(parts.tables.is_some(), i == 0);
            if let Some(t) = parts.tables {
                assert_eq!(t, tables);
            }
            assert!(!parts.data.is_empty());
            scan.extend_from_slice(parts.data);
        }
        assert_eq!(p.payload(count), None);
        assert_eq!(scan.len(), p.data_len());
        assert!(scan.ends_with(&EOI), "EOI ends the data");
        scan.truncate(scan.len() - 2);
        scan
    }

    /// The two tables `Builder` writes for table numbers 0 and 1.
    fn builder_tables() -> Vec<u8> {
        let mut t: Vec<u8> = (0..64).map(|k| 10 + k as u8).collect();
        t.extend((0..64).map(|k| 20 + k as u8));
        t
    }

    fn info(subsampling: Subsampling, restart_interval: u16) -> FrameInfo {
        FrameInfo {
            subsampling,
            width: 320,
            height: 240,
            restart_interval,
        }
    }

    #[test]
    fn type_0_is_4_2_2() {
        let s = scan(3000);
        let jpeg = Builder::new(0x21).build(&s);
        let p = packetize(&jpeg, 1400).unwrap();
        let info = info(Subsampling::Yuv422, 0);
        assert_eq!(p.info(), info);
        assert_eq!(info.rtp_type(), 0);
        assert_eq!(check_packets(&p, 1400, info, &builder_tables()), s);
        assert_eq!(p.packet_count(), 3);
    }

    #[test]
    fn type_1_is_4_2_0() {
        let s = scan(500);
        let jpeg = Builder::new(0x22).build(&s);
        let p = packetize(&jpeg, 1500).unwrap();
        let info = info(Subsampling::Yuv420, 0);
        assert_eq!(p.info().rtp_type(), 1);
        assert_eq!(check_packets(&p, 1500, info, &builder_tables()), s);
        assert_eq!(p.packet_count(), 1);
        assert_eq!(p.segment_len(), p.last_len());
        assert_eq!(p.gso_segment_size(), HEADER_LEN + p.segment_len());
    }

    #[test]
    fn types_64_and_65_carry_the_restart_interval() {
        // Restart markers FF D0..D7 inside the scan stay in it.
        let mut s = scan(700);
        s.extend_from_slice(&[0xFF, 0xD0]);
        s.extend_from_slice(&scan(900));
        s.extend_from_slice(&[0xFF, 0xD1]);
        s.extend_from_slice(&scan(300));
        for (y, subsampling, rtp_type) in [
            (0x21, Subsampling::Yuv422, 64),
            (0x22, Subsampling::Yuv420, 65),
        ] {
            let mut b = Builder::new(y);
            b.dri = Some(20);
            let p = packetize(&b.build(&s), 576).unwrap();
            let info = info(subsampling, 20);
            assert_eq!(p.info(), info);
            assert_eq!(info.rtp_type(), rtp_type);
            assert_eq!(check_packets(&p, 576, info, &builder_tables()), s);
        }
        // DRI with interval 0 disables restart markers: plain type.
        let mut b = Builder::new(0x22);
        b.dri = Some(0);
        assert_eq!(packetize(&b.build(&s), 576).unwrap().info().rtp_type(), 1);
    }

    #[test]
    fn eoi_is_sent_but_not_fill_bytes_or_junk() {
        let s = scan(100);
        let mut jpeg = Builder::new(0x22).build(&s);
        let eoi = jpeg.len() - 2;
        jpeg.splice(eoi..eoi, [0xFF, 0xFF]); // fill bytes before EOI
        jpeg.extend_from_slice(b"trailing junk");
        let with_eoi = [&s[..], &EOI].concat();
        let p = packetize(&jpeg, 1400).unwrap();
        assert_eq!(parts(p.payload(0).unwrap()).data, &with_eoi[..]);
        // A JPEG cut before its EOI: the scan runs to the end of the data,
        // and EOI is added.
        let cut = Builder::new(0x22).build(&s);
        let p = packetize(&cut[..cut.len() - 2], 1400).unwrap();
        assert_eq!(parts(p.payload(0).unwrap()).data, &with_eoi[..]);
        // EOI split over two packets: one byte of it in the last.
        let jpeg = Builder::new(0x22).build(&s);
        let mtu = HEADER_LEN + 8 + QUANT_HEADER_LEN + s.len() + 1;
        let p = packetize(&jpeg, mtu).unwrap();
        assert_eq!(p.packet_count(), 2);
        assert_eq!(parts(p.payload(1).unwrap()).data, &[0xD9]);
        assert_eq!(check_packets(&p, mtu, p.info(), &builder_tables()), s);
    }

    #[test]
    fn tables_follow_the_components() {
        // One table for all components (ffmpeg writes that): sent twice.
        let mut b = Builder::new(0x22);
        b.dqt = vec![(0x03, 7)];
        b.comps = vec![(1, 0x22, 3), (2, 0x11, 3), (3, 0x11, 3)];
        let p = packetize(&b.build(&scan(10)), 1400).unwrap();
        let t: Vec<u8> = (0..64).map(|k| 7 + k as u8).collect();
        assert_eq!(
            parts(p.payload(0).unwrap()).tables,
            Some(&[t.clone(), t].concat()[..])
        );
        // Cr on its own table with the same contents as Cb's is fine.
        let mut b = Builder::new(0x22);
        b.dqt = vec![(0x00, 10), (0x01, 20), (0x02, 20)];
        b.comps[2].2 = 2;
        assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
        // Different contents are not.
        b.dqt[2].1 = 21;
        assert_eq!(
            packetize(&b.build(&scan(10)), 1400),
            Err(Unsupported::ChromaQuantTables)
        );
        // A table the frame uses but never defines.
        let mut b = Builder::new(0x22);
        b.dqt.pop();
        assert!(matches!(
            packetize(&b.build(&scan(10)), 1400),
            Err(Unsupported::Malformed { .. })
        ));
    }

    #[test]
    fn huffman_tables_must_be_standard() {
        // No DHT at all: the Motion-JPEG convention, standard tables.
        let mut b = Builder::new(0x22);
        b.dht.clear();
        assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
        // Chroma tables in slots 2/3 are fine if they are the standard ones.
        let mut b = Builder::new(0x22);
        b.dht[2].0 = 0x02;
        b.dht[3].0 = 0x13;
        b.sos_tables = vec![0x00, 0x23, 0x23];
        assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
        // An optimised (here: reordered) AC table for Y.
        let mut b = Builder::new(0x22);
        b.dht[1].1.swap(16, 17);
        assert_eq!(
            packetize(&b.build(&scan(10)), 1400),
            Err(Unsupported::HuffmanTables {
                component: 0,
                class: HuffmanClass::Ac
            })
        );
        // Cb pointing at the luma DC table.
        let mut b = Builder::new(0x22);
        b.sos_tables = vec![0x00, 0x01, 0x11];
        assert_eq!(
            packetize(&b.build(&scan(10)), 1400),
            Err(Unsupported::HuffmanTables {
                component: 1,
                class: HuffmanClass::Dc
            })
        );
    }

    #[test]
    fn rejects_what_rfc_2435_cannot_carry() {
        let s = scan(50);
        let reject = |b: Builder| packetize(&b.build(&s), 1400).unwrap_err();
        for marker in [0xC2, 0xC3, 0xC9, 0xCA] {
            let mut b = Builder::new(0x22);
            b.sof_marker = marker;
            assert_eq!(reject(b), Unsupported::Coding { marker });
        }
        let mut b = Builder::new(0x22);
        b.sof_marker = 0xC1; // extended sequential Huffman is fine
        assert!(packetize(&b.build(&s), 1400).is_ok());

        let mut b = Builder::new(0x22);
        b.comps.truncate(1);
        b.comps[0].1 = 0x11;
        b.sos_tables.truncate(1);
        let grey = reject(b);
        assert_eq!(grey, Unsupported::Components(1));
        assert!(grey.to_string().contains("grayscale"), "{grey}");

        let mut b = Builder::new(0x22);
        b.dqt[1].0 = 0x11;
        assert_eq!(reject(b), Unsupported::QuantPrecision { table: 1 });

        // RGB as libjpeg sees it: JFIF means YCbCr, else Adobe's transform
        // decides, else component ids R, G, B mean RGB.
        for (jfif, adobe, rgb_ids, is_rgb) in [
            (false, Some(0), false, true),
            (false, None, true, true),
            (true, Some(0), true, false),
            (false, Some(1), true, false),
            (false, None, false, false),
        ] {
            let mut b = Builder::new(0x22);
            (b.jfif, b.adobe) = (jfif, adobe);
            if rgb_ids {
                for (c, id) in b.comps.iter_mut().zip(*b"RGB") {
                    c.0 = id;
                }
            }
            let result = packetize(&b.build(&s), 1400);
            assert_eq!(
                result == Err(Unsupported::Rgb),
                is_rgb,
                "{jfif} {adobe:?} {rgb_ids}"
            );
            assert_eq!(result.is_ok(), !is_rgb);
        }

        let mut b = Builder::new(0x22);
        b.precision = 12;
        assert_eq!(reject(b), Unsupported::SamplePrecision(12));

        for (w, h) in [(2048, 240), (320, 2048), (322, 240), (320, 0), (0, 240)] {
            let mut b = Builder::new(0x22);
            (b.width, b.height) = (w, h);
            assert_eq!(
                reject(b),
                Unsupported::Dimensions {
                    width: w,
                    height: h
                }
            );
        }
        let mut b = Builder::new(0x21);
        (b.width, b.height) = (2040, 2040);
        let p = packetize(&b.build(&s), 1400).unwrap();
        assert_eq!(&p.payload(0).unwrap()[6..8], &[255, 255]);

        for (y, cb) in [(0x11, 0x11), (0x12, 0x11), (0x22, 0x21), (0x41, 0x11)] {
            let mut b = Builder::new(y);
            b.comps[1].1 = cb;
            assert_eq!(reject(b), Unsupported::Sampling { y, cb, cr: 0x11 });
        }

        let mut b = Builder::new(0x22);
        b.spectral = [1, 5, 0];
        assert!(matches!(reject(b), Unsupported::ScanLayout { .. }));
    }

    #[test]
    fn rejects_a_second_scan() {
        let mut s = scan(50);
        s.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0]);
        s.extend_from_slice(&scan(50));
        let jpeg = Builder::new(0x22).build(&s);
        assert!(matches!(
            packetize(&jpeg, 1400),
            Err(Unsupported::ScanLayout { .. })
        ));
    }

    #[test]
    fn rejects_malformed_input_without_panicking() {
        let s = scan(50);
        let jpeg = Builder::new(0x22).build(&s);
        let headers = jpeg.len() - s.len() - 2;
        for len in 0..=headers {
            let err = packetize(&jpeg[..len], 1400).unwrap_err();
            assert!(matches!(err, Unsupported::Malformed { .. }), "{len}: {err}");
        }
        assert!(packetize(b"not a jpeg", 1400).is_err());
    }

    #[test]
    fn mtu_must_fit_the_first_packet() {
        let s = scan(5000);
        for (dri, header) in [(None, 8), (Some(4), 12)] {
            let mut b = Builder::new(0x22);
            b.dri = dri;
            let jpeg = b.build(&s);
            let min = 12 + header + 132 + 1;
            assert_eq!(
                packetize(&jpeg, min - 1),
                Err(Unsupported::MtuTooSmall { mtu: min - 1, min })
            );
            let p = packetize(&jpeg, min).unwrap();
            assert_eq!(p.info().min_mtu(), min);
            assert_eq!(parts(p.payload(0).unwrap()).data.len(), 1);
            assert_eq!(check_packets(&p, min, p.info(), &builder_tables()), s);
        }
    }

    #[test]
    fn write_packets_sets_headers() {
        let jpeg = Builder::new(0x22).build(&scan(3000));
        let p = packetize(&jpeg, 1000).unwrap();
        let mut out = vec![0xAA];
        let first = RtpHeader {
            marker: true,
            payload_type: PAYLOAD_TYPE,
            sequence_number: 65535,
            timestamp: 90_000,
            ssrc: 0x1234_5678,
        };
        let next = p.write_packets(first, &mut out).unwrap();
        assert_eq!(p.packet_count(), 4);
        assert_eq!(next, 3);
        assert_eq!(out.len(), 1 + 4 * HEADER_LEN + p.as_bytes().len());
        for (i, datagram) in out[1..].chunks(p.gso_segment_size()).enumerate() {
            let packet = crate::rtp::parse(datagram).unwrap();
            assert_eq!(
                packet.header.sequence_number,
                65535u16.wrapping_add(i as u16)
            );
            assert_eq!(packet.header.marker, i == 3);
            assert_eq!(packet.header.timestamp, 90_000);
            assert_eq!(packet.header.ssrc, 0x1234_5678);
            assert_eq!(packet.payload, p.payload(i).unwrap());
        }
    }

    #[test]
    fn messages_name_the_problem() {
        let text = Unsupported::Coding { marker: 0xC2 }.to_string();
        assert!(text.contains("progressive"), "{text}");
        let text = Unsupported::Sampling {
            y: 0x11,
            cb: 0x11,
            cr: 0x11,
        }
        .to_string();
        assert!(text.contains("Y 1x1"), "{text}");
    }

    proptest! {
        #[test]
        fn payloads_cover_the_scan(
            mtu in 64usize..=9000,
            raw in proptest::collection::vec(any::<u8>(), 1..20_000),
            dri in proptest::option::of(1u16..100),
            y in prop_oneof![Just(0x21u8), Just(0x22u8)],
        ) {
            let s = stuffed(&raw);
            let mut b = Builder::new(y);
            b.dri = dri;
            let jpeg = b.build(&s);
            let header = if dri.is_some() { 12 } else { 8 };
            let min = HEADER_LEN + header + QUANT_HEADER_LEN + 1;
            match packetize(&jpeg, mtu) {
                Err(e) => {
                    prop_assert!(mtu < min, "mtu {mtu}: {e}");
                    prop_assert_eq!(e, Unsupported::MtuTooSmall { mtu, min });
                }
                Ok(p) => {
                    prop_assert!(mtu >= min);
                    let info = p.info();
                    let scan = check_packets(&p, mtu, info, &builder_tables());
                    prop_assert_eq!(&scan, &s);
                    // As few packets as the MTU allows.
                    let room = mtu - HEADER_LEN - header;
                    let expected = (s.len() + 2 + QUANT_HEADER_LEN).div_ceil(room);
                    prop_assert_eq!(p.packet_count(), expected);
                }
            }
        }

        #[test]
        fn never_panics_on_damaged_input(
            cut in 0usize..400,
            flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..4),
            mtu in 0usize..2000,
        ) {
            let mut jpeg = Builder::new(0x22).build(&scan(100));
            for (at, value) in flips {
                let at = at % jpeg.len();
                jpeg[at] = value;
            }
            jpeg.truncate(cut.min(jpeg.len()));
            let _ = packetize(&jpeg, mtu);
        }
    }
}
