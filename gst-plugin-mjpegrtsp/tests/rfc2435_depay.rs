//! The RFC 2435 depacketizer against real peers: RTP packets from GStreamer's
//! `rtpjpegpay` (what gst-rtsp-server sends) and from our own packetizer, for
//! JPEGs from `jpegenc` and (with restart markers) ffmpeg's mjpeg encoder,
//! go through `Depacketizer`; `jpegdec` must decode every rebuilt JPEG to the
//! same pixels as the original. Frames sent with a Q factor instead of tables
//! must decode too, to the pixels the factor implies.

mod jpeg_rtp;

use jpeg_rtp::{
    FfmpegJpegs, RESTART_MARKER_ARGS, TS_STEP, decode_jpegs, decode_rtp, dri, has_rst_markers,
    init, jpegenc, rtpjpegpay, segment_body,
};
use mjpegrtsp::container::jpeg::{self, marker};
use mjpegrtsp::rtp::RtpHeader;
use mjpegrtsp::rtp::rfc2435::{PAYLOAD_TYPE, QUANT_HEADER_LEN, packetize};
use mjpegrtsp::rtp::rfc2435_depay::{Depacketizer, DepayStats};

/// The RTP packets our packetizer makes of the JPEGs, with sequence numbers
/// across the 16-bit wrap and a 90 kHz timestamp per frame.
fn packetize_all(jpegs: &[Vec<u8>], mtu: usize) -> Vec<Vec<u8>> {
    let mut seq = 65_533u16;
    let mut packets = Vec::new();
    for (n, jpeg) in jpegs.iter().enumerate() {
        let p = packetize(jpeg, mtu).unwrap_or_else(|e| panic!("packetize: {e}"));
        let first = RtpHeader {
            marker: false,
            payload_type: PAYLOAD_TYPE,
            sequence_number: seq,
            timestamp: 77 + n as u32 * TS_STEP,
            ssrc: 0xDE9A_0001,
        };
        let mut datagrams = Vec::new();
        seq = p.write_packets(first, &mut datagrams).unwrap();
        packets.extend(datagrams.chunks(p.gso_segment_size()).map(<[u8]>::to_vec));
    }
    packets
}

/// Feeds RTP packets (12-byte header and payload) into a depacketizer.
fn depay(packets: &[Vec<u8>]) -> (Vec<Vec<u8>>, DepayStats) {
    let mut d = Depacketizer::new();
    let mut jpegs = Vec::new();
    for (i, data) in packets.iter().enumerate() {
        let packet = mjpegrtsp::rtp::parse(data).unwrap_or_else(|e| panic!("packet {i}: {e}"));
        let h = packet.header;
        let out = d
            .push(h.sequence_number, h.timestamp, h.marker, packet.payload)
            .unwrap_or_else(|e| panic!("packet {i}: {e}"));
        jpegs.extend(out);
    }
    (jpegs, d.stats())
}

fn no_losses(frames: usize) -> DepayStats {
    DepayStats {
        frames: frames as u64,
        frames_incomplete: 0,
        packets_invalid: 0,
    }
}

/// The body of a JPEG's SOF0 segment: precision, height, width, components.
/// Panics if there is no SOF0.
fn sof0(jpeg: &[u8]) -> &[u8] {
    segment_body(jpeg, marker::SOF0).expect("an SOF0 segment")
}

/// Checks that the rebuilt JPEGs decode to the pixels of the originals.
fn assert_same_pictures(label: &str, originals: &[Vec<u8>], rebuilt: &[Vec<u8>], w: u32, h: u32) {
    assert_eq!(rebuilt.len(), originals.len(), "{label}: every frame");
    let expected = decode_jpegs(originals, w, h);
    let got = decode_jpegs(rebuilt, w, h);
    assert_eq!(
        expected.len(),
        originals.len(),
        "{label}: jpegdec decodes all"
    );
    for (n, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!((g.width, g.height), (w, h), "{label}: frame {n}");
        assert_eq!(g, e, "{label}: frame {n} differs after depacketizing");
    }
}

#[test]
fn rtpjpegpay_i420_decodes_identically() {
    init();
    for (pattern, width, height, quality, mtu) in [
        ("smpte", 320, 240, 85, 1400),
        ("ball", 176, 144, 50, 576),
        ("snow", 640, 480, 100, 9000),
        ("pinwheel", 64, 48, 10, 200),
        ("snow", 200, 120, 30, 1000),
        ("smpte", 1920, 1080, 90, 1400),
    ] {
        let label = format!("{pattern} {width}x{height} q{quality} mtu {mtu}");
        let jpegs = jpegenc(pattern, "I420", width, height, quality, 3);
        let packets = rtpjpegpay(&jpegs, width, height, mtu);
        let (rebuilt, stats) = depay(&packets);
        assert_eq!(stats, no_losses(3), "{label}");
        for jpeg in &rebuilt {
            let [h1, h0] = (height as u16).to_be_bytes();
            let [w1, w0] = (width as u16).to_be_bytes();
            assert_eq!(sof0(jpeg)[1..6], [h1, h0, w1, w0, 3], "{label}");
            assert_eq!(sof0(jpeg)[7], 0x22, "{label}: 4:2:0");
        }
        assert_same_pictures(&label, &jpegs, &rebuilt, width, height);
        println!("{label}: {} packets", packets.len());
    }
}

#[test]
fn rtpjpegpay_y42b_is_4_2_2_and_decodes_identically() {
    init();
    for (pattern, width, height, quality, mtu) in
        [("smpte", 320, 240, 85, 1400), ("snow", 352, 288, 30, 700)]
    {
        let label = format!("Y42B {pattern} {width}x{height} q{quality} mtu {mtu}");
        let jpegs = jpegenc(pattern, "Y42B", width, height, quality, 3);
        let packets = rtpjpegpay(&jpegs, width, height, mtu);
        // Type 0 in every packet.
        assert!(packets.iter().all(|p| p[12 + 4] == 0), "{label}");
        let (rebuilt, stats) = depay(&packets);
        assert_eq!(stats, no_losses(3), "{label}");
        assert!(rebuilt.iter().all(|j| sof0(j)[7] == 0x21), "{label}: 4:2:2");
        assert_same_pictures(&label, &jpegs, &rebuilt, width, height);
    }
}

#[test]
fn our_packetizer_round_trips_identically() {
    init();
    for (format, width, height, quality, mtu) in [
        ("I420", 320, 240, 85, 1400),
        ("Y42B", 320, 240, 60, 300),
        ("I420", 2040, 2040, 60, 1500),
    ] {
        let label = format!("ours {format} {width}x{height} q{quality} mtu {mtu}");
        let jpegs = jpegenc("smpte", format, width, height, quality, 2);
        let (rebuilt, stats) = depay(&packetize_all(&jpegs, mtu));
        assert_eq!(stats, no_losses(2), "{label}");
        assert_same_pictures(&label, &jpegs, &rebuilt, width, height);
    }
}

#[test]
fn lost_packets_drop_only_their_frames() {
    init();
    let jpegs = jpegenc("snow", "I420", 320, 240, 85, 4);
    let packets = rtpjpegpay(&jpegs, 320, 240, 576);
    // Frame boundaries: a marker ends each frame.
    let ends: Vec<usize> = (0..packets.len())
        .filter(|&i| packets[i][1] & 0x80 != 0)
        .collect();
    assert_eq!(ends.len(), 4);
    assert!(ends[1] - ends[0] > 3, "frame 1 has several packets");
    // Frame 1 loses a middle packet, frame 2 its marker packet.
    let lost = [ends[0] + 2, ends[2]];
    let kept: Vec<Vec<u8>> = (0..packets.len())
        .filter(|i| !lost.contains(i))
        .map(|i| packets[i].clone())
        .collect();
    let (rebuilt, stats) = depay(&kept);
    assert_eq!(
        stats,
        DepayStats {
            frames: 2,
            frames_incomplete: 2,
            packets_invalid: 0
        }
    );
    let survivors = [jpegs[0].clone(), jpegs[3].clone()];
    assert_same_pictures("losses", &survivors, &rebuilt, 320, 240);
}

/// Replaces Q=255 and the in-band tables of our payloads with `q`: what a
/// sender using the RFC's Q factors sends.
fn with_q_factor(packets: &[Vec<u8>], q: u8) -> Vec<Vec<u8>> {
    packets
        .iter()
        .map(|packet| {
            let mut p = packet.clone();
            assert_eq!(p[12 + 5], 255);
            p[12 + 5] = q;
            let offset = &p[12 + 1..12 + 4];
            let has_restart = p[12 + 4] >= 64;
            if offset == [0, 0, 0] {
                let tables = 12 + 8 + if has_restart { 4 } else { 0 };
                p.drain(tables..tables + QUANT_HEADER_LEN);
            }
            p
        })
        .collect()
}

/// jpegenc scales the standard tables by quality exactly as RFC 2435 does by
/// Q, so its frames sent with Q=quality and no tables decode identically, by
/// our depacketizer and by `rtpjpegdepay`.
#[test]
fn q_factor_frames_decode_like_the_jpegenc_quality() {
    init();
    for (format, quality) in [
        ("I420", 10),
        ("I420", 25),
        ("I420", 50),
        ("Y42B", 75),
        ("I420", 95),
    ] {
        let label = format!("{format} Q={quality}");
        let jpegs = jpegenc("smpte", format, 320, 240, quality, 2);
        let packets = with_q_factor(&packetize_all(&jpegs, 1000), quality as u8);
        let (rebuilt, stats) = depay(&packets);
        assert_eq!(stats, no_losses(2), "{label}");
        assert_same_pictures(&label, &jpegs, &rebuilt, 320, 240);
        // GStreamer's depayloader derives the same tables.
        let theirs = decode_rtp(
            packets
                .into_iter()
                .map(|p| (p, gst::ClockTime::ZERO))
                .collect(),
        );
        assert_eq!(theirs, decode_jpegs(&rebuilt, 320, 240), "{label}");
    }
}

/// Entropy-coded data written bit by bit, from Huffman codes of the standard
/// tables (T.81 Annex K.3) given as strings of 0 and 1.
#[derive(Default)]
struct Bits {
    bits: String,
}

impl Bits {
    fn put(&mut self, code: &str) -> &mut Self {
        self.bits.push_str(code);
        self
    }

    /// The bytes: padded with 1 bits, FF stuffed with 00.
    fn finish(&mut self) -> Vec<u8> {
        while !self.bits.len().is_multiple_of(8) {
            self.bits.push('1');
        }
        let mut out = Vec::new();
        for chunk in self.bits.as_bytes().chunks(8) {
            let byte = u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap();
            out.push(byte);
            if byte == 0xFF {
                out.push(0);
            }
        }
        out
    }
}

/// Luma DC "difference 0" and "difference +1" (category 1, extra bit 1), luma
/// AC end-of-block, and the same for chroma.
const Y_DC_0: &str = "00";
const Y_DC_PLUS_1: &str = "0101";
const Y_EOB: &str = "1010";
const C_DC_0: &str = "00";
const C_EOB: &str = "00";

/// A frame made by hand, sent with a Q factor and no tables: one MCU whose
/// luma blocks have a DC coefficient of 1 (the first block says +1, the
/// others repeat it) and nothing else. `jpegdec` decodes it to a flat
/// picture of luma 128 + Q0/8 (Q0 = the DC quantizer the factor implies)
/// and chroma 128.
#[test]
fn hand_made_q_factor_frames_decode() {
    init();
    // (type, width, height, luma blocks per MCU, Q, luma DC quantizer)
    for (rtp_type, width, height, blocks, q, q0) in [
        (1u8, 16u32, 16u32, 4, 50u8, 16u32),
        (1, 16, 16, 4, 25, 32),
        (0, 16, 8, 2, 50, 16),
        (0, 16, 8, 2, 10, 80),
    ] {
        let mut bits = Bits::default();
        bits.put(Y_DC_PLUS_1).put(Y_EOB);
        for _ in 1..blocks {
            bits.put(Y_DC_0).put(Y_EOB);
        }
        bits.put(C_DC_0).put(C_EOB).put(C_DC_0).put(C_EOB);
        let scan = bits.finish();
        let mut payload = vec![0, 0, 0, 0, rtp_type, q, width as u8 / 8, height as u8 / 8];
        payload.extend_from_slice(&scan);

        let mut d = Depacketizer::new();
        let jpeg = d
            .push(1, 0, true, &payload)
            .expect("a valid payload")
            .expect("a whole frame");
        assert!(jpeg.ends_with(&jpeg::EOI), "EOI added");
        let pictures = decode_jpegs(&[jpeg], width, height);
        assert_eq!(pictures.len(), 1);
        let p = &pictures[0];
        let luma = (width * height) as usize;
        let y = (128 + q0 / 8) as u8;
        println!("type {rtp_type} Q={q}: {:?}, luma {}", p, p.pixels[0]);
        // jpegdec may output 4:2:2 as I420: any layout, as long as the
        // planes after luma are all chroma.
        assert_eq!((p.width, p.height), (width, height));
        assert!(p.pixels.len() > luma);
        assert!(
            p.pixels[..luma].iter().all(|&v| v == y),
            "type {rtp_type} Q={q}: luma {y}"
        );
        assert!(
            p.pixels[luma..].iter().all(|&v| v == 128),
            "type {rtp_type} Q={q}: chroma"
        );
    }
}

#[test]
fn restart_markers_from_ffmpeg_decode_identically() {
    init();
    let Some(ffmpeg) = FfmpegJpegs::new("the restart-marker cases") else {
        return;
    };
    let jpegs = ffmpeg.encode("yuvj420p", &RESTART_MARKER_ARGS, 3);
    let interval = dri(&jpegs[0]).expect("ffmpeg wrote a DRI segment");
    assert!(interval > 0 && has_rst_markers(&jpegs[0]));
    for mtu in [300, 1400] {
        for (sender, packets) in [
            ("ours", packetize_all(&jpegs, mtu)),
            ("rtpjpegpay", rtpjpegpay(&jpegs, 320, 240, mtu)),
        ] {
            let label = format!("ffmpeg with restart markers, {sender} mtu {mtu}");
            // Type 65 with the restart marker header.
            assert!(packets.iter().all(|p| p[12 + 4] == 65), "{label}");
            let (rebuilt, stats) = depay(&packets);
            assert_eq!(stats, no_losses(3), "{label}");
            for jpeg in &rebuilt {
                assert_eq!(dri(jpeg), Some(interval), "{label}");
                assert!(has_rst_markers(jpeg), "{label}");
            }
            assert_same_pictures(&label, &jpegs, &rebuilt, 320, 240);
        }
    }
}
