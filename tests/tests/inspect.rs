//! What `gst-inspect-1.0` shows: every element has a description with a
//! `gst-launch-1.0` example, and every property has a blurb.

use gst::prelude::*;
use mjpegrtsp_tests::init;

const ELEMENTS: [&str; 6] = [
    "mjpegrtspsrc",
    "lengthmjpegsrc",
    "lengthmjpegdemux",
    "lengthmjpegmux",
    "rtpmjpegpay",
    "rtpmjpegdepay",
];

#[test]
fn every_element_is_documented() {
    init();
    for name in ELEMENTS {
        let factory =
            gst::ElementFactory::find(name).unwrap_or_else(|| panic!("{name} registered"));
        let description = factory.metadata("description").unwrap();
        assert!(
            description.contains("Example: gst-launch-1.0 ") && description.contains(name),
            "{name}: {description}"
        );
        assert!(!factory.metadata("long-name").unwrap().is_empty());
        assert!(!factory.metadata("klass").unwrap().is_empty());
        let element = factory.create().build().unwrap();
        let mut own = 0;
        for pspec in element.list_properties() {
            if pspec.owner_type() != element.type_() {
                continue; // inherited from GStreamer's base classes, documented there
            }
            let blurb = pspec.blurb().unwrap_or_default();
            assert!(blurb.len() > 10, "{name}.{}: blurb {blurb:?}", pspec.name());
            own += 1;
        }
        assert!(own > 0, "{name} has properties of its own");
    }
}

#[test]
fn typefinder_is_registered_for_the_extension() {
    init();
    let finder = gst::TypeFindFactory::factories()
        .into_iter()
        .find(|f| f.name() == "video/x-length-mjpeg")
        .expect("typefinder registered");
    let exts = finder.extensions();
    assert!(exts.iter().any(|e| *e == "Mjpeg"), "{exts:?}");
    assert_eq!(finder.rank(), gst::Rank::PRIMARY);
}
