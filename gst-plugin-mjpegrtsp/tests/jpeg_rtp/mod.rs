//! Helpers shared by the RFC 2435 tests (`rfc2435.rs`, `rfc2435_depay.rs`):
//! GStreamer pipelines with `appsrc`/`appsink`, JPEGs from `jpegenc` and
//! ffmpeg, RTP packets from `rtpjpegpay`, and decoding with `jpegdec`.

use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use gst::prelude::*;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| gst::init().expect("GStreamer initialises"));
}

const RTP_CAPS: &str =
    "application/x-rtp,media=video,encoding-name=JPEG,clock-rate=90000,payload=26";
/// RTP timestamp step between frames: 30 frames per second at 90 kHz.
pub const TS_STEP: u32 = 3000;

/// Runs `description`, which has an `appsink name=sink` and optionally an
/// `appsrc name=src`: pushes `input` into the source, then collects every
/// sample until EOS. Panics on any error or warning message, so a peer that
/// drops or rejects a packet, or a decoder that rejects a JPEG, makes the
/// test fail.
pub fn run(description: &str, input: Vec<gst::Buffer>) -> Vec<gst::Sample> {
    let pipeline = gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("{description}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline.by_name("sink").expect("appsink named sink");
    let bus = pipeline.bus().expect("a bus");
    pipeline.set_state(gst::State::Playing).expect("plays");
    if let Some(src) = pipeline.by_name("src") {
        for buffer in input {
            let ret = src.emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
            assert_eq!(ret, gst::FlowReturn::Ok, "{description}: push-buffer");
        }
        let _ = src.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
    }
    let started = Instant::now();
    let mut samples = Vec::new();
    let problems = [gst::MessageType::Error, gst::MessageType::Warning];
    loop {
        let timeout = gst::ClockTime::from_mseconds(100).nseconds();
        if let Some(s) = sink.emit_by_name::<Option<gst::Sample>>("try-pull-sample", &[&timeout]) {
            samples.push(s);
            continue;
        }
        if let Some(msg) = bus.pop_filtered(&problems) {
            let _ = pipeline.set_state(gst::State::Null);
            panic!("{description}: {msg:?}");
        }
        if sink.property::<bool>("eos") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{description}: no EOS after a minute"
        );
    }
    if let Some(msg) = bus.pop_filtered(&problems) {
        let _ = pipeline.set_state(gst::State::Null);
        panic!("{description}: {msg:?}");
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    samples
}

pub fn bytes(sample: &gst::Sample) -> Vec<u8> {
    let buffer = sample.buffer().expect("a buffer");
    buffer.map_readable().expect("readable").to_vec()
}

pub fn buffer(data: Vec<u8>, pts: gst::ClockTime) -> gst::Buffer {
    let mut b = gst::Buffer::from_mut_slice(data);
    b.get_mut().unwrap().set_pts(pts);
    b
}

pub fn frame_pts(n: usize) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(n as u64 * 1_000_000_000 / 30)
}

/// The JPEGs as buffers, one frame at 30 fps apart.
fn jpeg_buffers(jpegs: &[Vec<u8>]) -> Vec<gst::Buffer> {
    jpegs
        .iter()
        .enumerate()
        .map(|(n, j)| buffer(j.clone(), frame_pts(n)))
        .collect()
}

/// `count` JPEGs from `videotestsrc ! <format> ! jpegenc quality=<q>`.
pub fn jpegenc(
    pattern: &str,
    format: &str,
    width: u32,
    height: u32,
    quality: u32,
    count: u32,
) -> Vec<Vec<u8>> {
    let samples = run(
        &format!(
            "videotestsrc num-buffers={count} pattern={pattern} \
             ! video/x-raw,format={format},width={width},height={height},framerate=30/1 \
             ! jpegenc quality={quality} ! appsink name=sink sync=false"
        ),
        Vec::new(),
    );
    assert_eq!(samples.len(), count as usize);
    samples.iter().map(bytes).collect()
}

/// A decoded frame: format, size and pixels.
#[derive(PartialEq, Eq)]
pub struct Picture {
    pub format: gst_video::VideoFormat,
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {}x{} ({} bytes)",
            self.format,
            self.width,
            self.height,
            self.pixels.len()
        )
    }
}

pub fn pictures(samples: &[gst::Sample]) -> Vec<Picture> {
    samples
        .iter()
        .map(|s| {
            let info = gst_video::VideoInfo::from_caps(s.caps().expect("caps")).expect("raw");
            Picture {
                format: info.format(),
                width: info.width(),
                height: info.height(),
                pixels: bytes(s),
            }
        })
        .collect()
}

/// Decodes whole JPEGs of `width` x `height` with `jpegdec`.
pub fn decode_jpegs(jpegs: &[Vec<u8>], width: u32, height: u32) -> Vec<Picture> {
    pictures(&run(
        &format!(
            "appsrc name=src format=time \
             caps=\"image/jpeg,parsed=(boolean)true,width={width},height={height},framerate=30/1\" \
             ! jpegdec ! appsink name=sink sync=false"
        ),
        jpeg_buffers(jpegs),
    ))
}

/// Depayloads and decodes RTP packets with `rtpjpegdepay ! jpegdec`.
pub fn decode_rtp(packets: Vec<(Vec<u8>, gst::ClockTime)>) -> Vec<Picture> {
    let input = packets
        .into_iter()
        .map(|(data, pts)| buffer(data, pts))
        .collect();
    pictures(&run(
        &format!(
            "appsrc name=src format=time caps=\"{RTP_CAPS}\" \
             ! rtpjpegdepay ! jpegdec ! appsink name=sink sync=false"
        ),
        input,
    ))
}

/// The RTP packets `rtpjpegpay mtu=<mtu>` makes of the JPEGs.
pub fn rtpjpegpay(jpegs: &[Vec<u8>], width: u32, height: u32, mtu: usize) -> Vec<Vec<u8>> {
    let samples = run(
        &format!(
            "appsrc name=src format=time \
             caps=\"image/jpeg,width={width},height={height},framerate=30/1\" \
             ! rtpjpegpay mtu={mtu} ! appsink name=sink sync=false"
        ),
        jpeg_buffers(jpegs),
    );
    samples.iter().map(bytes).collect()
}

/// Whether ffmpeg is installed; if not, says that `skipping` is skipped.
fn have_ffmpeg(skipping: &str) -> bool {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("NOTE: ffmpeg is not installed; skipping {skipping}");
    }
    found
}

/// ffmpeg arguments for restart markers. ffmpeg 5.1's mjpeg encoder has no
/// restart-interval option; with slice threads it writes one restart
/// interval per MCU row. `-huffman default` keeps the standard tables
/// RFC 2435 receivers assume.
pub const RESTART_MARKER_ARGS: [&str; 6] = [
    "-huffman",
    "default",
    "-threads",
    "4",
    "-thread_type",
    "slice",
];

/// ffmpeg's mjpeg encoder writing into a temporary folder.
pub struct FfmpegJpegs {
    dir: tempfile::TempDir,
}

impl FfmpegJpegs {
    /// The encoder, or `None` (and a note that `skipping` is skipped) when
    /// ffmpeg is not installed.
    pub fn new(skipping: &str) -> Option<FfmpegJpegs> {
        have_ffmpeg(skipping).then(|| FfmpegJpegs {
            dir: tempfile::tempdir().expect("a temporary folder"),
        })
    }

    /// `count` 320x240 JPEGs in `pix_fmt`, with extra encoder arguments.
    pub fn encode(&self, pix_fmt: &str, args: &[&str], count: u32) -> Vec<Vec<u8>> {
        ffmpeg_jpegs(self.dir.path(), pix_fmt, args, count)
    }
}

/// `count` 320x240 JPEGs from ffmpeg's mjpeg encoder with extra arguments.
fn ffmpeg_jpegs(dir: &Path, pix_fmt: &str, args: &[&str], count: u32) -> Vec<Vec<u8>> {
    let pattern = dir.join(format!("{pix_fmt}-%03d.jpg"));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "testsrc=size=320x240:rate=30"])
        .args(["-frames:v", &count.to_string(), "-pix_fmt", pix_fmt])
        .args(["-c:v", "mjpeg"])
        .args(args)
        .args(["-f", "image2"])
        .arg(&pattern)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    (1..=count)
        .map(|n| std::fs::read(dir.join(format!("{pix_fmt}-{n:03}.jpg"))).expect("a frame"))
        .collect()
}

/// The body of the first segment with `marker` before the scan, found by the
/// plugin's JPEG walker. Panics on a malformed JPEG: only for JPEGs the tests
/// trust.
pub fn segment_body(jpeg: &[u8], marker: u8) -> Option<&[u8]> {
    mjpegrtsp::container::jpeg::segments(jpeg)
        .map(|s| s.expect("a well-formed JPEG"))
        .find(|s| s.marker == marker)
        .map(|s| s.body)
}

/// The restart interval of the JPEG's DRI segment, if it has one.
pub fn dri(jpeg: &[u8]) -> Option<u16> {
    let body = segment_body(jpeg, mjpegrtsp::container::jpeg::marker::DRI)?;
    Some(u16::from_be_bytes([body[0], body[1]]))
}

/// Whether the JPEG's data has restart markers (RST0 to RST7).
pub fn has_rst_markers(jpeg: &[u8]) -> bool {
    jpeg.windows(2)
        .any(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
}
