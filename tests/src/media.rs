//! Test media: synthetic JPEG-shaped frames, real encoded clips, the
//! project's sample clip, and the container bytes for them.

use crate::*;
use gst::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A JPEG-shaped frame: SOI, a SOF0 segment for `w`×`h`, filler bytes that
/// identify frame `n`, EOI. Not decodable, but what the container needs.
pub fn synthetic_jpeg(w: u16, h: u16, n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8];
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(&n.to_be_bytes());
    let len = len.max(v.len() + 2);
    v.resize(len - 2, (n % 200) as u8);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// The container bytes for `frames`.
pub fn container(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = mjpegrtsp::container::FrameWriter::new(Vec::new());
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.into_inner()
}

/// `count` synthetic 320×240 frames of varying sizes.
pub fn synthetic_frames(count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| synthetic_jpeg(320, 240, n, 100 + (n as usize * 37) % 400))
        .collect()
}

pub fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".Mjpeg")
        .tempfile()
        .unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// The project's sample clip ([`gstmjpegrtsp::sample`]): 240 frames of
/// 640×480 at 24 fps, each different, like the seed system's reference file.
/// Made once per test process, in a temporary directory.
pub fn sample_movie() -> &'static Path {
    static SAMPLE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = SAMPLE.get_or_init(|| {
        init();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("sample.Mjpeg");
        gstmjpegrtsp::sample::write_sample(&path).expect("the sample clip is made");
        (dir, path)
    });
    path
}

/// A temporary directory holding `movie.Mjpeg`, made by [`encoded_movie`]
/// with these arguments: what a test server serves.
pub fn movie_dir(frames: u32, w: u32, h: u32, quality: u32, pattern: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("movie.Mjpeg"),
        encoded_movie(frames, w, h, quality, pattern),
    )
    .expect("write movie.Mjpeg");
    dir
}

/// Encodes `frames` frames of `videotestsrc` (pattern `pattern`, moving ball
/// by default) at `w`×`h` with `jpegenc quality=q`, as `.Mjpeg` bytes made by
/// `lengthmjpegmux`. Real, decodable JPEGs.
pub fn encoded_movie(frames: u32, w: u32, h: u32, quality: u32, pattern: &str) -> Vec<u8> {
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,format=I420,width={w},height={h},framerate=24/1 \
         ! jpegenc quality={quality} ! lengthmjpegmux ! appsink name=sink sync=false"
    );
    let (pipeline, sink) = launch_with_appsink(&launch);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        out.extend_from_slice(&sample.buffer().unwrap().map_readable().unwrap());
    }
    expect_eos(&pipeline, 30);
    out
}

/// Splits container bytes into its frames (panics on damage: for test media).
pub fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let index = mjpegrtsp::container::Index::build(bytes).unwrap();
    assert!(index.anomalies().is_empty(), "{:?}", index.anomalies());
    index
        .frames()
        .iter()
        .map(|e| e.read(bytes).unwrap())
        .collect()
}

/// The entropy-coded data of a JPEG: what follows its SOS segment, up to (not
/// including) the final EOI. RFC 2435 carries it unchanged while the receiver
/// rebuilds the headers, so it identifies a frame across the trip.
pub fn jpeg_scan_data(jpeg: &[u8]) -> Option<&[u8]> {
    mjpegrtsp::container::jpeg::scan_data(jpeg)
}

/// Writes a long `.Mjpeg` file at `path` of at least `min_bytes` and
/// `min_frames`: copies of
/// the sample clip ([`sample_movie`]) one after another, each frame
/// carrying its number in the file in a JPEG comment (COM) segment (see
/// [`frame_number`]), so that every frame is told apart. Returns the
/// frame count. Written through a buffer at disk speed, then synced.
pub fn numbered_long_movie(path: &Path, min_bytes: u64, min_frames: u64) -> u64 {
    let clip = frames_of(&std::fs::read(sample_movie()).expect("the sample clip"));
    let file = std::fs::File::create(path).expect("create the long movie");
    let mut w =
        mjpegrtsp::container::FrameWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let (mut n, mut written) = (0u64, 0u64);
    while written < min_bytes || n < min_frames {
        for f in &clip {
            let numbered = with_frame_number(f, n);
            w.write_frame(&numbered).expect("write a frame");
            written += (numbered.len() + 5) as u64;
            n += 1;
        }
    }
    let file = w.into_inner().into_inner().expect("flush the long movie");
    file.sync_all().expect("sync the long movie");
    n
}

/// `jpeg` with a comment segment saying `frame N` just after its SOI.
pub fn with_frame_number(jpeg: &[u8], n: u64) -> Vec<u8> {
    let text = format!("frame {n}");
    let mut out = Vec::with_capacity(jpeg.len() + text.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The number [`with_frame_number`] put in `jpeg`, if any.
pub fn frame_number(jpeg: &[u8]) -> Option<u64> {
    let rest = jpeg.strip_prefix(&[0xFF, 0xD8, 0xFF, 0xFE][..])?;
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let text = std::str::from_utf8(rest.get(2..len)?).ok()?;
    text.strip_prefix("frame ")?.parse().ok()
}

/// Drops `path`'s pages from the page cache (`posix_fadvise(DONTNEED)`;
/// the file must have been synced): its next reads come from the disk.
pub fn evict_from_page_cache(path: &Path) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).expect("open to evict");
    // SAFETY: posix_fadvise only advises the kernel about an open
    // descriptor's pages.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}
