//! A file's index while it is being built: playing and seeking start at
//! once, before the walk over the file has reached the end.
//!
//! [`SharedIndex::open`] takes the index from the [`IndexCache`] when the
//! file is unchanged since it was last indexed; otherwise a background
//! thread walks the file ([`Index::build`]'s walk) and publishes the frames
//! it finds in batches, every reader seeing them as they come. A frame the
//! walk has not reached yet is found from an estimated offset: the mean
//! frame size so far says where it should be, a resynchronisation finds
//! the next frame start from there, and frames are walked on from it (a
//! *guess*). When the walk reaches a guess's first frame, that frame's
//! number is known, and every lookup from then on is exact: a seek that
//! landed near its target is corrected to the exact frame.

use super::index::{Found, Walk, resync};
use super::{Anomaly, FrameEntry, Index, IndexCache, MIN_CACHED_SIZE, ReadAt};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Frames the walk publishes at a time, at most (and at least every
/// [`PUBLISH_EVERY`]).
const BATCH: usize = 8192;
/// How often the walk publishes what it found, at least.
const PUBLISH_EVERY: Duration = Duration::from_millis(20);
/// How far a resynchronisation searches from an estimated offset: many
/// frames, however damaged the region, and never more.
const RESYNC_LIMIT: u64 = 4 << 20;
/// Guesses kept at once (one per seek beyond the walk, about).
const MAX_GUESSES: usize = 16;
/// How many frames past its end a guess is walked on for a lookup; a
/// lookup further on makes a new guess.
const GUESS_REACH: u64 = 512;

/// Any readable source shared with the background walk.
pub type SharedSource = Arc<dyn ReadAt + Send + Sync>;

/// Where a frame lies, as far as is known now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// The frame, for certain.
    Exact(FrameEntry),
    /// A frame near it, found from an estimated offset: the walk has not
    /// reached it yet. Its number is corrected once the walk gets there.
    Estimated(FrameEntry),
    /// Not known yet: ask again (or [`SharedIndex::wait_for`] it).
    NotYet,
    /// There is no such frame: the file has fewer.
    End,
}

/// How many frames a file has, as far as is known now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCount {
    /// The count, or an estimate from the mean frame size so far.
    pub frames: u64,
    /// Whether the count is exact (the walk reached the end).
    pub exact: bool,
}

/// A file's index, built in the background and shared by every reader of
/// the file.
pub struct SharedIndex {
    src: SharedSource,
    size: u64,
    state: Mutex<State>,
    grown: Condvar,
    done: OnceLock<Arc<Index>>,
}

impl std::fmt::Debug for SharedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedIndex")
            .field("size", &self.size)
            .field("count", &self.count())
            .finish()
    }
}

#[derive(Default)]
struct State {
    frames: Vec<FrameEntry>,
    anomalies: Vec<Anomaly>,
    /// Bytes walked: every frame before this offset is in `frames`.
    walked: u64,
    /// Why the walk stopped early, if it did.
    error: Option<String>,
    guesses: Vec<Guess>,
}

/// Frames walked from a resynchronised, estimated offset.
struct Guess {
    /// The frame number the first frame was taken for.
    taken_for: u64,
    /// Its real number, once the walk reached it.
    exact_first: Option<u64>,
    /// Offset of its first frame's header.
    anchor: u64,
    frames: Vec<FrameEntry>,
    walk: Walk,
}

impl Guess {
    fn first(&self) -> u64 {
        self.exact_first.unwrap_or(self.taken_for)
    }
}

impl SharedIndex {
    /// Opens `path` and indexes it: at once from `cache` when the file is
    /// unchanged since it was cached, else in a background thread (which
    /// stores the result in `cache`, and stops early if every reader has
    /// gone). `on_done` runs once the index is complete (in that thread, or
    /// before this returns).
    pub fn open(
        path: &Path,
        cache: Option<IndexCache>,
        on_done: impl FnOnce(&Index) + Send + 'static,
    ) -> io::Result<Arc<SharedIndex>> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if let Some(index) = cache.as_ref().and_then(|c| c.load(path, &meta)) {
            let shared = SharedIndex::complete(Arc::new(file), index);
            on_done(shared.index().expect("complete"));
            return Ok(shared);
        }
        let path = path.to_path_buf();
        SharedIndex::spawn_batched(Arc::new(file), BATCH, move |index, whole| {
            // An index cut short by a read error is not the file's.
            if let Some(cache) = cache.filter(|_| whole) {
                cache.store(&path, &meta, index);
            }
            on_done(index);
        })
    }

    /// Indexes `src` in a background thread; `on_done` runs in that thread
    /// once the index is complete (not if every reader went first).
    pub fn spawn(
        src: SharedSource,
        on_done: impl FnOnce(&Index) + Send + 'static,
    ) -> io::Result<Arc<SharedIndex>> {
        SharedIndex::spawn_batched(src, BATCH, |index, _| on_done(index))
    }

    /// [`SharedIndex::spawn`], publishing at most `batch` frames at a time;
    /// `on_done` also hears whether the walk reached the end (not stopped
    /// by a read error).
    fn spawn_batched(
        src: SharedSource,
        batch: usize,
        on_done: impl FnOnce(&Index, bool) + Send + 'static,
    ) -> io::Result<Arc<SharedIndex>> {
        let size = src.size()?;
        let shared = Arc::new(SharedIndex {
            src: src.clone(),
            size,
            state: Mutex::new(State::default()),
            grown: Condvar::new(),
            done: OnceLock::new(),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("mjpeg-index".into())
            .spawn(move || {
                if let Some((index, whole)) = walk_in_background(&weak, &*src, size, batch) {
                    on_done(&index, whole);
                }
            })?;
        Ok(shared)
    }

    /// A complete index of `src`.
    pub fn complete(src: SharedSource, index: Index) -> Arc<SharedIndex> {
        let shared = SharedIndex {
            size: index.size(),
            src,
            state: Mutex::new(State::default()),
            grown: Condvar::new(),
            done: OnceLock::new(),
        };
        let _ = shared.done.set(Arc::new(index));
        Arc::new(shared)
    }

    /// The source indexed.
    pub fn source(&self) -> &SharedSource {
        &self.src
    }

    /// Size in bytes of the source.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole index, once the walk reached the end.
    pub fn index(&self) -> Option<&Arc<Index>> {
        self.done.get()
    }

    /// Whether the walk reached the end.
    pub fn is_complete(&self) -> bool {
        self.done.get().is_some()
    }

    /// Why the walk stopped before the end (an I/O error), if it did: the
    /// index then holds the frames before that point.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// The frame count: exact once the walk is complete, until then an
    /// estimate from the mean frame size so far (`None` before the first
    /// frame is found).
    pub fn count(&self) -> Option<FrameCount> {
        if let Some(index) = self.done.get() {
            return Some(FrameCount {
                frames: index.len() as u64,
                exact: true,
            });
        }
        let st = self.lock();
        let known = st.frames.len() as u64;
        if known == 0 {
            return None;
        }
        let rest = self.size.saturating_sub(st.walked) as f64;
        let mean = st.walked as f64 / known as f64;
        Some(FrameCount {
            frames: known + (rest / mean).round() as u64,
            exact: false,
        })
    }

    /// Frames found so far, from the start.
    pub fn frames_found(&self) -> u64 {
        match self.done.get() {
            Some(index) => index.len() as u64,
            None => self.lock().frames.len() as u64,
        }
    }

    /// Where frame `n` (from 0) lies, as far as is known now. A frame the
    /// walk has not reached is estimated (reading a little of the file near
    /// where it should be).
    pub fn locate(&self, n: u64) -> Located {
        if let Some(index) = self.done.get() {
            return exact_or_end(index.frames(), n);
        }
        let st = self.lock();
        if let Some(e) = usize::try_from(n).ok().and_then(|i| st.frames.get(i)) {
            return Located::Exact(*e);
        }
        drop(st);
        // The walk may have ended in between.
        if let Some(index) = self.done.get() {
            return exact_or_end(index.frames(), n);
        }
        self.guess(n)
    }

    /// Waits until frame `n` is known for certain, or the index is
    /// complete, or `timeout` passes; returns whether one of the first two
    /// happened.
    pub fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if self.done.get().is_some() || (st.frames.len() as u64) > n {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .grown
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the index is complete, at most `timeout`.
    pub fn wait_complete(&self, timeout: Duration) -> Option<&Arc<Index>> {
        self.wait_for(u64::MAX, timeout);
        self.done.get()
    }

    /// Waits until the index can serve: complete, for a file under
    /// [`MIN_CACHED_SIZE`] (milliseconds, even cold; at most a second), so
    /// that its length is exact at once; else until its first frame is
    /// found (at most ten seconds). `false` if no frame was found.
    pub fn wait_ready(&self) -> bool {
        if self.size < MIN_CACHED_SIZE {
            self.wait_complete(Duration::from_secs(1));
        }
        self.wait_for(0, Duration::from_secs(10)) && self.frames_found() > 0
    }

    /// What `inspect` makes of the first of the file's first 16 frames it
    /// accepts (read whole; frames that cannot be read are passed over).
    pub fn first_frame_where<T>(&self, mut inspect: impl FnMut(Vec<u8>) -> Option<T>) -> Option<T> {
        (0..16).find_map(|n| match self.locate(n) {
            Located::Exact(e) => e.read(&*self.src).ok().and_then(&mut inspect),
            _ => None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Frame `n` from a guess that reaches it, or from a new one.
    fn guess(&self, n: u64) -> Located {
        let mut st = self.lock();
        if let Some(found) = self.in_guesses(&mut st, n) {
            return found;
        }
        let known = st.frames.len() as u64;
        if n < known {
            // The walk got there in between.
            return exact_or_end(&st.frames, n);
        }
        if known == 0 {
            return Located::NotYet;
        }
        if n - known < GUESS_REACH {
            // Just ahead of the walk: walked on from where it is, exactly.
            let guess = Guess {
                taken_for: known,
                exact_first: Some(known),
                anchor: st.walked,
                frames: Vec::new(),
                walk: Walk::new(st.walked, self.size),
            };
            return self.add_guess(&mut st, guess, n);
        }
        // Where frame n should start, at the mean frame size so far; at
        // least a couple of frames before the end, so that a target past
        // the last frame still finds the last frames.
        let mean = (st.walked as f64 / known as f64).max(1.0);
        let ahead = (n - known) as f64 * mean;
        let near_end = self.size.saturating_sub((2.0 * mean) as u64);
        let estimate = (st.walked.saturating_add(ahead as u64)).min(near_end);
        drop(st);
        let Ok(Some(anchor)) = resync(&*self.src, estimate.max(1), RESYNC_LIMIT) else {
            return Located::NotYet;
        };
        let mut st = self.lock();
        if self.done.get().is_some() {
            drop(st);
            return self.locate(n);
        }
        let mut guess = Guess {
            taken_for: n,
            exact_first: None,
            anchor,
            frames: Vec::new(),
            walk: Walk::new(anchor, self.size),
        };
        if !settle(&st.frames, st.walked, &mut guess) {
            // The walk passed the anchor meanwhile and it was not a frame.
            return Located::NotYet;
        }
        self.add_guess(&mut st, guess, n)
    }

    /// Keeps `guess` (letting the oldest go) and looks frame `n` up in it.
    fn add_guess(&self, st: &mut State, guess: Guess, n: u64) -> Located {
        if st.guesses.len() >= MAX_GUESSES {
            st.guesses.remove(0);
        }
        st.guesses.push(guess);
        self.in_guesses(st, n).unwrap_or(Located::NotYet)
    }

    /// Frame `n` from a guess that reaches it, walking it on if need be.
    fn in_guesses(&self, st: &mut State, n: u64) -> Option<Located> {
        let g = st
            .guesses
            .iter_mut()
            .find(|g| n >= g.first() && n - g.first() < g.frames.len() as u64 + GUESS_REACH)?;
        let k = usize::try_from(n - g.first()).ok()?;
        while g.frames.len() <= k && !g.walk.ended() {
            match g.walk.step(&*self.src) {
                Ok(Some(Found::Frame(e))) => g.frames.push(e),
                Ok(Some(Found::Damage(_))) => {}
                Ok(None) => break,
                Err(_) => return Some(Located::NotYet),
            }
        }
        Some(match (g.frames.get(k), g.exact_first) {
            (Some(e), Some(_)) => Located::Exact(*e),
            (Some(e), None) => Located::Estimated(*e),
            // Past the guess's end: whether there is such a frame is known
            // when the walk ends.
            (None, _) => Located::NotYet,
        })
    }

    /// Adds what the walk found; `end` when it reached the end (or `error`
    /// stopped it).
    fn publish(&self, found: &mut Batch, walked: u64, end: bool, error: Option<String>) {
        let mut st = self.lock();
        st.frames.append(&mut found.frames);
        st.anomalies.append(&mut found.anomalies);
        st.walked = walked;
        if error.is_some() {
            st.error = error;
        }
        let State {
            frames,
            guesses,
            walked,
            ..
        } = &mut *st;
        // A guess the walk has caught up with has nothing more to give.
        guesses.retain_mut(|g| {
            settle(frames, *walked, g) && (g.exact_first.is_none() || g.walk.position() > *walked)
        });
        if end {
            let frames = std::mem::take(&mut st.frames);
            let anomalies = std::mem::take(&mut st.anomalies);
            st.guesses.clear();
            let _ = self
                .done
                .set(Arc::new(Index::from_parts(frames, anomalies, self.size)));
        }
        drop(st);
        self.grown.notify_all();
    }
}

/// Frame `n` of a complete list.
fn exact_or_end(frames: &[FrameEntry], n: u64) -> Located {
    usize::try_from(n)
        .ok()
        .and_then(|i| frames.get(i))
        .map_or(Located::End, |e| Located::Exact(*e))
}

/// Gives `g` its real first number once the walk (`frames`, `walked`
/// bytes) has passed its anchor; `false` when the anchor turned out not to
/// be a frame start.
fn settle(frames: &[FrameEntry], walked: u64, g: &mut Guess) -> bool {
    if g.exact_first.is_some() || g.anchor >= walked {
        return true;
    }
    match frames.binary_search_by_key(&g.anchor, FrameEntry::header_offset) {
        Ok(i) => {
            g.exact_first = Some(i as u64);
            true
        }
        Err(_) => false,
    }
}

/// What the walk found since it last published.
#[derive(Default)]
struct Batch {
    frames: Vec<FrameEntry>,
    anomalies: Vec<Anomaly>,
}

/// Walks `src` to the end, publishing to the index behind `weak` as it
/// goes; the complete index and whether the walk reached the end (`false`:
/// a read error stopped it, logged), or `None` if every reader went first.
fn walk_in_background(
    weak: &Weak<SharedIndex>,
    src: &(dyn ReadAt + Send + Sync),
    size: u64,
    most: usize,
) -> Option<(Arc<Index>, bool)> {
    lower_this_threads_priority();
    let mut walk = Walk::new(0, size);
    let mut batch = Batch::default();
    let mut published = 0usize;
    let mut last = Instant::now();
    loop {
        let (end, error) = match walk.step(src) {
            Ok(Some(Found::Frame(e))) => {
                batch.frames.push(e);
                (false, None)
            }
            Ok(Some(Found::Damage(a))) => {
                batch.anomalies.push(a);
                (false, None)
            }
            Ok(None) => (true, None),
            Err(e) => (
                true,
                Some(format!(
                    "reading stopped at byte offset {}: {e}",
                    walk.position()
                )),
            ),
        };
        // The first frame goes out at once; then in batches.
        let due =
            end || published == 0 || batch.frames.len() >= most || last.elapsed() >= PUBLISH_EVERY;
        if due {
            let shared = weak.upgrade()?;
            published += batch.frames.len();
            let whole = error.is_none();
            if let Some(e) = &error {
                tracing::warn!("indexing stopped, the index holds the frames before: {e}");
            }
            shared.publish(&mut batch, walk.position(), end, error);
            last = Instant::now();
            if end {
                return shared.index().cloned().map(|index| (index, whole));
            }
        }
    }
}

/// Makes the calling thread yield to the rest of the process (nice +10):
/// a walk over a file in the page cache is all CPU, and on a small machine
/// it would delay the first frame it is there to hasten. Where the
/// priority cannot be changed, nothing changes.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority only changes the
    // nice value of this thread (a Linux thread is a PRIO_PROCESS target).
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::FrameWriter;

    /// A container of `n` frames whose sizes vary (100–400 bytes), each
    /// holding its number.
    fn container(n: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut w = FrameWriter::new(Vec::new());
        let mut frames = Vec::new();
        for i in 0..n {
            let len = 100 + (i as usize * 37) % 300;
            let mut f = vec![0x11; len];
            f[..2].copy_from_slice(&[0xFF, 0xD8]);
            f[2..6].copy_from_slice(&i.to_be_bytes());
            f[len - 2..].copy_from_slice(&[0xFF, 0xD9]);
            w.write_frame(&f).unwrap();
            frames.push(f);
        }
        (w.into_inner(), frames)
    }

    fn number_of(src: &[u8], e: &FrameEntry) -> u32 {
        let data = e.read(src).unwrap();
        u32::from_be_bytes(data[2..6].try_into().unwrap())
    }

    /// A source that lets the walk read only up to a limit the test moves
    /// (lookups near the end read freely).
    struct Gated {
        data: Vec<u8>,
        gate: Mutex<u64>,
        moved: Condvar,
    }

    impl ReadAt for Gated {
        fn size(&self) -> io::Result<u64> {
            Ok(self.data.len() as u64)
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            if std::thread::current().name() == Some("mjpeg-index") {
                let mut gate = self.gate.lock().unwrap();
                while offset >= *gate {
                    gate = self.moved.wait(gate).unwrap();
                }
            }
            self.data.as_slice().read_at(offset, buf)
        }
    }

    impl Gated {
        fn open_to(&self, offset: u64) {
            *self.gate.lock().unwrap() = offset;
            self.moved.notify_all();
        }
    }

    #[test]
    fn frames_come_before_the_walk_ends_and_seeks_are_corrected() {
        let (data, _) = container(3000);
        let size = data.len() as u64;
        let src = Arc::new(Gated {
            data,
            gate: Mutex::new(60_000),
            moved: Condvar::new(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = SharedIndex::spawn_batched(src.clone(), 1, move |index, _| {
            tx.send(index.len()).unwrap();
        })
        .unwrap();
        assert!(shared.wait_for(200, Duration::from_secs(5)));
        // The first frames are exact; the count is an estimate.
        assert!(matches!(shared.locate(0), Located::Exact(e) if e.offset == 5));
        let count = shared.count().unwrap();
        assert!(!count.exact);
        assert!((1500..6000).contains(&count.frames), "{count:?}");
        // Frame 2,500: estimated, near its place.
        let Located::Estimated(e) = shared.locate(2500) else {
            panic!("{:?}", shared.locate(2500));
        };
        let near = number_of(&src.data, &e);
        assert!((2200..2800).contains(&near), "{near}");
        // The next frames follow on from the guess.
        let Located::Estimated(e) = shared.locate(2501) else {
            panic!()
        };
        assert_eq!(number_of(&src.data, &e), near + 1);
        // The walk ends: the same lookups are exact, and corrected.
        src.open_to(size);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 3000);
        assert!(shared.is_complete());
        let Located::Exact(e) = shared.locate(2500) else {
            panic!()
        };
        assert_eq!(number_of(&src.data, &e), 2500);
        assert_eq!(shared.locate(3000), Located::End);
        assert_eq!(
            shared.count(),
            Some(FrameCount {
                frames: 3000,
                exact: true
            })
        );
    }

    #[test]
    fn a_guess_is_exact_once_the_walk_passes_its_first_frame() {
        let (data, _) = container(2000);
        let src = Arc::new(Gated {
            data,
            gate: Mutex::new(60_000),
            moved: Condvar::new(),
        });
        let shared = SharedIndex::spawn_batched(src.clone(), 1, |_, _| {}).unwrap();
        assert!(shared.wait_for(200, Duration::from_secs(5)));
        let Located::Estimated(e) = shared.locate(1000) else {
            panic!()
        };
        let near = number_of(&src.data, &e) as u64;
        // Let the walk pass the guess's first frame, not the end.
        src.open_to(e.header_offset() + 1);
        assert!(shared.wait_for(near, Duration::from_secs(5)));
        let later = near + 20;
        let Located::Exact(e) = shared.locate(later) else {
            panic!("{:?}", shared.locate(later))
        };
        assert_eq!(number_of(&src.data, &e) as u64, later);
        assert!(!shared.is_complete());
        src.open_to(u64::MAX);
        assert!(shared.wait_complete(Duration::from_secs(5)).is_some());
    }

    #[test]
    fn damage_never_sends_a_guess_into_a_loop() {
        // Frames, then 2 MiB of bytes that look like headers but lead
        // nowhere, then more frames.
        let (mut data, _) = container(400);
        let junk = b"00042\xFF\xD8".repeat((2 << 20) / 7);
        data.extend_from_slice(&junk);
        data.extend_from_slice(&container(400).0);
        let src = Arc::new(Gated {
            data,
            gate: Mutex::new(3000),
            moved: Condvar::new(),
        });
        let shared = SharedIndex::spawn_batched(src.clone(), 1, |_, _| {}).unwrap();
        assert!(shared.wait_for(0, Duration::from_secs(5)));
        let started = Instant::now();
        // Estimated into the junk: nothing to resynchronise on there.
        for n in [5000u64, 20_000, 1_000_000] {
            let found = shared.locate(n);
            assert!(
                matches!(found, Located::NotYet | Located::Estimated(_)),
                "{found:?}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        src.open_to(u64::MAX);
        let index = shared.wait_complete(Duration::from_secs(20)).unwrap();
        // The walk found the frames after the junk.
        let last = index.frames().last().unwrap();
        assert_eq!(last.offset + u64::from(last.len), src.data.len() as u64);
    }

    /// A source whose reads fail from an offset on.
    struct Failing(Vec<u8>, u64);

    impl ReadAt for Failing {
        fn size(&self) -> io::Result<u64> {
            Ok(self.0.len() as u64)
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            if offset >= self.1 {
                return Err(io::Error::other("the disk went away"));
            }
            self.0.as_slice().read_at(offset, buf)
        }
    }

    #[test]
    fn a_read_error_ends_the_walk_with_the_frames_before_it_never_as_whole() {
        let (data, _) = container(500);
        let (tx, rx) = std::sync::mpsc::channel();
        let shared =
            SharedIndex::spawn_batched(Arc::new(Failing(data, 20_000)), 64, move |i, whole| {
                tx.send((i.len(), whole)).unwrap();
            })
            .unwrap();
        let (frames, whole) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(!whole, "a walk cut short was taken for the whole file");
        assert!((50..100).contains(&frames), "{frames}");
        assert!(shared.error().unwrap().contains("the disk went away"));
        assert_eq!(shared.locate(frames as u64), Located::End);
    }

    #[test]
    fn readers_gone_stop_the_walk() {
        let (data, _) = container(1000);
        let src = Arc::new(Gated {
            data,
            gate: Mutex::new(500),
            moved: Condvar::new(),
        });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let shared =
            SharedIndex::spawn_batched(src.clone(), 1, move |_, _| tx.send(()).unwrap()).unwrap();
        assert!(shared.wait_for(0, Duration::from_secs(5)));
        drop(shared);
        src.open_to(u64::MAX);
        // The walk stops at its next publication; on_done never runs.
        assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());
    }
}
