//! The reference peers of `tests/peers/` as child processes: gst-rtsp-server
//! and the seed-style classic server, each serving one `.Mjpeg` file.

use crate::plugin_dir;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A helper process that prints one line when ready; killed when dropped.
pub struct Peer {
    child: Child,
    /// What it printed after `READY ` (its URL or port).
    pub ready: String,
}

impl Peer {
    /// Starts `cmd` and waits (20 s at most) for its `READY …` line.
    pub fn start(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("peer says READY");
        assert!(ready.starts_with("READY "), "peer: {ready:?}");
        Peer {
            child,
            ready: ready.trim()["READY ".len()..].to_owned(),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/peers/`.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// gst-rtsp-server serving `media` (RFC 2435); returns it and its URL.
pub fn gst_server(media: &Path, extra: &[&str]) -> (Peer, String) {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(peers_dir().join("gst_rtsp_server.py"))
        .args(["--port", "0", "--media"])
        .arg(media)
        .args(extra)
        .env("GST_PLUGIN_PATH", plugin_dir());
    let peer = Peer::start(cmd);
    let url = peer.ready.clone();
    (peer, url)
}

/// The seed-style classic server serving `media`; returns it and its URL.
pub fn classic_server(media: &Path, extra: &[&str]) -> (Peer, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(peers_dir().join("classic_server.py"))
        .args(["--port", "0", "--media"])
        .arg(media)
        .args(extra);
    let peer = Peer::start(cmd);
    let url = format!("rtsp://127.0.0.1:{}/movie.Mjpeg", peer.ready);
    (peer, url)
}
