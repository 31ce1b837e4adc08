//! File → lengthmjpegsrc → rtpmjpegpay → rtpmjpegdepay → lengthmjpegmux →
//! file, in both packetisation modes: the output file is byte-identical.

use gst::prelude::*;
use mjpegrtsp_tests::*;
use std::net::UdpSocket;
use std::time::Duration;

/// Runs the chain on `input` and returns the bytes the muxer wrote, plus the
/// payloader's and depayloader's stats.
fn roundtrip(
    input: &std::path::Path,
    mode: &str,
) -> (Vec<u8>, gst::Structure, gst::Structure, Outcome) {
    let launch = format!(
        "lengthmjpegsrc location=\"{}\" ! rtpmjpegpay name=pay mode={mode} ! rtpmjpegdepay name=depay \
         ! lengthmjpegmux ! appsink name=sink",
        input.display()
    );
    let stats = std::sync::Mutex::new(None);
    let out = run(&launch, |p| {
        // Keep the elements to read their stats at the end.
        *stats.lock().unwrap() = Some((p.by_name("pay").unwrap(), p.by_name("depay").unwrap()));
    });
    let (pay, depay) = stats.into_inner().unwrap().expect("prerolled");
    let bytes = out.bytes();
    (
        bytes,
        pay.property::<gst::Structure>("stats"),
        depay.property::<gst::Structure>("stats"),
        out,
    )
}

fn count(s: &gst::Structure, field: &str) -> u64 {
    s.get::<u64>(field)
        .unwrap_or_else(|e| panic!("{field} in {s}: {e}"))
}

#[test]
fn encoded_movie_is_byte_identical_in_both_modes() {
    let input = encoded_movie(48, 320, 240, 90, "ball");
    let file = write_temp(&input);
    for mode in ["whole-frame", "fragmented"] {
        let (output, pay, depay, out) = roundtrip(file.path(), mode);
        assert!(out.eos, "{mode}: {:?}", out.error);
        assert_identical(mode, &input, &output);
        assert_eq!(count(&pay, "frames-sent"), 48, "{mode}: {pay}");
        assert_eq!(count(&depay, "frames-pushed"), 48, "{mode}: {depay}");
        assert_eq!(count(&depay, "frames-incomplete"), 0);
        if mode == "fragmented" {
            assert!(count(&pay, "packets-sent") > 48, "frames were split: {pay}");
        } else {
            assert_eq!(count(&pay, "packets-sent"), 48);
        }
    }
}

#[test]
fn sample_movie_is_byte_identical_in_both_modes() {
    let movie = sample_movie();
    let input = std::fs::read(movie).unwrap();
    for mode in ["whole-frame", "fragmented"] {
        let (output, _, _, out) = roundtrip(movie, mode);
        assert!(out.eos, "{mode}: {:?}", out.error);
        assert_identical(mode, &input, &output);
    }
}

/// Frames from 1 KB up to the container's limit, several over a UDP datagram.
fn big_frames() -> Vec<Vec<u8>> {
    [
        1_000, 65_495, 65_496, 65_508, 70_000, 12_000, 99_999, 80_000, 500,
    ]
    .iter()
    .enumerate()
    .map(|(n, &len)| synthetic_jpeg(1280, 720, n as u32, len))
    .collect()
}

#[test]
fn frames_over_a_datagram_survive_fragmented_mode() {
    let frames = big_frames();
    let input = container(&frames);
    let file = write_temp(&input);
    let (output, pay, depay, out) = roundtrip(file.path(), "fragmented");
    assert!(out.eos, "{:?}", out.error);
    assert!(
        output == input,
        "{} bytes in, {} out",
        input.len(),
        output.len()
    );
    assert_eq!(count(&pay, "frames-dropped-oversize"), 0);
    assert_eq!(count(&depay, "frames-pushed"), frames.len() as u64);
}

#[test]
fn whole_frame_mode_drops_and_counts_frames_over_a_datagram() {
    let frames = big_frames();
    let file = write_temp(&container(&frames));
    let (output, pay, depay, out) = roundtrip(file.path(), "whole-frame");
    assert!(out.eos, "{:?}", out.error);
    // 12 + 65,495 = 65,507: the largest UDP payload. Anything bigger is dropped whole.
    let fits: Vec<Vec<u8>> = frames
        .iter()
        .filter(|f| f.len() <= 65_495)
        .cloned()
        .collect();
    assert_eq!(fits.len(), 4);
    assert!(
        output == container(&fits),
        "only the frames that fit, untouched"
    );
    assert_eq!(count(&pay, "frames-dropped-oversize"), 5, "{pay}");
    assert!(
        out.warnings.iter().any(|w| w.contains("65")),
        "a warning says why: {:?}",
        out.warnings
    );
    // The receiver sees the gaps in the frame numbers, and no partial frame.
    assert_eq!(count(&depay, "frames-pushed"), 4, "{depay}");
}

#[test]
fn writes_a_real_file_through_filesink() {
    let input = encoded_movie(12, 160, 120, 75, "smpte");
    let src = write_temp(&input);
    let dst = tempfile::Builder::new()
        .suffix(".Mjpeg")
        .tempfile()
        .unwrap();
    let launch = format!(
        "lengthmjpegsrc location=\"{}\" ! rtpmjpegpay mode=fragmented mtu=600 ! rtpmjpegdepay ! lengthmjpegmux \
         ! filesink location=\"{}\"",
        src.path().display(),
        dst.path().display()
    );
    init();
    let pipeline = gst::parse::launch(&launch).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    expect_eos(&pipeline, 20);
    assert!(std::fs::read(dst.path()).unwrap() == input);
}

/// A free UDP port on loopback (bound and released; the receiver binds it next).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn over_real_udp_on_loopback_both_modes() {
    let input = encoded_movie(24, 320, 240, 85, "ball");
    let file = write_temp(&input);
    for (mode, clock_rate) in [("whole-frame", 1), ("fragmented", 90_000)] {
        let port = free_udp_port();
        let receiver = format!(
            "udpsrc address=127.0.0.1 port={port} \
             caps=\"application/x-rtp,media=video,encoding-name=X-WHOLE-JPEG,clock-rate={clock_rate}\" \
             ! rtpmjpegdepay ! lengthmjpegmux ! appsink name=sink"
        );
        let sender = format!(
            "lengthmjpegsrc location=\"{}\" ! rtpmjpegpay mode={mode} ! udpsink host=127.0.0.1 port={port} sync=true",
            file.path().display()
        );
        // The sender plays in real time beside the receiver; once it is done
        // and the last packets are in, the receiver is told to end.
        let out = run(&receiver, |rx| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let tx = gst::parse::launch(&sender).unwrap();
                tx.set_state(gst::State::Playing).unwrap();
                expect_eos(&tx, 20);
                std::thread::sleep(Duration::from_millis(300));
                rx.send_event(gst::event::Eos::new());
            });
        });
        assert!(out.eos, "{mode}: {:?}", out.error);
        let output = out.bytes();
        assert_identical(mode, &input, &output);
    }
}

/// The bytes out are the bytes in (a byte-identical round trip in `mode`).
fn assert_identical(mode: &str, input: &[u8], output: &[u8]) {
    assert!(
        output == input,
        "{mode}: {} bytes in, {} out",
        input.len(),
        output.len()
    );
}
