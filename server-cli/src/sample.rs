//! The built-in sample served when no media directory is given: 10 seconds
//! of GStreamer's test pattern with the running time burnt in, 640×480 at 24
//! fps, made once with the plugin's own `lengthmjpegmux` and kept in the
//! user's cache directory.

use gst::prelude::*;
use std::path::PathBuf;

const NAME: &str = "sample.Mjpeg";

/// The directory holding the sample, made if missing.
pub fn ensure_sample() -> Result<PathBuf, String> {
    let dir = cache_dir().join("mjpegrtsp");
    let path = dir.join(NAME);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let part = dir.join(format!("{NAME}.part"));
    tracing::info!("making the built-in sample {}", path.display());
    let launch = format!(
        "videotestsrc num-buffers=240 pattern=smpte ! video/x-raw,format=I420,width=640,height=480,framerate=24/1 \
         ! timeoverlay halignment=center valignment=center font-desc=\"Sans 36\" \
         ! jpegenc quality=85 ! lengthmjpegmux ! filesink location=\"{}\"",
        part.display()
    );
    // Without the text overlay plugin the clip is still made, just without the clock.
    let pipeline = gst::parse::launch(&launch)
        .or_else(|_| {
            gst::parse::launch(&launch.replace(
                "! timeoverlay halignment=center valignment=center font-desc=\"Sans 36\" ",
                "",
            ))
        })
        .map_err(|e| format!("cannot build the sample pipeline: {e}"))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start the sample pipeline: {e}"))?;
    let msg = pipeline.bus().and_then(|bus| {
        bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
    });
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => return Err(e.error().to_string()),
        _ => return Err("timed out making the sample".into()),
    }
    std::fs::rename(&part, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(dir)
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}
