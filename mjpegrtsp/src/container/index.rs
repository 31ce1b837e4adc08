//! Random access: find every frame of a container by hopping over the length
//! prefixes, reading seven bytes per frame instead of the whole file.

use super::{Anomaly, PREFIX_LEN, SOI, find_frame_header, is_whole_jpeg, parse_prefix};
use std::io;

/// A byte source that can be read at any offset, such as a file or a slice.
pub trait ReadAt {
    /// Total size in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read
    /// (fewer only at the end of the data).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(offset, buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    offset += n as u64;
                    buf = &mut buf[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadAt for std::fs::File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> io::Result<u64> {
        self.as_slice().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

/// Where one frame's JPEG data lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// Offset of the JPEG data (just after the five-digit prefix).
    pub offset: u64,
    /// Length of the JPEG data in bytes.
    pub len: u32,
}

impl FrameEntry {
    /// Offset of the frame's length prefix.
    pub fn header_offset(&self) -> u64 {
        self.offset - PREFIX_LEN as u64
    }

    /// Reads this frame's JPEG data into `buf` (which must be `len` bytes) and
    /// checks that it is a whole JPEG.
    pub fn read_into(&self, src: &(impl ReadAt + ?Sized), buf: &mut [u8]) -> io::Result<()> {
        src.read_exact_at(self.offset, buf)?;
        if is_whole_jpeg(buf) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Anomaly::NotJpeg {
                    offset: self.header_offset(),
                    len: buf.len(),
                }
                .to_string(),
            ))
        }
    }

    /// Reads this frame's JPEG data into a new vector.
    pub fn read(&self, src: &(impl ReadAt + ?Sized)) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; self.len as usize];
        self.read_into(src, &mut buf)?;
        Ok(buf)
    }
}

/// Every frame of a container, found without reading the frames' data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    frames: Vec<FrameEntry>,
    anomalies: Vec<Anomaly>,
    size: u64,
}

/// How many bytes are read at a time while searching for a frame header.
const SCAN_CHUNK: usize = 64 * 1024;

impl Index {
    /// Builds the index of `src`. Only I/O errors fail; damage in the data is
    /// recorded in [`Index::anomalies`] and worked around.
    pub fn build(src: &(impl ReadAt + ?Sized)) -> io::Result<Index> {
        let size = src.size()?;
        let mut index = Index {
            frames: Vec::with_capacity(usize::try_from(size / 8192).unwrap_or(0).min(1 << 20)),
            anomalies: Vec::new(),
            size,
        };
        let mut walk = Walk::new(0, size);
        while let Some(found) = walk.step(src)? {
            match found {
                Found::Frame(entry) => index.frames.push(entry),
                Found::Damage(anomaly) => index.anomalies.push(anomaly),
            }
        }
        Ok(index)
    }

    /// An index from parts found elsewhere (a background walk, a cache).
    /// `frames` must be in file order and within `size`.
    pub(super) fn from_parts(frames: Vec<FrameEntry>, anomalies: Vec<Anomaly>, size: u64) -> Index {
        Index {
            frames,
            anomalies,
            size,
        }
    }

    /// The frames, in file order.
    pub fn frames(&self) -> &[FrameEntry] {
        &self.frames
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame was found.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frame `n` (counting from 0).
    pub fn get(&self, n: usize) -> Option<&FrameEntry> {
        self.frames.get(n)
    }

    /// Damage found while indexing, in file order.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Size in bytes of the indexed data.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Size of the largest frame's JPEG data.
    pub fn max_frame_len(&self) -> usize {
        self.frames
            .iter()
            .map(|f| f.len as usize)
            .max()
            .unwrap_or(0)
    }
}

/// What one step of a [`Walk`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// A frame whose data starts with SOI.
    Frame(FrameEntry),
    /// Damage, worked around (the walk goes on after it, or ends).
    Damage(Anomaly),
}

/// A walk over a container's frames from a frame start: seven bytes read
/// per frame, hopping over the data. The one place the container's frames
/// are found in a random-access source: a whole index, a background one,
/// and a walk from a resynchronised point are all walks.
#[derive(Debug, Clone)]
pub(super) struct Walk {
    pos: u64,
    size: u64,
    ended: bool,
}

impl Walk {
    /// A walk from byte `pos` of data `size` bytes long.
    pub(super) fn new(pos: u64, size: u64) -> Walk {
        Walk {
            pos,
            size,
            ended: false,
        }
    }

    /// The offset of the next frame header: everything before it is walked.
    pub(super) fn position(&self) -> u64 {
        self.pos
    }

    /// Whether the walk reached the end of the data (or of what can be read
    /// as frames).
    pub(super) fn ended(&self) -> bool {
        self.ended || self.pos >= self.size
    }

    /// The next frame or damage; `None` at the end.
    pub(super) fn step(&mut self, src: &(impl ReadAt + ?Sized)) -> io::Result<Option<Found>> {
        if self.ended() {
            return Ok(None);
        }
        let (pos, size) = (self.pos, self.size);
        let avail = size - pos;
        if avail < PREFIX_LEN as u64 {
            self.ended = true;
            return Ok(Some(Found::Damage(Anomaly::TrailingBytes {
                offset: pos,
                len: avail,
            })));
        }
        let mut head = [0u8; PREFIX_LEN + 2];
        let head = &mut head[..usize::try_from(avail)
            .unwrap_or(usize::MAX)
            .min(PREFIX_LEN + 2)];
        src.read_exact_at(pos, head)?;
        let Some(len) = parse_prefix(head).filter(|&l| l > 0) else {
            let resumed_at = scan_for_header(src, pos + 1, size)?;
            match resumed_at {
                Some(at) => self.pos = at,
                None => self.ended = true,
            }
            return Ok(Some(Found::Damage(Anomaly::BadPrefix {
                offset: pos,
                resumed_at,
            })));
        };
        let data = pos + PREFIX_LEN as u64;
        let end = data + len as u64;
        if end > size {
            self.ended = true;
            return Ok(Some(Found::Damage(Anomaly::Truncated {
                offset: pos,
                declared: len,
                available: size - data,
            })));
        }
        self.pos = end;
        Ok(Some(if head[PREFIX_LEN..] == SOI {
            Found::Frame(FrameEntry {
                offset: data,
                len: len as u32,
            })
        } else {
            Found::Damage(Anomaly::NotJpeg { offset: pos, len })
        }))
    }
}

/// Finds a frame start at or after `from`, searching at most `limit` bytes:
/// a plausible header (five digits, then SOI) whose declared length leads
/// to the end of the data or to another plausible header. `None` if there
/// is none within the limit: never a loop, however damaged the data.
pub(super) fn resync(
    src: &(impl ReadAt + ?Sized),
    from: u64,
    limit: u64,
) -> io::Result<Option<u64>> {
    const HEADER: usize = PREFIX_LEN + SOI.len();
    let size = src.size()?;
    let stop = from.saturating_add(limit).min(size);
    // One read finds a frame start in undamaged data (frames are at most
    // 100 kB): it may well go to the disk.
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut pos = from;
    while pos < stop {
        let n = usize::try_from((stop - pos).min(SCAN_CHUNK as u64)).unwrap_or(SCAN_CHUNK);
        src.read_exact_at(pos, &mut buf[..n])?;
        let mut i = 0;
        while let Some(j) = find_frame_header(&buf[i..n]) {
            let at = pos + (i + j) as u64;
            let len = parse_prefix(&buf[i + j..n]).unwrap_or(0);
            let next = at + (PREFIX_LEN + len) as u64;
            let k = usize::try_from(next - pos).unwrap_or(usize::MAX);
            let leads_on = if next >= size {
                next == size
            } else if k.saturating_add(HEADER) <= n {
                find_frame_header(&buf[k..k + HEADER]) == Some(0)
            } else {
                header_at(src, next, size)?
            };
            if leads_on {
                return Ok(Some(at));
            }
            i += j + 1;
        }
        if pos + n as u64 >= stop || n < HEADER {
            break;
        }
        pos += (n - (HEADER - 1)) as u64;
    }
    Ok(None)
}

/// Whether a plausible frame header starts at `pos`.
fn header_at(src: &(impl ReadAt + ?Sized), pos: u64, size: u64) -> io::Result<bool> {
    if size - pos < (PREFIX_LEN + SOI.len()) as u64 {
        return Ok(false);
    }
    let mut head = [0u8; PREFIX_LEN + 2];
    src.read_exact_at(pos, &mut head)?;
    Ok(find_frame_header(&head) == Some(0))
}

/// Looks for the next plausible frame header at or after `from` (and
/// before `size`). Reads small chunks first, growing to [`SCAN_CHUNK`]: in
/// damaged data the next header is usually close.
fn scan_for_header(src: &(impl ReadAt + ?Sized), from: u64, size: u64) -> io::Result<Option<u64>> {
    const OVERLAP: usize = PREFIX_LEN + SOI.len() - 1;
    let mut buf = Vec::new();
    let mut chunk = 512usize;
    let mut pos = from;
    while pos < size {
        let n = usize::try_from((size - pos).min(chunk as u64)).unwrap_or(chunk);
        if buf.len() < n {
            buf.resize(n, 0);
        }
        src.read_exact_at(pos, &mut buf[..n])?;
        if let Some(i) = find_frame_header(&buf[..n]) {
            return Ok(Some(pos + i as u64));
        }
        if n <= OVERLAP || pos + (n as u64) >= size {
            break;
        }
        pos += (n - OVERLAP) as u64;
        chunk = (chunk * 2).min(SCAN_CHUNK);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::FrameWriter;

    fn jpeg(fill: u8, len: usize) -> Vec<u8> {
        let mut v = vec![fill; len];
        v[..2].copy_from_slice(&SOI);
        v[len - 2..].copy_from_slice(&crate::container::EOI);
        v
    }

    fn container(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut w = FrameWriter::new(Vec::new());
        for f in frames {
            w.write_frame(f).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn indexes_every_frame() {
        let frames = vec![jpeg(1, 10), jpeg(2, 300), jpeg(3, 4)];
        let data = container(&frames);
        let idx = Index::build(&data[..]).unwrap();
        assert_eq!(idx.len(), 3);
        assert!(idx.anomalies().is_empty());
        for (e, f) in idx.frames().iter().zip(&frames) {
            assert_eq!(&e.read(&data[..]).unwrap(), f);
        }
        assert_eq!(idx.get(1).unwrap().header_offset(), 15);
    }

    #[test]
    fn empty_input_has_no_frames() {
        let idx = Index::build(&[][..]).unwrap();
        assert!(idx.is_empty());
        assert!(idx.anomalies().is_empty());
    }

    #[test]
    fn bad_prefix_resyncs_to_next_header() {
        let mut data = container(&[jpeg(1, 10)]);
        let bad_at = data.len() as u64;
        data.extend_from_slice(b"12x45garbage");
        let good_at = data.len() as u64;
        data.extend_from_slice(&container(&[jpeg(2, 20)]));
        let idx = Index::build(&data[..]).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(
            idx.anomalies(),
            &[Anomaly::BadPrefix {
                offset: bad_at,
                resumed_at: Some(good_at)
            }]
        );
    }

    #[test]
    fn truncated_last_frame_is_reported() {
        let mut data = container(&[jpeg(1, 10), jpeg(2, 50)]);
        data.truncate(data.len() - 7);
        let idx = Index::build(&data[..]).unwrap();
        assert_eq!(idx.len(), 1);
        assert!(matches!(
            idx.anomalies(),
            [Anomaly::Truncated {
                offset: 15,
                declared: 50,
                available: 43
            }]
        ));
    }

    #[test]
    fn non_jpeg_payload_is_skipped() {
        let mut notjpeg = jpeg(7, 12);
        notjpeg[0] = 0;
        let data = container(&[jpeg(1, 10), notjpeg, jpeg(3, 10)]);
        let idx = Index::build(&data[..]).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(
            idx.anomalies(),
            &[Anomaly::NotJpeg {
                offset: 15,
                len: 12
            }]
        );
    }

    #[test]
    fn corrupt_end_marker_fails_the_read_not_the_index() {
        let mut bad = jpeg(7, 12);
        bad[11] = 0;
        let data = container(&[bad]);
        let idx = Index::build(&data[..]).unwrap();
        let err = idx.get(0).unwrap().read(&data[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn scan_crosses_chunk_boundaries() {
        let mut data = vec![b'x'; SCAN_CHUNK - 3];
        data.extend_from_slice(&container(&[jpeg(1, 10)]));
        let idx = Index::build(&data[..]).unwrap();
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.get(0).unwrap().header_offset(), (SCAN_CHUNK - 3) as u64);
    }
}
