//! `rtpmjpegpay`: whole JPEG frames into the project's 12-byte-header RTP
//! scheme, one packet per frame (classic) or split at the MTU (fragmented).

use glib::prelude::*;

mod imp;
mod settings;

/// How frames are put into packets.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRtpMjpegPayMode")]
pub enum PayMode {
    /// One packet per frame; sequence number = frame number; timestamps in
    /// wall-clock seconds. What classic clients understand.
    #[default]
    #[enum_value(
        name = "Whole frame: one packet per frame, like the classic server",
        nick = "whole-frame"
    )]
    WholeFrame = 0,
    /// Frames split into packets of at most `mtu` bytes, marker bit on the
    /// last; 90 kHz timestamps from the buffer PTS.
    #[enum_value(
        name = "Fragmented: frames split at the MTU, marker bit on each frame's last packet",
        nick = "fragmented"
    )]
    Fragmented = 1,
}

glib::wrapper! {
    pub struct RtpMjpegPay(ObjectSubclass<imp::RtpMjpegPay>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "rtpmjpegpay",
        gst::Rank::NONE,
        RtpMjpegPay::static_type(),
    )
}
