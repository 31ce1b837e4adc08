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

mod payload;

use super::rfc2435::MAX_DATA_LEN;
use crate::container::jpeg::EOI;
use payload::{FrameKey, Payload, QuantTables, parse_payload, tables_for_q, write_headers};

/// What one pushed packet gives: a whole JPEG, nothing yet, or an error.
type Pushed = Result<Option<Vec<u8>>, DepayError>;

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
        match self.assemble(seq, timestamp, marker, payload) {
            Ok(jpeg) => Ok(jpeg),
            Err(e) => {
                self.stats.packets_invalid += 1;
                self.skip(timestamp, marker);
                Err(e)
            }
        }
    }

    fn assemble(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Pushed {
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
mod tests;
