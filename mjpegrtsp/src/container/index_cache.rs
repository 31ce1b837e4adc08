//! Indexes remembered between runs, so that the next open of a large file
//! is instant even when the file is not in the page cache.
//!
//! One file per media file, in the user's cache directory (never beside
//! the media, which may be read-only): named after a hash of the media
//! file's canonical path, holding its size and modification time, checked
//! on load. A changed file is indexed again and its entry replaced. The
//! format (little-endian):
//!
//! ```text
//! "MJPEGIDX" version:u32 size:u64 mtime_s:i64 mtime_ns:u32 path_len:u32 path
//! frames:u64 anomalies:u32 { offset:u64 len:u32 }* { kind:u8 a:u64 b:u64 c:u64 }*
//! sha256 of everything before it (32 bytes)
//! ```

use super::{Anomaly, FrameEntry, Index, MAX_FRAME_LEN, PREFIX_LEN};
use sha2::{Digest, Sha256};
use std::fs::Metadata;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const MAGIC: &[u8; 8] = b"MJPEGIDX";
const VERSION: u32 = 1;
/// Files smaller than this are not remembered: indexing them takes
/// milliseconds, even cold.
pub const MIN_CACHED_SIZE: u64 = 16 << 20;

/// A directory of remembered indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCache {
    dir: PathBuf,
    min_size: u64,
}

impl IndexCache {
    /// A cache in `dir` (made when first written to), remembering files of
    /// at least [`MIN_CACHED_SIZE`].
    pub fn new(dir: impl Into<PathBuf>) -> IndexCache {
        IndexCache {
            dir: dir.into(),
            min_size: MIN_CACHED_SIZE,
        }
    }

    /// The same cache, remembering files of at least `bytes`.
    pub fn with_min_size(self, bytes: u64) -> IndexCache {
        IndexCache {
            min_size: bytes,
            ..self
        }
    }

    /// The user's cache: `$XDG_CACHE_HOME/mjpegrtsp/index`, or
    /// `~/.cache/mjpegrtsp/index`; `None` when neither is set.
    pub fn user() -> Option<IndexCache> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(IndexCache::new(base.join("mjpegrtsp").join("index")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for the media file at `path` is kept.
    pub fn entry_path(&self, path: &Path) -> PathBuf {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.idx"))
    }

    /// The remembered index of `path`, if there is one for the file as it
    /// is now (`meta`): same path, size and modification time, and intact.
    pub fn load(&self, path: &Path, meta: &Metadata) -> Option<Index> {
        if meta.len() < self.min_size {
            return None;
        }
        let bytes = std::fs::read(self.entry_path(path)).ok()?;
        let index = decode(&bytes, &header(path, meta)?)?;
        tracing::debug!(path = %path.display(), frames = index.len(), "index from the cache");
        Some(index)
    }

    /// Remembers `index` of `path` (as it is described by `meta`). Failing
    /// to is not an error for the caller: it is logged, and the next open
    /// indexes again.
    pub fn store(&self, path: &Path, meta: &Metadata, index: &Index) {
        if meta.len() < self.min_size || index.size() != meta.len() {
            return;
        }
        let Some(head) = header(path, meta) else {
            return;
        };
        let entry = self.entry_path(path);
        if let Err(e) = write_atomically(&self.dir, &entry, &encode(&head, index)) {
            tracing::debug!(cache = %self.dir.display(), "index not remembered: {e}");
        }
    }
}

/// What identifies the file an entry is for.
fn header(path: &Path, meta: &Metadata) -> Option<Vec<u8>> {
    let canonical = path.canonicalize().ok()?;
    let path = canonical.as_os_str().as_encoded_bytes();
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    let mut h = Vec::with_capacity(40 + path.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&meta.len().to_le_bytes());
    h.extend_from_slice(&(mtime.as_secs() as i64).to_le_bytes());
    h.extend_from_slice(&mtime.subsec_nanos().to_le_bytes());
    h.extend_from_slice(&u32::try_from(path.len()).ok()?.to_le_bytes());
    h.extend_from_slice(path);
    Some(h)
}

fn encode(head: &[u8], index: &Index) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 12 * index.len() + 64);
    out.extend_from_slice(head);
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    out.extend_from_slice(&(index.anomalies().len() as u32).to_le_bytes());
    for f in index.frames() {
        out.extend_from_slice(&f.offset.to_le_bytes());
        out.extend_from_slice(&f.len.to_le_bytes());
    }
    for a in index.anomalies() {
        let (kind, x, y, z) = match *a {
            Anomaly::BadPrefix { offset, resumed_at } => {
                (1u8, offset, resumed_at.map_or(0, |r| r + 1), 0)
            }
            Anomaly::NotJpeg { offset, len } => (2, offset, len as u64, 0),
            Anomaly::Truncated {
                offset,
                declared,
                available,
            } => (3, offset, declared as u64, available),
            Anomaly::TrailingBytes { offset, len } => (4, offset, len, 0),
        };
        out.push(kind);
        for v in [x, y, z] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Reads little-endian integers off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

/// The index in `bytes`, if they are an intact entry for the file `head`
/// describes, and every frame lies within it in order.
fn decode(bytes: &[u8], head: &[u8]) -> Option<Index> {
    let (body, sum) = bytes.split_last_chunk::<32>()?;
    if Sha256::digest(body)[..] != sum[..] || !body.starts_with(head) {
        return None;
    }
    let size = u64::from_le_bytes(head[12..20].try_into().ok()?);
    let mut r = Reader(&body[head.len()..]);
    let frames = usize::try_from(r.u64()?).ok()?;
    let anomalies = r.u32()? as usize;
    if r.0.len() != frames.checked_mul(12)? + anomalies.checked_mul(25)? {
        return None;
    }
    let mut list = Vec::with_capacity(frames);
    let mut end = 0u64;
    for _ in 0..frames {
        let offset = r.u64()?;
        let len = r.u32()?;
        if offset < end + PREFIX_LEN as u64
            || len as usize > MAX_FRAME_LEN
            || offset + u64::from(len) > size
        {
            return None;
        }
        end = offset + u64::from(len);
        list.push(FrameEntry { offset, len });
    }
    let mut found = Vec::with_capacity(anomalies);
    for _ in 0..anomalies {
        let [kind] = r.take::<1>()?;
        let (x, y, z) = (r.u64()?, r.u64()?, r.u64()?);
        found.push(match kind {
            1 => Anomaly::BadPrefix {
                offset: x,
                resumed_at: y.checked_sub(1),
            },
            2 => Anomaly::NotJpeg {
                offset: x,
                len: usize::try_from(y).ok()?,
            },
            3 => Anomaly::Truncated {
                offset: x,
                declared: usize::try_from(y).ok()?,
                available: z,
            },
            4 => Anomaly::TrailingBytes { offset: x, len: y },
            _ => return None,
        });
    }
    Some(Index::from_parts(list, found, size))
}

/// Writes `bytes` to `path` through a temporary file in `dir`, so that a
/// reader never sees half an entry.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::FrameWriter;

    fn movie(path: &Path, frames: usize, fill: u8) {
        let mut w = FrameWriter::new(Vec::new());
        for i in 0..frames {
            let mut f = vec![fill; 50 + i % 7];
            f[..2].copy_from_slice(&[0xFF, 0xD8]);
            let n = f.len();
            f[n - 2..].copy_from_slice(&[0xFF, 0xD9]);
            w.write_frame(&f).unwrap();
        }
        let mut bytes = w.into_inner();
        bytes.extend_from_slice(b"12x"); // damage: an anomaly to remember
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn remembers_an_index_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(dir.path().join("cache")).with_min_size(0);
        let path = dir.path().join("a.Mjpeg");
        movie(&path, 300, 1);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(cache.load(&path, &meta), None, "nothing yet");
        let index = Index::build(&std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(index.anomalies().len(), 1);
        cache.store(&path, &meta, &index);
        assert_eq!(cache.load(&path, &meta), Some(index.clone()));
        // Changed (size and time): not the same index any more.
        std::thread::sleep(std::time::Duration::from_millis(20));
        movie(&path, 200, 2);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(cache.load(&path, &meta), None);
        // A damaged entry is ignored, never trusted.
        let fresh = Index::build(&std::fs::File::open(&path).unwrap()).unwrap();
        cache.store(&path, &meta, &fresh);
        let entry = cache.entry_path(&path);
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(cache.load(&path, &meta), None);
        bytes.truncate(mid);
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(cache.load(&path, &meta), None);
    }

    #[test]
    fn small_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(dir.path().join("cache"));
        let path = dir.path().join("a.Mjpeg");
        movie(&path, 10, 1);
        let meta = std::fs::metadata(&path).unwrap();
        let index = Index::build(&std::fs::File::open(&path).unwrap()).unwrap();
        cache.store(&path, &meta, &index);
        assert!(!cache.dir().exists());
    }
}
