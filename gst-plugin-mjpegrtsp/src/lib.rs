//! GStreamer elements for MJPEG in the length-prefixed `.Mjpeg` container and
//! for the container's 12-byte-header RTP scheme (one whole JPEG per packet, or
//! split at the MTU with the marker bit on each frame's last packet).
//!
//! The formats, the RTSP client and the server live in the GStreamer-free
//! core crate [`mjpegrtsp`]; the elements here are thin layers over it, as in
//! gst-plugins-rs. `mjpegrtspsrc` plays RTSP with the core's client.

pub mod convert;
pub mod sample;

mod lengthmjpegdemux;
mod lengthmjpegmux;
mod lengthmjpegsrc;
mod mjpegrtspsrc;
mod pads;
mod playhead;
mod rtpmjpegdepay;
mod rtpmjpegpay;
mod typefind;

/// Caps of the `.Mjpeg` container byte stream.
pub const CONTAINER_CAPS_NAME: &str = "video/x-length-mjpeg";

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    typefind::register(plugin)?;
    lengthmjpegsrc::register(plugin)?;
    lengthmjpegdemux::register(plugin)?;
    lengthmjpegmux::register(plugin)?;
    rtpmjpegpay::register(plugin)?;
    rtpmjpegdepay::register(plugin)?;
    mjpegrtspsrc::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    mjpegrtsp,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
