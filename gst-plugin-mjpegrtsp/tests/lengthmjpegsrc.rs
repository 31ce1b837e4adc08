//! gst_check::Harness tests for `lengthmjpegsrc` and `lengthmjpegdemux`
//! (pipelines with seeking, queries and damaged files are in the workspace's
//! `tests` crate).

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
