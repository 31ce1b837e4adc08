//! Tests of `lengthmjpegmux`: harness push/pull of synthetic JPEGs, its errors,
//! and a real encoder pipeline writing a file that the container index reads.

use gst::prelude::*;
use mjpegrtsp::container::{self, Index};
use std::sync::Once;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().expect("register the mjpegrtsp plugin");
    });
}

/// A synthetic JPEG of `len` bytes: SOI, filler, EOI.
fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    assert!(len >= 4);
    let mut v = vec![fill; len];
    v[..2].copy_from_slice(&container::SOI);
    v[len - 2..].copy_from_slice(&container::EOI);
    v
}

fn frame_duration() -> gst::ClockTime {
    gst::ClockTime::from_mseconds(40)
}

fn buffer(data: Vec<u8>, n: u64) -> gst::Buffer {
    let mut buf = gst::Buffer::from_mut_slice(data);
    {
        let buf = buf.get_mut().unwrap();
        buf.set_pts(frame_duration() * n);
        buf.set_duration(frame_duration());
    }
    buf
}

fn harness() -> (gst_check::Harness, gst::Bus) {
    init();
    let mut h = gst_check::Harness::new("lengthmjpegmux");
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str("image/jpeg,width=16,height=16,framerate=25/1");
    (h, bus)
}

fn bytes_of(buf: &gst::Buffer) -> Vec<u8> {
    buf.map_readable().unwrap().to_vec()
}

/// The text of the first error message on `bus`.
fn error_text(bus: &gst::Bus) -> String {
    let msg = bus
        .pop_filtered(&[gst::MessageType::Error])
        .expect("an error message on the bus");
    let gst::MessageView::Error(err) = msg.view() else {
        unreachable!()
    };
    err.error().to_string()
}

/// Pulls events until the segment, checking caps on the way; returns it.
fn pull_segment(h: &mut gst_check::Harness) -> gst::Segment {
    let mut saw_caps = false;
    loop {
        let ev = h.pull_event().expect("a segment event");
        match ev.view() {
            gst::EventView::Caps(c) => {
                assert_eq!(
                    c.caps().structure(0).unwrap().name(),
                    gstmjpegrtsp::CONTAINER_CAPS_NAME
                );
                saw_caps = true;
            }
            gst::EventView::Segment(s) => {
                assert!(saw_caps, "caps before segment");
                return s.segment().clone();
            }
            _ => {}
        }
    }
}

#[test]
fn frames_get_prefix_offsets_and_timestamps() {
    let (mut h, _bus) = harness();
    let frames = [jpeg(1, 4), jpeg(2, 300), jpeg(3, 10_528)];
    let mut offset = 0u64;
    for (n, data) in frames.iter().enumerate() {
        let n = n as u64;
        let input = buffer(data.clone(), n);
        let input_ptr = input.map_readable().unwrap().as_ptr();
        h.push(input).unwrap();
        let out = h.pull().unwrap();

        // Zero copy: the JPEG is the input's own memory after the prefix.
        // (Checked first: mapping a writable buffer merges its memories.)
        assert_eq!(out.n_memory(), 2);
        assert_eq!(out.peek_memory(0).size(), container::PREFIX_LEN);
        assert_eq!(
            out.peek_memory(1).map_readable().unwrap().as_ptr(),
            input_ptr
        );
        let mut expected = container::encode_prefix(data.len()).unwrap().to_vec();
        expected.extend_from_slice(data);
        assert_eq!(bytes_of(&out), expected, "frame {}", n + 1);
        assert_eq!(out.offset(), offset);
        assert_eq!(out.offset_end(), offset + expected.len() as u64);
        assert_eq!(out.pts(), Some(frame_duration() * n));
        assert_eq!(out.duration(), Some(frame_duration()));
        offset += expected.len() as u64;
    }

    let segment = pull_segment(&mut h);
    assert_eq!(segment.format(), gst::Format::Bytes);
    let segment = segment.downcast::<gst::format::Bytes>().unwrap();
    assert_eq!(segment.start(), Some(gst::format::Bytes::ZERO));

    let element = h.element().unwrap();
    assert_eq!(element.property::<u64>("frames"), 3);

    assert!(h.push_event(gst::event::Eos::new()));
    let mut saw_eos = false;
    while let Some(ev) = h.try_pull_event() {
        saw_eos |= ev.type_() == gst::EventType::Eos;
    }
    assert!(saw_eos, "EOS passes downstream");
}

#[test]
fn position_query_answers_bytes_written() {
    let (mut h, _bus) = harness();
    h.push(buffer(jpeg(1, 100), 0)).unwrap();
    let mut q = gst::query::Position::new(gst::Format::Bytes);
    assert!(h.sinkpad().unwrap().peer_query(&mut q));
    assert_eq!(
        q.result(),
        gst::GenericFormattedValue::from(gst::format::Bytes::from_u64(105))
    );
}

#[test]
fn largest_frame_fits() {
    let (mut h, _bus) = harness();
    h.push(buffer(jpeg(9, container::MAX_FRAME_LEN), 0))
        .unwrap();
    let out = h.pull().unwrap();
    assert_eq!(out.size(), container::MAX_FRAME_LEN + container::PREFIX_LEN);
    assert_eq!(&bytes_of(&out)[..7], b"99999\xFF\xD8");
}

#[test]
fn oversized_frame_is_an_error_and_writes_nothing() {
    let (mut h, bus) = harness();
    h.push(buffer(jpeg(1, 50), 0)).unwrap();
    assert_eq!(
        h.push(buffer(jpeg(2, 100_000), 1)),
        Err(gst::FlowError::Error)
    );
    let text = error_text(&bus);
    assert!(text.contains("frame 2"), "{text}");
    assert!(text.contains("100000 bytes"), "{text}");

    assert_eq!(h.buffers_in_queue(), 1, "only frame 1 was output");
    assert_eq!(h.pull().unwrap().size(), 55);
    assert!(h.try_pull().is_none());
    assert_eq!(h.element().unwrap().property::<u64>("frames"), 1);
}

#[test]
fn non_jpeg_input_is_an_error_and_writes_nothing() {
    let (mut h, bus) = harness();
    assert_eq!(
        h.push(buffer(b"hello, world".to_vec(), 0)),
        Err(gst::FlowError::Error)
    );
    let text = error_text(&bus);
    assert!(text.contains("frame 1 (12 bytes)"), "{text}");
    assert!(text.contains("not a whole JPEG"), "{text}");

    h.push(buffer(jpeg(1, 20), 1)).unwrap();
    // A JPEG cut short (no EOI) would be skipped by readers: refused too.
    let mut cut = jpeg(2, 40);
    cut.truncate(30);
    assert_eq!(h.push(buffer(cut, 2)), Err(gst::FlowError::Error));
    assert!(error_text(&bus).contains("frame 3 (30 bytes)"));
    // Too short to hold SOI and EOI.
    assert_eq!(
        h.push(buffer(vec![0xFF, 0xD8], 3)),
        Err(gst::FlowError::Error)
    );
    assert!(error_text(&bus).contains("frame 4 (2 bytes)"));

    assert_eq!(h.buffers_in_queue(), 1, "only the good frame was output");
    assert_eq!(bytes_of(&h.pull().unwrap())[..5], *b"00020");
}

#[test]
fn segment_after_flush_continues_at_the_written_offset() {
    let (mut h, _bus) = harness();
    h.push(buffer(jpeg(1, 10), 0)).unwrap();
    h.push(buffer(jpeg(2, 20), 1)).unwrap();
    assert_eq!(h.pull().unwrap().offset(), 0);
    assert_eq!(h.pull().unwrap().offset(), 15);
    let first = pull_segment(&mut h);
    assert_eq!(first.format(), gst::Format::Bytes);

    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
    segment.set_start(gst::ClockTime::from_seconds(5));
    assert!(h.push_event(gst::event::Segment::new(&segment)));

    let second = loop {
        let ev = h.pull_event().expect("a segment after the flush");
        if let gst::EventView::Segment(s) = ev.view() {
            break s.segment().clone();
        }
    };
    let second = second.downcast::<gst::format::Bytes>().unwrap();
    assert_eq!(second.start(), Some(gst::format::Bytes::from_u64(15 + 25)));

    // A further segment without a flush is not passed on.
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    while let Some(ev) = h.try_pull_event() {
        assert_ne!(ev.type_(), gst::EventType::Segment);
    }
    h.push(buffer(jpeg(3, 10), 2)).unwrap();
    assert_eq!(h.pull().unwrap().offset(), 40);
}

#[test]
fn encoder_pipeline_writes_a_valid_file() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.Mjpeg");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=10 ! video/x-raw,width=320,height=240 ! jpegenc \
         ! lengthmjpegmux name=mux ! filesink location=\"{}\"",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error within 30 s");
    if let gst::MessageView::Error(err) = msg.view() {
        panic!("pipeline error: {} ({:?})", err.error(), err.debug());
    }
    let mux = pipeline.by_name("mux").unwrap();
    assert_eq!(mux.property::<u64>("frames"), 10);
    pipeline.set_state(gst::State::Null).unwrap();

    let file = std::fs::File::open(&path).unwrap();
    let index = Index::build(&file).unwrap();
    assert_eq!(index.len(), 10);
    assert!(index.anomalies().is_empty(), "{:?}", index.anomalies());
    let mut end = 0;
    for entry in index.frames() {
        assert_eq!(entry.header_offset(), end, "frames are back to back");
        let data = entry.read(&file).expect("a whole JPEG");
        let info = container::jpeg::parse_info(&data).expect("a readable SOF");
        assert_eq!((info.width, info.height), (320, 240));
        end = entry.offset + u64::from(entry.len);
    }
    assert_eq!(end, index.size(), "nothing after the last frame");
}
