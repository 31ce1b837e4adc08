//! gst_check::Harness tests for `lengthmjpegsrc` and `lengthmjpegdemux`
//! (pipelines with seeking, queries and damaged files are in the workspace's
//! `tests` crate).

use gst::glib;
use gst::prelude::*;
use mjpegrtsp::container::FrameWriter;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().unwrap();
    });
}

/// JPEG-shaped frame with a SOF0 segment for 64×48 and filler identifying `n`.
fn frame(n: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0, 48, 0, 64, 3];
    v.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.resize(len - 2, n);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn container(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = FrameWriter::new(Vec::new());
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.into_inner()
}

fn frames() -> Vec<Vec<u8>> {
    (0..5).map(|n| frame(n, 40 + n as usize * 11)).collect()
}

#[test]
fn source_pushes_one_timestamped_buffer_per_frame() {
    init();
    let frames = frames();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&container(&frames)).unwrap();
    let mut h = gst_check::Harness::new("lengthmjpegsrc");
    h.element()
        .unwrap()
        .set_property("location", file.path().to_str().unwrap());
    h.element()
        .unwrap()
        .set_property("frame-rate", gst::Fraction::new(10, 1));
    h.play();
    for (n, f) in frames.iter().enumerate() {
        let b = h.pull().unwrap();
        assert_eq!(&*b.map_readable().unwrap(), &f[..]);
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(100 * n as u64)));
        assert_eq!(b.duration(), Some(gst::ClockTime::from_mseconds(100)));
    }
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<i32>("width").unwrap(), 64);
    assert_eq!(s.get::<i32>("height").unwrap(), 48);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(10, 1)
    );
    // Then EOS.
    loop {
        let ev = h.pull_event().unwrap();
        if ev.type_() == gst::EventType::Eos {
            break;
        }
    }
}

#[test]
fn demuxer_in_push_mode_splits_bytes_in_any_pieces() {
    init();
    let frames = frames();
    let bytes = container(&frames);
    // The harness feeds the demuxer; its source pad appears with the first
    // frame and is linked then to a pad that collects what comes out.
    let mut h = gst_check::Harness::with_padnames("lengthmjpegdemux", Some("sink"), None);
    let out = Arc::new(Mutex::new(Vec::<gst::Buffer>::new()));
    let collector = {
        let out = out.clone();
        gst::Pad::builder(gst::PadDirection::Sink)
            .chain_function(move |_, _, buffer| {
                out.lock().unwrap().push(buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .build()
    };
    collector.set_active(true).unwrap();
    h.element().unwrap().connect_pad_added(move |_, pad| {
        pad.link(&collector).expect("link the demuxer's new pad");
    });
    h.set_src_caps_str("video/x-length-mjpeg");
    h.play();
    for piece in bytes.chunks(13) {
        h.push(gst::Buffer::from_slice(piece.to_vec())).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    let out = out.lock().unwrap();
    assert_eq!(out.len(), frames.len());
    for (n, (b, f)) in out.iter().zip(&frames).enumerate() {
        assert_eq!(&*b.map_readable().unwrap(), &f[..], "frame {n}");
        assert_eq!(
            b.pts(),
            Some(gst::ClockTime::from_nseconds(n as u64 * 1_000_000_000 / 24))
        );
    }
}

/// `lengthmjpegsrc` is a `file://` URI handler: the URI's percent-decoded
/// path becomes `location`, the URI reads back, other schemes and remote
/// hosts are refused with errors that say why, and the file then plays.
#[test]
fn file_uris_set_the_location() {
    init();
    let frames = frames();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a movie #1.Mjpeg");
    std::fs::write(&path, container(&frames)).unwrap();
    let uri = glib::filename_to_uri(&path, None).unwrap().to_string();
    assert!(uri.contains("a%20movie%20%231.Mjpeg"), "{uri}");

    let mut h = gst_check::Harness::new("lengthmjpegsrc");
    let src = h.element().unwrap();
    let handler = src.dynamic_cast_ref::<gst::URIHandler>().unwrap();
    assert_eq!(handler.uri_type(), gst::URIType::Src);
    assert_eq!(handler.protocols(), ["file"]);
    handler.set_uri(&uri).unwrap();
    assert_eq!(
        src.property::<String>("location"),
        path.to_str().unwrap(),
        "percent-decoded"
    );
    assert_eq!(handler.uri().as_deref(), Some(uri.as_str()));

    let err = handler.set_uri("http://example.com/x.Mjpeg").unwrap_err();
    assert!(err.matches(gst::URIError::UnsupportedProtocol), "{err}");
    // GStreamer checks the scheme against `protocols` before the element.
    assert!(err.message().contains("http"), "{err}");
    let err = handler.set_uri("file://elsewhere/x.Mjpeg").unwrap_err();
    assert!(err.message().contains("elsewhere"), "{err}");
    // A refused URI leaves the location as it was.
    assert_eq!(src.property::<String>("location"), path.to_str().unwrap());

    h.play();
    for f in &frames {
        assert_eq!(&*h.pull().unwrap().map_readable().unwrap(), &f[..]);
    }
}

/// Its rank stays NONE: a `file://` URI still gets `filesrc` (playbin then
/// reaches `lengthmjpegdemux` through the typefinder), while asking for the
/// element by name with a URI works.
#[test]
fn file_uris_still_open_with_filesrc() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.Mjpeg");
    std::fs::write(&path, container(&frames())).unwrap();
    let uri = glib::filename_to_uri(&path, None).unwrap();
    let el = gst::Element::make_from_uri(gst::URIType::Src, &uri, None).unwrap();
    assert_eq!(el.factory().unwrap().name(), "filesrc");
    let el = gst::Element::make_from_uri(gst::URIType::Src, &uri, Some("src")).unwrap();
    assert_eq!(el.factory().unwrap().name(), "filesrc");
    let factory = gst::ElementFactory::find("lengthmjpegsrc").unwrap();
    assert_eq!(factory.uri_protocols(), ["file"]);
    assert_eq!(factory.uri_type(), gst::URIType::Src);
}
