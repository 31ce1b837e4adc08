//! The project's sample clip, made with its own elements: 10 seconds of
//! GStreamer's test pattern with the running time burnt in, 640×480 4:2:0
//! JPEG at 24 fps, written by `lengthmjpegmux`. `server-cli` serves it when
//! given no media directory, and the tests use it where the seed system's
//! reference file would do.

use gst::prelude::*;
use std::fmt;
use std::path::Path;

/// Frames in the sample (10 s at 24 fps).
pub const FRAMES: u32 = 240;
/// The sample's picture size.
pub const SIZE: (u32, u32) = (640, 480);

/// Why the sample could not be made.
#[derive(Debug)]
pub enum SampleError {
    /// The pipeline could not be built (a GStreamer plugin is missing).
    Build(glib::Error),
    /// The pipeline would not start.
    Start(gst::StateChangeError),
    /// An element failed while encoding or writing.
    Failed(glib::Error),
    /// Encoding did not end within a minute.
    TimedOut,
    /// The finished file could not be put in place.
    Io(std::io::Error),
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => write!(f, "cannot build the sample pipeline: {e}"),
            Self::Start(e) => write!(f, "cannot start the sample pipeline: {e}"),
            Self::Failed(e) => write!(f, "making the sample failed: {e}"),
            Self::TimedOut => f.write_str("timed out making the sample"),
            Self::Io(e) => write!(f, "cannot write the sample: {e}"),
        }
    }
}

impl std::error::Error for SampleError {}

const OVERLAY: &str = "! timeoverlay halignment=center valignment=center font-desc=\"Sans 36\" ";

/// Writes the sample to `path` (through `path.part`, renamed when whole).
/// The plugin must be registered. Without the text overlay plugin the clip
/// is still made, without the clock.
pub fn write_sample(path: &Path) -> Result<(), SampleError> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    let (w, h) = SIZE;
    let launch = format!(
        "videotestsrc num-buffers={FRAMES} pattern=smpte ! video/x-raw,format=I420,width={w},height={h},framerate=24/1 \
         {OVERLAY}! jpegenc quality=85 ! lengthmjpegmux ! filesink location=\"{}\"",
        part.display()
    );
    let pipeline = gst::parse::launch(&launch)
        .or_else(|_| gst::parse::launch(&launch.replace(OVERLAY, "")))
        .map_err(SampleError::Build)?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(SampleError::Start)?;
    let msg = pipeline.bus().and_then(|bus| {
        bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
    });
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => return Err(SampleError::Failed(e.error())),
        _ => return Err(SampleError::TimedOut),
    }
    std::fs::rename(&part, path).map_err(SampleError::Io)
}
