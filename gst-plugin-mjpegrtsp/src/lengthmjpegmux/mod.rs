//! `lengthmjpegmux`: writes JPEG frames as the length-prefixed `.Mjpeg`
//! container byte stream.

use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct LengthMjpegMux(ObjectSubclass<imp::LengthMjpegMux>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "lengthmjpegmux",
        gst::Rank::PRIMARY,
        LengthMjpegMux::static_type(),
    )
}
