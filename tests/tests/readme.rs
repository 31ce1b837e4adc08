//! Every GStreamer command line the README and the docs show runs as written
//! (with its file names pointed at a generated clip and windows replaced by
//! `fakesink`), using the real `gst-launch-1.0` and `gst-discoverer-1.0`.
//! (`server-cli/tests/convert_cli.rs` runs the README's `server-cli convert`
//! lines.)

use mjpegrtsp_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The README and the documents it sends a newcomer to.
const DOCUMENTS: [&str; 5] = [
    "README.md",
    "docs/elements.md",
    "docs/server.md",
    "player-gtk/README.md",
    "CONTRIBUTING.md",
];

/// Command lines in the documents' ```sh blocks that start with a GStreamer
/// tool.
fn readme_commands() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text: Vec<String> = DOCUMENTS
        .iter()
        .map(|d| std::fs::read_to_string(root.join(d)).unwrap())
        .collect();
    let mut in_sh = false;
    let mut out = Vec::new();
    for line in text.iter().flat_map(|t| t.lines()) {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        let cmd = line.split("  #").next().unwrap().trim();
        if in_sh && (cmd.starts_with("gst-") || cmd.starts_with("cat ")) {
            out.push(cmd.to_string());
        }
    }
    out
}

fn run_shell(cmd: &str, dir: &Path) -> (bool, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1; {cmd}"))
        .current_dir(dir)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut text = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            return (status.success(), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (false, format!("timed out: {cmd}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readme_commands_run() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 10,
        "found the README's examples: {commands:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("movie.Mjpeg"),
        encoded_movie(48, 320, 240, 80, "ball"),
    )
    .unwrap();
    let mut ran = 0;
    for cmd in &commands {
        // Receivers wait for packets forever, RTSP and HTTP clients need a
        // server (tests/tests/http.rs runs the HTTP ones) and
        // gst-play needs a terminal: the Rust tests cover them instead.
        if cmd.contains("udpsrc")
            || cmd.contains("rtsp://")
            || cmd.contains("http://")
            || cmd.contains("rtsps://")
            || cmd.starts_with("gst-play-1.0")
        {
            continue;
        }
        let mut run = cmd.replace("autovideosink", "fakesink");
        if run.contains("playbin") {
            run.push_str(" video-sink=fakesink audio-sink=fakesink");
        }
        let (ok, output) = run_shell(&run, dir.path());
        assert!(ok && !output.contains("ERROR"), "{run}\n{output}");
        if run.starts_with("gst-discoverer-1.0") {
            assert!(output.contains("Duration: 0:00:02.0"), "{output}");
        }
        ran += 1;
    }
    assert!(ran >= 8, "ran {ran} of {} commands", commands.len());
    let copy = std::fs::read(dir.path().join("copy.Mjpeg")).unwrap();
    assert!(
        copy == std::fs::read(dir.path().join("movie.Mjpeg")).unwrap(),
        "the README's copy is byte-identical"
    );
    assert!(!frames_of(&std::fs::read(dir.path().join("out.Mjpeg")).unwrap()).is_empty());
}
