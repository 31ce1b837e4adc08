//! What `gst-inspect-1.0` shows: every element has a one-line description
//! and every property a blurb; each element's documentation carries its
//! `gst-launch-1.0` example under "Example launch line", as GStreamer's own
//! elements do.

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
            description.len() > 20
                && !description.contains('\n')
                && !description.contains("Example"),
            "{name}: {description:?}"
        );
        let source = std::fs::read_to_string(format!(
            "{}/../gst-plugin-mjpegrtsp/src/{name}/imp.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let example = source
            .split("## Example launch line")
            .nth(1)
            .and_then(|rest| rest.lines().find(|l| l.contains("gst-launch-1.0 ")))
            .unwrap_or_else(|| panic!("{name}: no example launch line in its documentation"));
        assert!(example.contains(name), "{name}: {example}");
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
