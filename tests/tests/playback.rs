//! `lengthmjpegsrc` and `filesrc ! lengthmjpegdemux` against the same files:
//! timestamps, queries, seeking, looping, and every kind of damaged input.

use gst::prelude::*;
use mjpegrtsp::container::is_whole_jpeg;
use mjpegrtsp_tests::*;

const SECOND: gst::ClockTime = gst::ClockTime::SECOND;

/// The two ways of reading a file: the source element, and the demuxer
/// behind `filesrc` (pull mode, the way playbin uses it).
fn readers(path: &std::path::Path, extra: &str) -> [String; 2] {
    let p = path.display();
    [
        format!("lengthmjpegsrc location=\"{p}\" {extra} ! appsink name=sink"),
        format!("filesrc location=\"{p}\" ! lengthmjpegdemux {extra} ! appsink name=sink"),
    ]
}

fn frame_ns(n: u64, num: u64, den: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(n * den * 1_000_000_000 / num)
}

#[test]
fn plays_every_frame_with_timestamps() {
    let frames = synthetic_frames(50);
    let file = write_temp(&container(&frames));
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}: {out:?}");
        assert!(out.warnings.is_empty(), "{launch}: {:?}", out.warnings);
        assert_eq!(out.frames.len(), 50, "{launch}");
        for (n, (got, want)) in out.frames.iter().zip(&frames).enumerate() {
            assert_eq!(&got.data, want, "{launch}: frame {n}");
            assert_eq!(got.pts, Some(frame_ns(n as u64, 24, 1)), "{launch}");
            assert_eq!(
                got.duration,
                Some(frame_ns(n as u64 + 1, 24, 1) - frame_ns(n as u64, 24, 1)),
                "{launch}"
            );
            assert_eq!(got.offset, n as u64);
        }
        assert!(out.frames[0].discont);
        let caps = out.caps.unwrap();
        let s = caps.structure(0).unwrap();
        assert_eq!(s.name(), "image/jpeg");
        assert_eq!(s.get::<i32>("width").unwrap(), 320);
        assert_eq!(s.get::<i32>("height").unwrap(), 240);
        assert_eq!(
            s.get::<gst::Fraction>("framerate").unwrap(),
            gst::Fraction::new(24, 1)
        );
    }
}

#[test]
fn frame_rate_property_sets_timing() {
    let file = write_temp(&container(&synthetic_frames(10)));
    for launch in readers(file.path(), "frame-rate=30000/1001") {
        let out = run(&launch, |_| {});
        assert_eq!(out.frames.len(), 10, "{launch}");
        assert_eq!(out.frames[7].pts, Some(frame_ns(7, 30000, 1001)));
        let s = out.caps.as_ref().unwrap().structure(0).unwrap().to_owned();
        assert_eq!(
            s.get::<gst::Fraction>("framerate").unwrap(),
            gst::Fraction::new(30000, 1001)
        );
    }
}

#[test]
fn answers_duration_position_and_convert_queries() {
    let file = write_temp(&container(&synthetic_frames(48)));
    for launch in readers(file.path(), "") {
        let mut answers = None;
        run(&launch, |p| {
            let dur_t = p.query_duration::<gst::ClockTime>();
            let dur_f = p.query_duration::<gst::format::Default>();
            let conv = p
                .by_name("sink")
                .unwrap()
                .static_pad("sink")
                .unwrap()
                .peer()
                .unwrap()
                .query_convert_generic(gst::ClockTime::from_mseconds(1_500), gst::Format::Default);
            seek(p, 1.0, gst::ClockTime::from_mseconds(1_000), None);
            let pos_f = p
                .by_name("sink")
                .unwrap()
                .static_pad("sink")
                .unwrap()
                .peer()
                .unwrap()
                .query_position::<gst::format::Default>();
            answers = Some((dur_t, dur_f, conv, pos_f));
        });
        let (dur_t, dur_f, conv, pos_f) = answers.expect("prerolled");
        assert_eq!(dur_t, Some(2 * SECOND), "{launch}");
        assert_eq!(dur_f, Some(gst::format::Default::from_u64(48)), "{launch}");
        assert_eq!(
            conv,
            Some(gst::format::Default::from_u64(36).into()),
            "{launch}"
        );
        // After prerolling frame 24 the element has moved on by one frame.
        let pos = *pos_f.expect("position in frames");
        assert!((24..=25).contains(&pos), "{launch}: {pos}");
    }
}

#[test]
fn seeks_land_on_the_exact_frame() {
    let frames = synthetic_frames(240);
    let file = write_temp(&container(&frames));
    for launch in readers(file.path(), "") {
        // 5.03 s is inside frame 120 (5.000–5.041 s).
        let out = run(&launch, |p| {
            seek(p, 1.0, gst::ClockTime::from_mseconds(5_030), None)
        });
        assert!(out.eos, "{launch}");
        assert_eq!(out.frames.len(), 120, "{launch}");
        assert_eq!(out.frames[0].offset, 120);
        assert_eq!(out.frames[0].pts, Some(5 * SECOND));
        assert_eq!(out.frames[0].data, frames[120]);
        assert!(out.frames[0].discont);

        // A segment with a stop ends there.
        let out = run(&launch, |p| seek(p, 1.0, 2 * SECOND, Some(3 * SECOND)));
        assert!(out.eos);
        assert_eq!(out.frames.len(), 24, "{launch}");
        assert_eq!(out.frames.first().unwrap().offset, 48);
        assert_eq!(out.frames.last().unwrap().offset, 71);

        // Past the end: EOS with nothing.
        let out = run(&launch, |p| seek(p, 1.0, 20 * SECOND, None));
        assert!(
            out.eos && out.frames.is_empty(),
            "{launch}: {}",
            out.frames.len()
        );
    }
}

#[test]
fn plays_in_reverse() {
    let frames = synthetic_frames(48);
    let file = write_temp(&container(&frames));
    for launch in readers(file.path(), "") {
        let out = run(&launch, |p| {
            seek(p, -1.0, gst::ClockTime::ZERO, Some(SECOND))
        });
        assert!(out.eos, "{launch}: {:?}", out.error);
        let offsets: Vec<u64> = out.frames.iter().map(|f| f.offset).collect();
        assert_eq!(offsets, (0..24).rev().collect::<Vec<_>>(), "{launch}");
    }
}

#[test]
fn loops_with_increasing_timestamps() {
    let frames = synthetic_frames(10);
    let file = write_temp(&container(&frames));
    let launch = format!(
        "lengthmjpegsrc location=\"{}\" loop=true num-buffers=35 ! appsink name=sink",
        file.path().display()
    );
    let mut duration = Some(SECOND);
    let out = run(&launch, |p| duration = p.query_duration::<gst::ClockTime>());
    assert_eq!(duration, None, "a looping source has no duration");
    assert_eq!(out.frames.len(), 35);
    for (n, f) in out.frames.iter().enumerate() {
        assert_eq!(f.data, frames[n % 10]);
        assert_eq!(f.pts, Some(frame_ns(n as u64, 24, 1)));
    }
}

#[test]
fn sample_movie_plays_whole() {
    let movie = sample_movie();
    for launch in readers(movie, "") {
        let out = run(&launch, |_| {});
        assert!(
            out.eos && out.warnings.is_empty(),
            "{launch}: {:?}",
            out.warnings
        );
        assert_eq!(out.frames.len(), 240);
        assert!(out.frames.iter().all(|f| is_whole_jpeg(&f.data)));
        let s = out.caps.unwrap().structure(0).unwrap().to_owned();
        assert_eq!(
            (
                s.get::<i32>("width").unwrap(),
                s.get::<i32>("height").unwrap()
            ),
            (640, 480)
        );
        assert_eq!(out.frames[239].pts, Some(frame_ns(239, 24, 1)));
    }
}

// ---- bad input ----

#[test]
fn missing_file_is_an_error_naming_the_path() {
    let out = run(
        "lengthmjpegsrc location=/nonexistent/dir/clip.Mjpeg ! appsink name=sink",
        |_| {},
    );
    let err = out.error.expect("error");
    assert!(err.contains("/nonexistent/dir/clip.Mjpeg"), "{err}");
    assert!(out.frames.is_empty());
}

#[test]
fn empty_file_is_a_clean_error() {
    let file = write_temp(b"");
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        let err = out.error.expect("error");
        assert!(err.to_lowercase().contains("empty"), "{launch}: {err}");
        assert!(out.frames.is_empty());
    }
}

#[test]
fn garbage_only_file_is_an_error() {
    let file = write_temp(b"this is not a movie at all, just some text\n");
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.error.is_some(), "{launch}");
        assert!(out.frames.is_empty());
    }
}

#[test]
fn bad_length_prefix_skips_to_next_frame_with_offset_warning() {
    let frames = synthetic_frames(6);
    let mut bytes = container(&frames[..3]);
    let bad_at = bytes.len();
    // A prefix with a letter in it, then junk, then the rest of the frames.
    bytes.extend_from_slice(b"1x528\x00\x01junk");
    bytes.extend_from_slice(&container(&frames[3..]));
    let file = write_temp(&bytes);
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}: {:?}", out.error);
        let got: Vec<_> = out.frames.iter().map(|f| f.data.clone()).collect();
        assert_eq!(got, frames, "{launch}");
        assert_eq!(out.warnings.len(), 1, "{launch}: {:?}", out.warnings);
        assert!(
            out.warnings[0].contains(&format!("byte offset {bad_at}")),
            "{}",
            out.warnings[0]
        );
    }
}

#[test]
fn truncated_last_frame_ends_after_last_whole_frame() {
    let frames = synthetic_frames(5);
    let mut bytes = container(&frames);
    bytes.truncate(bytes.len() - 10);
    let file = write_temp(&bytes);
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}");
        assert_eq!(out.frames.len(), 4, "{launch}");
        assert!(out.frames.iter().all(|f| is_whole_jpeg(&f.data)));
        assert!(
            out.warnings.iter().any(|w| w.contains("truncated")),
            "{:?}",
            out.warnings
        );
    }
    // A length that points far past the end of the file.
    let mut bytes = container(&frames[..2]);
    bytes.extend_from_slice(b"99999\xFF\xD8\xFF\xC0");
    let file = write_temp(&bytes);
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}");
        assert_eq!(out.frames.len(), 2);
        assert!(
            out.warnings.iter().any(|w| w.contains("99999")),
            "{:?}",
            out.warnings
        );
    }
}

#[test]
fn non_jpeg_payload_is_skipped_with_warning() {
    let mut frames = synthetic_frames(4);
    frames[1][0] = 0x00; // no SOI
    let last = frames[2].len() - 1;
    frames[2][last] = 0x00; // no EOI
    let file = write_temp(&container(&frames));
    for launch in readers(file.path(), "") {
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}: {:?}", out.error);
        let offsets: Vec<u64> = out.frames.iter().map(|f| f.offset).collect();
        // Frame 1 is left out of the index; frame 2 (index 1) fails its read.
        assert_eq!(out.frames.len(), 2, "{launch}: {offsets:?}");
        assert_eq!(out.frames[0].data, frames[0]);
        assert_eq!(out.frames[1].data, frames[3]);
        assert!(
            out.frames[1].discont,
            "a skipped frame marks a discontinuity"
        );
        assert_eq!(out.warnings.len(), 2, "{launch}: {:?}", out.warnings);
        assert!(
            out.warnings.iter().all(|w| w.contains("not a whole JPEG")),
            "{:?}",
            out.warnings
        );
    }
}

#[test]
fn push_mode_demux_handles_any_chunking_and_damage() {
    let frames = synthetic_frames(20);
    let mut bytes = container(&frames[..10]);
    bytes.extend_from_slice(b"garbage!");
    bytes.extend_from_slice(&container(&frames[10..]));
    bytes.extend_from_slice(b"00400\xFF\xD8"); // truncated tail
    let file = write_temp(&bytes);
    for blocksize in [1usize, 7, 4096] {
        // fdsrc-like push scheduling: a queue in between forces push mode.
        let launch = format!(
            "filesrc location=\"{}\" blocksize={blocksize} ! queue ! lengthmjpegdemux ! appsink name=sink",
            file.path().display()
        );
        let out = run(&launch, |_| {});
        assert!(out.eos, "{launch}: {:?}", out.error);
        let got: Vec<_> = out.frames.iter().map(|f| f.data.clone()).collect();
        assert_eq!(got, frames, "blocksize {blocksize}");
        assert_eq!(out.frames[19].pts, Some(frame_ns(19, 24, 1)));
        assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    }
}
