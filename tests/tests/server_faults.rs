//! The server when the world changes under it, over real sockets on
//! loopback: the file a session plays is truncated, deleted or replaced
//! while it plays. No crash, only whole frames of the file as it was (never
//! a partial or foreign one), the session goes on or ends cleanly, and a
//! session playing another file loses nothing.

use mjpegrtsp::client::{ClientOptions, EndReason, Events, Session};
use mjpegrtsp_tests::*;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

const FRAMES: u32 = 96; // 4 s at 24 fps

struct Movies {
    dir: tempfile::TempDir,
    /// Each file's container bytes.
    bytes: Vec<u8>,
}

/// `movie.Mjpeg` and `other.Mjpeg`, the same 96 frames.
fn movies() -> Movies {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(FRAMES, 160, 120, 70, "ball");
    std::fs::write(dir.path().join("movie.Mjpeg"), &bytes).unwrap();
    std::fs::write(dir.path().join("other.Mjpeg"), &bytes).unwrap();
    Movies { dir, bytes }
}

/// The scan data of every frame of `bytes`: what identifies a frame after
/// RFC 2435 rebuilt its headers.
fn scans(bytes: &[u8]) -> HashSet<Vec<u8>> {
    frames_of(bytes)
        .iter()
        .map(|f| jpeg_scan_data(f).unwrap().to_vec())
        .collect()
}

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

async fn playing(url: &str) -> (Session, Events) {
    let mut s = Session::connect(url, options()).await.unwrap();
    s.describe().await.unwrap();
    s.setup().await.unwrap();
    let events = s.events().unwrap();
    s.play(None).await.unwrap();
    (s, events)
}

/// Every frame until the session ends (or `within` passes): each must be
/// whole and one of `known`.
async fn frames_until_end(
    events: &mut Events,
    known: &HashSet<Vec<u8>>,
    within: Duration,
) -> (usize, Option<EndReason>) {
    let (frames, end) = collect_frames(events, usize::MAX, within).await;
    for f in &frames {
        assert!(mjpegrtsp::container::is_whole_jpeg(&f.jpeg));
        let scan = jpeg_scan_data(&f.jpeg).expect("a JPEG with a scan");
        assert!(known.contains(scan), "a frame not of the file");
    }
    (frames.len(), end)
}

/// The byte offset where frame `n` of the container begins.
fn frame_offset(bytes: &[u8], n: usize) -> u64 {
    mjpegrtsp::container::Index::build(bytes).unwrap().frames()[n].header_offset()
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Plays movie.Mjpeg and other.Mjpeg side by side, calls `change` on the
/// media folder after `wait`, and collects each session's frames (checked
/// against `m`'s) until it ends: how many, and why it ended.
async fn play_both_through(
    server: &TestServer,
    m: &Movies,
    wait: Duration,
    change: impl FnOnce(&Path),
) -> [(usize, Option<EndReason>); 2] {
    let known = scans(&m.bytes);
    let (_a, mut a) = playing(&format!("rtsp://{}/movie.Mjpeg", server.addr)).await;
    let (_b, mut b) = playing(&format!("rtsp://{}/other.Mjpeg", server.addr)).await;
    tokio::time::sleep(wait).await;
    change(m.dir.path());
    let within = Duration::from_secs(10);
    let (a, b) = tokio::join!(
        frames_until_end(&mut a, &known, within),
        frames_until_end(&mut b, &known, within),
    );
    [a, b]
}

#[test]
fn a_file_truncated_while_played_gives_only_its_whole_frames() {
    init();
    let m = movies();
    let server = TestServer::start(m.dir.path(), false);
    let url = |name: &str| format!("rtsp://{}/{name}", server.addr);
    block_on(async {
        // A second in (24 frames), cut movie.Mjpeg just before frame 48.
        let cut = frame_offset(&m.bytes, 48);
        let [a, b] = play_both_through(&server, &m, Duration::from_secs(1), |dir| {
            truncate(&dir.join("movie.Mjpeg"), cut)
        })
        .await;
        assert!((44..=48).contains(&a.0), "{} frames before the cut", a.0);
        assert_eq!(a.1, Some(EndReason::Bye), "it ends at the file's old end");
        assert!(b.0 >= 94, "the other file's session got {} of 96", b.0);
        assert_eq!(b.1, Some(EndReason::Bye));
        // A new session sees the file as it is now: 48 frames, 2 s.
        let mut c = Session::connect(&url("movie.Mjpeg"), options())
            .await
            .unwrap();
        c.describe().await.unwrap();
        assert_eq!(c.duration(), Some(Duration::from_secs(2)));
    });
}

#[test]
fn a_file_deleted_or_replaced_while_played_plays_on_as_it_was() {
    init();
    let m = movies();
    let server = TestServer::start(m.dir.path(), false);
    let url = |name: &str| format!("rtsp://{}/{name}", server.addr);
    // A shorter file, to rename over other.Mjpeg.
    let shorter = encoded_movie(24, 160, 120, 70, "snow");
    block_on(async {
        let [a, b] = play_both_through(&server, &m, Duration::from_millis(500), |dir| {
            std::fs::remove_file(dir.join("movie.Mjpeg")).unwrap();
            let tmp = dir.join("other.Mjpeg.part");
            std::fs::write(&tmp, &shorter).unwrap();
            std::fs::rename(&tmp, dir.join("other.Mjpeg")).unwrap();
        })
        .await;
        assert!(a.0 >= 94, "the deleted file's session got {} of 96", a.0);
        assert!(b.0 >= 94, "the replaced file's session got {} of 96", b.0);
        // New sessions see the files as they are now.
        let mut gone = Session::connect(&url("movie.Mjpeg"), options())
            .await
            .unwrap();
        assert!(
            gone.describe().await.is_err(),
            "a deleted file is not found"
        );
        let mut new = Session::connect(&url("other.Mjpeg"), options())
            .await
            .unwrap();
        new.describe().await.unwrap();
        assert_eq!(new.duration(), Some(Duration::from_secs(1)));
    });
}
