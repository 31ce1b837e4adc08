//! `rtpmjpegdepay`: the project's 12-byte-header RTP scheme back into whole
//! JPEG frames, from classic senders and from `rtpmjpegpay` in either mode.

use glib::prelude::*;

use mjpegrtsp::rtp::ReassemblyMode;

mod imp;

/// How packets are grouped into frames.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRtpMjpegDepayMode")]
pub enum DepayMode {
    /// Whole-frame until a packet with the marker bit arrives, fragmented
    /// from then on.
    #[default]
    #[enum_value(
        name = "Auto: whole-frame until a packet has the marker bit, then fragmented",
        nick = "auto"
    )]
    Auto = 0,
    /// Every packet is one whole JPEG (the classic dialect).
    #[enum_value(
        name = "Whole frame: every packet holds one whole JPEG",
        nick = "whole-frame"
    )]
    WholeFrame = 1,
    /// Frames end at packets with the marker bit.
    #[enum_value(
        name = "Fragmented: frames end at packets with the marker bit",
        nick = "fragmented"
    )]
    Fragmented = 2,
}

impl From<DepayMode> for ReassemblyMode {
    fn from(m: DepayMode) -> Self {
        match m {
            DepayMode::Auto => ReassemblyMode::Auto,
            DepayMode::WholeFrame => ReassemblyMode::WholeFrame,
            DepayMode::Fragmented => ReassemblyMode::Fragmented,
        }
    }
}

glib::wrapper! {
    pub struct RtpMjpegDepay(ObjectSubclass<imp::RtpMjpegDepay>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // One above rtpjpegdepay, so that decodebin prefers it where caps
    // intersect; its encoding-name requirement keeps it off RFC 2435 streams.
    gst::Element::register(
        Some(plugin),
        "rtpmjpegdepay",
        gst::Rank::SECONDARY + 1,
        RtpMjpegDepay::static_type(),
    )
}
