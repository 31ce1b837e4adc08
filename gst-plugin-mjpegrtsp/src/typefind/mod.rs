//! Type finder for the `.Mjpeg` container: a file of frames, each five ASCII
//! decimal digits giving a JPEG's length followed by the JPEG.
//!
//! A plain JPEG starts with `FF D8` and no digits, so it is never claimed here.

use crate::CONTAINER_CAPS_NAME;
use mjpegrtsp::container::{PREFIX_LEN, SOI, parse_prefix};
use std::sync::LazyLock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "lengthmjpegtypefind",
        gst::DebugColorFlags::empty(),
        Some("Length-prefixed MJPEG container type finder"),
    )
});

/// Bytes of a frame header: the length prefix and the JPEG SOI marker.
const HEADER_LEN: usize = PREFIX_LEN + SOI.len();

/// The JPEG length a frame header names, if `bytes` starts with one: five
/// digits naming at least four bytes (the smallest SOI…EOI JPEG), then SOI.
fn header_len(bytes: &[u8]) -> Option<usize> {
    let len = parse_prefix(bytes).filter(|&len| len >= SOI.len() * 2)?;
    (bytes.get(PREFIX_LEN..HEADER_LEN)? == SOI).then_some(len)
}

/// How sure we are that the data is a container; `None` to stay silent.
///
/// Reads at most seven bytes at the start and seven where the second frame
/// should begin (less than 100 kB in), so it is bounded on any input.
fn probability(find: &mut gst::TypeFind) -> Option<gst::TypeFindProbability> {
    let len = header_len(find.peek(0, HEADER_LEN as u32)?)?;
    // `len` is at most 99,999, so the offset cannot overflow.
    let next = (PREFIX_LEN + len) as i64;
    let prob = match find.peek(next, HEADER_LEN as u32) {
        // Two frame headers exactly where the first prefix says.
        Some(bytes) if header_len(bytes).is_some() => gst::TypeFindProbability::Maximum,
        // The first prefix points at something that is not a frame.
        Some(_) => gst::TypeFindProbability::Possible,
        // The data ends, or is not available yet, before a second header.
        None => gst::TypeFindProbability::Likely,
    };
    gst::debug!(CAT, "First frame of {len} bytes: {prob:?}");
    Some(prob)
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    let caps = gst::Caps::new_empty_simple(CONTAINER_CAPS_NAME);
    let possible_caps = caps.clone();
    gst::TypeFind::register(
        Some(plugin),
        CONTAINER_CAPS_NAME,
        gst::Rank::PRIMARY,
        Some("mjpeg,Mjpeg,MJPEG"),
        Some(&possible_caps),
        move |find| {
            if let Some(prob) = probability(find) {
                find.suggest(prob, &caps);
            }
        },
    )
}
