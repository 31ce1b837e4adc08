//! The files a server offers: every `.Mjpeg` under a media root, indexed once
//! and shared by all the sessions that play it, with paths that cannot leave
//! the root.
//!
//! A file plays as soon as its first frame is found: its index is built in
//! a background thread ([`SharedIndex`]; never on the RTSP control path) or
//! taken from the index cache, and until it is complete the frame count
//! and duration are estimates and a frame the walk has not reached is
//! estimated too ([`Located::Estimated`]).

use crate::container::{
    FrameCount, FrameEntry, IndexCache, Located, SharedIndex, jpeg, jpeg::JpegInfo,
};
use crate::rtp::rfc2435;
use crate::timing::FrameRate;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Why a media path cannot be served.
#[derive(Debug)]
pub enum MediaError {
    /// Nothing servable there, or the path tries to leave the root (404).
    NotFound(String),
    /// The file is there but is not a playable `.Mjpeg` (415-ish; the server says 404 or 500).
    Unplayable(String),
    Io(io::Error),
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::NotFound(p) => write!(f, "no such media: {p}"),
            MediaError::Unplayable(why) => write!(f, "{why}"),
            MediaError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for MediaError {}

/// A `.Mjpeg` file, ready to serve (perhaps still being indexed).
#[derive(Debug)]
pub struct MediaFile {
    /// Unique among the files a server opened (keys frame caches).
    pub id: u64,
    /// Path relative to the media root, with `/` separators: the mount.
    pub mount: String,
    pub path: PathBuf,
    index: Arc<SharedIndex>,
    /// Size and coding of the first frame.
    pub info: JpegInfo,
    pub rate: FrameRate,
    /// Whether standard clients can get it: RFC 2435 carries only baseline
    /// 4:2:0/4:2:2 JPEG with 8-bit tables (judged on the first frame).
    pub rfc2435: Result<(), rfc2435::Unsupported>,
    modified: Option<SystemTime>,
    size: u64,
    /// A frame could not be read (the file changed under the server): said
    /// once in the log, not once a frame.
    unreadable_said: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl MediaFile {
    /// Opens `path`, served as `mount` at `rate`, once its first frame is
    /// found; its index is built in the background (or comes from `cache`,
    /// where it is also stored when complete).
    pub fn open(
        path: &Path,
        mount: &str,
        rate: FrameRate,
        cache: Option<IndexCache>,
    ) -> Result<MediaFile, MediaError> {
        let meta = std::fs::metadata(path).map_err(MediaError::Io)?;
        let started = Instant::now();
        let shown = mount.to_string();
        let index = SharedIndex::open(path, cache, move |index| {
            tracing::debug!(
                mount = %shown,
                frames = index.len(),
                problems = index.anomalies().len(),
                "indexed in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
        })
        .map_err(MediaError::Io)?;
        if !index.wait_ready() {
            return Err(MediaError::Unplayable(format!(
                "{mount}: no frame found: not a .Mjpeg file (five-digit length, then a JPEG), \
                 or damaged throughout"
            )));
        }
        let (info, first) = index
            .first_frame_where(|data| jpeg::parse_info(&data).map(|info| (info, data)))
            .ok_or_else(|| {
                MediaError::Unplayable(format!("{mount}: no whole JPEG frame with a readable size"))
            })?;
        let rfc2435 = rfc2435::carries(&first);
        Ok(MediaFile {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            mount: mount.to_string(),
            path: path.to_path_buf(),
            index,
            info,
            rate,
            rfc2435,
            modified: meta.modified().ok(),
            size: meta.len(),
            unreadable_said: AtomicBool::new(false),
        })
    }

    /// How many frames the file has: exact once it is indexed, an estimate
    /// until then.
    pub fn count(&self) -> FrameCount {
        self.index.count().unwrap_or(FrameCount {
            frames: 0,
            exact: false,
        })
    }

    /// The frame count, exact or estimated ([`MediaFile::count`]).
    pub fn frames(&self) -> u64 {
        self.count().frames
    }

    /// The exact frame count, once the file is indexed.
    pub fn exact_frames(&self) -> Option<u64> {
        let count = self.count();
        count.exact.then_some(count.frames)
    }

    /// Duration in seconds (an estimate until the file is indexed).
    pub fn duration_secs(&self) -> f64 {
        self.rate.frame_start_ns(self.frames()) as f64 / 1e9
    }

    /// Average bytes per second at the file's frame rate (0 for an empty
    /// file): for the SDP's `b=AS` and a connection's queue budget.
    pub fn bytes_per_second(&self) -> f64 {
        let secs = self.duration_secs();
        if secs > 0.0 {
            self.size as f64 / secs
        } else {
            0.0
        }
    }

    /// Where frame `n` (from 0) lies, as far as is known now.
    pub fn locate(&self, n: u64) -> Located {
        self.index.locate(n)
    }

    /// Frame `n` of the file (counting from 0) as a whole JPEG, exact or,
    /// while the file is being indexed, estimated (see
    /// [`MediaFile::locate`]; `WouldBlock` when it cannot be found yet).
    /// A frame that cannot be read whole (the file was truncated or
    /// rewritten in place while served) is an error, never partial or
    /// foreign data; the first such error is logged.
    pub fn frame(&self, n: u64) -> io::Result<Vec<u8>> {
        let entry = match self.locate(n) {
            Located::Exact(e) | Located::Estimated(e) => e,
            Located::NotYet => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("frame {n} is not found yet"),
                ));
            }
            Located::End => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("no frame {n}"),
                ));
            }
        };
        self.read(n, &entry)
    }

    /// Frame `n`'s JPEG at `entry` (where [`MediaFile::locate`] found it),
    /// checked whole; the first frame that cannot be read is logged.
    pub fn read(&self, n: u64, entry: &FrameEntry) -> io::Result<Vec<u8>> {
        entry.read(&**self.index.source()).inspect_err(|e| {
            if !self.unreadable_said.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    mount = %self.mount,
                    "frame {n} cannot be read ({e}): the file changed while served; \
                     its sessions skip what cannot be read, new ones see the file as it is now"
                );
            }
        })
    }

    fn is_current(&self, meta: &std::fs::Metadata) -> bool {
        meta.modified().ok() == self.modified && meta.len() == self.size
    }
}

/// Every `.Mjpeg` file under a root directory.
#[derive(Debug)]
pub struct Library {
    root: PathBuf,
    rate: FrameRate,
    cache: Option<IndexCache>,
    open: Mutex<HashMap<PathBuf, Arc<MediaFile>>>,
}

impl Library {
    /// A library over `root` (which must be a directory), timing files at
    /// `rate`, remembering their indexes in `cache`.
    pub fn new(root: &Path, rate: FrameRate, cache: Option<IndexCache>) -> io::Result<Library> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Library {
            root,
            rate,
            cache,
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for a mount path like `movie.Mjpeg` or `/clips/a.Mjpeg`
    /// (already percent-decoded once). Anything that would leave the root —
    /// `..`, absolute or drive paths, a symlink pointing outside — is
    /// `NotFound` before any file is opened.
    pub fn resolve(&self, mount: &str) -> Result<PathBuf, MediaError> {
        let not_found = || MediaError::NotFound(mount.to_string());
        let rel = mount.trim_start_matches('/');
        if rel.is_empty() || rel.contains('\0') || rel.contains('\\') {
            return Err(not_found());
        }
        let rel_path = Path::new(rel);
        if !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(not_found());
        }
        let is_mjpeg = rel_path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mjpeg"));
        if !is_mjpeg {
            return Err(not_found());
        }
        let full = self
            .root
            .join(rel_path)
            .canonicalize()
            .map_err(|_| not_found())?;
        if !full.starts_with(&self.root) || !full.is_file() {
            return Err(not_found());
        }
        Ok(full)
    }

    /// Opens (or reuses) the file for `mount`. A file changed on disk since it
    /// was indexed is indexed again.
    pub fn open(&self, mount: &str) -> Result<Arc<MediaFile>, MediaError> {
        let path = self.resolve(mount)?;
        let meta = std::fs::metadata(&path).map_err(MediaError::Io)?;
        if let Some(f) = self.open.lock().unwrap().get(&path)
            && f.is_current(&meta)
        {
            return Ok(f.clone());
        }
        let mount = path
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| mount.to_string());
        let file = Arc::new(MediaFile::open(
            &path,
            &mount,
            self.rate,
            self.cache.clone(),
        )?);
        self.open.lock().unwrap().insert(path, file.clone());
        Ok(file)
    }

    /// Every file under the root that standard clients cannot play, with
    /// why: not a `.Mjpeg` at all (JPEGs back to back, damaged), or JPEG
    /// that RFC 2435 cannot carry (they would get 415). Judged on each
    /// file's first frame, without indexing it. Sorted by mount.
    pub fn survey(&self) -> Vec<(String, PathBuf, String)> {
        self.list()
            .into_iter()
            .filter_map(|mount| {
                let path = self.resolve(&mount).ok()?;
                let why = first_frame_problem(&path)?;
                Some((mount, path, why))
            })
            .collect()
    }

    /// Mount paths of every `.Mjpeg` under the root (following no symlinks
    /// out of it), sorted.
    pub fn list(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().into_owned();
                if path.is_dir() {
                    if path.canonicalize().is_ok_and(|c| c.starts_with(&self.root)) {
                        dirs.push(path);
                    }
                } else if self.resolve(&rel).is_ok() {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }
}

/// The command that converts the file at `path` into one every client
/// plays, beside it: `server-cli convert 'IN' 'OUT.Mjpeg'` (OUT is IN
/// itself for a `.Mjpeg`: the converter replaces a file only once the new
/// one is whole).
pub fn convert_command(path: &Path) -> String {
    let out = path.with_extension("Mjpeg");
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    format!("server-cli convert {} {}", quote(path), quote(&out))
}

/// What is wrong with the file at `path` for standard clients, judged on
/// its first frame; `None` when nothing is.
fn first_frame_problem(path: &Path) -> Option<String> {
    use crate::container::{PREFIX_LEN, SOI, is_whole_jpeg, parse_prefix};
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; PREFIX_LEN + 2];
    let n = file.read_at(&mut head, 0).ok()?;
    if head[..n].starts_with(&SOI) {
        return Some("JPEGs back to back (a raw MJPEG stream), not a .Mjpeg file".into());
    }
    let len = parse_prefix(&head[..n]).filter(|_| head[PREFIX_LEN..n] == SOI);
    let Some(len) = len else {
        return Some(
            "not a .Mjpeg file: it does not start with a five-digit length and a JPEG".into(),
        );
    };
    let mut frame = vec![0u8; len];
    if file.read_exact_at(&mut frame, PREFIX_LEN as u64).is_err() || !is_whole_jpeg(&frame) {
        return Some("its first frame is damaged (cut short, or not a whole JPEG)".into());
    }
    rfc2435::carries(&frame).err().map(|why| {
        format!("standard clients would get 415: RFC 2435 cannot carry its JPEG ({why})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::FrameWriter;

    fn jpeg(n: u8) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0, 48, 0, 64, 3];
        v.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, n]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    fn write_movie(path: &Path, frames: u8) {
        let mut w = FrameWriter::new(Vec::new());
        for n in 0..frames {
            w.write_frame(&jpeg(n)).unwrap();
        }
        std::fs::write(path, w.into_inner()).unwrap();
    }

    fn library() -> (tempfile::TempDir, Library) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("media");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        write_movie(&root.join("movie.Mjpeg"), 24);
        write_movie(&root.join("sub/b.mjpeg"), 3);
        write_movie(&dir.path().join("secret.Mjpeg"), 2);
        std::fs::write(root.join("notes.txt"), "hello").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.Mjpeg"), root.join("out.Mjpeg"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("movie.Mjpeg"), root.join("in.Mjpeg")).unwrap();
        let lib = Library::new(&root, FrameRate::new(24, 1).unwrap(), None).unwrap();
        (dir, lib)
    }

    #[test]
    fn serves_files_under_the_root() {
        let (_dir, lib) = library();
        let m = lib.open("movie.Mjpeg").unwrap();
        assert_eq!(m.frames(), 24);
        assert_eq!((m.info.width, m.info.height), (64, 48));
        assert_eq!(m.duration_secs(), 1.0);
        assert_eq!(m.frame(5).unwrap(), jpeg(5));
        assert!(
            Arc::ptr_eq(&m, &lib.open("/movie.Mjpeg").unwrap()),
            "indexed once"
        );
        assert_eq!(lib.open("sub/b.mjpeg").unwrap().frames(), 3);
        assert_eq!(
            lib.open("in.Mjpeg").unwrap().frames(),
            24,
            "symlink inside the root"
        );
        assert_eq!(lib.list(), vec!["in.Mjpeg", "movie.Mjpeg", "sub/b.mjpeg"]);
    }

    #[test]
    fn cannot_leave_the_root() {
        let (dir, lib) = library();
        let secret = dir.path().join("secret.Mjpeg");
        for bad in [
            "../secret.Mjpeg",
            "sub/../../secret.Mjpeg",
            "sub/../movie.Mjpeg",
            "./movie.Mjpeg",
            secret.to_str().unwrap(),
            "//etc/passwd",
            "out.Mjpeg",
            "notes.txt",
            "missing.Mjpeg",
            "",
            "sub",
            "movie.Mjpeg\0",
            "..\\secret.Mjpeg",
        ] {
            assert!(
                matches!(lib.open(bad), Err(MediaError::NotFound(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reindexes_a_changed_file() {
        let (_dir, lib) = library();
        let first = lib.open("movie.Mjpeg").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_movie(&lib.root().join("movie.Mjpeg"), 10);
        let second = lib.open("movie.Mjpeg").unwrap();
        assert_eq!(second.frames(), 10);
        assert_ne!(first.id, second.id);
    }
}
