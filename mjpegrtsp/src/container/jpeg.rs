//! The one place that knows JPEG (ITU-T T.81) syntax: marker codes, the
//! standard tables of Annex K, a walker over the marker segments of a JPEG up
//! to its scan, and what the start-of-frame segment says.
//!
//! Everything else (the container, the RFC 2435 packetizer and depacketizer,
//! the elements, the tests) uses this module rather than its own copy:
//!
//! * [`marker`]: the second byte of each marker (`FF xx`) and which markers
//!   stand alone; [`SOI`] and [`EOI`] as the two bytes that begin and end
//!   every JPEG.
//! * [`tables`]: T.81 Annex K quantization and Huffman tables, with
//!   compile-time checks of their sizes and counts.
//! * [`segments`]: an iterator over the segments from SOI to SOS, with a
//!   typed [`SegmentError`] that gives the byte offset of what is wrong. It
//!   never panics, whatever the input.
//! * [`Sof`] and [`JpegInfo`]: the frame header, and [`parse_info`] to read
//!   it from a whole JPEG.
//! * [`write_segment`]: the one writer of a marker segment.

pub mod tables;

use std::fmt;

/// The second byte of each JPEG marker (`FF xx`) used here.
pub mod marker {
    /// Temporary, for arithmetic coding: stands alone.
    pub const TEM: u8 = 0x01;
    /// Start of frame, baseline sequential Huffman.
    pub const SOF0: u8 = 0xC0;
    /// Start of frame, extended sequential Huffman.
    pub const SOF1: u8 = 0xC1;
    /// Start of frame, progressive Huffman.
    pub const SOF2: u8 = 0xC2;
    /// Start of frame, lossless Huffman.
    pub const SOF3: u8 = 0xC3;
    /// Define Huffman tables.
    pub const DHT: u8 = 0xC4;
    /// Reserved for JPEG extensions (not a SOF despite its code).
    pub const JPG: u8 = 0xC8;
    /// Define arithmetic coding conditioning (not a SOF despite its code).
    pub const DAC: u8 = 0xCC;
    /// The first restart marker, RST0 (RST0 to RST7 stand alone).
    pub const RST0: u8 = 0xD0;
    /// The last restart marker, RST7.
    pub const RST7: u8 = 0xD7;
    /// Start of image.
    pub const SOI: u8 = 0xD8;
    /// End of image.
    pub const EOI: u8 = 0xD9;
    /// Start of scan: the entropy-coded data follows its segment.
    pub const SOS: u8 = 0xDA;
    /// Define quantization tables.
    pub const DQT: u8 = 0xDB;
    /// Define number of lines.
    pub const DNL: u8 = 0xDC;
    /// Define restart interval.
    pub const DRI: u8 = 0xDD;
    /// Define hierarchical progression.
    pub const DHP: u8 = 0xDE;
    /// Application segment 0 (JFIF).
    pub const APP0: u8 = 0xE0;
    /// Application segment 14 (Adobe).
    pub const APP14: u8 = 0xEE;
    /// Comment.
    pub const COM: u8 = 0xFE;

    /// Whether `m` stands alone, without a length and a body: TEM and
    /// RST0‥=RST7 (SOI and EOI too, but a walker treats those apart).
    pub const fn is_standalone(m: u8) -> bool {
        m == TEM || (m >= RST0 && m <= RST7)
    }

    /// Whether `m` starts a frame: SOF0‥=SOF15 but DHT, JPG and DAC, which
    /// share the range.
    pub const fn is_sof(m: u8) -> bool {
        m >= SOF0 && m <= 0xCF && m != DHT && m != JPG && m != DAC
    }

    /// Whether `m` is an application segment, APP0‥=APP15.
    pub const fn is_app(m: u8) -> bool {
        m >= APP0 && m <= 0xEF
    }
}

/// The start-of-image marker every JPEG begins with.
pub const SOI: [u8; 2] = [0xFF, marker::SOI];
/// The end-of-image marker every whole JPEG ends with.
pub const EOI: [u8; 2] = [0xFF, marker::EOI];

/// One marker segment: `FF marker`, a two-byte length, then `body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// The marker's second byte (see [`marker`]).
    pub marker: u8,
    /// Byte offset of the marker's `FF` (after any fill bytes).
    pub offset: usize,
    /// The segment's contents after the length field.
    pub body: &'a [u8],
}

impl Segment<'_> {
    /// Byte offset of the first byte of [`body`](Self::body).
    pub fn body_offset(&self) -> usize {
        self.offset + 4
    }

    /// Byte offset just past the segment. For SOS: where the scan data starts.
    pub fn end(&self) -> usize {
        self.body_offset() + self.body.len()
    }
}

/// Why [`segments`] stopped before SOS. Each case carries the byte offset
/// where the problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    /// The data does not start with SOI.
    NoSoi,
    /// The data ends inside a marker or a length field at `offset`.
    Truncated { offset: usize },
    /// A byte other than `FF` at `offset` where a marker must be.
    ExpectedMarker { offset: usize },
    /// A second SOI marker at `offset`.
    SecondSoi { offset: usize },
    /// An EOI marker at `offset`, before any scan.
    EoiBeforeScan { offset: usize },
    /// A length field at `offset` that says less than 2.
    LengthBelowTwo { offset: usize },
    /// The segment whose marker is at `offset` runs past the end of the data.
    PastEnd { offset: usize },
}

impl SegmentError {
    /// The byte offset of the problem.
    pub fn offset(&self) -> usize {
        match *self {
            SegmentError::NoSoi => 0,
            SegmentError::Truncated { offset }
            | SegmentError::ExpectedMarker { offset }
            | SegmentError::SecondSoi { offset }
            | SegmentError::EoiBeforeScan { offset }
            | SegmentError::LengthBelowTwo { offset }
            | SegmentError::PastEnd { offset } => offset,
        }
    }

    /// What is wrong, in a few words.
    pub fn what(&self) -> &'static str {
        match self {
            SegmentError::NoSoi => "no SOI marker",
            SegmentError::Truncated { .. } => "data ends inside the headers",
            SegmentError::ExpectedMarker { .. } => "expected a marker",
            SegmentError::SecondSoi { .. } => "second SOI marker",
            SegmentError::EoiBeforeScan { .. } => "EOI before any scan",
            SegmentError::LengthBelowTwo { .. } => "segment length below 2",
            SegmentError::PastEnd { .. } => "segment runs past the end of the data",
        }
    }
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed JPEG at byte {}: {}",
            self.offset(),
            self.what()
        )
    }
}

impl std::error::Error for SegmentError {}

/// The marker segments of a JPEG from SOI up to and including SOS; see
/// [`segments`].
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    data: &'a [u8],
    /// Where the next marker is expected; `None` once done.
    pos: Option<usize>,
}

/// Walks the marker segments of `data`: checks SOI, then yields each segment
/// up to and including SOS (whose [`Segment::end`] is where the scan data
/// starts) and stops. Fill bytes (`FF FF …`) before a marker and standalone
/// markers (TEM, RST*n*) are skipped. A malformed header yields one
/// [`SegmentError`] and ends the walk.
pub fn segments(data: &[u8]) -> Segments<'_> {
    Segments { data, pos: Some(0) }
}

impl<'a> Segments<'a> {
    fn byte(&self, pos: usize) -> Result<u8, SegmentError> {
        self.data
            .get(pos)
            .copied()
            .ok_or(SegmentError::Truncated { offset: pos })
    }

    fn next_segment(&self, mut pos: usize) -> Result<Segment<'a>, SegmentError> {
        loop {
            if self.byte(pos)? != 0xFF {
                return Err(SegmentError::ExpectedMarker { offset: pos });
            }
            // Fill bytes may precede a marker.
            while self.byte(pos + 1)? == 0xFF {
                pos += 1;
            }
            let m = self.data[pos + 1];
            let offset = pos;
            pos += 2;
            match m {
                _ if marker::is_standalone(m) => continue,
                marker::SOI => return Err(SegmentError::SecondSoi { offset }),
                marker::EOI => return Err(SegmentError::EoiBeforeScan { offset }),
                _ => {}
            }
            let len = usize::from(u16::from_be_bytes([self.byte(pos)?, self.byte(pos + 1)?]));
            if len < 2 {
                return Err(SegmentError::LengthBelowTwo { offset: pos });
            }
            let body = self
                .data
                .get(pos + 2..pos + len)
                .ok_or(SegmentError::PastEnd { offset })?;
            return Ok(Segment {
                marker: m,
                offset,
                body,
            });
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, SegmentError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.pos.take()?;
        if pos == 0 {
            if !self.data.starts_with(&SOI) {
                return Some(Err(SegmentError::NoSoi));
            }
            self.pos = Some(SOI.len());
            return self.next();
        }
        let segment = self.next_segment(pos);
        if let Ok(s) = &segment
            && s.marker != marker::SOS
        {
            self.pos = Some(s.end());
        }
        Some(segment)
    }
}

impl std::iter::FusedIterator for Segments<'_> {}

/// Writes one marker segment: `FF marker`, the length, then the parts of the
/// body in order. The body must be shorter than 65,534 bytes.
pub fn write_segment(out: &mut Vec<u8>, marker: u8, body: &[&[u8]]) {
    let len: usize = 2 + body.iter().map(|b| b.len()).sum::<usize>();
    debug_assert!(len <= usize::from(u16::MAX), "a {len}-byte segment");
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    for part in body {
        out.extend_from_slice(part);
    }
}

/// One component of a frame, as the SOF segment lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// Component identifier (1, 2, 3 for JFIF's Y, Cb, Cr).
    pub id: u8,
    /// Sampling factors, H << 4 | V.
    pub sampling: u8,
    /// Quantization table number.
    pub quant_table: u8,
}

/// The body of a start-of-frame segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sof<'a> {
    /// The SOF marker (see [`marker::is_sof`]).
    pub marker: u8,
    /// Sample precision in bits.
    pub precision: u8,
    /// Lines; 0 means "set later by a DNL segment".
    pub height: u16,
    /// Samples per line.
    pub width: u16,
    /// Number of components the frame declares.
    pub components: u8,
    /// The component specifications as they follow, 3 bytes each; may be
    /// shorter than `components` says.
    specs: &'a [u8],
}

impl<'a> Sof<'a> {
    /// Reads a SOF segment's body. `None` if it is too short for the fixed
    /// part (6 bytes); the component specifications are read by
    /// [`component`](Self::component).
    pub fn parse(marker: u8, body: &'a [u8]) -> Option<Self> {
        let head = body.get(..6)?;
        Some(Sof {
            marker,
            precision: head[0],
            height: u16::from_be_bytes([head[1], head[2]]),
            width: u16::from_be_bytes([head[3], head[4]]),
            components: head[5],
            specs: &body[6..],
        })
    }

    /// Component `i`, if the segment holds its specification.
    pub fn component(&self, i: usize) -> Option<Component> {
        let spec = self.specs.get(3 * i..3 * i + 3)?;
        Some(Component {
            id: spec[0],
            sampling: spec[1],
            quant_table: spec[2],
        })
    }

    /// What the frame header says, in short.
    pub fn info(&self) -> JpegInfo {
        let sampling = |i| self.component(i).map_or(0, |c| c.sampling);
        JpegInfo {
            width: self.width,
            height: self.height,
            components: self.components,
            sof: self.marker & 0x0F,
            precision: self.precision,
            sampling: [sampling(0), sampling(1), sampling(2)],
        }
    }
}

/// What a JPEG's start-of-frame segment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels (0: set by a DNL segment).
    pub height: u16,
    /// Number of colour components (1 grayscale, 3 YCbCr, 4 CMYK).
    pub components: u8,
    /// The SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, …
    pub sof: u8,
    /// Sample precision in bits (8 for baseline).
    pub precision: u8,
    /// Sampling factors (H << 4 | V) of the first three components; 0 for a
    /// component the frame does not have. 4:2:0 YCbCr is `[0x22, 0x11, 0x11]`.
    pub sampling: [u8; 3],
}

impl JpegInfo {
    /// Whether the frame is progressive (SOF2, SOF6, SOF10, SOF14).
    pub fn is_progressive(&self) -> bool {
        matches!(self.sof, 2 | 6 | 10 | 14)
    }

    /// Whether the frame is baseline sequential: SOF0 with 8-bit samples.
    pub fn is_baseline(&self) -> bool {
        self.sof == 0 && self.precision == 8
    }
}

/// Walks the marker segments of `data` up to the first SOF and returns what it
/// says. `None` if `data` is not a JPEG or has no readable SOF before the scan.
pub fn parse_info(data: &[u8]) -> Option<JpegInfo> {
    for segment in segments(data) {
        let segment = segment.ok()?;
        if marker::is_sof(segment.marker) {
            return Sof::parse(segment.marker, segment.body).map(|sof| sof.info());
        }
    }
    None
}

/// The entropy-coded data of a whole JPEG: what follows its (first) SOS
/// segment, up to and not including the final EOI. `None` if the headers are
/// malformed, there is no SOS, or `jpeg` does not end with EOI.
pub fn scan_data(jpeg: &[u8]) -> Option<&[u8]> {
    let sos = segments(jpeg)
        .filter_map(Result::ok)
        .find(|s| s.marker == marker::SOS)?;
    let end = jpeg.len().checked_sub(EOI.len())?;
    (jpeg.ends_with(&EOI) && sos.end() <= end).then(|| &jpeg[sos.end()..end])
}

/// Test support: entropy-coded-looking data from `raw`, with a stuffed `00`
/// after every `FF` so that no byte pair looks like a marker.
#[cfg(test)]
pub(crate) fn stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() * 2);
    for &b in raw {
        out.push(b);
        if b == 0xFF {
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by `jpegenc`; see tests/data/jpeg/README.md.
    const JPEGENC_I420: &[u8] =
        include_bytes!("../../../tests/data/jpeg/jpegenc-i420-16x16-q85.jpg");

    /// A minimal header: SOI, an APP0 segment, SOF0 for 640×480×3, then EOI.
    fn header(sof_marker: u8) -> Vec<u8> {
        let mut v = SOI.to_vec();
        write_segment(&mut v, marker::APP0, &[&[0xAA, 0xBB]]);
        write_segment(
            &mut v,
            sof_marker,
            &[&[
                8, 0x01, 0xE0, 0x02, 0x80, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
            ]],
        );
        v.extend_from_slice(&EOI);
        v
    }

    #[test]
    fn reads_sof() {
        let info = parse_info(&header(0xC0)).unwrap();
        assert_eq!((info.width, info.height, info.components), (640, 480, 3));
        assert_eq!(info.sampling, [0x22, 0x11, 0x11]);
        assert!(!info.is_progressive());
        assert!(info.is_baseline());
        let progressive = parse_info(&header(0xC2)).unwrap();
        assert!(progressive.is_progressive() && !progressive.is_baseline());
    }

    #[test]
    fn reads_a_jpegenc_frame() {
        let info = parse_info(JPEGENC_I420).unwrap();
        assert_eq!((info.width, info.height), (16, 16));
        assert_eq!(info.sampling, [0x22, 0x11, 0x11]);
        assert!(info.is_baseline());
        let markers: Vec<u8> = segments(JPEGENC_I420).map(|s| s.unwrap().marker).collect();
        use marker::*;
        assert_eq!(
            markers,
            [APP0, DQT, DQT, SOF0, DHT, DHT, DHT, DHT, SOS],
            "up to SOS, no further"
        );
        let scan = scan_data(JPEGENC_I420).unwrap();
        assert_eq!(scan.len(), JPEGENC_I420.len() - 623 - 2);
    }

    #[test]
    fn jpegenc_writes_the_standard_huffman_tables() {
        // jpegenc (libjpeg) writes the Annex K.3 tables: an independent copy.
        let theirs: Vec<&[u8]> = segments(JPEGENC_I420)
            .map(|s| s.unwrap())
            .filter(|s| s.marker == marker::DHT)
            .map(|s| s.body)
            .collect();
        assert_eq!(theirs.len(), tables::STD_HUFFMAN.len());
        for (body, ours) in theirs.iter().zip(&tables::STD_HUFFMAN) {
            assert_eq!(body[0], ours.class_id);
            assert!(ours.is_defined_by(&body[1..]));
        }
    }

    #[test]
    fn fill_bytes_and_standalone_markers_are_skipped() {
        let mut v = SOI.to_vec();
        v.extend_from_slice(&[0xFF, 0xFF, 0xFF, marker::RST0, 0xFF, marker::TEM]);
        write_segment(&mut v, marker::COM, &[b"hi"]);
        let mut walk = segments(&v);
        let com = Segment {
            marker: marker::COM,
            offset: 8,
            body: b"hi",
        };
        assert_eq!(walk.next(), Some(Ok(com)));
        // Without an SOS the walk runs into the end of the data, and stops.
        let end = SegmentError::Truncated { offset: v.len() };
        assert_eq!(walk.next(), Some(Err(end)));
        assert_eq!(walk.next(), None);
    }

    #[test]
    fn errors_say_where() {
        let err = |data: &[u8]| segments(data).find_map(Result::err).unwrap();
        assert_eq!(err(b""), SegmentError::NoSoi);
        assert_eq!(
            err(&[0xFF, 0xD8, 0xFF]),
            SegmentError::Truncated { offset: 3 }
        );
        assert_eq!(
            err(&[0xFF, 0xD8, 0x00]),
            SegmentError::ExpectedMarker { offset: 2 }
        );
        assert_eq!(
            err(&[0xFF, 0xD8, 0xFF, 0xD8]),
            SegmentError::SecondSoi { offset: 2 }
        );
        assert_eq!(
            err(&[0xFF, 0xD8, 0xFF, 0xD9]),
            SegmentError::EoiBeforeScan { offset: 2 }
        );
        assert_eq!(
            err(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 1]),
            SegmentError::LengthBelowTwo { offset: 4 }
        );
        let past = err(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 5, 1]);
        assert_eq!(past, SegmentError::PastEnd { offset: 2 });
        assert_eq!(
            past.to_string(),
            "malformed JPEG at byte 2: segment runs past the end of the data"
        );
        // An error ends the walk.
        assert_eq!(segments(&[0xFF, 0xD8, 0x00]).count(), 1);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(parse_info(b""), None);
        assert_eq!(parse_info(&[0xFF, 0xD8]), None);
        assert_eq!(parse_info(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]), None);
        assert_eq!(parse_info(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00]), None);
        let mut h = header(0xC0);
        h.truncate(16);
        assert_eq!(parse_info(&h), None);
        for len in 0..JPEGENC_I420.len() {
            let cut = &JPEGENC_I420[..len];
            let _ = segments(cut).count();
            let _ = parse_info(cut);
            assert_eq!(scan_data(cut), None);
        }
    }
}
