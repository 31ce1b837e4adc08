//! Sequential parsing of a container that arrives in pieces (push mode).

use super::{Anomaly, PREFIX_LEN, SOI, find_frame_header, is_whole_jpeg, parse_prefix};

/// What the parser found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A whole JPEG, with the byte offset of its length prefix.
    Frame { offset: u64, data: Vec<u8> },
    /// Damage that was skipped.
    Anomaly(Anomaly),
}

/// Splits a byte stream into frames. Feed bytes with [`StreamParser::push`],
/// take frames with [`StreamParser::next_item`] until it returns `None`, and
/// call [`StreamParser::finish`] at the end of the stream.
#[derive(Debug, Default)]
pub struct StreamParser {
    buf: Vec<u8>,
    /// Start of unparsed data in `buf`.
    start: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    /// Offset where a bad prefix was met and we are searching for a header.
    resync_from: Option<u64>,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Stream offset of the next byte to be parsed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes received but not yet returned as frames.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Returns the next frame or anomaly, or `None` if more data is needed.
    pub fn next_item(&mut self) -> Option<Item> {
        loop {
            let avail = &self.buf[self.start..];
            if let Some(from) = self.resync_from {
                match find_frame_header(avail) {
                    Some(i) => {
                        self.consume(i);
                        self.resync_from = None;
                        return Some(Item::Anomaly(Anomaly::BadPrefix {
                            offset: from,
                            resumed_at: Some(self.offset),
                        }));
                    }
                    None => {
                        // Keep the bytes that could begin a header split across pushes.
                        let keep = PREFIX_LEN + SOI.len() - 1;
                        self.consume(avail.len().saturating_sub(keep));
                        return None;
                    }
                }
            }
            if avail.len() < PREFIX_LEN {
                return None;
            }
            let Some(len) = parse_prefix(avail).filter(|&l| l > 0) else {
                self.resync_from = Some(self.offset);
                self.consume(1);
                continue;
            };
            if avail.len() < PREFIX_LEN + len {
                return None;
            }
            let offset = self.offset;
            let data = &avail[PREFIX_LEN..PREFIX_LEN + len];
            let item = if is_whole_jpeg(data) {
                Item::Frame {
                    offset,
                    data: data.to_vec(),
                }
            } else {
                Item::Anomaly(Anomaly::NotJpeg { offset, len })
            };
            self.consume(PREFIX_LEN + len);
            return Some(item);
        }
    }

    /// Ends the stream: reports what is left over, if anything.
    pub fn finish(&mut self) -> Option<Anomaly> {
        let avail = &self.buf[self.start..];
        let rest = avail.len() as u64;
        let anomaly = if let Some(from) = self.resync_from.take() {
            Some(Anomaly::BadPrefix {
                offset: from,
                resumed_at: None,
            })
        } else if rest == 0 {
            None
        } else if let Some(len) = parse_prefix(avail) {
            Some(Anomaly::Truncated {
                offset: self.offset,
                declared: len,
                available: rest - PREFIX_LEN as u64,
            })
        } else {
            Some(Anomaly::TrailingBytes {
                offset: self.offset,
                len: rest,
            })
        };
        self.consume(avail.len());
        anomaly
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{FrameWriter, Index};

    fn jpeg(fill: u8, len: usize) -> Vec<u8> {
        let mut v = vec![fill; len];
        v[..2].copy_from_slice(&SOI);
        v[len - 2..].copy_from_slice(&[0xFF, 0xD9]);
        v
    }

    fn parse_in_pieces(data: &[u8], piece: usize) -> Vec<Item> {
        let mut p = StreamParser::new();
        let mut out = Vec::new();
        for chunk in data.chunks(piece.max(1)) {
            p.push(chunk);
            while let Some(item) = p.next_item() {
                out.push(item);
            }
        }
        out.extend(p.finish().map(Item::Anomaly));
        out
    }

    #[test]
    fn frames_split_anywhere() {
        let mut w = FrameWriter::new(Vec::new());
        for i in 0..5 {
            w.write_frame(&jpeg(i, 10 + i as usize * 7)).unwrap();
        }
        let data = w.into_inner();
        for piece in [1, 2, 3, 7, 100] {
            let items = parse_in_pieces(&data, piece);
            assert_eq!(items.len(), 5, "piece {piece}");
            assert!(items.iter().all(|i| matches!(i, Item::Frame { .. })));
        }
    }

    #[test]
    fn damage_is_reported_like_the_index() {
        let mut w = FrameWriter::new(Vec::new());
        w.write_frame(&jpeg(1, 10)).unwrap();
        let mut data = w.into_inner();
        data.extend_from_slice(b"zz");
        let mut notjpeg = b"00006abcdef".to_vec();
        data.append(&mut notjpeg);
        let mut w = FrameWriter::new(data);
        w.write_frame(&jpeg(2, 30)).unwrap();
        let mut data = w.into_inner();
        data.extend_from_slice(b"00050\xFF\xD8\x00");
        let idx = Index::build(&data[..]).unwrap();
        for piece in [1, 4, 1000] {
            let items = parse_in_pieces(&data, piece);
            let anomalies: Vec<_> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Anomaly(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(anomalies, idx.anomalies(), "piece {piece}");
            let frames = items
                .iter()
                .filter(|i| matches!(i, Item::Frame { .. }))
                .count();
            assert_eq!(frames, idx.len());
        }
    }
}
