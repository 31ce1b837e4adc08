//! `server-cli convert` as a user runs it: its help, a conversion's report
//! and progress, bad input, and Ctrl+C leaving nothing behind; and the
//! server naming at start, with the command that fixes it, every file
//! standard clients cannot play.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_server-cli");

/// `secs` seconds of ffmpeg's lavfi `source` written to `out` with the
/// output arguments `args`.
fn lavfi(source: &str, secs: u32, args: &[&str], out: &std::path::Path) {
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(source)
        .args(["-t", &secs.to_string()])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs (apt install ffmpeg)")
        .success();
    assert!(ok, "ffmpeg {source} -> {}", out.display());
}

/// A test-pattern H.264 video made by ffmpeg.
fn video(path: &std::path::Path, size: &str, secs: u32) {
    lavfi(
        &format!("testsrc=size={size}:rate=25"),
        secs,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
        path,
    );
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn convert_help_shows_every_option_and_examples() {
    let out = Command::new(BIN)
        .args(["convert", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--quality",
        "--size",
        "--max-width",
        "--fps",
        "--for",
        "--threads",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(
        help.contains("server-cli convert holiday.mp4 holiday.Mjpeg"),
        "{help}"
    );
    let top = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&top.stdout).contains("convert"));
}

#[test]
fn a_conversion_reports_frames_and_the_rate_to_serve_it_at() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    video(&input, "320x240", 2);
    let out = Command::new(BIN)
        .arg("convert")
        .arg(&input)
        .arg(dir.path().join("out.Mjpeg"))
        .args(["--max-width", "160"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Processed 50/50 frames: 160x120"), "{text}");
    assert!(text.contains("play it at 25/1 (the source's)"), "{text}");
    assert!(text.contains("--fps 25/1"), "{text}");
    assert_eq!(files_in(dir.path()), ["in.mp4", "out.Mjpeg"]);
    // What cannot be read is a clear error, and writes nothing.
    let out = Command::new(BIN)
        .arg("convert")
        .arg(dir.path().join("missing.mp4"))
        .arg(dir.path().join("x.Mjpeg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.mp4"));
    assert!(!dir.path().join("x.Mjpeg").exists());
}

#[test]
fn ctrl_c_stops_a_conversion_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.mp4");
    // Long enough to be stopped half way (about 10 s to convert here).
    video(&input, "1280x720", 100);
    let child = Command::new(BIN)
        .arg("convert")
        .arg(&input)
        .arg(dir.path().join("out.Mjpeg"))
        .args(["--threads", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Plain progress lines (not a terminal) come every two seconds.
    std::thread::sleep(Duration::from_millis(2500));
    // SAFETY: kill sends a signal to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("frames") && text.contains("real time"),
        "{text}"
    );
    assert!(
        text.contains("stopped: ") && text.contains("was not written"),
        "{text}"
    );
    assert_eq!(files_in(dir.path()), ["long.mp4"]);
}

#[test]
fn the_server_names_what_standard_clients_cannot_play() {
    let media = tempfile::tempdir().unwrap();
    // JPEGs back to back under a .mjpeg name, and a .Mjpeg whose JPEG has
    // ffmpeg's optimised Huffman tables.
    lavfi(
        "testsrc=size=160x120:rate=10",
        1,
        &["-c:v", "mjpeg", "-f", "mjpeg"],
        &media.path().join("raw.mjpeg"),
    );
    let raw = std::fs::read(media.path().join("raw.mjpeg")).unwrap();
    let first = &raw[..raw.windows(2).position(|w| w == [0xFF, 0xD9]).unwrap() + 2];
    let mut bad = format!("{:05}", first.len()).into_bytes();
    // ffmpeg's default Huffman tables are optimised: RFC 2435 cannot carry
    // them.
    bad.extend_from_slice(first);
    std::fs::write(media.path().join("optimised.Mjpeg"), &bad).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut child = Command::new(BIN)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--http-port",
            "0",
            "--media-dir",
        ])
        .arg(media.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill sends a signal to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    let warns: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    let raw_line = warns
        .iter()
        .find(|l| l.contains("raw.mjpeg:"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(raw_line.contains("JPEGs back to back"), "{raw_line}");
    assert!(
        raw_line.contains(&format!(
            "server-cli convert '{}' '{}'",
            media.path().join("raw.mjpeg").display(),
            media.path().join("raw.Mjpeg").display()
        )),
        "{raw_line}"
    );
    let optimised = warns
        .iter()
        .find(|l| l.contains("optimised.Mjpeg:"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(optimised.contains("would get 415"), "{optimised}");
}

#[test]
fn the_readme_convert_lines_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let lines: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("target/release/server-cli convert "))
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    // The inputs they name, made here; ~/videos is a folder here too.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("videos")).unwrap();
    video(&dir.path().join("holiday.mp4"), "320x240", 1);
    lavfi(
        "testsrc=size=320x240:rate=25",
        1,
        &["-c:v", "mpeg4"],
        &dir.path().join("talk.mkv"),
    );
    std::fs::create_dir(dir.path().join("shots")).unwrap();
    lavfi(
        "testsrc=size=160x120:rate=5",
        1,
        &[],
        &dir.path().join("shots/img%02d.jpg"),
    );
    for line in &lines {
        let command =
            line.split("  #")
                .next()
                .unwrap()
                .replacen("target/release/server-cli", BIN, 1);
        let out = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(dir.path())
            .env("HOME", &home)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        files_in(&home.join("videos")),
        ["holiday.Mjpeg", "shots.Mjpeg", "talk.Mjpeg"]
    );
}

#[test]
fn on_a_terminal_progress_is_a_bar_redrawn_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    video(&input, "640x480", 20);
    // script(1) gives the converter a terminal (bsdutils, always there).
    let command = format!(
        "{BIN} convert {} {} --threads 1",
        input.display(),
        dir.path().join("out.Mjpeg").display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // A bar with frames done of the total, speed and time left, redrawn
    // with a carriage return; then the report on its own line.
    assert!(text.contains("\r\x1b[2K[#"), "{text:?}");
    assert!(
        text.contains("/500 frames") && text.contains("× real time  ETA 0:"),
        "{text:?}"
    );
    assert!(text.contains("Processed 500/500 frames"), "{text:?}");
}
