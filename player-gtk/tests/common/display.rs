//! An X display of our own for the window test and the playback benchmark
//! (both include this file with `#[path = ...] mod display;`).
//!
//! Without one the binary runs itself again under `xvfb-run -a`, so a plain
//! `cargo test` / `cargo bench` works on a headless machine, and the child
//! gets a private environment: its own config directory, no session or
//! accessibility bus, X11, settings in memory.

use std::path::Path;
use std::process::{Command, ExitCode};

/// Marks the process started under our own Xvfb.
pub const UNDER_XVFB: &str = "PLAYER_GTK_TEST_XVFB";

/// Gives this process a display of its own. `Some(code)`: the run happened
/// in a child under `xvfb-run` (or could not happen): return `code` from
/// `main`. `None`: go on in this process, whose environment is now private
/// (`XDG_CONFIG_HOME` is `config_dir` when this process started xvfb-run
/// or uses the existing display). `what` names the binary in messages.
pub fn own_display(config_dir: &Path, what: &str) -> Option<ExitCode> {
    let has_xvfb_run = Command::new("xvfb-run").arg("--help").output().is_ok();
    if std::env::var_os(UNDER_XVFB).is_none() {
        if has_xvfb_run {
            return Some(rerun_under_xvfb(config_dir, what));
        }
        if std::env::var_os("DISPLAY").is_none() {
            eprintln!(
                "error: no X display and no xvfb-run: install xvfb and xauth (bash scripts/setup.sh)"
            );
            return Some(ExitCode::FAILURE);
        }
        eprintln!(
            "note: xvfb-run not found; using the display {:?}",
            std::env::var("DISPLAY")
        );
        // SAFETY: single-threaded so far; nothing reads the environment concurrently.
        unsafe { std::env::set_var("XDG_CONFIG_HOME", config_dir) };
    }
    // A private environment: no session bus (nothing to autolaunch), no
    // accessibility bus, X11, settings in memory.
    // SAFETY: single-threaded so far; nothing reads the environment concurrently.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/player-gtk-test-bus",
        );
        std::env::set_var("GTK_A11Y", "none");
        std::env::set_var("NO_AT_BRIDGE", "1");
        std::env::set_var("GDK_BACKEND", "x11");
        // The file chooser saves its settings: in memory, not to dconf.
        std::env::set_var("GSETTINGS_BACKEND", "memory");
        // The renderer the player binary would take on this display (it
        // decides before its window exists, which an in-process window
        // cannot): cairo where OpenGL is software, as under Xvfb.
        if std::env::var_os("GSK_RENDERER").is_none()
            && let Some(renderer) = players_renderer()
        {
            std::env::set_var("GSK_RENDERER", renderer);
        }
    }
    None
}

/// What `player-gtk --renderer-info` picks: `Some("cairo")`, `Some("gl")`,
/// or `None` for GTK's own choice.
fn players_renderer() -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_player-gtk"))
        .arg("--renderer-info")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("renderer: "))?;
    let name = line.split_whitespace().next()?;
    matches!(name, "gl" | "ngl" | "cairo").then(|| name.to_owned())
}

/// Runs this binary again under `xvfb-run -a` with a private environment.
fn rerun_under_xvfb(config_dir: &Path, what: &str) -> ExitCode {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1280x1024x24 -nolisten tcp"])
        .arg(exe)
        .args(std::env::args().skip(1))
        .env(UNDER_XVFB, "1")
        .env("XDG_CONFIG_HOME", config_dir)
        .env_remove("WAYLAND_DISPLAY");
    match cmd.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{what} under xvfb-run: {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "error: no display and cannot run xvfb-run ({e}): install xvfb and xauth (bash scripts/setup.sh)"
            );
            ExitCode::FAILURE
        }
    }
}
