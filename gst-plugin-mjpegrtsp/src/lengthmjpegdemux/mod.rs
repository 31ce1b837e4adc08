//! `lengthmjpegdemux`: splits a `.Mjpeg` byte stream into timestamped JPEG
//! frames, so that `playbin`, `decodebin` and `gst-discoverer-1.0` play the
//! container (found by the plugin's typefinder).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct LengthMjpegDemux(ObjectSubclass<imp::LengthMjpegDemux>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "lengthmjpegdemux",
        gst::Rank::PRIMARY,
        LengthMjpegDemux::static_type(),
    )
}
