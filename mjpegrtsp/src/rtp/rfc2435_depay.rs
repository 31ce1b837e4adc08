//! RTP payload format for JPEG (RFC 2435), the depacketizer side, as plain
//! Rust: the counterpart of [`packetize`](super::rfc2435::packetize) for a
//! client that plays from standard servers (gst-rtsp-server's `rtpjpegpay`,
//! and ours).
//!
//! [`Depacketizer::push`] takes the RTP payloads of a stream in sequence order
//! and returns each frame as a whole baseline JPEG that any decoder reads:
//!
//! ```text
//! SOI
//! DQT   table 0 (luma), table 1 (chroma): in-band (Q >= 128) or derived from Q
//! SOF0  8-bit, width x height from the header, 3 components:
//!       1: Y  2x1 (type 0/64, 4:2:2) or 2x2 (type 1/65, 4:2:0), table 0
//!       2: Cb 1x1, table 1     3: Cr 1x1, table 1
//! DHT   the standard tables of ITU T.81 Annex K.3 (luma DC/AC as 0, chroma as 1)
//! DRI   the restart interval (types 64/65 with a non-zero interval)
//! SOS   Y, Cb, Cr with tables 0, 1, 1; coefficients 0..63
//! the fragments' data, in offset order
//! EOI   unless the data already ends with it
//! ```
//!
//! What a payload may hold, and what is done with it:
//!
//! * **Types** 0 and 1, and 64 and 65 with a restart marker header. Other
//!   types (2–63 and 66–127 are unassigned, 128–255 need out-of-band
//!   definitions) are [`DepayError::UnsupportedType`]. The type-specific field
//!   (interlacing for types 0/1) is ignored: a field comes out as a JPEG of the
//!   height in the header.
//! * **Q 1‥=99**: the tables are the standard ones of T.81 Annex K.1/K.2
//!   scaled as in RFC 2435 Appendix A (the IJG scaling, so a `jpegenc
//!   quality=Q` frame sent with Q and no tables decodes bit-exactly).
//!   **Q 128‥=254**: tables in the first packet, remembered per Q so later
//!   frames may send a table length of 0. **Q 255**: tables in the first
//!   packet of every frame, never remembered. Q 0 and 100‥=127 are reserved.
//!   16-bit tables are accepted; the frame is then written as extended
//!   sequential (SOF1), since baseline allows only 8-bit tables.
//! * **Restart markers**: the restart interval becomes a DRI segment; the
//!   F/L/count fields only matter for decoding parts of a frame, and frames are
//!   only ever returned whole.
//! * **Size**: width and height are in 8-pixel units (up to 2040). A zero means
//!   "larger, see the SDP" (`a=x-dimensions`, [`Depacketizer::set_dimensions`]).
//!
//! A frame is returned only if every packet of it arrived: the first one
//! (offset 0), consecutive sequence numbers, fragments that continue exactly
//! where the previous ended, up to the packet with the marker bit. Anything
//! else is dropped and counted in [`DepayStats::frames_incomplete`]; a
//! decoder never sees a frame with a hole in it.

use std::collections::HashMap;
use std::fmt;

use super::rfc2435::{MAIN_HEADER_LEN, MAX_DATA_LEN, RESTART_HEADER_LEN};
use crate::container::jpeg::tables::{
    STD_CHROMA_QUANT, STD_HUFFMAN, STD_LUMA_QUANT, ZIGZAG_TO_NATURAL,
};
use crate::container::jpeg::{EOI, SOI, marker, write_segment};

/// Default limit on a frame's data (scan + EOI): 16 MiB, as much as the
/// 24-bit fragment offset can address.
pub const MAX_FRAME_LEN: usize = MAX_DATA_LEN;
/// Length of the quantization table header before the tables.
pub const QUANT_TABLE_HEADER_LEN: usize = 4;

/// Counters of what [`Depacketizer::push`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepayStats {
    /// Whole JPEGs returned.
    pub frames: u64,
    /// Frames dropped because a packet was missing, out of order or unusable
    /// (counted when the frame ends: at its marker or at the next timestamp).
    pub frames_incomplete: u64,
    /// Payloads that [`Depacketizer::push`] rejected with an error.
    pub packets_invalid: u64,
}

/// Why a payload cannot be used. The frame it belongs to is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepayError {
    /// The payload ends inside `what`, which needs `needed` bytes from the
    /// start of the payload; it has `len`.
    TooShort {
        what: &'static str,
        needed: usize,
        len: usize,
    },
    /// A type other than 0, 1, 64 and 65.
    UnsupportedType(u8),
    /// Q 0 or 100‥=127, reserved by RFC 2435.
    ReservedQ(u8),
    /// Q ≥ 128 and the first packet of a frame carries no tables: for Q 255
    /// they must always be there, for 128‥=254 none were received earlier.
    MissingTables { q: u8 },
    /// The table data is shorter than the precision field says the luma and
    /// chroma tables need.
    TablesTooShort { length: usize, needed: usize },
    /// Width or height is 0 in the header and no size came from the SDP.
    ZeroDimension,
    /// Type, Q, width, height or restart interval differ from those in the
    /// first packet of the frame.
    InconsistentHeader,
    /// The frame's data grows past the limit.
    FrameTooLarge { max: usize },
}

impl fmt::Display for DepayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DepayError::TooShort { what, needed, len } => write!(
                f,
                "RFC 2435 payload of {len} bytes ends inside the {what} (needs {needed})"
            ),
            DepayError::UnsupportedType(t) => write!(
                f,
                "RFC 2435 type {t} is not supported (only 0, 1, 64 and 65 are defined)"
            ),
            DepayError::ReservedQ(q) => {
                write!(f, "RFC 2435 Q value {q} is reserved (0 and 100 to 127)")
            }
            DepayError::MissingTables { q: 255 } => write!(
                f,
                "Q=255 but the first packet of the frame carries no quantization tables"
            ),
            DepayError::MissingTables { q } => write!(
                f,
                "Q={q} with no quantization tables in the first packet, and none received before for this Q"
            ),
            DepayError::TablesTooShort { length, needed } => write!(
                f,
                "quantization table data of {length} bytes, but the luma and chroma tables need {needed}"
            ),
            DepayError::ZeroDimension => write!(
                f,
                "width or height 0 in the RFC 2435 header and no size from the SDP (a=x-dimensions)"
            ),
            DepayError::InconsistentHeader => write!(
                f,
                "type, Q, size or restart interval differ from the frame's first packet"
            ),
            DepayError::FrameTooLarge { max } => {
                write!(f, "frame data exceeds the limit of {max} bytes")
            }
        }
    }
}

impl std::error::Error for DepayError {}

/// One quantization table in zigzag order, as a DQT segment carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum QuantTable {
    Bits8([u8; 64]),
    /// Big-endian 16-bit values.
    Bits16([u8; 128]),
}

impl QuantTable {
    fn len(&self) -> usize {
        match self {
            QuantTable::Bits8(_) => 64,
            QuantTable::Bits16(_) => 128,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            QuantTable::Bits8(t) => t,
            QuantTable::Bits16(t) => t,
        }
    }

    /// Pq of the DQT segment: 0 for 8-bit, 1 for 16-bit.
    fn precision(&self) -> u8 {
        match self {
            QuantTable::Bits8(_) => 0,
            QuantTable::Bits16(_) => 1,
        }
    }
}

/// The luma and chroma tables of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QuantTables {
    luma: QuantTable,
    chroma: QuantTable,
}

/// The tables for Q 1‥=99: T.81 tables K.1 and K.2 scaled as in RFC 2435
/// Appendix A (`MakeTables`), written in zigzag order.
fn tables_for_q(q: u8) -> QuantTables {
    let factor = u32::from(q.clamp(1, 99));
    let scale = if factor < 50 {
        5000 / factor
    } else {
        200 - 2 * factor
    };
    let scaled = |standard: &[u8; 64]| {
        let mut table = [0u8; 64];
        for (value, &natural) in table.iter_mut().zip(&ZIGZAG_TO_NATURAL) {
            let v = (u32::from(standard[natural]) * scale + 50) / 100;
            *value = v.clamp(1, 255) as u8;
        }
        QuantTable::Bits8(table)
    };
    QuantTables {
        luma: scaled(&STD_LUMA_QUANT),
        chroma: scaled(&STD_CHROMA_QUANT),
    }
}

/// The fields of the main JPEG header (and restart marker header) that must
/// be the same in every packet of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameKey {
    rtp_type: u8,
    q: u8,
    width: u8,
    height: u8,
    restart_interval: u16,
}

impl FrameKey {
    /// Type 0/64 is 4:2:2, type 1/65 is 4:2:0.
    fn luma_sampling(&self) -> u8 {
        if self.rtp_type & 0x3F == 0 {
            0x21
        } else {
            0x22
        }
    }
}

/// One parsed payload.
struct Payload<'a> {
    key: FrameKey,
    offset: usize,
    /// For Q ≥ 128 at offset 0: the tables, or `None` for a length of 0.
    tables: Option<QuantTables>,
    data: &'a [u8],
}

fn too_short(what: &'static str, needed: usize, len: usize) -> DepayError {
    DepayError::TooShort { what, needed, len }
}

/// Parses the RFC 2435 headers of one payload. Never panics.
fn parse_payload(payload: &[u8]) -> Result<Payload<'_>, DepayError> {
    let len = payload.len();
    let main = payload
        .get(..MAIN_HEADER_LEN)
        .ok_or_else(|| too_short("main JPEG header", MAIN_HEADER_LEN, len))?;
    let offset = usize::from(main[1]) << 16 | usize::from(main[2]) << 8 | usize::from(main[3]);
    let (rtp_type, q, width, height) = (main[4], main[5], main[6], main[7]);
    if !matches!(rtp_type, 0 | 1 | 64 | 65) {
        return Err(DepayError::UnsupportedType(rtp_type));
    }
    if q == 0 || (100..128).contains(&q) {
        return Err(DepayError::ReservedQ(q));
    }
    let mut pos = MAIN_HEADER_LEN;
    let mut restart_interval = 0;
    if rtp_type >= 64 {
        let end = pos + RESTART_HEADER_LEN;
        let header = payload
            .get(pos..end)
            .ok_or_else(|| too_short("restart marker header", end, len))?;
        restart_interval = u16::from_be_bytes([header[0], header[1]]);
        pos = end;
    }
    let mut tables = None;
    if q >= 128 && offset == 0 {
        let end = pos + QUANT_TABLE_HEADER_LEN;
        let header = payload
            .get(pos..end)
            .ok_or_else(|| too_short("quantization table header", end, len))?;
        let precision = header[1];
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        pos = end;
        let end = pos + length;
        let data = payload
            .get(pos..end)
            .ok_or_else(|| too_short("quantization tables", end, len))?;
        pos = end;
        if length == 0 {
            if q == 255 {
                return Err(DepayError::MissingTables { q });
            }
        } else {
            tables = Some(parse_tables(precision, data)?);
        }
    }
    Ok(Payload {
        key: FrameKey {
            rtp_type,
            q,
            width,
            height,
            restart_interval,
        },
        offset,
        tables,
        data: &payload[pos..],
    })
}

/// The first two tables of the table data: bit i of `precision` says whether
/// table i has 16-bit values. Further tables (for other types) are ignored.
fn parse_tables(precision: u8, data: &[u8]) -> Result<QuantTables, DepayError> {
    let size = |i: u8| if precision >> i & 1 == 0 { 64 } else { 128 };
    let needed = size(0) + size(1);
    if data.len() < needed {
        return Err(DepayError::TablesTooShort {
            length: data.len(),
            needed,
        });
    }
    let table = |bytes: &[u8]| {
        if let Ok(t) = <[u8; 64]>::try_from(bytes) {
            QuantTable::Bits8(t)
        } else {
            let mut t = [0u8; 128];
            t.copy_from_slice(bytes);
            QuantTable::Bits16(t)
        }
    };
    Ok(QuantTables {
        luma: table(&data[..size(0)]),
        chroma: table(&data[size(0)..needed]),
    })
}

/// Writes the JPEG headers from SOI to SOS for a frame.
fn write_headers(out: &mut Vec<u8>, key: FrameKey, width: u16, height: u16, tables: &QuantTables) {
    out.extend_from_slice(&SOI);
    let mut segment = |marker: u8, body: &[&[u8]]| write_segment(out, marker, body);
    segment(
        marker::DQT,
        &[
            &[tables.luma.precision() << 4],
            tables.luma.bytes(),
            &[tables.chroma.precision() << 4 | 1],
            tables.chroma.bytes(),
        ],
    );
    // Baseline needs 8-bit tables; 16-bit ones make it extended sequential.
    let sof = if tables.luma.len() == 64 && tables.chroma.len() == 64 {
        marker::SOF0
    } else {
        marker::SOF1
    };
    let [h1, h0] = height.to_be_bytes();
    let [w1, w0] = width.to_be_bytes();
    segment(
        sof,
        &[&[
            8,
            h1,
            h0,
            w1,
            w0,
            3,
            1,
            key.luma_sampling(),
            0,
            2,
            0x11,
            1,
            3,
            0x11,
            1,
        ]],
    );
    for table in &STD_HUFFMAN {
        segment(
            marker::DHT,
            &[&[table.class_id], &table.counts, table.symbols],
        );
    }
    if key.restart_interval > 0 {
        segment(marker::DRI, &[&key.restart_interval.to_be_bytes()]);
    }
    segment(marker::SOS, &[&[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]]);
}

/// A frame that has had every packet so far.
struct Frame {
    timestamp: u32,
    next_seq: u16,
    key: FrameKey,
    /// The JPEG so far: headers, then the data received.
    jpeg: Vec<u8>,
    header_len: usize,
}

impl Frame {
    /// Bytes of data received: the offset the next packet must have.
    fn data_len(&self) -> usize {
        self.jpeg.len() - self.header_len
    }
}

/// Where the depacketizer is in the stream.
enum State {
    /// Between frames.
    Idle,
    Collecting(Frame),
    /// Waiting for the end of a frame that cannot be completed.
    Skipping {
        timestamp: u32,
    },
}

impl State {
    fn timestamp(&self) -> Option<u32> {
        match self {
            State::Idle => None,
            State::Collecting(frame) => Some(frame.timestamp),
            State::Skipping { timestamp } => Some(*timestamp),
        }
    }
}

/// Reassembles RFC 2435 payloads into whole JPEGs. See the module docs.
pub struct Depacketizer {
    state: State,
    stats: DepayStats,
    /// Tables received for Q 128‥=254, and the source that sent them.
    cached_tables: HashMap<u8, QuantTables>,
    source: Option<u32>,
    /// Width and height from the SDP, for headers that say 0.
    dimensions: Option<(u16, u16)>,
    max_frame_len: usize,
    /// Length of the last JPEG returned, to size the next one's buffer.
    last_len: usize,
}

impl Default for Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Depacketizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Depacketizer")
            .field("stats", &self.stats)
            .field("dimensions", &self.dimensions)
            .field("max_frame_len", &self.max_frame_len)
            .finish_non_exhaustive()
    }
}

impl Depacketizer {
    /// A depacketizer that accepts frames of up to [`MAX_FRAME_LEN`] bytes of data.
    pub fn new() -> Self {
        Self::with_max_frame_len(MAX_FRAME_LEN)
    }

    /// A depacketizer that drops frames whose data (scan + EOI) exceeds
    /// `max_frame_len` bytes, with [`DepayError::FrameTooLarge`].
    pub fn with_max_frame_len(max_frame_len: usize) -> Self {
        Depacketizer {
            state: State::Idle,
            stats: DepayStats::default(),
            cached_tables: HashMap::new(),
            source: None,
            dimensions: None,
            max_frame_len,
            last_len: 0,
        }
    }

    /// Width and height in pixels from the SDP (`a=x-dimensions:<w>,<h>`),
    /// used when a header's width or height is 0 (frames above 2040 pixels).
    pub fn set_dimensions(&mut self, dimensions: Option<(u16, u16)>) {
        self.dimensions = dimensions;
    }

    /// The RTP source (SSRC) of the packets that follow. Tables remembered
    /// for Q 128‥=254 belong to the source that sent them: when it changes
    /// they are forgotten, with any partial frame, so that a new source
    /// cannot have its frames built with another's tables.
    pub fn set_source(&mut self, ssrc: u32) {
        if self.source.is_some_and(|s| s != ssrc) {
            tracing::debug!(
                old = self.source,
                new = ssrc,
                "new RTP source: forgetting its predecessor's tables"
            );
            self.cached_tables.clear();
            self.state = State::Idle;
        }
        self.source = Some(ssrc);
    }

    /// One RTP packet of an RFC 2435 stream, in sequence order (the caller
    /// reorders and removes duplicates). Returns a whole JPEG (SOI … EOI,
    /// decodable by any JPEG decoder) when `marker` ends a frame whose
    /// fragments cover offsets 0..end without a gap and whose seqs are
    /// consecutive; a frame with a gap is dropped and counted, never returned.
    /// A new timestamp without the previous frame's marker also drops the
    /// unfinished one. Errors are counted in packets_invalid too.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, DepayError> {
        match self.push_inner(seq, timestamp, marker, payload) {
            Ok(jpeg) => Ok(jpeg),
            Err(e) => {
                self.stats.packets_invalid += 1;
                self.skip(timestamp, marker);
                Err(e)
            }
        }
    }

    fn push_inner(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, DepayError> {
        let p = parse_payload(payload)?;
        // From here on an error leaves the state Idle; `push` then skips the
        // rest of this timestamp's frame.
        let mut frame = match std::mem::replace(&mut self.state, State::Idle) {
            // Offset 0 again after data: the previous frame's marker is lost
            // and the next frame has the same timestamp.
            State::Collecting(mut frame)
                if frame.timestamp == timestamp && !(p.offset == 0 && frame.data_len() > 0) =>
            {
                if seq != frame.next_seq || p.offset != frame.data_len() {
                    tracing::trace!(
                        seq,
                        expected_seq = frame.next_seq,
                        offset = p.offset,
                        expected_offset = frame.data_len(),
                        "RFC 2435 frame with a gap"
                    );
                    self.state = State::Collecting(frame);
                    self.skip(timestamp, marker);
                    return Ok(None);
                }
                if p.key != frame.key {
                    return Err(DepayError::InconsistentHeader);
                }
                frame.next_seq = seq.wrapping_add(1);
                frame
            }
            State::Skipping { timestamp: ts } if ts == timestamp && p.offset != 0 => {
                self.state = State::Skipping { timestamp };
                self.skip(timestamp, marker);
                return Ok(None);
            }
            previous => {
                if let Some(ts) = previous.timestamp() {
                    tracing::trace!(timestamp = ts, "RFC 2435 frame without its marker packet");
                    self.stats.frames_incomplete += 1;
                }
                if p.offset != 0 {
                    tracing::trace!(seq, timestamp, "RFC 2435 frame without its first packet");
                    self.skip(timestamp, marker);
                    return Ok(None);
                }
                self.begin_frame(seq, timestamp, &p)?
            }
        };

        if frame.data_len() + p.data.len() > self.max_frame_len {
            return Err(DepayError::FrameTooLarge {
                max: self.max_frame_len,
            });
        }
        frame.jpeg.extend_from_slice(p.data);
        if !marker {
            self.state = State::Collecting(frame);
            return Ok(None);
        }
        if frame.data_len() == 0 {
            // Headers only: nothing a decoder could show.
            self.stats.frames_incomplete += 1;
            return Ok(None);
        }
        let mut jpeg = frame.jpeg;
        if !jpeg[frame.header_len..].ends_with(&EOI) {
            jpeg.extend_from_slice(&EOI);
        }
        self.stats.frames += 1;
        self.last_len = jpeg.len();
        Ok(Some(jpeg))
    }

    /// Starts a frame at its first packet: finds the tables and size and
    /// writes the JPEG headers.
    fn begin_frame(
        &mut self,
        seq: u16,
        timestamp: u32,
        p: &Payload<'_>,
    ) -> Result<Frame, DepayError> {
        let key = p.key;
        let tables = match (key.q, &p.tables) {
            (1..=99, _) => tables_for_q(key.q),
            (255, Some(tables)) => tables.clone(),
            (q, Some(tables)) => {
                self.cached_tables.insert(q, tables.clone());
                tables.clone()
            }
            (q, None) => self
                .cached_tables
                .get(&q)
                .cloned()
                .ok_or(DepayError::MissingTables { q })?,
        };
        let (width, height) = match (key.width, key.height, self.dimensions) {
            (0, _, Some(d)) | (_, 0, Some(d)) => d,
            (w, h, _) => (u16::from(w) * 8, u16::from(h) * 8),
        };
        if width == 0 || height == 0 {
            return Err(DepayError::ZeroDimension);
        }
        // Room for the headers and, as a guess, a frame like the last one.
        let mut jpeg = Vec::with_capacity(
            self.last_len
                .clamp(1024, self.max_frame_len.saturating_add(1024)),
        );
        write_headers(&mut jpeg, key, width, height, &tables);
        let header_len = jpeg.len();
        Ok(Frame {
            timestamp,
            next_seq: seq.wrapping_add(1),
            key,
            jpeg,
            header_len,
        })
    }

    /// The packet belongs to frame `timestamp`, which cannot be completed:
    /// skip the rest of it (or end it here if `marker`).
    fn skip(&mut self, timestamp: u32, marker: bool) {
        let previous = std::mem::replace(&mut self.state, State::Idle);
        if previous.timestamp().is_some_and(|ts| ts != timestamp) {
            tracing::trace!(
                timestamp = previous.timestamp(),
                "RFC 2435 frame without its marker packet"
            );
            self.stats.frames_incomplete += 1;
        }
        if marker {
            self.stats.frames_incomplete += 1;
        } else {
            self.state = State::Skipping { timestamp };
        }
    }

    /// What happened so far.
    pub fn stats(&self) -> DepayStats {
        self.stats
    }

    /// Forget any partial frame (after a seek / flush). It is not counted as
    /// incomplete; tables remembered for Q 128‥=254 are kept.
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::jpeg::stuffed;
    use crate::rtp::rfc2435::{Packetized, packetize};
    use proptest::prelude::*;

    /// 4:2:0, one MCU, from `jpegenc quality=85`; see tests/data/jpeg/README.md.
    const JPEGENC_I420_16X16_Q85: &[u8] =
        include_bytes!("../../../tests/data/jpeg/jpegenc-i420-16x16-q85.jpg");

    /// 4:2:2, from `jpegenc quality=40`.
    const JPEGENC_Y42B_32X16_Q40: &[u8] =
        include_bytes!("../../../tests/data/jpeg/jpegenc-y42b-32x16-q40.jpg");

    /// The marker segments of a JPEG from SOI to SOS, as (marker, body), and
    /// the bytes after the SOS segment. Panics on anything unexpected: only
    /// for JPEGs the tests trust.
    fn segments(jpeg: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
        let found: Vec<_> = crate::container::jpeg::segments(jpeg)
            .map(|s| s.expect("a well-formed JPEG"))
            .collect();
        let sos = found.last().filter(|s| s.marker == marker::SOS);
        let scan_start = sos.expect("an SOS segment").end();
        let found = found.iter().map(|s| (s.marker, s.body.to_vec()));
        (found.collect(), jpeg[scan_start..].to_vec())
    }

    fn markers(jpeg: &[u8]) -> Vec<u8> {
        segments(jpeg).0.iter().map(|(m, _)| *m).collect()
    }

    /// The bodies of the segments with `marker`.
    fn bodies(jpeg: &[u8], marker: u8) -> Vec<Vec<u8>> {
        let (segs, _) = segments(jpeg);
        segs.into_iter()
            .filter(|(m, _)| *m == marker)
            .map(|(_, b)| b)
            .collect()
    }

    /// The quantization tables a JPEG defines, by number, with their values.
    fn dqt_tables(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut tables = Vec::new();
        for body in bodies(jpeg, 0xDB) {
            let mut i = 0;
            while i < body.len() {
                let len = if body[i] >> 4 == 0 { 64 } else { 128 };
                tables.push((body[i], body[i + 1..i + 1 + len].to_vec()));
                i += 1 + len;
            }
        }
        tables
    }

    /// `jpeg` with its scan data replaced by `scan` and EOI.
    fn with_scan(jpeg: &[u8], scan: &[u8]) -> Vec<u8> {
        let (_, rest) = segments(jpeg);
        let mut out = jpeg[..jpeg.len() - rest.len()].to_vec();
        out.extend_from_slice(scan);
        out.extend_from_slice(&EOI);
        out
    }

    /// `jpeg` with a DRI segment before its SOS.
    fn with_dri(jpeg: &[u8], interval: u16) -> Vec<u8> {
        let sos = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xDA])
            .expect("an SOS");
        let [r1, r0] = interval.to_be_bytes();
        let mut out = jpeg[..sos].to_vec();
        out.extend_from_slice(&[0xFF, 0xDD, 0, 4, r1, r0]);
        out.extend_from_slice(&jpeg[sos..]);
        out
    }

    /// Pushes a packetized frame with consecutive seqs from `seq`; returns what
    /// each push returned.
    fn feed(
        d: &mut Depacketizer,
        p: &Packetized,
        seq: u16,
        timestamp: u32,
    ) -> Vec<Option<Vec<u8>>> {
        p.payloads()
            .enumerate()
            .map(|(i, payload)| {
                d.push(seq.wrapping_add(i as u16), timestamp, p.marker(i), payload)
                    .unwrap_or_else(|e| panic!("packet {i}: {e}"))
            })
            .collect()
    }

    /// Depacketizes a whole frame that must come out at its last packet.
    fn depay_one(p: &Packetized) -> Vec<u8> {
        let mut d = Depacketizer::new();
        let mut out = feed(&mut d, p, 100, 9000);
        let last = out.pop().unwrap().expect("a JPEG at the marker");
        assert!(out.iter().all(Option::is_none), "a JPEG before the marker");
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 1,
                ..Default::default()
            }
        );
        last
    }

    /// A crafted payload for a 16x16 frame.
    fn payload(
        rtp_type: u8,
        q: u8,
        offset: u32,
        restart: Option<u16>,
        tables: Option<(u8, &[u8])>,
        data: &[u8],
    ) -> Vec<u8> {
        let [_, o2, o1, o0] = offset.to_be_bytes();
        let mut v = vec![0, o2, o1, o0, rtp_type, q, 2, 2];
        if let Some(interval) = restart {
            v.extend_from_slice(&interval.to_be_bytes());
            v.extend_from_slice(&[0xFF, 0xFF]);
        }
        if let Some((precision, t)) = tables {
            v.extend_from_slice(&[0, precision]);
            v.extend_from_slice(&(t.len() as u16).to_be_bytes());
            v.extend_from_slice(t);
        }
        v.extend_from_slice(data);
        v
    }

    /// Two 8-bit tables: luma `a`, `a+1`, … and chroma `b`, `b+1`, ….
    fn two_tables(a: u8, b: u8) -> Vec<u8> {
        (0..64u8)
            .map(|k| a.wrapping_add(k))
            .chain((0..64u8).map(|k| b.wrapping_add(k)))
            .collect()
    }

    /// The luma and chroma tables written in a depacketized JPEG.
    fn written_tables(jpeg: &[u8]) -> Vec<u8> {
        let tables = dqt_tables(jpeg);
        assert_eq!(tables.len(), 2);
        assert_eq!((tables[0].0 & 0x0F, tables[1].0 & 0x0F), (0, 1));
        [&tables[0].1[..], &tables[1].1].concat()
    }

    #[test]
    fn tables_for_q_are_the_ijg_scaling_of_the_standard_tables() {
        // jpegenc (libjpeg) scales Annex K.1/K.2 exactly as RFC 2435 Appendix A.
        for (jpeg, q) in [(JPEGENC_I420_16X16_Q85, 85), (JPEGENC_Y42B_32X16_Q40, 40)] {
            let theirs = dqt_tables(jpeg);
            let ours = tables_for_q(q);
            assert_eq!(theirs[0], (0x00, ours.luma.bytes().to_vec()), "Q={q}");
            assert_eq!(theirs[1], (0x01, ours.chroma.bytes().to_vec()), "Q={q}");
        }
        // Q=50 is the standard tables themselves, in zigzag order.
        let t = tables_for_q(50);
        assert_eq!(t.luma.bytes()[..8], [16, 11, 12, 14, 12, 10, 16, 14]);
        assert_eq!(t.chroma.bytes()[..8], [17, 18, 18, 24, 21, 24, 47, 26]);
        assert_eq!(t.luma.bytes()[63], 99);
        // The extremes are clamped to 1..=255.
        assert!(tables_for_q(1).luma.bytes().iter().all(|&v| v == 255));
        assert_eq!(tables_for_q(99).luma.bytes()[0], 1);
    }

    #[test]
    fn huffman_tables_are_those_jpegenc_writes() {
        // jpegenc writes the Annex K.3 tables, in the same order.
        let theirs = bodies(JPEGENC_I420_16X16_Q85, marker::DHT);
        let out = depay_one(&packetize(JPEGENC_I420_16X16_Q85, 1400).unwrap());
        assert_eq!(bodies(&out, marker::DHT), theirs);
    }

    #[test]
    fn jpegenc_frames_round_trip_through_the_packetizer() {
        for (jpeg, sampling, rtp_type) in [
            (JPEGENC_I420_16X16_Q85, 0x22, 1),
            (JPEGENC_Y42B_32X16_Q40, 0x21, 0),
        ] {
            let (_, scan) = segments(jpeg);
            for mtu in [153, 200, 400, 1400] {
                let p = packetize(jpeg, mtu).unwrap();
                assert_eq!(p.info().rtp_type(), rtp_type);
                let out = depay_one(&p);
                assert_eq!(markers(&out), [0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA]);
                let sof = &bodies(&out, 0xC0)[0];
                let [w1, w0] = p.info().width.to_be_bytes();
                assert_eq!(
                    sof[..],
                    [8, 0, 16, w1, w0, 3, 1, sampling, 0, 2, 0x11, 1, 3, 0x11, 1]
                );
                assert_eq!(
                    bodies(&out, 0xDA)[0],
                    [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]
                );
                assert_eq!(dqt_tables(&out), dqt_tables(jpeg));
                // The same scan, EOI once.
                assert_eq!(segments(&out).1, scan, "mtu {mtu}");
                // Whatever the packetizer checks (Huffman tables, sampling,
                // components) it accepts, and it sends the same payloads.
                let again = packetize(&out, mtu).unwrap();
                assert_eq!(again.as_bytes(), p.as_bytes(), "mtu {mtu}");
            }
        }
    }

    #[test]
    fn restart_interval_becomes_a_dri_segment() {
        for (jpeg, sampling, rtp_type) in [
            (JPEGENC_I420_16X16_Q85, 0x22, 65),
            (JPEGENC_Y42B_32X16_Q40, 0x21, 64),
        ] {
            let jpeg = with_dri(jpeg, 7);
            let p = packetize(&jpeg, 200).unwrap();
            assert_eq!(p.info().rtp_type(), rtp_type);
            let out = depay_one(&p);
            assert_eq!(
                markers(&out),
                [0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDD, 0xDA]
            );
            assert_eq!(bodies(&out, 0xDD), [vec![0, 7]]);
            assert_eq!(bodies(&out, 0xC0)[0][7], sampling);
            assert_eq!(packetize(&out, 200).unwrap().as_bytes(), p.as_bytes());
        }
        // Types 64/65 with an interval of 0: no DRI.
        let mut d = Depacketizer::new();
        let out = d
            .push(1, 0, true, &payload(65, 50, 0, Some(0), None, &[1, 2]))
            .unwrap()
            .unwrap();
        assert!(!markers(&out).contains(&0xDD));
        assert_eq!(bodies(&out, 0xC0)[0][7], 0x22);
    }

    #[test]
    fn eoi_is_added_only_when_missing() {
        let mut d = Depacketizer::new();
        let scan = |jpeg: Vec<u8>| segments(&jpeg).1;
        let out = d.push(1, 0, true, &payload(1, 50, 0, None, None, &[0x12, 0x34]));
        assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0x34, 0xFF, 0xD9]);
        let out = d.push(
            2,
            1,
            true,
            &payload(1, 50, 0, None, None, &[0x12, 0xFF, 0xD9]),
        );
        assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0xFF, 0xD9]);
        // EOI split over two packets.
        let none = d.push(3, 2, false, &payload(1, 50, 0, None, None, &[0x12, 0xFF]));
        assert_eq!(none, Ok(None));
        let out = d.push(4, 2, true, &payload(1, 50, 2, None, None, &[0xD9]));
        assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0xFF, 0xD9]);
        assert_eq!(d.stats().frames, 3);
    }

    #[test]
    fn q_below_128_derives_the_tables() {
        let mut d = Depacketizer::new();
        // No table header: the data starts right after the main header.
        let out = d
            .push(1, 0, true, &payload(1, 50, 0, None, None, &[0xAB; 200]))
            .unwrap()
            .unwrap();
        let t = tables_for_q(50);
        assert_eq!(
            written_tables(&out),
            [t.luma.bytes(), t.chroma.bytes()].concat()
        );
        assert_eq!(segments(&out).1.len(), 202);
        let out = d
            .push(2, 1, true, &payload(0, 85, 0, None, None, &[1]))
            .unwrap()
            .unwrap();
        assert_eq!(dqt_tables(&out), dqt_tables(JPEGENC_I420_16X16_Q85));
        assert_eq!(bodies(&out, 0xC0)[0][7], 0x21);
    }

    #[test]
    fn remembered_tables_are_forgotten_when_the_source_changes() {
        let mut d = Depacketizer::new();
        let a = two_tables(1, 100);
        d.set_source(0xA);
        let out = d.push(1, 0, true, &payload(1, 200, 0, None, Some((0, &a)), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), a);
        d.set_source(0xA);
        let out = d.push(2, 1, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), a, "same source");
        d.set_source(0xB);
        let out = d.push(3, 2, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
        assert_eq!(out, Err(DepayError::MissingTables { q: 200 }));
    }

    #[test]
    fn tables_are_remembered_for_q_128_to_254_but_not_255() {
        let mut d = Depacketizer::new();
        let a = two_tables(1, 100);
        let out = d.push(1, 0, true, &payload(1, 200, 0, None, Some((0, &a)), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), a);
        // Length 0: the tables received before for this Q.
        let out = d.push(2, 1, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), a);
        // New tables replace them.
        let b = two_tables(50, 150);
        let out = d.push(3, 2, true, &payload(1, 200, 0, None, Some((0, &b)), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), b);
        let out = d.push(4, 3, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), b);
        // Another Q has none.
        let out = d.push(5, 4, true, &payload(1, 201, 0, None, Some((0, &[])), &[7]));
        assert_eq!(out, Err(DepayError::MissingTables { q: 201 }));
        // Q=255 must always carry them, even after a Q=255 frame with tables.
        let out = d.push(6, 5, true, &payload(1, 255, 0, None, Some((0, &a)), &[7]));
        assert_eq!(written_tables(&out.unwrap().unwrap()), a);
        let out = d.push(7, 6, true, &payload(1, 255, 0, None, Some((0, &[])), &[7]));
        assert_eq!(out, Err(DepayError::MissingTables { q: 255 }));
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 5,
                frames_incomplete: 2,
                packets_invalid: 2
            }
        );
        // Only the first packet has a table header.
        let first = payload(1, 255, 0, None, Some((0, &a)), &[1, 2]);
        let next = payload(1, 255, 2, None, None, &[3, 4]);
        assert_eq!(d.push(8, 7, false, &first), Ok(None));
        let out = d.push(9, 7, true, &next).unwrap().unwrap();
        assert_eq!(segments(&out).1, [1, 2, 3, 4, 0xFF, 0xD9]);
    }

    #[test]
    fn sixteen_bit_tables_make_an_extended_sequential_jpeg() {
        let mut d = Depacketizer::new();
        // Luma 16-bit (bit 0), chroma 8-bit.
        let luma: Vec<u8> = (0..64u8).flat_map(|k| [0, k + 1]).collect();
        let chroma: Vec<u8> = (0..64u8).map(|k| k + 2).collect();
        let tables = [&luma[..], &chroma].concat();
        let out = d
            .push(
                1,
                0,
                true,
                &payload(1, 255, 0, None, Some((1, &tables)), &[9]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(markers(&out)[1], 0xC1);
        assert_eq!(dqt_tables(&out), [(0x10, luma), (0x01, chroma)]);
        // Two 16-bit tables need 256 bytes.
        let short = payload(1, 255, 0, None, Some((3, &tables)), &[9]);
        assert_eq!(
            d.push(2, 1, true, &short),
            Err(DepayError::TablesTooShort {
                length: 192,
                needed: 256
            })
        );
        // Extra tables (for other types) are skipped.
        let mut three = two_tables(10, 20);
        three.extend_from_slice(&[99; 64]);
        let out = d
            .push(
                3,
                2,
                true,
                &payload(1, 255, 0, None, Some((0, &three)), &[9]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(written_tables(&out), two_tables(10, 20));
        assert_eq!(segments(&out).1, [9, 0xFF, 0xD9]);
    }

    /// A frame of about `len` bytes of scan in several packets.
    fn big_frame(len: usize, mtu: usize) -> Packetized {
        let raw: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        packetize(&with_scan(JPEGENC_I420_16X16_Q85, &stuffed(&raw)), mtu).unwrap()
    }

    #[test]
    fn a_missing_packet_drops_the_frame() {
        let p = big_frame(2000, 300);
        let n = p.packet_count();
        assert!(n >= 5);
        let whole = depay_one(&p);
        for lost in 0..n {
            let mut d = Depacketizer::new();
            for (i, payload) in p.payloads().enumerate() {
                if i != lost {
                    let out = d.push(i as u16, 1000, p.marker(i), payload);
                    assert_eq!(out, Ok(None), "lost {lost}, packet {i}");
                }
            }
            // The next frame comes through; the broken one is counted once.
            let out = feed(&mut d, &p, n as u16, 4000);
            assert_eq!(out.last().unwrap().as_ref(), Some(&whole));
            assert_eq!(
                d.stats(),
                DepayStats {
                    frames: 1,
                    frames_incomplete: 1,
                    packets_invalid: 0
                },
                "lost {lost}"
            );
        }
    }

    #[test]
    fn seqs_and_offsets_must_both_be_contiguous() {
        let a = payload(1, 50, 0, None, None, &[1; 10]);
        let b = payload(1, 50, 10, None, None, &[2; 10]);
        let b_gap = payload(1, 50, 11, None, None, &[2; 10]);
        let b_overlap = payload(1, 50, 5, None, None, &[2; 10]);
        let mut d = Depacketizer::new();
        // Consecutive seqs but a hole in the data.
        assert_eq!(d.push(1, 0, false, &a), Ok(None));
        assert_eq!(d.push(2, 0, true, &b_gap), Ok(None));
        // Or overlapping data.
        assert_eq!(d.push(3, 1, false, &a), Ok(None));
        assert_eq!(d.push(4, 1, true, &b_overlap), Ok(None));
        // Contiguous data but a lost (empty) packet between.
        assert_eq!(d.push(5, 2, false, &a), Ok(None));
        assert_eq!(d.push(7, 2, true, &b), Ok(None));
        assert_eq!(d.stats().frames_incomplete, 3);
        // Both right, across the sequence number wrap.
        assert_eq!(d.push(65535, 3, false, &a), Ok(None));
        let out = d.push(0, 3, true, &b).unwrap().unwrap();
        assert_eq!(
            segments(&out).1,
            [[1; 10], [2; 10]]
                .concat()
                .iter()
                .copied()
                .chain(EOI)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 1,
                frames_incomplete: 3,
                packets_invalid: 0
            }
        );
    }

    #[test]
    fn a_new_timestamp_drops_the_unfinished_frame() {
        let a = payload(1, 50, 0, None, None, &[1; 10]);
        let b = payload(1, 50, 10, None, None, &[2; 10]);
        let mut d = Depacketizer::new();
        assert_eq!(d.push(1, 0, false, &a), Ok(None));
        assert_eq!(d.push(2, 0, false, &b), Ok(None));
        // The marker packet (seq 3) is lost; the next frame starts.
        assert_eq!(d.push(4, 3000, false, &a), Ok(None));
        assert!(d.push(5, 3000, true, &b).unwrap().is_some());
        assert_eq!(d.stats().frames_incomplete, 1);
        // A frame whose first packets are lost, then one whose marker is:
        // counted once each.
        assert_eq!(d.push(9, 6000, false, &b), Ok(None));
        assert_eq!(d.push(10, 9000, false, &a), Ok(None));
        assert_eq!(d.push(20, 12000, false, &a), Ok(None));
        assert!(d.push(21, 12000, true, &b).unwrap().is_some());
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 2,
                frames_incomplete: 3,
                packets_invalid: 0
            }
        );
    }

    #[test]
    fn offset_zero_again_starts_a_new_frame_with_the_same_timestamp() {
        let a = payload(1, 50, 0, None, None, &[1; 10]);
        let b = payload(1, 50, 10, None, None, &[2; 10]);
        let mut d = Depacketizer::new();
        assert_eq!(d.push(1, 0, false, &a), Ok(None));
        // Marker packet lost; the next frame has the same timestamp.
        assert_eq!(d.push(3, 0, false, &a), Ok(None));
        assert!(d.push(4, 0, true, &b).unwrap().is_some());
        // A first packet without data is followed by another at offset 0.
        let tables_only = payload(1, 50, 0, None, None, &[]);
        assert_eq!(d.push(5, 1, false, &tables_only), Ok(None));
        assert_eq!(d.push(6, 1, false, &a), Ok(None));
        assert!(d.push(7, 1, true, &b).unwrap().is_some());
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 2,
                frames_incomplete: 1,
                packets_invalid: 0
            }
        );
        // A frame with no data at all is not returned.
        assert_eq!(d.push(8, 2, true, &tables_only), Ok(None));
        assert_eq!(d.stats().frames_incomplete, 2);
    }

    #[test]
    fn reset_forgets_the_partial_frame() {
        let p = big_frame(1000, 300);
        let n = p.packet_count();
        let mut d = Depacketizer::new();
        let payloads: Vec<&[u8]> = p.payloads().collect();
        assert_eq!(d.push(0, 0, false, payloads[0]), Ok(None));
        d.reset();
        assert_eq!(d.stats(), DepayStats::default());
        // The rest of that frame has no first packet any more.
        for (i, payload) in payloads.iter().enumerate().skip(1) {
            assert_eq!(d.push(i as u16, 0, p.marker(i), payload), Ok(None));
        }
        assert_eq!(d.stats().frames_incomplete, 1);
        let out = feed(&mut d, &p, n as u16, 3000);
        assert!(out.last().unwrap().is_some());
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let mut d = Depacketizer::new();
        let mut push = |p: &[u8]| d.push(1, 0, true, p);
        assert_eq!(
            push(&[]),
            Err(DepayError::TooShort {
                what: "main JPEG header",
                needed: 8,
                len: 0
            })
        );
        assert_eq!(
            push(&[0, 0, 0, 0, 65, 50, 2, 2, 0, 1]),
            Err(DepayError::TooShort {
                what: "restart marker header",
                needed: 12,
                len: 10
            })
        );
        assert_eq!(
            push(&[0, 0, 0, 0, 1, 255, 2, 2, 0]),
            Err(DepayError::TooShort {
                what: "quantization table header",
                needed: 12,
                len: 9
            })
        );
        let mut short_tables = payload(1, 255, 0, None, Some((0, &two_tables(1, 2))), &[]);
        short_tables.truncate(100);
        assert_eq!(
            push(&short_tables),
            Err(DepayError::TooShort {
                what: "quantization tables",
                needed: 140,
                len: 100
            })
        );
        for t in [2, 63, 66, 127, 128, 255] {
            assert_eq!(
                push(&payload(t, 50, 0, None, None, &[1])),
                Err(DepayError::UnsupportedType(t))
            );
        }
        for q in [0, 100, 127] {
            assert_eq!(
                push(&payload(1, q, 0, None, None, &[1])),
                Err(DepayError::ReservedQ(q))
            );
        }
        let mut zero = payload(1, 50, 0, None, None, &[1]);
        zero[6] = 0;
        assert_eq!(push(&zero), Err(DepayError::ZeroDimension));
        assert_eq!(d.stats().packets_invalid, 14);
        assert_eq!(d.stats().frames_incomplete, 14);
        assert_eq!(d.stats().frames, 0);
        // A size from the SDP for headers that say 0.
        d.set_dimensions(Some((4096, 2160)));
        let out = d.push(2, 1, true, &zero).unwrap().unwrap();
        assert_eq!(bodies(&out, 0xC0)[0][1..5], [0x08, 0x70, 0x10, 0x00]);
        // Non-zero header sizes win.
        let out = d.push(3, 2, true, &payload(1, 50, 0, None, None, &[1]));
        assert_eq!(
            bodies(&out.unwrap().unwrap(), 0xC0)[0][1..5],
            [0, 16, 0, 16]
        );
    }

    #[test]
    fn a_bad_packet_drops_its_frame() {
        let p = big_frame(1500, 300);
        let n = p.packet_count();
        for (bad, damage) in [(0, 3), (n / 2, 5), (n - 1, 7)] {
            let mut d = Depacketizer::new();
            for (i, payload) in p.payloads().enumerate() {
                let payload = if i == bad {
                    &payload[..damage]
                } else {
                    payload
                };
                let out = d.push(i as u16, 0, p.marker(i), payload);
                if i == bad {
                    assert!(matches!(out, Err(DepayError::TooShort { .. })), "{out:?}");
                } else {
                    assert_eq!(out, Ok(None));
                }
            }
            assert_eq!(
                d.stats(),
                DepayStats {
                    frames: 0,
                    frames_incomplete: 1,
                    packets_invalid: 1
                },
                "bad packet {bad}"
            );
        }
    }

    #[test]
    fn header_changes_within_a_frame_are_errors() {
        let a = payload(1, 50, 0, None, None, &[1; 10]);
        let mut d = Depacketizer::new();
        for change in [
            payload(1, 60, 10, None, None, &[2; 10]),
            payload(0, 50, 10, None, None, &[2; 10]),
            payload(65, 50, 10, Some(4), None, &[2; 10]),
        ] {
            assert_eq!(d.push(1, 0, false, &a), Ok(None));
            assert_eq!(
                d.push(2, 0, true, &change),
                Err(DepayError::InconsistentHeader)
            );
        }
        let mut wider = payload(1, 50, 10, None, None, &[2; 10]);
        wider[6] = 3;
        assert_eq!(d.push(1, 0, false, &a), Ok(None));
        assert_eq!(
            d.push(2, 0, true, &wider),
            Err(DepayError::InconsistentHeader)
        );
        // The restart interval too.
        let r = payload(65, 50, 0, Some(4), None, &[1; 10]);
        let r_changed = payload(65, 50, 10, Some(5), None, &[2; 10]);
        assert_eq!(d.push(1, 0, false, &r), Ok(None));
        assert_eq!(
            d.push(2, 0, true, &r_changed),
            Err(DepayError::InconsistentHeader)
        );
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 0,
                frames_incomplete: 5,
                packets_invalid: 5
            }
        );
    }

    #[test]
    fn frames_are_limited_in_size() {
        let mut d = Depacketizer::with_max_frame_len(100);
        let first = payload(1, 50, 0, None, None, &[1; 60]);
        assert_eq!(d.push(1, 0, false, &first), Ok(None));
        let too_much = payload(1, 50, 60, None, None, &[2; 41]);
        assert_eq!(
            d.push(2, 0, false, &too_much),
            Err(DepayError::FrameTooLarge { max: 100 })
        );
        // The rest of it is skipped quietly.
        let rest = payload(1, 50, 101, None, None, &[3; 10]);
        assert_eq!(d.push(3, 0, true, &rest), Ok(None));
        // Exactly at the limit is fine.
        let fits = payload(1, 50, 60, None, None, &[2; 40]);
        assert_eq!(d.push(4, 1, false, &first), Ok(None));
        let out = d.push(5, 1, true, &fits).unwrap().unwrap();
        assert_eq!(segments(&out).1.len(), 102);
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 1,
                frames_incomplete: 1,
                packets_invalid: 1
            }
        );
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let cases = [
            (DepayError::UnsupportedType(3), "type 3"),
            (DepayError::ReservedQ(110), "110"),
            (DepayError::MissingTables { q: 255 }, "Q=255"),
            (DepayError::MissingTables { q: 130 }, "none received before"),
            (
                DepayError::TooShort {
                    what: "restart marker header",
                    needed: 12,
                    len: 9,
                },
                "restart marker header",
            ),
            (DepayError::ZeroDimension, "x-dimensions"),
        ];
        for (e, text) in cases {
            assert!(e.to_string().contains(text), "{e}");
        }
    }

    /// Frames of the proptests: a jpegenc JPEG with another scan and maybe a
    /// restart interval.
    fn any_frame() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 1..4000),
            proptest::option::of(1u16..500),
        )
            .prop_map(|(y42b, raw, dri)| {
                let base = if y42b {
                    JPEGENC_Y42B_32X16_Q40
                } else {
                    JPEGENC_I420_16X16_Q85
                };
                let jpeg = with_scan(base, &stuffed(&raw));
                match dri {
                    Some(interval) => with_dri(&jpeg, interval),
                    None => jpeg,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip_of_any_frame(
            jpeg in any_frame(),
            mtu in 157usize..3000,
            seq in any::<u16>(),
            timestamp in any::<u32>(),
        ) {
            let p = packetize(&jpeg, mtu).unwrap();
            let mut d = Depacketizer::new();
            let mut out = feed(&mut d, &p, seq, timestamp);
            let last = out.pop().unwrap();
            prop_assert!(out.iter().all(Option::is_none));
            let last = last.expect("a JPEG at the marker");
            prop_assert_eq!(segments(&last).1, segments(&jpeg).1);
            let again = packetize(&last, mtu).unwrap();
            prop_assert_eq!(again.as_bytes(), p.as_bytes());
        }

        /// Three frames in a row; some packets lost, maybe two neighbours of
        /// one frame swapped. A frame comes out only if all of its packets
        /// came in order, and then exactly as without losses.
        #[test]
        fn never_a_frame_with_a_hole(
            frames in proptest::collection::vec(any_frame(), 3),
            mtu in 157usize..600,
            seq in any::<u16>(),
            lost in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
            swap in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            // (frame, seq, timestamp, marker, payload) in send order.
            let mut packets = Vec::new();
            let mut wholes = Vec::new();
            let mut next_seq = seq;
            for (f, jpeg) in frames.iter().enumerate() {
                let p = packetize(jpeg, mtu).unwrap();
                wholes.push(depay_one(&p));
                for (i, payload) in p.payloads().enumerate() {
                    packets.push((f, next_seq, f as u32 * 3000, p.marker(i), payload.to_vec()));
                    next_seq = next_seq.wrapping_add(1);
                }
            }
            let mut kept = vec![true; packets.len()];
            for l in &lost {
                kept[l.index(packets.len())] = false;
            }
            let mut order: Vec<usize> = (0..packets.len()).filter(|&i| kept[i]).collect();
            let mut swapped_frame = None;
            if let Some(s) = swap
                && order.len() >= 2
            {
                let i = s.index(order.len() - 1);
                let (a, b) = (order[i], order[i + 1]);
                if packets[a].0 == packets[b].0 {
                    order.swap(i, i + 1);
                    swapped_frame = Some(packets[a].0);
                }
            }
            let mut d = Depacketizer::new();
            let mut got = vec![None; frames.len()];
            for &i in &order {
                let (f, seq, ts, marker, ref payload) = packets[i];
                if let Some(jpeg) = d.push(seq, ts, marker, payload).unwrap() {
                    prop_assert!(got[f].is_none());
                    got[f] = Some(jpeg);
                }
            }
            let mut expect_incomplete = 0;
            for f in 0..frames.len() {
                let all: Vec<usize> = (0..packets.len()).filter(|&i| packets[i].0 == f).collect();
                let present = all.iter().filter(|&&i| kept[i]).count();
                let whole = present == all.len() && swapped_frame != Some(f);
                prop_assert_eq!(got[f].is_some(), whole, "frame {}", f);
                if let Some(jpeg) = &got[f] {
                    prop_assert_eq!(jpeg, &wholes[f]);
                }
                // Counted at its marker, or when a later frame begins.
                let marker_kept = kept[*all.last().unwrap()];
                let later_frame_seen = (0..packets.len()).any(|i| kept[i] && packets[i].0 > f);
                if present > 0 && !whole && (marker_kept || later_frame_seen) {
                    expect_incomplete += 1;
                }
            }
            let stats = d.stats();
            prop_assert_eq!(stats.frames, got.iter().flatten().count() as u64);
            prop_assert_eq!(stats.packets_invalid, 0);
            if swapped_frame.is_none() {
                prop_assert_eq!(stats.frames_incomplete, expect_incomplete);
            } else {
                prop_assert!(stats.frames_incomplete >= expect_incomplete);
            }
        }

        #[test]
        fn arbitrary_payloads_never_panic(
            packets in proptest::collection::vec(
                (
                    0u16..8,
                    0u32..3,
                    any::<bool>(),
                    prop_oneof![Just(0u8), Just(1), Just(64), Just(65), any::<u8>()],
                    prop_oneof![Just(50u8), Just(200), Just(255), any::<u8>()],
                    proptest::collection::vec(any::<u8>(), 0..300),
                ),
                1..30,
            ),
            raw in any::<bool>(),
        ) {
            let mut d = Depacketizer::with_max_frame_len(1000);
            let mut errors = 0;
            for (seq, ts, marker, rtp_type, q, mut bytes) in packets {
                if !raw && bytes.len() >= 8 {
                    // A plausible main header: small offsets, known types.
                    bytes[0] = 0;
                    bytes[1] = 0;
                    bytes[2] &= 1;
                    bytes[4] = rtp_type;
                    bytes[5] = q;
                }
                match d.push(seq, ts, marker, &bytes) {
                    Ok(Some(jpeg)) => {
                        prop_assert!(jpeg.starts_with(&SOI));
                        prop_assert!(jpeg.ends_with(&EOI));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        prop_assert!(!e.to_string().is_empty());
                        errors += 1;
                    }
                }
            }
            prop_assert_eq!(d.stats().packets_invalid, errors);
        }

        #[test]
        fn damaged_frames_never_panic(
            jpeg in any_frame(),
            mtu in 157usize..800,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..16, any::<u8>()), 1..6),
            cut in proptest::option::of((any::<prop::sample::Index>(), 0usize..200)),
        ) {
            let p = packetize(&jpeg, mtu).unwrap();
            let mut payloads: Vec<Vec<u8>> = p.payloads().map(<[u8]>::to_vec).collect();
            for (packet, at, value) in flips {
                let payload = &mut payloads[packet.index(p.packet_count())];
                let at = at.min(payload.len() - 1);
                payload[at] = value;
            }
            if let Some((packet, len)) = cut {
                let payload = &mut payloads[packet.index(p.packet_count())];
                payload.truncate(len);
            }
            let mut d = Depacketizer::new();
            for (i, payload) in payloads.iter().enumerate() {
                if let Ok(Some(out)) = d.push(i as u16, 0, p.marker(i), payload) {
                    prop_assert!(out.starts_with(&SOI));
                    prop_assert!(out.ends_with(&EOI));
                }
            }
        }
    }
}
