//! The converter (`gstmjpegrtsp::convert`, `server-cli convert`) on real
//! inputs made by ffmpeg: H.264 in mp4, MPEG-4 in mkv, a folder of JPEG
//! files, a raw MJPEG stream, and a `.Mjpeg` file. Every output frame is
//! baseline 4:2:0 JPEG that RFC 2435 carries; the results play to ffprobe
//! and rtspsrc through the server; frames too large are encoded again and
//! never cut; colours survive (full-range JPEG from limited-range video);
//! a stopped conversion leaves nothing behind.

use gstmjpegrtsp::convert::{
    CLASSIC_MAX_FRAME_LEN, ConvertError, ConvertOptions, Input, Report, convert,
};
use mjpegrtsp::container::{Index, jpeg};
use mjpegrtsp_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// ffmpeg's output arguments for H.264 that GStreamer decodes.
const H264: [&str; 4] = ["-c:v", "libx264", "-pix_fmt", "yuv420p"];

/// Runs ffmpeg with `args` (quiet), panicking if it fails.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (apt install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffmpeg's test pattern, `secs` seconds at `size` and `rate`, into `path`
/// with the codec arguments `codec`.
fn pattern(path: &Path, size: &str, rate: u32, secs: u32, codec: &[&str]) {
    let source = format!("testsrc=size={size}:rate={rate}");
    let secs = secs.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &source, "-t", &secs];
    args.extend_from_slice(codec);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

fn run(input: &str, output: &Path, options: &ConvertOptions) -> Result<Report, ConvertError> {
    init();
    convert(
        &Input::of(input)?,
        output,
        options,
        &AtomicBool::new(false),
        |_| {},
    )
}

/// Every frame of the `.Mjpeg` at `path`: checked to be whole, baseline,
/// 4:2:0, `w`×`h`, carried by RFC 2435 and within `max_len`.
fn frames_checked(path: &Path, (w, h): (u16, u16), max_len: usize) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let index = Index::build(&bytes[..]).unwrap();
    assert!(index.anomalies().is_empty(), "{:?}", index.anomalies());
    index
        .frames()
        .iter()
        .map(|e| {
            let data = e.read(&bytes[..]).unwrap();
            let info = jpeg::parse_info(&data).unwrap();
            assert!(info.is_baseline(), "{info:?}");
            assert_eq!(info.sampling, [0x22, 0x11, 0x11], "4:2:0");
            assert_eq!((info.width, info.height), (w, h));
            mjpegrtsp::rtp::rfc2435::carries(&data).expect("RFC 2435 carries it");
            assert!(data.len() <= max_len, "{} bytes", data.len());
            data
        })
        .collect()
}

fn inputs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    pattern(&d.join("in.mp4"), "320x240", 25, 2, &H264);
    pattern(&d.join("in.mkv"), "352x288", 30, 1, &["-c:v", "mpeg4"]);
    // Long enough for ffprobe to probe the result through the server.
    pattern(&d.join("in.avi"), "320x240", 25, 2, &["-c:v", "mpeg4"]);
    pattern(&d.join("in.mov"), "320x240", 25, 2, &H264);
    std::fs::create_dir(d.join("jpegs")).unwrap();
    pattern(&d.join("jpegs/f%03d.jpg"), "160x120", 10, 1, &[]);
    pattern(
        &d.join("raw.mjpeg"),
        "160x120",
        10,
        1,
        &["-c:v", "mjpeg", "-f", "mjpeg"],
    );
    (dir, d)
}

#[test]
fn every_kind_of_input_becomes_baseline_420_frames() {
    let (_dir, d) = inputs();
    let opts = ConvertOptions::default();
    let at = |name: &str| d.join(name).to_str().unwrap().to_owned();

    let r = run(&at("in.mp4"), &d.join("mp4.Mjpeg"), &opts).unwrap();
    assert_eq!(
        (r.frames, r.fps, r.fps_from_source),
        (50, gst::Fraction::new(25, 1), true)
    );
    assert_eq!(
        frames_checked(&d.join("mp4.Mjpeg"), (320, 240), 99_999).len(),
        50
    );

    let r = run(&at("in.mkv"), &d.join("mkv.Mjpeg"), &opts).unwrap();
    assert_eq!(r.frames, 30);
    frames_checked(&d.join("mkv.Mjpeg"), (352, 288), 99_999);
    for container in ["avi", "mov"] {
        let out = d.join(format!("{container}.Mjpeg"));
        let r = run(&at(&format!("in.{container}")), &out, &opts).unwrap();
        assert_eq!(r.frames, 50, "{container}");
        frames_checked(&out, (320, 240), 99_999);
    }

    // No rate of their own: 24 unless asked.
    let r = run(&at("jpegs"), &d.join("folder.Mjpeg"), &opts).unwrap();
    assert_eq!((r.frames, r.fps_from_source), (10, false));
    assert_eq!(r.fps, gst::Fraction::new(24, 1));
    frames_checked(&d.join("folder.Mjpeg"), (160, 120), 99_999);
    let glob = format!("{}/f00*.jpg", d.join("jpegs").display());
    assert_eq!(run(&glob, &d.join("glob.Mjpeg"), &opts).unwrap().frames, 9);

    let r = run(&at("raw.mjpeg"), &d.join("raw.Mjpeg"), &opts).unwrap();
    assert_eq!(r.frames, 10);
    frames_checked(&d.join("raw.Mjpeg"), (160, 120), 99_999);

    // A .Mjpeg in, smaller and re-timed out.
    let smaller = ConvertOptions {
        max_width: Some(200),
        fps: Some(gst::Fraction::new(10, 1)),
        ..ConvertOptions::default()
    };
    // (200×150 made 200×152: RFC 2435 sizes are multiples of 8.)
    let r = run(&at("mp4.Mjpeg"), &d.join("again.Mjpeg"), &smaller).unwrap();
    assert_eq!((r.frames, r.width, r.height), (50, 200, 152));
    frames_checked(&d.join("again.Mjpeg"), (200, 152), 99_999);
    // A video re-timed: 2 s at 10 fps.
    let r = run(&at("in.mp4"), &d.join("ten.Mjpeg"), &smaller).unwrap();
    assert_eq!(r.frames, 20);

    // Every output plays to ffprobe through the server.
    let media = d.join("served");
    std::fs::create_dir(&media).unwrap();
    let outputs = ["mp4", "mkv", "avi", "mov", "folder", "glob", "raw", "again"];
    for name in outputs {
        let file = format!("{name}.Mjpeg");
        std::fs::rename(d.join(&file), media.join(&file)).unwrap();
    }
    // Looping: a second of frames is too short for ffprobe to probe.
    let server = TestServer::start(&media, true);
    for name in outputs {
        let probe = ffprobe(&format!("rtsp://{}/{name}.Mjpeg", server.addr));
        assert!(
            probe.contains("codec_name=mjpeg") && probe.contains("yuvj420p"),
            "{name}: {probe}"
        );
    }

    // Nothing playable: an error, and no output.
    std::fs::write(d.join("junk.mp4"), b"not a video at all").unwrap();
    assert!(run(&at("junk.mp4"), &d.join("junk.Mjpeg"), &opts).is_err());
    assert!(!d.join("junk.Mjpeg").exists());
}

#[test]
fn frames_too_large_are_encoded_again_never_cut() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("busy.mp4");
    pattern(&input, "1280x720", 10, 1, &H264);
    let out = dir.path().join("classic.Mjpeg");
    let classic = ConvertOptions {
        quality: 95,
        max_frame_len: CLASSIC_MAX_FRAME_LEN,
        ..ConvertOptions::default()
    };
    let r = run(input.to_str().unwrap(), &out, &classic).unwrap();
    assert_eq!(r.frames, 10);
    assert_eq!(r.reencoded, 10, "{r:?}");
    assert!(r.lowest_quality < 95);
    frames_checked(&out, (1280, 720), CLASSIC_MAX_FRAME_LEN);

    // Noise does not fit one datagram at any quality: a clear error, and
    // no output.
    let noise = dir.path().join("noise.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=size=640x480:rate=10,geq=random(1)*255:128:128",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        noise.to_str().unwrap(),
    ]);
    let out = dir.path().join("noise.Mjpeg");
    let err = run(noise.to_str().unwrap(), &out, &classic).unwrap_err();
    assert!(
        matches!(
            err,
            ConvertError::TooLarge {
                max: CLASSIC_MAX_FRAME_LEN,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--max-width"), "{err}");
    assert!(!out.exists());
}

#[test]
fn colours_survive_limited_range_video() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("red.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:size=64x64:rate=5",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-colorspace",
        "smpte170m",
        input.to_str().unwrap(),
    ]);
    let out = dir.path().join("red.Mjpeg");
    run(input.to_str().unwrap(), &out, &ConvertOptions::default()).unwrap();
    let frame = &frames_checked(&out, (64, 64), 99_999)[0];
    let jpg = dir.path().join("f.jpg");
    std::fs::write(&jpg, frame).unwrap();
    let rgb = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            jpg.to_str().unwrap(),
            "-vf",
            "crop=8:8:28:28",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap()
        .stdout;
    let (r, g, b) = (rgb[0], rgb[1], rgb[2]);
    // Limited-range planes written as they are would read as (238, 14, 13).
    assert!(
        r >= 248 && g <= 6 && b <= 6,
        "red came out as ({r}, {g}, {b})"
    );
}

#[test]
fn a_stopped_conversion_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    pattern(&input, "320x240", 25, 4, &H264);
    let out = dir.path().join("out.Mjpeg");
    std::fs::write(&out, b"an older file").unwrap();
    init();
    let cancel = AtomicBool::new(false);
    let result = convert(
        &Input::of(input.to_str().unwrap()).unwrap(),
        &out,
        &ConvertOptions::default(),
        &cancel,
        |p| {
            if p.done >= 10 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    );
    assert_eq!(result, Err(ConvertError::Cancelled));
    // The older file is untouched, and no temporary file is left.
    assert_eq!(std::fs::read(&out).unwrap(), b"an older file");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// ffprobe's codec, size and pixel format of the stream at `url` (over
/// TCP, at most 20 s), and what it said on stderr.
fn ffprobe(url: &str) -> String {
    let probe = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", "tcp"])
        .args(["-show_entries", "stream=codec_name,width,height,pix_fmt"])
        .args(["-of", "compact"])
        .arg(url)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    )
}

#[test]
fn converted_video_plays_to_ffprobe_and_rtspsrc() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    pattern(&input, "320x240", 24, 2, &H264);
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let r = run(
        input.to_str().unwrap(),
        &media.join("movie.Mjpeg"),
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(r.frames, 48);
    let server = TestServer::start(&media, false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let text = ffprobe(&url);
    assert!(
        text.contains("codec_name=mjpeg")
            && text.contains("width=320")
            && text.contains("yuvj420p"),
        "{text}"
    );
    let out = mjpegrtsp_tests::run(
        &format!(
            "rtspsrc location={url} protocols=tcp latency=100 ! rtpjpegdepay ! jpegdec ! appsink name=sink"
        ),
        |_| {},
    );
    assert!(out.eos, "{:?}", out.error);
    assert!(out.frames.len() >= 46, "{} of 48 frames", out.frames.len());
}
