use super::*;
use crate::container::jpeg::tables::{STD_CHROMA_AC, STD_CHROMA_DC, STD_LUMA_AC, STD_LUMA_DC};
use crate::container::jpeg::{SOI, marker, stuffed, write_segment};
use proptest::prelude::*;

/// A JPEG's headers, built segment by segment.
struct Builder {
    sof_marker: u8,
    jfif: bool,
    /// The transform byte of an Adobe APP14 segment.
    adobe: Option<u8>,
    precision: u8,
    width: u16,
    height: u16,
    /// (id, sampling, quant table) per component.
    comps: Vec<(u8, u8, u8)>,
    /// (precision/id byte, fill value) per quantization table.
    dqt: Vec<(u8, u8)>,
    dri: Option<u16>,
    /// Class/id byte and table body per Huffman table.
    dht: Vec<(u8, Vec<u8>)>,
    /// Table selectors of the scan, per component.
    sos_tables: Vec<u8>,
    spectral: [u8; 3],
}

impl Builder {
    fn new(y_sampling: u8) -> Self {
        Builder {
            sof_marker: 0xC0,
            jfif: true,
            adobe: None,
            precision: 8,
            width: 320,
            height: 240,
            comps: vec![(1, y_sampling, 0), (2, 0x11, 1), (3, 0x11, 1)],
            dqt: vec![(0x00, 10), (0x01, 20)],
            dri: None,
            dht: [STD_LUMA_DC, STD_LUMA_AC, STD_CHROMA_DC, STD_CHROMA_AC]
                .iter()
                .map(|t| (t.class_id, [&t.counts[..], t.symbols].concat()))
                .collect(),
            sos_tables: vec![0x00, 0x11, 0x11],
            spectral: [0, 63, 0],
        }
    }

    fn build(&self, scan: &[u8]) -> Vec<u8> {
        let mut v = SOI.to_vec();
        let mut segment = |marker: u8, body: &[u8]| write_segment(&mut v, marker, &[body]);
        if self.jfif {
            segment(marker::APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        }
        if let Some(transform) = self.adobe {
            segment(
                marker::APP14,
                &[b"Adobe\0\x64\0\0\0\0".as_slice(), &[transform]].concat(),
            );
        }
        for &(pq_tq, fill) in &self.dqt {
            let mut body = vec![pq_tq];
            let n = if pq_tq >> 4 == 0 { 64 } else { 128 };
            body.extend((0..n).map(|k| fill.wrapping_add(k as u8)));
            segment(marker::DQT, &body);
        }
        let mut sof = vec![self.precision];
        sof.extend_from_slice(&self.height.to_be_bytes());
        sof.extend_from_slice(&self.width.to_be_bytes());
        sof.push(self.comps.len() as u8);
        for &(id, s, q) in &self.comps {
            sof.extend_from_slice(&[id, s, q]);
        }
        segment(self.sof_marker, &sof);
        if let Some(ri) = self.dri {
            segment(marker::DRI, &ri.to_be_bytes());
        }
        for (tc_th, table) in &self.dht {
            let mut body = vec![*tc_th];
            body.extend_from_slice(table);
            segment(marker::DHT, &body);
        }
        let mut sos = vec![self.comps.len() as u8];
        for (&(id, _, _), &t) in self.comps.iter().zip(&self.sos_tables) {
            sos.extend_from_slice(&[id, t]);
        }
        sos.extend_from_slice(&self.spectral);
        segment(marker::SOS, &sos);
        v.extend_from_slice(scan);
        v.extend_from_slice(&EOI);
        v
    }
}

/// What a receiver reads from one payload.
#[derive(Debug)]
struct Parts<'a> {
    offset: usize,
    rtp_type: u8,
    q: u8,
    width: u16,
    height: u16,
    restart: Option<[u8; 4]>,
    tables: Option<&'a [u8]>,
    data: &'a [u8],
}

fn parts(p: &[u8]) -> Parts<'_> {
    let offset = usize::from(p[1]) << 16 | usize::from(p[2]) << 8 | usize::from(p[3]);
    let rtp_type = p[4];
    let mut rest = &p[8..];
    let restart = (rtp_type >= 64).then(|| {
        let r = [rest[0], rest[1], rest[2], rest[3]];
        rest = &rest[4..];
        r
    });
    let tables = (offset == 0).then(|| {
        assert_eq!(&rest[..2], &[0, 0], "MBZ and precision");
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let t = &rest[4..4 + len];
        rest = &rest[4 + len..];
        t
    });
    Parts {
        offset,
        rtp_type,
        q: p[5],
        width: u16::from(p[6]) * 8,
        height: u16::from(p[7]) * 8,
        restart,
        tables,
        data: rest,
    }
}

fn scan(len: usize) -> Vec<u8> {
    stuffed(&(0..len).map(|i| (i * 7 + i / 13) as u8).collect::<Vec<_>>())
}

/// Checks every packet against the frame and returns the scan data
/// (checking that EOI follows it).
fn check_packets(p: &Packetized, mtu: usize, info: FrameInfo, tables: &[u8]) -> Vec<u8> {
    let count = p.packet_count();
    assert!(count >= 1);
    assert_eq!(p.payloads().len(), count);
    let mut scan = Vec::new();
    for (i, payload) in p.payloads().enumerate() {
        assert!(payload.len() <= mtu - HEADER_LEN, "packet {i} too long");
        assert_eq!(Some(payload), p.payload(i));
        if i + 1 < count {
            assert_eq!(payload.len(), mtu - HEADER_LEN, "packet {i} not full");
            assert_eq!(payload.len(), p.segment_len());
        } else {
            assert_eq!(payload.len(), p.last_len());
        }
        assert_eq!(p.marker(i), i + 1 == count);
        let parts = parts(payload);
        assert_eq!(parts.offset, scan.len(), "offsets are contiguous");
        assert_eq!(parts.rtp_type, info.rtp_type());
        assert_eq!(parts.q, 255);
        assert_eq!((parts.width, parts.height), (info.width, info.height));
        if info.restart_interval > 0 {
            let [r1, r0] = info.restart_interval.to_be_bytes();
            assert_eq!(parts.restart, Some([r1, r0, 0xFF, 0xFF]));
        } else {
            assert_eq!(parts.restart, None);
        }
        assert_eq!(parts.tables.is_some(), i == 0);
        if let Some(t) = parts.tables {
            assert_eq!(t, tables);
        }
        assert!(!parts.data.is_empty());
        scan.extend_from_slice(parts.data);
    }
    assert_eq!(p.payload(count), None);
    assert_eq!(scan.len(), p.data_len());
    assert!(scan.ends_with(&EOI), "EOI ends the data");
    scan.truncate(scan.len() - 2);
    scan
}

/// The two tables `Builder` writes for table numbers 0 and 1.
fn builder_tables() -> Vec<u8> {
    let mut t: Vec<u8> = (0..64).map(|k| 10 + k as u8).collect();
    t.extend((0..64).map(|k| 20 + k as u8));
    t
}

fn info(subsampling: Subsampling, restart_interval: u16) -> FrameInfo {
    FrameInfo {
        subsampling,
        width: 320,
        height: 240,
        restart_interval,
    }
}

#[test]
fn type_0_is_4_2_2() {
    let s = scan(3000);
    let jpeg = Builder::new(0x21).build(&s);
    let p = packetize(&jpeg, 1400).unwrap();
    let info = info(Subsampling::Yuv422, 0);
    assert_eq!(p.info(), info);
    assert_eq!(info.rtp_type(), 0);
    assert_eq!(check_packets(&p, 1400, info, &builder_tables()), s);
    assert_eq!(p.packet_count(), 3);
}

#[test]
fn type_1_is_4_2_0() {
    let s = scan(500);
    let jpeg = Builder::new(0x22).build(&s);
    let p = packetize(&jpeg, 1500).unwrap();
    let info = info(Subsampling::Yuv420, 0);
    assert_eq!(p.info().rtp_type(), 1);
    assert_eq!(check_packets(&p, 1500, info, &builder_tables()), s);
    assert_eq!(p.packet_count(), 1);
    assert_eq!(p.segment_len(), p.last_len());
    assert_eq!(p.gso_segment_size(), HEADER_LEN + p.segment_len());
}

#[test]
fn types_64_and_65_carry_the_restart_interval() {
    // Restart markers FF D0..D7 inside the scan stay in it.
    let mut s = scan(700);
    s.extend_from_slice(&[0xFF, 0xD0]);
    s.extend_from_slice(&scan(900));
    s.extend_from_slice(&[0xFF, 0xD1]);
    s.extend_from_slice(&scan(300));
    for (y, subsampling, rtp_type) in [
        (0x21, Subsampling::Yuv422, 64),
        (0x22, Subsampling::Yuv420, 65),
    ] {
        let mut b = Builder::new(y);
        b.dri = Some(20);
        let p = packetize(&b.build(&s), 576).unwrap();
        let info = info(subsampling, 20);
        assert_eq!(p.info(), info);
        assert_eq!(info.rtp_type(), rtp_type);
        assert_eq!(check_packets(&p, 576, info, &builder_tables()), s);
    }
    // DRI with interval 0 disables restart markers: plain type.
    let mut b = Builder::new(0x22);
    b.dri = Some(0);
    assert_eq!(packetize(&b.build(&s), 576).unwrap().info().rtp_type(), 1);
}

#[test]
fn eoi_is_sent_but_not_fill_bytes_or_junk() {
    let s = scan(100);
    let mut jpeg = Builder::new(0x22).build(&s);
    let eoi = jpeg.len() - 2;
    jpeg.splice(eoi..eoi, [0xFF, 0xFF]); // fill bytes before EOI
    jpeg.extend_from_slice(b"trailing junk");
    let with_eoi = [&s[..], &EOI].concat();
    let p = packetize(&jpeg, 1400).unwrap();
    assert_eq!(parts(p.payload(0).unwrap()).data, &with_eoi[..]);
    // A JPEG cut before its EOI: the scan runs to the end of the data,
    // and EOI is added.
    let cut = Builder::new(0x22).build(&s);
    let p = packetize(&cut[..cut.len() - 2], 1400).unwrap();
    assert_eq!(parts(p.payload(0).unwrap()).data, &with_eoi[..]);
    // EOI split over two packets: one byte of it in the last.
    let jpeg = Builder::new(0x22).build(&s);
    let mtu = HEADER_LEN + 8 + QUANT_HEADER_LEN + s.len() + 1;
    let p = packetize(&jpeg, mtu).unwrap();
    assert_eq!(p.packet_count(), 2);
    assert_eq!(parts(p.payload(1).unwrap()).data, &[0xD9]);
    assert_eq!(check_packets(&p, mtu, p.info(), &builder_tables()), s);
}

#[test]
fn tables_follow_the_components() {
    // One table for all components (ffmpeg writes that): sent twice.
    let mut b = Builder::new(0x22);
    b.dqt = vec![(0x03, 7)];
    b.comps = vec![(1, 0x22, 3), (2, 0x11, 3), (3, 0x11, 3)];
    let p = packetize(&b.build(&scan(10)), 1400).unwrap();
    let t: Vec<u8> = (0..64).map(|k| 7 + k as u8).collect();
    assert_eq!(
        parts(p.payload(0).unwrap()).tables,
        Some(&[t.clone(), t].concat()[..])
    );
    // Cr on its own table with the same contents as Cb's is fine.
    let mut b = Builder::new(0x22);
    b.dqt = vec![(0x00, 10), (0x01, 20), (0x02, 20)];
    b.comps[2].2 = 2;
    assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
    // Different contents are not.
    b.dqt[2].1 = 21;
    assert_eq!(
        packetize(&b.build(&scan(10)), 1400),
        Err(Unsupported::ChromaQuantTables)
    );
    // A table the frame uses but never defines.
    let mut b = Builder::new(0x22);
    b.dqt.pop();
    assert!(matches!(
        packetize(&b.build(&scan(10)), 1400),
        Err(Unsupported::Malformed { .. })
    ));
}

#[test]
fn huffman_tables_must_be_standard() {
    // No DHT at all: the Motion-JPEG convention, standard tables.
    let mut b = Builder::new(0x22);
    b.dht.clear();
    assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
    // Chroma tables in slots 2/3 are fine if they are the standard ones.
    let mut b = Builder::new(0x22);
    b.dht[2].0 = 0x02;
    b.dht[3].0 = 0x13;
    b.sos_tables = vec![0x00, 0x23, 0x23];
    assert!(packetize(&b.build(&scan(10)), 1400).is_ok());
    // An optimised (here: reordered) AC table for Y.
    let mut b = Builder::new(0x22);
    b.dht[1].1.swap(16, 17);
    assert_eq!(
        packetize(&b.build(&scan(10)), 1400),
        Err(Unsupported::HuffmanTables {
            component: 0,
            class: HuffmanClass::Ac
        })
    );
    // Cb pointing at the luma DC table.
    let mut b = Builder::new(0x22);
    b.sos_tables = vec![0x00, 0x01, 0x11];
    assert_eq!(
        packetize(&b.build(&scan(10)), 1400),
        Err(Unsupported::HuffmanTables {
            component: 1,
            class: HuffmanClass::Dc
        })
    );
}

#[test]
fn rejects_what_rfc_2435_cannot_carry() {
    let s = scan(50);
    let reject = |b: Builder| packetize(&b.build(&s), 1400).unwrap_err();
    for marker in [0xC2, 0xC3, 0xC9, 0xCA] {
        let mut b = Builder::new(0x22);
        b.sof_marker = marker;
        assert_eq!(reject(b), Unsupported::Coding { marker });
    }
    let mut b = Builder::new(0x22);
    b.sof_marker = 0xC1; // extended sequential Huffman is fine
    assert!(packetize(&b.build(&s), 1400).is_ok());

    let mut b = Builder::new(0x22);
    b.comps.truncate(1);
    b.comps[0].1 = 0x11;
    b.sos_tables.truncate(1);
    let grey = reject(b);
    assert_eq!(grey, Unsupported::Components(1));
    assert!(grey.to_string().contains("grayscale"), "{grey}");

    let mut b = Builder::new(0x22);
    b.dqt[1].0 = 0x11;
    assert_eq!(reject(b), Unsupported::QuantPrecision { table: 1 });

    // RGB as libjpeg sees it: JFIF means YCbCr, else Adobe's transform
    // decides, else component ids R, G, B mean RGB.
    for (jfif, adobe, rgb_ids, is_rgb) in [
        (false, Some(0), false, true),
        (false, None, true, true),
        (true, Some(0), true, false),
        (false, Some(1), true, false),
        (false, None, false, false),
    ] {
        let mut b = Builder::new(0x22);
        (b.jfif, b.adobe) = (jfif, adobe);
        if rgb_ids {
            for (c, id) in b.comps.iter_mut().zip(*b"RGB") {
                c.0 = id;
            }
        }
        let result = packetize(&b.build(&s), 1400);
        assert_eq!(
            result == Err(Unsupported::Rgb),
            is_rgb,
            "{jfif} {adobe:?} {rgb_ids}"
        );
        assert_eq!(result.is_ok(), !is_rgb);
    }

    let mut b = Builder::new(0x22);
    b.precision = 12;
    assert_eq!(reject(b), Unsupported::SamplePrecision(12));

    for (w, h) in [(2048, 240), (320, 2048), (322, 240), (320, 0), (0, 240)] {
        let mut b = Builder::new(0x22);
        (b.width, b.height) = (w, h);
        assert_eq!(
            reject(b),
            Unsupported::Dimensions {
                width: w,
                height: h
            }
        );
    }
    let mut b = Builder::new(0x21);
    (b.width, b.height) = (2040, 2040);
    let p = packetize(&b.build(&s), 1400).unwrap();
    assert_eq!(&p.payload(0).unwrap()[6..8], &[255, 255]);

    for (y, cb) in [(0x11, 0x11), (0x12, 0x11), (0x22, 0x21), (0x41, 0x11)] {
        let mut b = Builder::new(y);
        b.comps[1].1 = cb;
        assert_eq!(reject(b), Unsupported::Sampling { y, cb, cr: 0x11 });
    }

    let mut b = Builder::new(0x22);
    b.spectral = [1, 5, 0];
    assert!(matches!(reject(b), Unsupported::ScanLayout { .. }));
}

#[test]
fn rejects_a_second_scan() {
    let mut s = scan(50);
    s.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0]);
    s.extend_from_slice(&scan(50));
    let jpeg = Builder::new(0x22).build(&s);
    assert!(matches!(
        packetize(&jpeg, 1400),
        Err(Unsupported::ScanLayout { .. })
    ));
}

#[test]
fn rejects_malformed_input_without_panicking() {
    let s = scan(50);
    let jpeg = Builder::new(0x22).build(&s);
    let headers = jpeg.len() - s.len() - 2;
    for len in 0..=headers {
        let err = packetize(&jpeg[..len], 1400).unwrap_err();
        assert!(matches!(err, Unsupported::Malformed { .. }), "{len}: {err}");
    }
    assert!(packetize(b"not a jpeg", 1400).is_err());
}

#[test]
fn mtu_must_fit_the_first_packet() {
    let s = scan(5000);
    for (dri, header) in [(None, 8), (Some(4), 12)] {
        let mut b = Builder::new(0x22);
        b.dri = dri;
        let jpeg = b.build(&s);
        let min = 12 + header + 132 + 1;
        assert_eq!(
            packetize(&jpeg, min - 1),
            Err(Unsupported::MtuTooSmall { mtu: min - 1, min })
        );
        let p = packetize(&jpeg, min).unwrap();
        assert_eq!(p.info().min_mtu(), min);
        assert_eq!(parts(p.payload(0).unwrap()).data.len(), 1);
        assert_eq!(check_packets(&p, min, p.info(), &builder_tables()), s);
    }
}

#[test]
fn write_packets_sets_headers() {
    let jpeg = Builder::new(0x22).build(&scan(3000));
    let p = packetize(&jpeg, 1000).unwrap();
    let mut out = vec![0xAA];
    let first = RtpHeader {
        marker: true,
        payload_type: PAYLOAD_TYPE,
        sequence_number: 65535,
        timestamp: 90_000,
        ssrc: 0x1234_5678,
    };
    let next = p.write_packets(first, &mut out).unwrap();
    assert_eq!(p.packet_count(), 4);
    assert_eq!(next, 3);
    assert_eq!(out.len(), 1 + 4 * HEADER_LEN + p.as_bytes().len());
    for (i, datagram) in out[1..].chunks(p.gso_segment_size()).enumerate() {
        let packet = crate::rtp::parse(datagram).unwrap();
        assert_eq!(
            packet.header.sequence_number,
            65535u16.wrapping_add(i as u16)
        );
        assert_eq!(packet.header.marker, i == 3);
        assert_eq!(packet.header.timestamp, 90_000);
        assert_eq!(packet.header.ssrc, 0x1234_5678);
        assert_eq!(packet.payload, p.payload(i).unwrap());
    }
}

#[test]
fn messages_name_the_problem() {
    let text = Unsupported::Coding { marker: 0xC2 }.to_string();
    assert!(text.contains("progressive"), "{text}");
    let text = Unsupported::Sampling {
        y: 0x11,
        cb: 0x11,
        cr: 0x11,
    }
    .to_string();
    assert!(text.contains("Y 1x1"), "{text}");
}

proptest! {
    #[test]
    fn payloads_cover_the_scan(
        mtu in 64usize..=9000,
        raw in proptest::collection::vec(any::<u8>(), 1..20_000),
        dri in proptest::option::of(1u16..100),
        y in prop_oneof![Just(0x21u8), Just(0x22u8)],
    ) {
        let s = stuffed(&raw);
        let mut b = Builder::new(y);
        b.dri = dri;
        let jpeg = b.build(&s);
        let header = if dri.is_some() { 12 } else { 8 };
        let min = HEADER_LEN + header + QUANT_HEADER_LEN + 1;
        match packetize(&jpeg, mtu) {
            Err(e) => {
                prop_assert!(mtu < min, "mtu {mtu}: {e}");
                prop_assert_eq!(e, Unsupported::MtuTooSmall { mtu, min });
            }
            Ok(p) => {
                prop_assert!(mtu >= min);
                let info = p.info();
                let scan = check_packets(&p, mtu, info, &builder_tables());
                prop_assert_eq!(&scan, &s);
                // As few packets as the MTU allows.
                let room = mtu - HEADER_LEN - header;
                let expected = (s.len() + 2 + QUANT_HEADER_LEN).div_ceil(room);
                prop_assert_eq!(p.packet_count(), expected);
            }
        }
    }

    #[test]
    fn never_panics_on_damaged_input(
        cut in 0usize..400,
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..4),
        mtu in 0usize..2000,
    ) {
        let mut jpeg = Builder::new(0x22).build(&scan(100));
        for (at, value) in flips {
            let at = at % jpeg.len();
            jpeg[at] = value;
        }
        jpeg.truncate(cut.min(jpeg.len()));
        let _ = packetize(&jpeg, mtu);
    }
}
