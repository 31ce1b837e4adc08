//! `rtpmjpegdepay` through gst_check::Harness, fed hand-made packets (classic
//! and fragmented, damaged in various ways), and `rtpmjpegpay ! rtpmjpegdepay`
//! round trips in both modes.

use std::sync::Once;

use gst::prelude::*;
use gst_check::Harness;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstmjpegrtsp::plugin_register_static().expect("the plugin registers");
    });
}

const CLASSIC_CAPS: &str = "application/x-rtp,media=video,encoding-name=X-WHOLE-JPEG,clock-rate=1,payload=26,a-framerate=(string)24";
const FRAGMENTED_CAPS: &str =
    "application/x-rtp,media=video,encoding-name=X-WHOLE-JPEG,clock-rate=90000,payload=96";

/// A JPEG-shaped frame: SOI, a SOF0 segment for `width`×`height`, filler that
/// identifies `n` (no 0xFF bytes), EOI; `len` bytes in all.
fn jpeg_sized(n: u32, len: usize, width: u16, height: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8];
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend(n.to_be_bytes().iter().map(|b| b % 0xFF));
    assert!(len >= v.len() + 2);
    while v.len() < len - 2 {
        v.push((v.len() % 251) as u8);
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn jpeg(n: u32, len: usize) -> Vec<u8> {
    jpeg_sized(n, len, 64, 48)
}

/// The `n` a frame made by [`jpeg`] was made with.
fn id(data: &[u8]) -> u32 {
    u32::from_be_bytes([data[21], data[22], data[23], data[24]])
}

fn rtp(marker: bool, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, (u8::from(marker) << 7) | pt];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

fn buffer(data: Vec<u8>, pts: Option<gst::ClockTime>) -> gst::Buffer {
    let mut b = gst::Buffer::from_mut_slice(data);
    b.get_mut().unwrap().set_pts(pts);
    b
}

/// Packets of `frame` split into `chunk`-byte payloads from `*seq` on.
fn fragments(frame: &[u8], chunk: usize, seq: &mut u16, ts: u32) -> Vec<Vec<u8>> {
    let n = frame.len().div_ceil(chunk);
    frame
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let p = rtp(i + 1 == n, 96, *seq, ts, c);
            *seq = seq.wrapping_add(1);
            p
        })
        .collect()
}

fn depay(caps: &str, props: &[(&str, &str)]) -> Harness {
    init();
    let mut b = gst::ElementFactory::make("rtpmjpegdepay");
    for (k, v) in props {
        b = b.property_from_str(k, v);
    }
    let element = b.build().unwrap();
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps_str(caps);
    h
}

fn pull_all(h: &mut Harness) -> Vec<gst::Buffer> {
    std::iter::from_fn(|| h.try_pull()).collect()
}

fn bytes(b: &gst::Buffer) -> Vec<u8> {
    b.map_readable().unwrap().to_vec()
}

fn is_whole_jpeg(b: &gst::Buffer) -> bool {
    let d = bytes(b);
    mjpegrtsp::container::is_whole_jpeg(&d)
}

fn stats(element: &gst::Element) -> gst::Structure {
    element.property::<gst::Structure>("stats")
}

fn stat(s: &gst::Structure, name: &str) -> u64 {
    s.get::<u64>(name)
        .unwrap_or_else(|_| panic!("no {name} in {s}"))
}

fn hstats(h: &Harness) -> gst::Structure {
    stats(&h.element().unwrap())
}

fn ms(v: u64) -> Option<gst::ClockTime> {
    Some(gst::ClockTime::from_mseconds(v))
}

#[test]
fn classic_packets_become_frames() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 10_000 + n as usize)).collect();
    for (i, f) in frames.iter().enumerate() {
        // Marker 0, PT 26, seq from 1, timestamp in wall-clock seconds.
        let p = rtp(false, 26, i as u16 + 1, 0x6b07_e9ba, f);
        h.push(buffer(p, ms(100 + 42 * i as u64))).unwrap();
    }
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 3);
    for (i, (b, f)) in out.iter().zip(&frames).enumerate() {
        assert!(bytes(b) == *f, "frame {i} is byte-identical");
        assert_eq!(b.pts(), ms(100 + 42 * i as u64), "PTS of arrival");
        assert_eq!(
            b.duration(),
            Some(gst::ClockTime::SECOND.mul_div_floor(1, 24).unwrap())
        );
        assert_eq!(b.flags().contains(gst::BufferFlags::DISCONT), i == 0);
    }

    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.name(), "image/jpeg");
    assert!(s.get::<bool>("parsed").unwrap());
    assert_eq!(s.get::<i32>("width").unwrap(), 64);
    assert_eq!(s.get::<i32>("height").unwrap(), 48);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(24, 1)
    );

    let st = hstats(&h);
    assert_eq!(stat(&st, "packets-received"), 3);
    assert_eq!(stat(&st, "frames-pushed"), 3);
    assert_eq!(
        stat(&st, "bytes-pushed"),
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
}

#[test]
fn stream_start_caps_and_segment_come_in_order() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    h.push(buffer(rtp(false, 26, 1, 5, &jpeg(0, 100)), ms(0)))
        .unwrap();
    let kinds: Vec<_> = std::iter::from_fn(|| h.try_pull_event())
        .map(|e| e.type_())
        .collect();
    assert_eq!(
        kinds,
        vec![
            gst::EventType::StreamStart,
            gst::EventType::Caps,
            gst::EventType::Segment
        ]
    );
}

#[test]
fn classic_sequence_restart_is_a_new_loop() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    // A five-frame file looped by the classic server: 1..=5, then 1, 2 again.
    let seqs = [1u16, 2, 3, 4, 5, 1, 2];
    for (i, &seq) in seqs.iter().enumerate() {
        let p = rtp(false, 26, seq, 1000, &jpeg(i as u32, 200));
        h.push(buffer(p, ms(42 * i as u64))).unwrap();
    }
    let out = pull_all(&mut h);
    let ids: Vec<_> = out.iter().map(|b| id(&bytes(b))).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4, 5, 6], "the second loop plays");
    assert!(out[5].flags().contains(gst::BufferFlags::DISCONT));
    let st = hstats(&h);
    assert_eq!(stat(&st, "restarts"), 1);
    assert_eq!(stat(&st, "packets-late"), 0);
}

#[test]
fn classic_duplicates_and_late_packets_are_dropped() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    for &seq in &[1u16, 2, 2, 4, 3, 5] {
        let p = rtp(false, 26, seq, 1000, &jpeg(u32::from(seq), 200));
        h.push(buffer(p, None)).unwrap();
    }
    let out = pull_all(&mut h);
    let ids: Vec<_> = out.iter().map(|b| id(&bytes(b))).collect();
    assert_eq!(ids, vec![1, 2, 4, 5]);
    assert!(out[2].flags().contains(gst::BufferFlags::DISCONT));
    assert!(!out[3].flags().contains(gst::BufferFlags::DISCONT));
    assert!(
        out.iter().all(|b| b.pts().is_none()),
        "clock-rate 1: no PTS"
    );
    let st = hstats(&h);
    assert_eq!(stat(&st, "packets-duplicated"), 1);
    assert_eq!(stat(&st, "packets-late"), 1);
}

#[test]
fn fragmented_with_reordering_and_duplicates_inside_a_frame() {
    let mut h = depay(FRAGMENTED_CAPS, &[]);
    let mut seq = 65533; // crosses the wrap
    let f0 = jpeg(0, 5000);
    let f1 = jpeg(1, 5000);
    let a = fragments(&f0, 1388, &mut seq, 90_000);
    let b = fragments(&f1, 1388, &mut seq, 93_750);
    assert_eq!(a.len(), 4);
    let order = [
        &a[0], &a[2], &a[1], &a[1], &a[3], &a[2], &b[3], &b[1], &b[0], &b[0], &b[2],
    ];
    for (i, p) in order.iter().enumerate() {
        h.push(buffer(p.to_vec(), ms(1000 + i as u64))).unwrap();
    }
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 2);
    assert!(bytes(&out[0]) == f0);
    assert!(bytes(&out[1]) == f1);
    assert_eq!(out[0].pts(), ms(1000), "PTS of the frame's first packet");
    assert_eq!(out[1].pts(), ms(1008), "b[0] arrived ninth");
    assert!(!out[1].flags().contains(gst::BufferFlags::DISCONT));
    let st = hstats(&h);
    assert_eq!(stat(&st, "packets-duplicated"), 3);
    assert_eq!(stat(&st, "frames-pushed"), 2);
}

#[test]
fn missing_middle_packet_drops_the_frame_only() {
    let mut h = depay(FRAGMENTED_CAPS, &[("mode", "fragmented")]);
    let mut seq = 10;
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 4000)).collect();
    let mut pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragments(f, 1000, &mut seq, 3750 * i as u32))
        .collect();
    assert_eq!(pkts.len(), 12);
    pkts.remove(5); // frame 1's second packet
    for p in pkts {
        h.push(buffer(p, None)).unwrap();
    }
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 2);
    assert!(bytes(&out[0]) == frames[0]);
    assert!(bytes(&out[1]) == frames[2]);
    assert!(out[1].flags().contains(gst::BufferFlags::DISCONT));
    // No input PTS: from the 90 kHz timestamps, relative to the first frame.
    assert_eq!(out[0].pts(), Some(gst::ClockTime::ZERO));
    let two_frames = 2 * 3750 * 1_000_000_000 / 90_000;
    assert_eq!(
        out[1].pts(),
        Some(gst::ClockTime::from_nseconds(two_frames))
    );
    let st = hstats(&h);
    assert_eq!(stat(&st, "frames-incomplete"), 1);
    assert_eq!(stat(&st, "frames-pushed"), 2);
}

#[test]
fn garbage_is_counted_invalid() {
    let mut h = depay(FRAGMENTED_CAPS, &[]);
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80],
        vec![0x40; 40],                                           // version 1
        vec![0x8F, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2],       // 15 CSRCs missing
        vec![0xA0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 200],  // padding 200
        vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9], // extension overrun
        vec![0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],            // RTCP sender report
    ];
    let n = garbage.len() as u64;
    for g in garbage {
        h.push(buffer(g, None)).unwrap();
    }
    // Valid packets whose payloads are not JPEGs never come out either.
    // Packet 1 cannot start a frame: it waits, and is given up when frame 2-3
    // completes. Packet 4 completes a run that has no EOI: corrupt.
    h.push(buffer(rtp(true, 96, 1, 0, b"hello"), None)).unwrap();
    h.push(buffer(rtp(false, 96, 2, 5, &[0xFF, 0xD8, 1, 2]), None))
        .unwrap();
    h.push(buffer(rtp(true, 96, 3, 5, &[3, 0xFF, 0xD9]), None))
        .unwrap();
    h.push(buffer(rtp(true, 96, 4, 9, &[0xFF, 0xD8, 1, 2]), None))
        .unwrap();
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 1, "only the frame 2-3 is a JPEG");
    assert!(is_whole_jpeg(&out[0]));
    let st = hstats(&h);
    assert_eq!(stat(&st, "packets-invalid"), n);
    assert_eq!(stat(&st, "packets-received"), n + 4);
    assert_eq!(stat(&st, "frames-incomplete"), 1);
    assert_eq!(stat(&st, "frames-corrupt"), 1);
}

#[test]
fn header_extension_csrcs_and_padding_are_skipped() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    let f = jpeg(9, 300);
    let mut p = vec![0x80 | 0x20 | 0x10 | 1, 26, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
    p.extend_from_slice(&[1, 2, 3, 4]); // CSRC
    p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension
    p.extend_from_slice(&f);
    p.extend_from_slice(&[0, 0, 0, 4]); // padding
    h.push(buffer(p, None)).unwrap();
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 1);
    assert!(bytes(&out[0]) == f);
}

#[test]
fn eos_drops_incomplete_frames() {
    let mut h = depay(FRAGMENTED_CAPS, &[]);
    let mut seq = 1;
    let pkts = fragments(&jpeg(0, 3000), 1000, &mut seq, 0);
    h.push(buffer(pkts[0].clone(), None)).unwrap();
    h.push(buffer(pkts[1].clone(), None)).unwrap();
    assert!(h.push_event(gst::event::Eos::new()));
    assert!(h.try_pull().is_none());
    assert_eq!(stat(&hstats(&h), "frames-incomplete"), 1);
    let eos = std::iter::from_fn(|| h.try_pull_event()).any(|e| e.type_() == gst::EventType::Eos);
    assert!(eos, "EOS is forwarded");
}

#[test]
fn flush_resets_reassembly() {
    let mut h = depay(FRAGMENTED_CAPS, &[]);
    let mut seq = 1;
    let f0 = jpeg(0, 3000);
    let pkts = fragments(&f0, 1000, &mut seq, 0);
    h.push(buffer(pkts[0].clone(), None)).unwrap();
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    // After a seek the sender may resend from the same numbers.
    for p in &pkts {
        h.push(buffer(p.clone(), None)).unwrap();
    }
    let out = pull_all(&mut h);
    assert_eq!(out.len(), 1);
    assert!(bytes(&out[0]) == f0);
    assert!(out[0].flags().contains(gst::BufferFlags::DISCONT));
    assert_eq!(stat(&hstats(&h), "packets-duplicated"), 0);
}

#[test]
fn caps_follow_size_changes() {
    let mut h = depay(CLASSIC_CAPS, &[]);
    let frames = [
        jpeg_sized(0, 300, 64, 48),
        jpeg_sized(1, 300, 64, 48),
        jpeg_sized(2, 300, 320, 240),
    ];
    let mut sizes = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        h.push(buffer(rtp(false, 26, i as u16 + 1, 0, f), None))
            .unwrap();
        h.pull().unwrap();
        let caps = h.sinkpad().unwrap().current_caps().unwrap();
        let s = caps.structure(0).unwrap();
        sizes.push((
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap(),
        ));
    }
    assert_eq!(sizes, vec![(64, 48), (64, 48), (320, 240)]);
}

#[test]
fn metadata_and_rank() {
    init();
    let factory = gst::ElementFactory::find("rtpmjpegdepay").unwrap();
    assert_eq!(factory.rank(), gst::Rank::SECONDARY + 1);
    assert_eq!(
        factory.metadata(gst::ELEMENT_METADATA_KLASS),
        Some("Codec/Depayloader/Network/RTP")
    );
    // It must not take RFC 2435 streams.
    let sink = factory
        .static_pad_templates()
        .into_iter()
        .find(|t| t.direction() == gst::PadDirection::Sink)
        .unwrap()
        .caps();
    let rfc2435 = gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("encoding-name", "JPEG")
        .field("payload", 26)
        .field("clock-rate", 90_000)
        .build();
    assert!(!sink.can_intersect(&rfc2435));
}

/// `rtpmjpegpay ! rtpmjpegdepay` with the given pay properties.
fn round_trip(pay_props: &str, frames: &[Vec<u8>]) -> (Vec<gst::Buffer>, Harness) {
    init();
    let mut h = Harness::new_parse(&format!("rtpmjpegpay {pay_props} ! rtpmjpegdepay"));
    h.set_src_caps_str("image/jpeg,width=64,height=48,framerate=25/1");
    for (i, f) in frames.iter().enumerate() {
        let mut b = gst::Buffer::from_mut_slice(f.clone());
        b.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
        h.push(b).unwrap();
    }
    let out = pull_all(&mut h);
    (out, h)
}

#[test]
fn round_trip_whole_frame() {
    let frames: Vec<_> = (0..10)
        .map(|n| jpeg(n, 100 + 6000 * n as usize))
        .chain([jpeg(10, 65_495)])
        .collect();
    let (out, mut h) = round_trip("", &frames);
    assert_eq!(out.len(), frames.len());
    for (i, (b, f)) in out.iter().zip(&frames).enumerate() {
        assert!(bytes(b) == *f, "frame {i} differs");
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(40 * i as u64)));
    }
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 1),
        "a-framerate carried through the RTP caps"
    );
    let depay = h.find_element("rtpmjpegdepay").unwrap();
    assert_eq!(stat(&stats(&depay), "frames-pushed"), frames.len() as u64);
}

#[test]
fn round_trip_whole_frame_skips_oversize_frames_with_a_gap() {
    let frames = vec![jpeg(0, 1000), jpeg(1, 70_000), jpeg(2, 1000)];
    let (out, mut h) = round_trip("", &frames);
    assert_eq!(out.len(), 2);
    assert!(bytes(&out[0]) == frames[0]);
    assert!(bytes(&out[1]) == frames[2]);
    assert!(
        out[1].flags().contains(gst::BufferFlags::DISCONT),
        "the receiver sees the gap in frame numbers"
    );
    let pay = h.find_element("rtpmjpegpay").unwrap();
    assert_eq!(stat(&stats(&pay), "frames-dropped-oversize"), 1);
}

#[test]
fn round_trip_fragmented_including_frames_over_a_datagram() {
    let lens = [100, 1388, 1389, 20_000, 65_507, 70_000, 250_000, 4];
    let frames: Vec<_> = lens
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if l < 30 {
                vec![0xFF, 0xD8, 0xFF, 0xD9]
            } else {
                jpeg(i as u32, l)
            }
        })
        .collect();
    for props in ["mode=fragmented", "mode=fragmented mtu=100 pt=26"] {
        let (out, mut h) = round_trip(props, &frames);
        assert_eq!(out.len(), frames.len(), "{props}");
        for (i, (b, f)) in out.iter().zip(&frames).enumerate() {
            assert!(bytes(b) == *f, "{props}: frame {i} differs");
            assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(40 * i as u64)));
        }
        let depay = h.find_element("rtpmjpegdepay").unwrap();
        let st = stats(&depay);
        assert_eq!(stat(&st, "frames-pushed"), frames.len() as u64);
        assert_eq!(stat(&st, "frames-incomplete"), 0);
        let pay = h.find_element("rtpmjpegpay").unwrap();
        assert_eq!(
            stat(&stats(&pay), "packets-sent"),
            stat(&st, "packets-received")
        );
    }
}
