//! `rtpmjpegpay` through gst_check::Harness: packet headers, sizes, marker
//! bits, timestamps, dropped frames and statistics.

use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use gst::prelude::*;
use gst_check::Harness;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstmjpegrtsp::plugin_register_static().expect("the plugin registers");
    });
}

/// A JPEG-shaped buffer: SOI, a SOF0 segment for `width`×`height`, filler
/// that identifies `n`, EOI; `len` bytes in all.
fn jpeg(n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0, 48, 0, 64, 3];
    v.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(&n.to_be_bytes());
    assert!(len >= v.len() + 2);
    while v.len() < len - 2 {
        v.push((v.len() % 251) as u8);
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn buffer(data: Vec<u8>, pts_ms: u64) -> gst::Buffer {
    let mut b = gst::Buffer::from_mut_slice(data);
    {
        let b = b.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(pts_ms));
        b.set_dts(gst::ClockTime::from_mseconds(pts_ms));
    }
    b
}

/// The parsed header fields and payload of an output packet.
#[derive(Debug)]
struct Packet {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    size: usize,
    payload: Vec<u8>,
    pts: Option<gst::ClockTime>,
    dts: Option<gst::ClockTime>,
}

fn packet(b: &gst::Buffer) -> Packet {
    let map = b.map_readable().unwrap();
    assert!(map.len() >= 12, "packet of {} bytes", map.len());
    assert_eq!(map[0], 0x80, "V=2, P=0, X=0, CC=0");
    Packet {
        marker: map[1] & 0x80 != 0,
        pt: map[1] & 0x7F,
        seq: u16::from_be_bytes([map[2], map[3]]),
        ts: u32::from_be_bytes([map[4], map[5], map[6], map[7]]),
        ssrc: u32::from_be_bytes([map[8], map[9], map[10], map[11]]),
        size: map.len(),
        payload: map[12..].to_vec(),
        pts: b.pts(),
        dts: b.dts(),
    }
}

fn pull_all(h: &mut Harness) -> Vec<Packet> {
    std::iter::from_fn(|| h.try_pull())
        .map(|b| packet(&b))
        .collect()
}

fn stats(h: &Harness) -> gst::Structure {
    h.element().unwrap().property::<gst::Structure>("stats")
}

fn stat(s: &gst::Structure, name: &str) -> u64 {
    s.get::<u64>(name)
        .unwrap_or_else(|_| panic!("no {name} in {s}"))
}

fn harness(props: &[(&str, &str)]) -> Harness {
    init();
    let mut b = gst::ElementFactory::make("rtpmjpegpay");
    for (k, v) in props {
        b = b.property_from_str(k, v);
    }
    let pay = b.build().unwrap();
    let mut h = Harness::with_element(&pay, Some("sink"), Some("src"));
    h.set_src_caps_str("image/jpeg,width=64,height=48,framerate=24/1");
    h
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

#[test]
fn whole_frame_packets_are_classic() {
    let mut h = harness(&[]);
    let before = unix_now();
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 1000 + n as usize * 10)).collect();
    for (i, f) in frames.iter().enumerate() {
        h.push(buffer(f.clone(), 40 * i as u64)).unwrap();
    }
    let after = unix_now();
    let pkts = pull_all(&mut h);
    assert_eq!(pkts.len(), 3);
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.seq, i as u16 + 1, "sequence number = frame number from 1");
        assert_eq!(p.pt, 26);
        assert!(!p.marker);
        assert_eq!(p.ssrc, 0);
        assert!(
            before <= p.ts && p.ts <= after,
            "wall-clock seconds: {}",
            p.ts
        );
        assert!(p.payload == frames[i], "payload is the whole JPEG");
        assert_eq!(p.size, frames[i].len() + 12);
        assert_eq!(p.pts, Some(gst::ClockTime::from_mseconds(40 * i as u64)));
        assert_eq!(p.dts, p.pts);
    }

    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.name(), "application/x-rtp");
    assert_eq!(s.get::<&str>("media").unwrap(), "video");
    assert_eq!(s.get::<&str>("encoding-name").unwrap(), "X-WHOLE-JPEG");
    assert_eq!(s.get::<i32>("payload").unwrap(), 26);
    assert_eq!(s.get::<i32>("clock-rate").unwrap(), 1);
    assert_eq!(s.get::<u32>("ssrc").unwrap(), 0);
    assert_eq!(s.get::<u32>("seqnum-offset").unwrap(), 1);
    assert_eq!(s.get::<&str>("a-framerate").unwrap(), "24");

    let st = stats(&h);
    assert_eq!(stat(&st, "frames-in"), 3);
    assert_eq!(stat(&st, "frames-sent"), 3);
    assert_eq!(stat(&st, "packets-sent"), 3);
    let bytes: usize = frames.iter().map(|f| f.len() + 12).sum();
    assert_eq!(stat(&st, "bytes-sent"), bytes as u64);
    assert_eq!(stat(&st, "frames-dropped-oversize"), 0);
}

#[test]
fn oversize_whole_frame_is_dropped_and_leaves_a_gap() {
    let mut h = harness(&[]);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));

    h.push(buffer(jpeg(0, 500), 0)).unwrap();
    // The largest JPEG that fits: a 65,507-byte packet.
    h.push(buffer(jpeg(1, 65_495), 40)).unwrap();
    h.push(buffer(jpeg(2, 65_496), 80)).unwrap();
    h.push(buffer(jpeg(3, 200_000), 120)).unwrap();
    h.push(buffer(jpeg(4, 500), 160)).unwrap();
    let pkts = pull_all(&mut h);
    let seqs: Vec<_> = pkts.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, vec![1, 2, 5], "frames 3 and 4 used up their numbers");
    assert_eq!(pkts[1].size, 65_507);
    assert!(pkts[2].payload == jpeg(4, 500));

    let st = stats(&h);
    assert_eq!(stat(&st, "frames-in"), 5);
    assert_eq!(stat(&st, "frames-sent"), 3);
    assert_eq!(stat(&st, "frames-dropped-oversize"), 2);

    let warnings: Vec<_> =
        std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Warning])).collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning message, later drops are logged"
    );
    let gst::MessageView::Warning(w) = warnings[0].view() else {
        unreachable!()
    };
    assert!(
        w.error().to_string().contains("65496 bytes"),
        "{}",
        w.error()
    );
}

#[test]
fn sequence_numbers_continue_across_flushes() {
    let mut h = harness(&[]);
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    h.push(buffer(jpeg(1, 100), 40)).unwrap();
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    let seqs: Vec<_> = pull_all(&mut h).iter().map(|p| p.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn non_jpeg_input_is_dropped_and_counted() {
    let mut h = harness(&[]);
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    h.push(buffer(b"not a jpeg at all".to_vec(), 40)).unwrap();
    h.push(buffer(Vec::new(), 60)).unwrap();
    h.push(buffer(jpeg(1, 100), 80)).unwrap();
    let pkts = pull_all(&mut h);
    assert_eq!(pkts.len(), 2);
    assert!(
        pkts.iter()
            .all(|p| p.payload.starts_with(&mjpegrtsp::container::SOI))
    );
    let st = stats(&h);
    assert_eq!(stat(&st, "frames-dropped-invalid"), 2);
    assert_eq!(stat(&st, "frames-sent"), 2);
}

#[test]
fn fragmented_packets_respect_the_mtu() {
    let mut h = harness(&[
        ("mode", "fragmented"),
        ("mtu", "100"),
        ("timestamp-offset", "1000"),
        ("seqnum-offset", "65534"),
        ("ssrc", "305419896"),
    ]);
    let frames = [jpeg(0, 250), jpeg(1, 88), jpeg(2, 1000)];
    let pts_ms = [1000u64, 1040, 1080];
    for (f, &t) in frames.iter().zip(&pts_ms) {
        h.push(buffer(f.clone(), t)).unwrap();
    }
    let pkts = pull_all(&mut h);
    // 250 bytes in 88-byte payloads: 3 packets; 88: 1; 1000: 12.
    assert_eq!(pkts.len(), 3 + 1 + 12);
    let mut expected_seq = 65534u16;
    let mut i = 0;
    for (f, &t) in frames.iter().zip(&pts_ms) {
        let n = f.len().div_ceil(88);
        let mut data = Vec::new();
        for j in 0..n {
            let p = &pkts[i];
            assert_eq!(
                p.seq, expected_seq,
                "one sequence number per packet, wrapping"
            );
            assert!(p.size <= 100, "packet of {} bytes", p.size);
            assert_eq!(
                p.marker,
                j + 1 == n,
                "marker on the frame's last packet only"
            );
            assert_eq!(
                p.pt, 96,
                "fragmented mode defaults to a dynamic payload type"
            );
            assert_eq!(p.ssrc, 0x1234_5678);
            assert_eq!(p.ts, 1000 + (t * 90) as u32, "90 kHz from the PTS");
            assert_eq!(p.pts, Some(gst::ClockTime::from_mseconds(t)));
            data.extend_from_slice(&p.payload);
            expected_seq = expected_seq.wrapping_add(1);
            i += 1;
        }
        assert!(data == *f, "packets concatenate to the frame");
    }

    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<i32>("clock-rate").unwrap(), 90_000);
    assert_eq!(s.get::<i32>("payload").unwrap(), 96);
    assert_eq!(s.get::<u32>("timestamp-offset").unwrap(), 1000);
    assert_eq!(s.get::<u32>("seqnum-offset").unwrap(), 65534);
    assert_eq!(s.get::<u32>("ssrc").unwrap(), 0x1234_5678);

    let st = stats(&h);
    assert_eq!(stat(&st, "frames-sent"), 3);
    assert_eq!(stat(&st, "packets-sent"), 16);
    assert_eq!(stat(&st, "bytes-sent"), (250 + 88 + 1000 + 16 * 12) as u64);
}

#[test]
fn fragmented_mode_carries_frames_bigger_than_a_datagram() {
    let mut h = harness(&[("mode", "fragmented")]);
    let f = jpeg(7, 300_000);
    h.push(buffer(f.clone(), 0)).unwrap();
    let pkts = pull_all(&mut h);
    assert_eq!(pkts.len(), 300_000usize.div_ceil(1388), "default mtu 1400");
    assert!(pkts.iter().all(|p| p.size <= 1400));
    assert_eq!(pkts.iter().filter(|p| p.marker).count(), 1);
    assert!(pkts.last().unwrap().marker);
    let ts = pkts[0].ts;
    assert!(pkts.iter().all(|p| p.ts == ts));
    let data: Vec<u8> = pkts.iter().flat_map(|p| p.payload.clone()).collect();
    assert!(data == f);
    assert_eq!(stat(&stats(&h), "frames-dropped-oversize"), 0);
}

#[test]
fn payload_type_defaults_follow_the_mode_and_explicit_wins() {
    init();
    let pay = gst::ElementFactory::make("rtpmjpegpay").build().unwrap();
    assert_eq!(pay.property::<u32>("pt"), 26);
    pay.set_property_from_str("mode", "fragmented");
    assert_eq!(pay.property::<u32>("pt"), 96);
    pay.set_property("pt", 26u32);
    assert_eq!(pay.property::<u32>("pt"), 26, "a value set explicitly wins");

    let mut h = harness(&[("mode", "fragmented"), ("pt", "26")]);
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    assert_eq!(pull_all(&mut h)[0].pt, 26);

    let mut h = harness(&[("pt", "100")]);
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    assert_eq!(pull_all(&mut h)[0].pt, 100);
}

#[test]
fn random_timestamp_offset_is_announced_in_caps() {
    let mut h = harness(&[("mode", "fragmented")]);
    h.push(buffer(jpeg(0, 100), 0)).unwrap();
    h.push(buffer(jpeg(1, 100), 1000)).unwrap();
    let pkts = pull_all(&mut h);
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let offset = caps
        .structure(0)
        .unwrap()
        .get::<u32>("timestamp-offset")
        .unwrap();
    assert_eq!(pkts[0].ts, offset, "PTS 0 is the offset");
    assert_eq!(pkts[1].ts, offset.wrapping_add(90_000));
}

#[test]
fn frames_without_pts_get_timestamps_from_the_frame_rate() {
    let mut h = harness(&[("mode", "fragmented"), ("timestamp-offset", "0")]);
    for n in 0..3 {
        h.push(gst::Buffer::from_mut_slice(jpeg(n, 100))).unwrap();
    }
    let ts: Vec<_> = pull_all(&mut h).iter().map(|p| p.ts).collect();
    assert_eq!(ts, vec![0, 3750, 7500], "24 fps: 3750 ticks per frame");
}
