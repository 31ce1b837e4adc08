use super::*;
use crate::container::jpeg::{SOI, marker};

use crate::container::jpeg::stuffed;
use crate::rtp::rfc2435::{Packetized, packetize};
use proptest::prelude::*;

/// 4:2:0, one MCU, from `jpegenc quality=85`; see tests/data/jpeg/README.md.
const JPEGENC_I420_16X16_Q85: &[u8] =
    include_bytes!("../../../../tests/data/jpeg/jpegenc-i420-16x16-q85.jpg");

/// 4:2:2, from `jpegenc quality=40`.
const JPEGENC_Y42B_32X16_Q40: &[u8] =
    include_bytes!("../../../../tests/data/jpeg/jpegenc-y42b-32x16-q40.jpg");

/// The marker segments of a JPEG from SOI to SOS, as (marker, body), and
/// the bytes after the SOS segment. Panics on anything unexpected: only
/// for JPEGs the tests trust.
fn segments(jpeg: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    let found: Vec<_> = crate::container::jpeg::segments(jpeg)
        .map(|s| s.expect("a well-formed JPEG"))
        .collect();
    let sos = found.last().filter(|s| s.marker == marker::SOS);
    let scan_start = sos.expect("an SOS segment").end();
    let found = found.iter().map(|s| (s.marker, s.body.to_vec()));
    (found.collect(), jpeg[scan_start..].to_vec())
}

fn markers(jpeg: &[u8]) -> Vec<u8> {
    segments(jpeg).0.iter().map(|(m, _)| *m).collect()
}

/// The bodies of the segments with `marker`.
fn bodies(jpeg: &[u8], marker: u8) -> Vec<Vec<u8>> {
    let (segs, _) = segments(jpeg);
    segs.into_iter()
        .filter(|(m, _)| *m == marker)
        .map(|(_, b)| b)
        .collect()
}

/// The quantization tables a JPEG defines, by number, with their values.
fn dqt_tables(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut tables = Vec::new();
    for body in bodies(jpeg, 0xDB) {
        let mut i = 0;
        while i < body.len() {
            let len = if body[i] >> 4 == 0 { 64 } else { 128 };
            tables.push((body[i], body[i + 1..i + 1 + len].to_vec()));
            i += 1 + len;
        }
    }
    tables
}

/// `jpeg` with its scan data replaced by `scan` and EOI.
fn with_scan(jpeg: &[u8], scan: &[u8]) -> Vec<u8> {
    let (_, rest) = segments(jpeg);
    let mut out = jpeg[..jpeg.len() - rest.len()].to_vec();
    out.extend_from_slice(scan);
    out.extend_from_slice(&EOI);
    out
}

/// `jpeg` with a DRI segment before its SOS.
fn with_dri(jpeg: &[u8], interval: u16) -> Vec<u8> {
    let sos = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("an SOS");
    let [r1, r0] = interval.to_be_bytes();
    let mut out = jpeg[..sos].to_vec();
    out.extend_from_slice(&[0xFF, 0xDD, 0, 4, r1, r0]);
    out.extend_from_slice(&jpeg[sos..]);
    out
}

/// Pushes a packetized frame with consecutive seqs from `seq`; returns what
/// each push returned.
fn feed(d: &mut Depacketizer, p: &Packetized, seq: u16, timestamp: u32) -> Vec<Option<Vec<u8>>> {
    p.payloads()
        .enumerate()
        .map(|(i, payload)| {
            d.push(seq.wrapping_add(i as u16), timestamp, p.marker(i), payload)
                .unwrap_or_else(|e| panic!("packet {i}: {e}"))
        })
        .collect()
}

/// Depacketizes a whole frame that must come out at its last packet.
fn depay_one(p: &Packetized) -> Vec<u8> {
    let mut d = Depacketizer::new();
    let mut out = feed(&mut d, p, 100, 9000);
    let last = out.pop().unwrap().expect("a JPEG at the marker");
    assert!(out.iter().all(Option::is_none), "a JPEG before the marker");
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 1,
            ..Default::default()
        }
    );
    last
}

/// A crafted payload for a 16x16 frame.
fn payload(
    rtp_type: u8,
    q: u8,
    offset: u32,
    restart: Option<u16>,
    tables: Option<(u8, &[u8])>,
    data: &[u8],
) -> Vec<u8> {
    let [_, o2, o1, o0] = offset.to_be_bytes();
    let mut v = vec![0, o2, o1, o0, rtp_type, q, 2, 2];
    if let Some(interval) = restart {
        v.extend_from_slice(&interval.to_be_bytes());
        v.extend_from_slice(&[0xFF, 0xFF]);
    }
    if let Some((precision, t)) = tables {
        v.extend_from_slice(&[0, precision]);
        v.extend_from_slice(&(t.len() as u16).to_be_bytes());
        v.extend_from_slice(t);
    }
    v.extend_from_slice(data);
    v
}

/// Two 8-bit tables: luma `a`, `a+1`, … and chroma `b`, `b+1`, ….
fn two_tables(a: u8, b: u8) -> Vec<u8> {
    (0..64u8)
        .map(|k| a.wrapping_add(k))
        .chain((0..64u8).map(|k| b.wrapping_add(k)))
        .collect()
}

/// The luma and chroma tables written in a depacketized JPEG.
fn written_tables(jpeg: &[u8]) -> Vec<u8> {
    let tables = dqt_tables(jpeg);
    assert_eq!(tables.len(), 2);
    assert_eq!((tables[0].0 & 0x0F, tables[1].0 & 0x0F), (0, 1));
    [&tables[0].1[..], &tables[1].1].concat()
}

#[test]
fn tables_for_q_are_the_ijg_scaling_of_the_standard_tables() {
    // jpegenc (libjpeg) scales Annex K.1/K.2 exactly as RFC 2435 Appendix A.
    for (jpeg, q) in [(JPEGENC_I420_16X16_Q85, 85), (JPEGENC_Y42B_32X16_Q40, 40)] {
        let theirs = dqt_tables(jpeg);
        let ours = tables_for_q(q);
        assert_eq!(theirs[0], (0x00, ours.luma.bytes().to_vec()), "Q={q}");
        assert_eq!(theirs[1], (0x01, ours.chroma.bytes().to_vec()), "Q={q}");
    }
    // Q=50 is the standard tables themselves, in zigzag order.
    let t = tables_for_q(50);
    assert_eq!(t.luma.bytes()[..8], [16, 11, 12, 14, 12, 10, 16, 14]);
    assert_eq!(t.chroma.bytes()[..8], [17, 18, 18, 24, 21, 24, 47, 26]);
    assert_eq!(t.luma.bytes()[63], 99);
    // The extremes are clamped to 1..=255.
    assert!(tables_for_q(1).luma.bytes().iter().all(|&v| v == 255));
    assert_eq!(tables_for_q(99).luma.bytes()[0], 1);
}

#[test]
fn huffman_tables_are_those_jpegenc_writes() {
    // jpegenc writes the Annex K.3 tables, in the same order.
    let theirs = bodies(JPEGENC_I420_16X16_Q85, marker::DHT);
    let out = depay_one(&packetize(JPEGENC_I420_16X16_Q85, 1400).unwrap());
    assert_eq!(bodies(&out, marker::DHT), theirs);
}

#[test]
fn jpegenc_frames_round_trip_through_the_packetizer() {
    for (jpeg, sampling, rtp_type) in [
        (JPEGENC_I420_16X16_Q85, 0x22, 1),
        (JPEGENC_Y42B_32X16_Q40, 0x21, 0),
    ] {
        let (_, scan) = segments(jpeg);
        for mtu in [153, 200, 400, 1400] {
            let p = packetize(jpeg, mtu).unwrap();
            assert_eq!(p.info().rtp_type(), rtp_type);
            let out = depay_one(&p);
            assert_eq!(markers(&out), [0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA]);
            let sof = &bodies(&out, 0xC0)[0];
            let [w1, w0] = p.info().width.to_be_bytes();
            assert_eq!(
                sof[..],
                [8, 0, 16, w1, w0, 3, 1, sampling, 0, 2, 0x11, 1, 3, 0x11, 1]
            );
            assert_eq!(
                bodies(&out, 0xDA)[0],
                [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]
            );
            assert_eq!(dqt_tables(&out), dqt_tables(jpeg));
            // The same scan, EOI once.
            assert_eq!(segments(&out).1, scan, "mtu {mtu}");
            // Whatever the packetizer checks (Huffman tables, sampling,
            // components) it accepts, and it sends the same payloads.
            let again = packetize(&out, mtu).unwrap();
            assert_eq!(again.as_bytes(), p.as_bytes(), "mtu {mtu}");
        }
    }
}

#[test]
fn restart_interval_becomes_a_dri_segment() {
    for (jpeg, sampling, rtp_type) in [
        (JPEGENC_I420_16X16_Q85, 0x22, 65),
        (JPEGENC_Y42B_32X16_Q40, 0x21, 64),
    ] {
        let jpeg = with_dri(jpeg, 7);
        let p = packetize(&jpeg, 200).unwrap();
        assert_eq!(p.info().rtp_type(), rtp_type);
        let out = depay_one(&p);
        assert_eq!(
            markers(&out),
            [0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDD, 0xDA]
        );
        assert_eq!(bodies(&out, 0xDD), [vec![0, 7]]);
        assert_eq!(bodies(&out, 0xC0)[0][7], sampling);
        assert_eq!(packetize(&out, 200).unwrap().as_bytes(), p.as_bytes());
    }
    // Types 64/65 with an interval of 0: no DRI.
    let mut d = Depacketizer::new();
    let out = d
        .push(1, 0, true, &payload(65, 50, 0, Some(0), None, &[1, 2]))
        .unwrap()
        .unwrap();
    assert!(!markers(&out).contains(&0xDD));
    assert_eq!(bodies(&out, 0xC0)[0][7], 0x22);
}

#[test]
fn eoi_is_added_only_when_missing() {
    let mut d = Depacketizer::new();
    let scan = |jpeg: Vec<u8>| segments(&jpeg).1;
    let out = d.push(1, 0, true, &payload(1, 50, 0, None, None, &[0x12, 0x34]));
    assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0x34, 0xFF, 0xD9]);
    let out = d.push(
        2,
        1,
        true,
        &payload(1, 50, 0, None, None, &[0x12, 0xFF, 0xD9]),
    );
    assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0xFF, 0xD9]);
    // EOI split over two packets.
    let none = d.push(3, 2, false, &payload(1, 50, 0, None, None, &[0x12, 0xFF]));
    assert_eq!(none, Ok(None));
    let out = d.push(4, 2, true, &payload(1, 50, 2, None, None, &[0xD9]));
    assert_eq!(scan(out.unwrap().unwrap()), [0x12, 0xFF, 0xD9]);
    assert_eq!(d.stats().frames, 3);
}

#[test]
fn q_below_128_derives_the_tables() {
    let mut d = Depacketizer::new();
    // No table header: the data starts right after the main header.
    let out = d
        .push(1, 0, true, &payload(1, 50, 0, None, None, &[0xAB; 200]))
        .unwrap()
        .unwrap();
    let t = tables_for_q(50);
    assert_eq!(
        written_tables(&out),
        [t.luma.bytes(), t.chroma.bytes()].concat()
    );
    assert_eq!(segments(&out).1.len(), 202);
    let out = d
        .push(2, 1, true, &payload(0, 85, 0, None, None, &[1]))
        .unwrap()
        .unwrap();
    assert_eq!(dqt_tables(&out), dqt_tables(JPEGENC_I420_16X16_Q85));
    assert_eq!(bodies(&out, 0xC0)[0][7], 0x21);
}

#[test]
fn remembered_tables_are_forgotten_when_the_source_changes() {
    let mut d = Depacketizer::new();
    let a = two_tables(1, 100);
    d.set_source(0xA);
    let out = d.push(1, 0, true, &payload(1, 200, 0, None, Some((0, &a)), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), a);
    d.set_source(0xA);
    let out = d.push(2, 1, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), a, "same source");
    d.set_source(0xB);
    let out = d.push(3, 2, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
    assert_eq!(out, Err(DepayError::MissingTables { q: 200 }));
}

#[test]
fn tables_are_remembered_for_q_128_to_254_but_not_255() {
    let mut d = Depacketizer::new();
    let a = two_tables(1, 100);
    let out = d.push(1, 0, true, &payload(1, 200, 0, None, Some((0, &a)), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), a);
    // Length 0: the tables received before for this Q.
    let out = d.push(2, 1, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), a);
    // New tables replace them.
    let b = two_tables(50, 150);
    let out = d.push(3, 2, true, &payload(1, 200, 0, None, Some((0, &b)), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), b);
    let out = d.push(4, 3, true, &payload(1, 200, 0, None, Some((0, &[])), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), b);
    // Another Q has none.
    let out = d.push(5, 4, true, &payload(1, 201, 0, None, Some((0, &[])), &[7]));
    assert_eq!(out, Err(DepayError::MissingTables { q: 201 }));
    // Q=255 must always carry them, even after a Q=255 frame with tables.
    let out = d.push(6, 5, true, &payload(1, 255, 0, None, Some((0, &a)), &[7]));
    assert_eq!(written_tables(&out.unwrap().unwrap()), a);
    let out = d.push(7, 6, true, &payload(1, 255, 0, None, Some((0, &[])), &[7]));
    assert_eq!(out, Err(DepayError::MissingTables { q: 255 }));
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 5,
            frames_incomplete: 2,
            packets_invalid: 2
        }
    );
    // Only the first packet has a table header.
    let first = payload(1, 255, 0, None, Some((0, &a)), &[1, 2]);
    let next = payload(1, 255, 2, None, None, &[3, 4]);
    assert_eq!(d.push(8, 7, false, &first), Ok(None));
    let out = d.push(9, 7, true, &next).unwrap().unwrap();
    assert_eq!(segments(&out).1, [1, 2, 3, 4, 0xFF, 0xD9]);
}

#[test]
fn sixteen_bit_tables_make_an_extended_sequential_jpeg() {
    let mut d = Depacketizer::new();
    // Luma 16-bit (bit 0), chroma 8-bit.
    let luma: Vec<u8> = (0..64u8).flat_map(|k| [0, k + 1]).collect();
    let chroma: Vec<u8> = (0..64u8).map(|k| k + 2).collect();
    let tables = [&luma[..], &chroma].concat();
    let out = d
        .push(
            1,
            0,
            true,
            &payload(1, 255, 0, None, Some((1, &tables)), &[9]),
        )
        .unwrap()
        .unwrap();
    assert_eq!(markers(&out)[1], 0xC1);
    assert_eq!(dqt_tables(&out), [(0x10, luma), (0x01, chroma)]);
    // Two 16-bit tables need 256 bytes.
    let short = payload(1, 255, 0, None, Some((3, &tables)), &[9]);
    assert_eq!(
        d.push(2, 1, true, &short),
        Err(DepayError::TablesTooShort {
            length: 192,
            needed: 256
        })
    );
    // One table (ffmpeg's MJPEG encoder shares it): luma and chroma alike.
    let one: Vec<u8> = (0..64u8).map(|k| k + 5).collect();
    let out = d
        .push(4, 3, true, &payload(1, 255, 0, None, Some((0, &one)), &[9]))
        .unwrap()
        .unwrap();
    assert_eq!(dqt_tables(&out), [(0x00, one.clone()), (0x01, one.clone())]);
    // Extra tables (for other types) are skipped.
    let mut three = two_tables(10, 20);
    three.extend_from_slice(&[99; 64]);
    let out = d
        .push(
            3,
            2,
            true,
            &payload(1, 255, 0, None, Some((0, &three)), &[9]),
        )
        .unwrap()
        .unwrap();
    assert_eq!(written_tables(&out), two_tables(10, 20));
    assert_eq!(segments(&out).1, [9, 0xFF, 0xD9]);
}

/// A frame of about `len` bytes of scan in several packets.
fn big_frame(len: usize, mtu: usize) -> Packetized {
    let raw: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    packetize(&with_scan(JPEGENC_I420_16X16_Q85, &stuffed(&raw)), mtu).unwrap()
}

#[test]
fn a_missing_packet_drops_the_frame() {
    let p = big_frame(2000, 300);
    let n = p.packet_count();
    assert!(n >= 5);
    let whole = depay_one(&p);
    for lost in 0..n {
        let mut d = Depacketizer::new();
        for (i, payload) in p.payloads().enumerate() {
            if i != lost {
                let out = d.push(i as u16, 1000, p.marker(i), payload);
                assert_eq!(out, Ok(None), "lost {lost}, packet {i}");
            }
        }
        // The next frame comes through; the broken one is counted once.
        let out = feed(&mut d, &p, n as u16, 4000);
        assert_eq!(out.last().unwrap().as_ref(), Some(&whole));
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 1,
                frames_incomplete: 1,
                packets_invalid: 0
            },
            "lost {lost}"
        );
    }
}

#[test]
fn seqs_and_offsets_must_both_be_contiguous() {
    let a = payload(1, 50, 0, None, None, &[1; 10]);
    let b = payload(1, 50, 10, None, None, &[2; 10]);
    let b_gap = payload(1, 50, 11, None, None, &[2; 10]);
    let b_overlap = payload(1, 50, 5, None, None, &[2; 10]);
    let mut d = Depacketizer::new();
    // Consecutive seqs but a hole in the data.
    assert_eq!(d.push(1, 0, false, &a), Ok(None));
    assert_eq!(d.push(2, 0, true, &b_gap), Ok(None));
    // Or overlapping data.
    assert_eq!(d.push(3, 1, false, &a), Ok(None));
    assert_eq!(d.push(4, 1, true, &b_overlap), Ok(None));
    // Contiguous data but a lost (empty) packet between.
    assert_eq!(d.push(5, 2, false, &a), Ok(None));
    assert_eq!(d.push(7, 2, true, &b), Ok(None));
    assert_eq!(d.stats().frames_incomplete, 3);
    // Both right, across the sequence number wrap.
    assert_eq!(d.push(65535, 3, false, &a), Ok(None));
    let out = d.push(0, 3, true, &b).unwrap().unwrap();
    assert_eq!(
        segments(&out).1,
        [[1; 10], [2; 10]]
            .concat()
            .iter()
            .copied()
            .chain(EOI)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 1,
            frames_incomplete: 3,
            packets_invalid: 0
        }
    );
}

#[test]
fn a_new_timestamp_drops_the_unfinished_frame() {
    let a = payload(1, 50, 0, None, None, &[1; 10]);
    let b = payload(1, 50, 10, None, None, &[2; 10]);
    let mut d = Depacketizer::new();
    assert_eq!(d.push(1, 0, false, &a), Ok(None));
    assert_eq!(d.push(2, 0, false, &b), Ok(None));
    // The marker packet (seq 3) is lost; the next frame starts.
    assert_eq!(d.push(4, 3000, false, &a), Ok(None));
    assert!(d.push(5, 3000, true, &b).unwrap().is_some());
    assert_eq!(d.stats().frames_incomplete, 1);
    // A frame whose first packets are lost, then one whose marker is:
    // counted once each.
    assert_eq!(d.push(9, 6000, false, &b), Ok(None));
    assert_eq!(d.push(10, 9000, false, &a), Ok(None));
    assert_eq!(d.push(20, 12000, false, &a), Ok(None));
    assert!(d.push(21, 12000, true, &b).unwrap().is_some());
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 2,
            frames_incomplete: 3,
            packets_invalid: 0
        }
    );
}

#[test]
fn offset_zero_again_starts_a_new_frame_with_the_same_timestamp() {
    let a = payload(1, 50, 0, None, None, &[1; 10]);
    let b = payload(1, 50, 10, None, None, &[2; 10]);
    let mut d = Depacketizer::new();
    assert_eq!(d.push(1, 0, false, &a), Ok(None));
    // Marker packet lost; the next frame has the same timestamp.
    assert_eq!(d.push(3, 0, false, &a), Ok(None));
    assert!(d.push(4, 0, true, &b).unwrap().is_some());
    // A first packet without data is followed by another at offset 0.
    let tables_only = payload(1, 50, 0, None, None, &[]);
    assert_eq!(d.push(5, 1, false, &tables_only), Ok(None));
    assert_eq!(d.push(6, 1, false, &a), Ok(None));
    assert!(d.push(7, 1, true, &b).unwrap().is_some());
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 2,
            frames_incomplete: 1,
            packets_invalid: 0
        }
    );
    // A frame with no data at all is not returned.
    assert_eq!(d.push(8, 2, true, &tables_only), Ok(None));
    assert_eq!(d.stats().frames_incomplete, 2);
}

#[test]
fn reset_forgets_the_partial_frame() {
    let p = big_frame(1000, 300);
    let n = p.packet_count();
    let mut d = Depacketizer::new();
    let payloads: Vec<&[u8]> = p.payloads().collect();
    assert_eq!(d.push(0, 0, false, payloads[0]), Ok(None));
    d.reset();
    assert_eq!(d.stats(), DepayStats::default());
    // The rest of that frame has no first packet any more.
    for (i, payload) in payloads.iter().enumerate().skip(1) {
        assert_eq!(d.push(i as u16, 0, p.marker(i), payload), Ok(None));
    }
    assert_eq!(d.stats().frames_incomplete, 1);
    let out = feed(&mut d, &p, n as u16, 3000);
    assert!(out.last().unwrap().is_some());
}

#[test]
fn malformed_payloads_are_errors() {
    let mut d = Depacketizer::new();
    let mut push = |p: &[u8]| d.push(1, 0, true, p);
    assert_eq!(
        push(&[]),
        Err(DepayError::TooShort {
            what: "main JPEG header",
            needed: 8,
            len: 0
        })
    );
    assert_eq!(
        push(&[0, 0, 0, 0, 65, 50, 2, 2, 0, 1]),
        Err(DepayError::TooShort {
            what: "restart marker header",
            needed: 12,
            len: 10
        })
    );
    assert_eq!(
        push(&[0, 0, 0, 0, 1, 255, 2, 2, 0]),
        Err(DepayError::TooShort {
            what: "quantization table header",
            needed: 12,
            len: 9
        })
    );
    let mut short_tables = payload(1, 255, 0, None, Some((0, &two_tables(1, 2))), &[]);
    short_tables.truncate(100);
    assert_eq!(
        push(&short_tables),
        Err(DepayError::TooShort {
            what: "quantization tables",
            needed: 140,
            len: 100
        })
    );
    for t in [2, 63, 66, 127, 128, 255] {
        assert_eq!(
            push(&payload(t, 50, 0, None, None, &[1])),
            Err(DepayError::UnsupportedType(t))
        );
    }
    for q in [0, 100, 127] {
        assert_eq!(
            push(&payload(1, q, 0, None, None, &[1])),
            Err(DepayError::ReservedQ(q))
        );
    }
    let mut zero = payload(1, 50, 0, None, None, &[1]);
    zero[6] = 0;
    assert_eq!(push(&zero), Err(DepayError::ZeroDimension));
    assert_eq!(d.stats().packets_invalid, 14);
    assert_eq!(d.stats().frames_incomplete, 14);
    assert_eq!(d.stats().frames, 0);
    // A size from the SDP for headers that say 0.
    d.set_dimensions(Some((4096, 2160)));
    let out = d.push(2, 1, true, &zero).unwrap().unwrap();
    assert_eq!(bodies(&out, 0xC0)[0][1..5], [0x08, 0x70, 0x10, 0x00]);
    // Non-zero header sizes win.
    let out = d.push(3, 2, true, &payload(1, 50, 0, None, None, &[1]));
    assert_eq!(
        bodies(&out.unwrap().unwrap(), 0xC0)[0][1..5],
        [0, 16, 0, 16]
    );
}

#[test]
fn a_bad_packet_drops_its_frame() {
    let p = big_frame(1500, 300);
    let n = p.packet_count();
    for (bad, damage) in [(0, 3), (n / 2, 5), (n - 1, 7)] {
        let mut d = Depacketizer::new();
        for (i, payload) in p.payloads().enumerate() {
            let payload = if i == bad {
                &payload[..damage]
            } else {
                payload
            };
            let out = d.push(i as u16, 0, p.marker(i), payload);
            if i == bad {
                assert!(matches!(out, Err(DepayError::TooShort { .. })), "{out:?}");
            } else {
                assert_eq!(out, Ok(None));
            }
        }
        assert_eq!(
            d.stats(),
            DepayStats {
                frames: 0,
                frames_incomplete: 1,
                packets_invalid: 1
            },
            "bad packet {bad}"
        );
    }
}

#[test]
fn header_changes_within_a_frame_are_errors() {
    let a = payload(1, 50, 0, None, None, &[1; 10]);
    let mut d = Depacketizer::new();
    for change in [
        payload(1, 60, 10, None, None, &[2; 10]),
        payload(0, 50, 10, None, None, &[2; 10]),
        payload(65, 50, 10, Some(4), None, &[2; 10]),
    ] {
        assert_eq!(d.push(1, 0, false, &a), Ok(None));
        assert_eq!(
            d.push(2, 0, true, &change),
            Err(DepayError::InconsistentHeader)
        );
    }
    let mut wider = payload(1, 50, 10, None, None, &[2; 10]);
    wider[6] = 3;
    assert_eq!(d.push(1, 0, false, &a), Ok(None));
    assert_eq!(
        d.push(2, 0, true, &wider),
        Err(DepayError::InconsistentHeader)
    );
    // The restart interval too.
    let r = payload(65, 50, 0, Some(4), None, &[1; 10]);
    let r_changed = payload(65, 50, 10, Some(5), None, &[2; 10]);
    assert_eq!(d.push(1, 0, false, &r), Ok(None));
    assert_eq!(
        d.push(2, 0, true, &r_changed),
        Err(DepayError::InconsistentHeader)
    );
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 0,
            frames_incomplete: 5,
            packets_invalid: 5
        }
    );
}

#[test]
fn frames_are_limited_in_size() {
    let mut d = Depacketizer::with_max_frame_len(100);
    let first = payload(1, 50, 0, None, None, &[1; 60]);
    assert_eq!(d.push(1, 0, false, &first), Ok(None));
    let too_much = payload(1, 50, 60, None, None, &[2; 41]);
    assert_eq!(
        d.push(2, 0, false, &too_much),
        Err(DepayError::FrameTooLarge { max: 100 })
    );
    // The rest of it is skipped quietly.
    let rest = payload(1, 50, 101, None, None, &[3; 10]);
    assert_eq!(d.push(3, 0, true, &rest), Ok(None));
    // Exactly at the limit is fine.
    let fits = payload(1, 50, 60, None, None, &[2; 40]);
    assert_eq!(d.push(4, 1, false, &first), Ok(None));
    let out = d.push(5, 1, true, &fits).unwrap().unwrap();
    assert_eq!(segments(&out).1.len(), 102);
    assert_eq!(
        d.stats(),
        DepayStats {
            frames: 1,
            frames_incomplete: 1,
            packets_invalid: 1
        }
    );
}

#[test]
fn messages_say_what_is_wrong() {
    let cases = [
        (DepayError::UnsupportedType(3), "type 3"),
        (DepayError::ReservedQ(110), "110"),
        (DepayError::MissingTables { q: 255 }, "Q=255"),
        (DepayError::MissingTables { q: 130 }, "none received before"),
        (
            DepayError::TooShort {
                what: "restart marker header",
                needed: 12,
                len: 9,
            },
            "restart marker header",
        ),
        (DepayError::ZeroDimension, "x-dimensions"),
    ];
    for (e, text) in cases {
        assert!(e.to_string().contains(text), "{e}");
    }
}

/// Frames of the proptests: a jpegenc JPEG with another scan and maybe a
/// restart interval.
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 1..4000),
        proptest::option::of(1u16..500),
    )
        .prop_map(|(y42b, raw, dri)| {
            let base = if y42b {
                JPEGENC_Y42B_32X16_Q40
            } else {
                JPEGENC_I420_16X16_Q85
            };
            let jpeg = with_scan(base, &stuffed(&raw));
            match dri {
                Some(interval) => with_dri(&jpeg, interval),
                None => jpeg,
            }
        })
}

proptest! {
    #[test]
    fn round_trip_of_any_frame(
        jpeg in any_frame(),
        mtu in 157usize..3000,
        seq in any::<u16>(),
        timestamp in any::<u32>(),
    ) {
        let p = packetize(&jpeg, mtu).unwrap();
        let mut d = Depacketizer::new();
        let mut out = feed(&mut d, &p, seq, timestamp);
        let last = out.pop().unwrap();
        prop_assert!(out.iter().all(Option::is_none));
        let last = last.expect("a JPEG at the marker");
        prop_assert_eq!(segments(&last).1, segments(&jpeg).1);
        let again = packetize(&last, mtu).unwrap();
        prop_assert_eq!(again.as_bytes(), p.as_bytes());
    }

    /// Three frames in a row; some packets lost, maybe two neighbours of
    /// one frame swapped. A frame comes out only if all of its packets
    /// came in order, and then exactly as without losses.
    #[test]
    fn never_a_frame_with_a_hole(
        frames in proptest::collection::vec(any_frame(), 3),
        mtu in 157usize..600,
        seq in any::<u16>(),
        lost in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        swap in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        // (frame, seq, timestamp, marker, payload) in send order.
        let mut packets = Vec::new();
        let mut wholes = Vec::new();
        let mut next_seq = seq;
        for (f, jpeg) in frames.iter().enumerate() {
            let p = packetize(jpeg, mtu).unwrap();
            wholes.push(depay_one(&p));
            for (i, payload) in p.payloads().enumerate() {
                packets.push((f, next_seq, f as u32 * 3000, p.marker(i), payload.to_vec()));
                next_seq = next_seq.wrapping_add(1);
            }
        }
        let mut kept = vec![true; packets.len()];
        for l in &lost {
            kept[l.index(packets.len())] = false;
        }
        let mut order: Vec<usize> = (0..packets.len()).filter(|&i| kept[i]).collect();
        let mut swapped_frame = None;
        if let Some(s) = swap
            && order.len() >= 2
        {
            let i = s.index(order.len() - 1);
            let (a, b) = (order[i], order[i + 1]);
            if packets[a].0 == packets[b].0 {
                order.swap(i, i + 1);
                swapped_frame = Some(packets[a].0);
            }
        }
        let mut d = Depacketizer::new();
        let mut got = vec![None; frames.len()];
        for &i in &order {
            let (f, seq, ts, marker, ref payload) = packets[i];
            if let Some(jpeg) = d.push(seq, ts, marker, payload).unwrap() {
                prop_assert!(got[f].is_none());
                got[f] = Some(jpeg);
            }
        }
        let mut expect_incomplete = 0;
        for f in 0..frames.len() {
            let all: Vec<usize> = (0..packets.len()).filter(|&i| packets[i].0 == f).collect();
            let present = all.iter().filter(|&&i| kept[i]).count();
            let whole = present == all.len() && swapped_frame != Some(f);
            prop_assert_eq!(got[f].is_some(), whole, "frame {}", f);
            if let Some(jpeg) = &got[f] {
                prop_assert_eq!(jpeg, &wholes[f]);
            }
            // Counted at its marker, or when a later frame begins.
            let marker_kept = kept[*all.last().unwrap()];
            let later_frame_seen = (0..packets.len()).any(|i| kept[i] && packets[i].0 > f);
            if present > 0 && !whole && (marker_kept || later_frame_seen) {
                expect_incomplete += 1;
            }
        }
        let stats = d.stats();
        prop_assert_eq!(stats.frames, got.iter().flatten().count() as u64);
        prop_assert_eq!(stats.packets_invalid, 0);
        if swapped_frame.is_none() {
            prop_assert_eq!(stats.frames_incomplete, expect_incomplete);
        } else {
            prop_assert!(stats.frames_incomplete >= expect_incomplete);
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic(
        packets in proptest::collection::vec(
            (
                0u16..8,
                0u32..3,
                any::<bool>(),
                prop_oneof![Just(0u8), Just(1), Just(64), Just(65), any::<u8>()],
                prop_oneof![Just(50u8), Just(200), Just(255), any::<u8>()],
                proptest::collection::vec(any::<u8>(), 0..300),
            ),
            1..30,
        ),
        raw in any::<bool>(),
    ) {
        let mut d = Depacketizer::with_max_frame_len(1000);
        let mut errors = 0;
        for (seq, ts, marker, rtp_type, q, mut bytes) in packets {
            if !raw && bytes.len() >= 8 {
                // A plausible main header: small offsets, known types.
                bytes[0] = 0;
                bytes[1] = 0;
                bytes[2] &= 1;
                bytes[4] = rtp_type;
                bytes[5] = q;
            }
            match d.push(seq, ts, marker, &bytes) {
                Ok(Some(jpeg)) => {
                    prop_assert!(jpeg.starts_with(&SOI));
                    prop_assert!(jpeg.ends_with(&EOI));
                }
                Ok(None) => {}
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    errors += 1;
                }
            }
        }
        prop_assert_eq!(d.stats().packets_invalid, errors);
    }

    #[test]
    fn damaged_frames_never_panic(
        jpeg in any_frame(),
        mtu in 157usize..800,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..16, any::<u8>()), 1..6),
        cut in proptest::option::of((any::<prop::sample::Index>(), 0usize..200)),
    ) {
        let p = packetize(&jpeg, mtu).unwrap();
        let mut payloads: Vec<Vec<u8>> = p.payloads().map(<[u8]>::to_vec).collect();
        for (packet, at, value) in flips {
            let payload = &mut payloads[packet.index(p.packet_count())];
            let at = at.min(payload.len() - 1);
            payload[at] = value;
        }
        if let Some((packet, len)) = cut {
            let payload = &mut payloads[packet.index(p.packet_count())];
            payload.truncate(len);
        }
        let mut d = Depacketizer::new();
        for (i, payload) in payloads.iter().enumerate() {
            if let Ok(Some(out)) = d.push(i as u16, 0, p.marker(i), payload) {
                prop_assert!(out.starts_with(&SOI));
                prop_assert!(out.ends_with(&EOI));
            }
        }
    }
}
