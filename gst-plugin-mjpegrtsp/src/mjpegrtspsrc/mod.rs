//! `mjpegrtspsrc`: plays MJPEG from an RTSP server — the project's own in
//! either dialect, the seed system's classic Python servers, or any RFC 2435
//! server such as gst-rtsp-server — as timestamped `image/jpeg` buffers.

use gst::glib;
use gst::prelude::*;

mod imp;
mod settings;
mod state;
mod stats;

/// Which lower transports the element may use.
#[glib::flags(name = "GstMjpegRtspProtocols")]
pub enum Protocols {
    #[flags_value(name = "RTP over UDP", nick = "udp")]
    UDP = 0b001,
    #[flags_value(name = "RTP interleaved in the RTSP connection (TCP)", nick = "tcp")]
    TCP = 0b100,
}

/// Which RTSP dialect to speak.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstMjpegRtspDialect")]
pub enum DialectChoice {
    #[default]
    #[enum_value(
        name = "Find out: standard, or classic if OPTIONS goes unanswered",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "Standard RTSP (RFC 2326)", nick = "standard")]
    Standard = 1,
    #[enum_value(name = "The seed system's classic dialect", nick = "classic")]
    Classic = 2,
}

glib::wrapper! {
    pub struct MjpegRtspSrc(ObjectSubclass<imp::MjpegRtspSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "mjpegrtspsrc",
        gst::Rank::NONE,
        MjpegRtspSrc::static_type(),
    )
}
