//! `lengthmjpegsrc`: plays a `.Mjpeg` file (by path, or as a `file://` URI
//! handler) as timestamped, seekable JPEG frames.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct LengthMjpegSrc(ObjectSubclass<imp::LengthMjpegSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "lengthmjpegsrc",
        gst::Rank::NONE,
        LengthMjpegSrc::static_type(),
    )
}
