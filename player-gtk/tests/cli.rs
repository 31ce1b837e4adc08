//! The `player-gtk` binary as a user starts it: `--help`, and a URL on the
//! command line with `--play`, ended by SIGTERM (which must still send
//! TEARDOWN). The window runs under `xvfb-run`.

use mjpegrtsp_tests::{TestServer, movie_dir};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PLAYER: &str = env!("CARGO_BIN_EXE_player-gtk");

fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

#[test]
fn help_names_the_arguments() {
    let out = Command::new(PLAYER).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rtsp://"), "{text}");
    assert!(text.contains("--play"), "{text}");
    let out = Command::new(PLAYER).arg("--no-such-flag").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}

#[test]
fn plays_a_url_from_the_command_line_and_tears_down_on_sigterm() {
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        panic!("xvfb-run is missing: run bash scripts/setup.sh");
    }
    let media = movie_dir(240, 320, 240, 70, "ball");
    let server = TestServer::start(media.path(), true);
    let config = tempfile::tempdir().unwrap();
    let pid_file = config.path().join("pid");
    // xvfb-run is the child; the player's own pid comes through a file so
    // that the signal reaches the player, not the wrapper.
    let child = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1024x768x24 -nolisten tcp",
            "sh",
            "-c",
        ])
        .arg(r#""$0" "$@" & echo $! > "$PID_FILE"; wait $!"#)
        .arg(PLAYER)
        .arg("--play")
        .arg(format!("rtsp://{}/movie.Mjpeg", server.addr))
        .env("PID_FILE", &pid_file)
        .env("XDG_CONFIG_HOME", config.path())
        .env("GDK_BACKEND", "x11")
        .env("GSETTINGS_BACKEND", "memory")
        .env("NO_AT_BRIDGE", "1")
        .env("GTK_A11Y", "none")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/player-gtk-test-bus",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut player = Player {
        child,
        pid_file: pid_file.clone(),
    };
    assert!(
        wait_until(30, || server.sessions() == 1),
        "the player set up a session"
    );
    // Playing: the server keeps the session while packets flow; give it time.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.sessions(), 1);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let pid = pid.trim();
    let status = Command::new("kill").args(["-TERM", pid]).status().unwrap();
    assert!(status.success(), "kill -TERM {pid}");
    assert!(
        wait_until(10, || server.sessions() == 0),
        "SIGTERM sent TEARDOWN: {} sessions left",
        server.sessions()
    );
    assert!(
        wait_until(15, || player.child.try_wait().unwrap().is_some()),
        "the player ended after SIGTERM"
    );
    let status = player.child.wait().unwrap();
    assert!(status.success(), "player exit: {status}");
}

/// The wrapper process and the player's pid file; a failed test kills both.
struct Player {
    child: std::process::Child,
    pid_file: std::path::PathBuf,
}

impl Drop for Player {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
                let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Xvfb has only Mesa's software OpenGL: the player draws with cairo there,
/// unless told otherwise.
#[test]
fn software_opengl_means_cairo() {
    let info = |extra: &[&str], env: Option<&str>| {
        let mut cmd = Command::new("xvfb-run");
        cmd.args(["-a", "-s", "-screen 0 800x600x24 -nolisten tcp"])
            .arg(PLAYER)
            .arg("--renderer-info")
            .args(extra)
            .env("GDK_BACKEND", "x11")
            .env_remove("GSK_RENDERER");
        if let Some(r) = env {
            cmd.env("GSK_RENDERER", r);
        }
        let out = cmd.output().expect("xvfb-run (bash scripts/setup.sh)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let auto = info(&[], None);
    assert!(auto.contains("renderer: cairo"), "{auto}");
    assert!(
        auto.contains("(software)") || auto.contains("no OpenGL"),
        "{auto}"
    );
    let asked = info(&["--renderer", "gl"], None);
    assert!(asked.contains("renderer: gl"), "{asked}");
    let env = info(&[], Some("gl"));
    assert!(env.contains("renderer: gl (GSK_RENDERER=gl)"), "{env}");
}
