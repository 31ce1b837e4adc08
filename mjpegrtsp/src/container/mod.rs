//! The `.Mjpeg` container as plain Rust, free of GStreamer.
//!
//! A file is a sequence of frames. Each frame is five ASCII decimal digits
//! giving the length of a JPEG image in bytes (zero padded, `00042` … `99999`)
//! followed by that many bytes of JPEG data, which starts with the SOI marker
//! `FF D8` and ends with the EOI marker `FF D9`. There is no file header, no
//! index and no trailer.
//!
//! * [`Index`] hops over the length prefixes of a random-access source to find
//!   every frame without reading the frames themselves.
//! * [`SharedIndex`] does that in the background, so that a file plays and
//!   seeks at once, and [`IndexCache`] remembers the result between runs.
//! * [`StreamParser`] splits a byte stream that arrives in pieces.
//! * [`FrameWriter`] writes the format and refuses frames it cannot represent.
//!
//! Damage is reported as [`Anomaly`] values, never as a panic: a bad prefix makes
//! the readers search for the next plausible frame header, a frame whose data is
//! not a JPEG is skipped, and a truncated tail ends the stream after the last
//! whole frame.

mod index;
mod index_cache;
pub mod jpeg;
mod shared_index;
pub mod stream;
mod writer;

pub use index::{FrameEntry, Index, ReadAt};
pub use index_cache::{IndexCache, MIN_CACHED_SIZE};
pub use shared_index::{FrameCount, Located, SharedIndex, SharedSource};
pub use stream::StreamParser;
pub use writer::{FrameTooLarge, FrameWriter, encode_prefix};

use std::fmt;

/// Number of bytes in a frame's length prefix.
pub const PREFIX_LEN: usize = 5;
/// Largest JPEG a frame can hold: five decimal digits.
pub const MAX_FRAME_LEN: usize = 99_999;
/// The JPEG markers every frame's data begins (SOI) and ends (EOI) with.
pub use jpeg::{EOI, SOI};

/// Parses a five-digit length prefix. Anything but five ASCII digits is `None`.
pub fn parse_prefix(bytes: &[u8]) -> Option<usize> {
    let digits: &[u8; PREFIX_LEN] = bytes.get(..PREFIX_LEN)?.try_into().ok()?;
    digits.iter().try_fold(0usize, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + usize::from(b - b'0'))
    })
}

/// Whether `data` is a whole JPEG as far as the container is concerned:
/// it starts with SOI and ends with EOI.
pub fn is_whole_jpeg(data: &[u8]) -> bool {
    data.len() >= 4 && data.starts_with(&SOI) && data.ends_with(&EOI)
}

/// Finds the first position in `haystack` that looks like the start of a frame:
/// five ASCII digits naming a non-zero length, followed by the JPEG SOI marker.
pub fn find_frame_header(haystack: &[u8]) -> Option<usize> {
    haystack
        .windows(PREFIX_LEN + SOI.len())
        .position(|w| w[PREFIX_LEN..] == SOI && parse_prefix(w).is_some_and(|len| len >= 4))
}

/// Something wrong found in a container, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// The bytes at `offset` are not a valid five-digit length prefix. Reading
    /// resumed at `resumed_at`, or stopped if no further frame header was found.
    BadPrefix {
        offset: u64,
        resumed_at: Option<u64>,
    },
    /// The frame at `offset` has a valid prefix but its data does not start with
    /// a JPEG SOI marker or does not end with an EOI marker; it was skipped.
    NotJpeg { offset: u64, len: usize },
    /// The frame at `offset` declares `declared` bytes but only `available`
    /// remain before the end of the data.
    Truncated {
        offset: u64,
        declared: usize,
        available: u64,
    },
    /// `len` bytes at `offset` at the end of the data are too short to be a frame.
    TrailingBytes { offset: u64, len: u64 },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Anomaly::BadPrefix {
                offset,
                resumed_at: Some(at),
            } => write!(
                f,
                "invalid frame length prefix at byte offset {offset}; skipped {} bytes to the next frame header at byte offset {at}",
                at - offset
            ),
            Anomaly::BadPrefix {
                offset,
                resumed_at: None,
            } => write!(
                f,
                "invalid frame length prefix at byte offset {offset} and no further frame header; ignoring the rest of the data"
            ),
            Anomaly::NotJpeg { offset, len } => write!(
                f,
                "frame at byte offset {offset} ({len} bytes) is not a whole JPEG image (no SOI/EOI marker); skipped"
            ),
            Anomaly::Truncated {
                offset,
                declared,
                available,
            } => write!(
                f,
                "frame at byte offset {offset} declares {declared} bytes but only {available} remain: the data is truncated; stopping after the last whole frame"
            ),
            Anomaly::TrailingBytes { offset, len } => write!(
                f,
                "{len} trailing bytes at byte offset {offset} are too short to be a frame; ignored"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_parsing() {
        assert_eq!(parse_prefix(b"10528"), Some(10528));
        assert_eq!(parse_prefix(b"00000"), Some(0));
        assert_eq!(parse_prefix(b"99999xyz"), Some(99_999));
        assert_eq!(parse_prefix(b"1052"), None);
        assert_eq!(parse_prefix(b" 1052"), None);
        assert_eq!(parse_prefix(b"1a528"), None);
        assert_eq!(parse_prefix(b"-1052"), None);
    }

    #[test]
    fn header_search() {
        assert_eq!(find_frame_header(b"xx00010\xFF\xD8"), Some(2));
        assert_eq!(find_frame_header(b"00000\xFF\xD8"), None, "zero length");
        assert_eq!(find_frame_header(b"0001\xFF\xD8"), None);
        assert_eq!(find_frame_header(b"\xFF\xD8\xFF\xD9"), None);
    }

    #[test]
    fn whole_jpeg() {
        assert!(is_whole_jpeg(b"\xFF\xD8\xFF\xD9"));
        assert!(!is_whole_jpeg(b"\xFF\xD8\xFF"));
        assert!(!is_whole_jpeg(b"\xFF\xD8\x00\x00"));
        assert!(!is_whole_jpeg(b"\x00\xD8\xFF\xD9"));
    }

    #[test]
    fn anomalies_name_offsets() {
        let a = Anomaly::BadPrefix {
            offset: 7,
            resumed_at: Some(19),
        };
        assert!(a.to_string().contains("byte offset 7"), "{a}");
        assert!(a.to_string().contains("skipped 12 bytes"), "{a}");
    }
}

#[cfg(test)]
mod proptests {
    use super::stream::Item;
    use super::*;
    use proptest::prelude::*;

    fn jpeg(fill: u8, len: usize) -> Vec<u8> {
        let mut v = vec![fill; len.max(4)];
        v[..2].copy_from_slice(&SOI);
        let n = v.len();
        v[n - 2..].copy_from_slice(&EOI);
        v
    }

    /// Frames a reader gets from `data` through the index (reads that fail
    /// their SOI/EOI check are skipped, as the elements do).
    fn via_index(data: &[u8]) -> Vec<Vec<u8>> {
        let index = Index::build(data).unwrap();
        index
            .frames()
            .iter()
            .filter_map(|e| e.read(data).ok())
            .collect()
    }

    fn via_stream(data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut p = StreamParser::new();
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            p.push(piece);
            while let Some(item) = p.next_item() {
                if let Item::Frame { data, .. } = item {
                    out.push(data);
                }
            }
        }
        p.finish();
        out
    }

    #[derive(Debug, Clone)]
    enum Damage {
        Flip(usize, u8),
        Insert(usize, Vec<u8>),
        Cut(usize),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Flip(i, b)),
            (
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 1..12)
            )
                .prop_map(|(i, v)| Damage::Insert(i, v)),
            any::<usize>().prop_map(Damage::Cut),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the damage, both readers agree, never panic, and only
        /// ever give whole JPEGs; undamaged data comes back unchanged.
        #[test]
        fn damaged_containers_give_only_whole_frames(
            sizes in proptest::collection::vec(4usize..300, 0..12),
            damages in proptest::collection::vec(damage(), 0..4),
            chunk in 1usize..64,
        ) {
            let frames: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| jpeg(i as u8 + 1, n)).collect();
            let mut w = FrameWriter::new(Vec::new());
            for f in &frames {
                w.write_frame(f).unwrap();
            }
            let mut data = w.into_inner();
            if damages.is_empty() {
                prop_assert_eq!(&via_index(&data), &frames);
            }
            for d in damages {
                match d {
                    Damage::Flip(i, b) if !data.is_empty() => { let n = data.len(); data[i % n] = b; }
                    Damage::Insert(i, v) => { let at = i % (data.len() + 1); data.splice(at..at, v); }
                    Damage::Cut(i) => { let n = data.len() + 1; data.truncate(i % n); }
                    _ => {}
                }
            }
            let indexed = via_index(&data);
            prop_assert!(indexed.iter().all(|f| is_whole_jpeg(f)));
            prop_assert_eq!(&via_stream(&data, chunk), &indexed);
        }
    }
}
