//! Drives the real player window against this project's RTSP server, in this
//! process, and reads what a user would see: button sensitivity, the status
//! bar, the error message, frames given to the picture.
//!
//! GTK wants the main thread, so this test has its own `main` (no libtest).
//! Without an X display of its own it runs itself again under
//! `xvfb-run -a`, so a plain `cargo test` works on a headless machine. Key
//! presses go through the X server with `xdotool` when it is installed.
//! Arguments (as `cargo test -p player-gtk -- NAME`) pick tests by name.

#[path = "common/display.rs"]
mod display;

use gtk::prelude::*;
use mjpegrtsp::rtsp::{Method, Request, Response, StatusCode};
use mjpegrtsp_tests::{RtspProxy, TestServer, certificate, movie_dir};
use player_gtk::application;
use player_gtk::state::{Controls, Phase};
use player_gtk::window::{Inspect, Window};
use std::cell::RefCell;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, ExitCode};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The whole run, Xvfb start included, ends by then.
const WATCHDOG: Duration = Duration::from_secs(300);

type TestResult = Result<(), String>;
type TestFuture<'a> = Pin<Box<dyn Future<Output = TestResult> + 'a>>;

/// What every test gets: the window, a server, the media, the config dir.
struct Env {
    win: Window,
    server: TestServer,
    /// Where [`auth_front`] listens.
    auth_addr: std::net::SocketAddr,
    media: PathBuf,
    config_dir: PathBuf,
    keys: bool,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.server.addr)
    }
}

/// Tests in the order they run; `close_sends_teardown` ends the application.
const TESTS: &[&str] = &[
    "layout_and_tooltips",
    "rtsp_setup_play_pause_play_seek_stop",
    "rtsp_end_of_stream_then_play_again",
    "classic_seed_server",
    "lossy_network_counted_not_shown",
    "gst_rtsp_server",
    "file_setup_play_seek_stop",
    "damaged_files",
    "drag_and_drop_opens_file_and_url",
    "file_chooser_opens_file",
    "server_not_running_shows_error",
    "not_found_shows_error",
    "silent_server_times_out",
    "lost_connection_shows_error",
    "network_interruption_reported_then_resumed",
    "unauthorized_asks_for_credentials",
    "session_not_found_shows_error",
    "password_in_url_used_not_shown",
    "keyboard_shortcuts",
    "progress_bar_click_and_drag",
    "sessions_leave_nothing_behind",
    "recent_urls_remembered",
    // After the recent list's check: it keeps 10 addresses.
    "rtsps_with_srtp_plays",
    "fullscreen_keys",
    "close_sends_teardown",
];

fn run_test<'a>(name: &str, env: &'a Env) -> TestFuture<'a> {
    match name {
        "layout_and_tooltips" => Box::pin(layout(env)),
        "rtsp_setup_play_pause_play_seek_stop" => Box::pin(rtsp_state_machine(env)),
        "rtsp_end_of_stream_then_play_again" => Box::pin(rtsp_end_of_stream(env)),
        "classic_seed_server" => Box::pin(classic_seed_server(env)),
        "lossy_network_counted_not_shown" => Box::pin(lossy_network(env)),
        "gst_rtsp_server" => Box::pin(gst_rtsp_server(env)),
        "file_setup_play_seek_stop" => Box::pin(file_playback(env)),
        "damaged_files" => Box::pin(damaged_files(env)),
        "drag_and_drop_opens_file_and_url" => Box::pin(drag_and_drop(env)),
        "file_chooser_opens_file" => Box::pin(file_chooser(env)),
        "server_not_running_shows_error" => Box::pin(server_not_running(env)),
        "not_found_shows_error" => Box::pin(not_found(env)),
        "silent_server_times_out" => Box::pin(silent_server(env)),
        "lost_connection_shows_error" => Box::pin(lost_connection(env)),
        "network_interruption_reported_then_resumed" => Box::pin(network_interruption(env)),
        "unauthorized_asks_for_credentials" => Box::pin(unauthorized(env)),
        "session_not_found_shows_error" => Box::pin(session_not_found(env)),
        "password_in_url_used_not_shown" => Box::pin(password_in_url(env)),
        "rtsps_with_srtp_plays" => Box::pin(rtsps_srtp(env)),
        "keyboard_shortcuts" => Box::pin(keyboard(env)),
        "progress_bar_click_and_drag" => Box::pin(progress_bar_mouse(env)),
        "sessions_leave_nothing_behind" => Box::pin(no_leaks(env)),
        "recent_urls_remembered" => Box::pin(recent(env)),
        "fullscreen_keys" => Box::pin(fullscreen(env)),
        "close_sends_teardown" => Box::pin(close_sends_teardown(env)),
        _ => unreachable!("{name}"),
    }
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        let ok: bool = $cond;
        if !ok {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

// ---------------------------------------------------------------- helpers --

async fn sleep(ms: u64) {
    glib::timeout_future(Duration::from_millis(ms)).await;
}

/// Waits (running the main loop) until `cond`, or fails after `secs`.
async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {secs} s waiting for {what}"));
        }
        sleep(40).await;
    }
}

fn controls(setup: bool, play: bool, pause: bool, stop: bool) -> Controls {
    Controls {
        setup,
        play,
        pause,
        stop,
    }
}

const INIT: Controls = Controls {
    setup: true,
    play: false,
    pause: false,
    stop: false,
};
const READY: Controls = Controls {
    setup: false,
    play: true,
    pause: false,
    stop: true,
};
const PLAYING: Controls = Controls {
    setup: false,
    play: false,
    pause: true,
    stop: true,
};

fn act(win: &Window, action: &str) {
    WidgetExt::activate_action(win, action, None).unwrap_or_else(|e| panic!("{action}: {e}"));
}

fn act_with(win: &Window, action: &str, param: glib::Variant) {
    WidgetExt::activate_action(win, action, Some(&param))
        .unwrap_or_else(|e| panic!("{action}: {e}"));
}

/// The number in a status label such as "Frame 120" or "21.5 fps".
fn number(text: &str) -> f64 {
    text.split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn frames(win: &Window) -> u64 {
    number(&win.status().frame) as u64
}

/// "m:ss" → seconds.
fn seconds(label: &str) -> f64 {
    label
        .split(':')
        .try_fold(0.0, |acc, part| part.parse::<f64>().map(|v| acc * 60.0 + v))
        .unwrap_or(f64::NAN)
}

fn position(win: &Window) -> f64 {
    seconds(&win.status().position)
}

/// Waits for the state and checks that the buttons follow it.
async fn expect_state(win: &Window, phase: Phase, buttons: Controls, secs: u64) -> TestResult {
    wait_for(&format!("{phase:?}"), secs, || {
        win.phase() == phase && !win.is_busy()
    })
    .await
    .map_err(|e| {
        format!(
            "{e}; status {:?}, error {:?}",
            win.status(),
            win.error_message()
        )
    })?;
    check!(
        win.controls() == buttons,
        "in {phase:?} the buttons are {:?}, expected {buttons:?}",
        win.controls()
    );
    check!(
        win.status().state == phase.name(),
        "state label {:?} in {phase:?}",
        win.status().state
    );
    Ok(())
}

/// Frames keep coming: new ones are painted on screen and the counter moves.
async fn expect_frames(win: &Window, more_than: u64) -> TestResult {
    let painted = win.paint_stats().on_screen;
    let counted = frames(win);
    wait_for("new frames", 10, || {
        win.paint_stats().on_screen >= painted + more_than && frames(win) >= counted + more_than
    })
    .await
    .map_err(|e| {
        let p = win.paint_stats();
        format!(
            "{e}; given {} painted {} status {:?}",
            p.given,
            p.on_screen,
            win.status()
        )
    })
}

/// After a seek: the position lands in `range` (seconds) once the held
/// target lets go, new frames come, and the stream still plays.
async fn expect_seeked(win: &Window, what: &str, range: std::ops::Range<f64>) -> TestResult {
    let before = win.status().position;
    sleep(1200).await;
    wait_for(what, 8, || range.contains(&position(win)))
        .await
        .map_err(|e| format!("{e}: position {before} → {}", win.status().position))?;
    expect_frames(win, 6).await?;
    check!(win.phase() == Phase::Playing, "still playing after {what}");
    Ok(())
}

/// Waits for an error message over the video, with the player back in INIT
/// (SETUP enabled, for another try); returns the message.
async fn expect_error(win: &Window, what: &str, secs: u64) -> Result<String, String> {
    wait_for(what, secs, || win.error_message().is_some())
        .await
        .map_err(|e| format!("{e}: {:?}", win.status()))?;
    expect_state(win, Phase::Init, INIT, 10).await?;
    let message = win.error_message().unwrap_or_default();
    eprintln!("    shown: {message}");
    Ok(message)
}

/// Opens `url` and presses Space (SETUP, then PLAY): playing.
async fn open_and_play(win: &Window, url: &str) -> TestResult {
    act_with(win, "win.open-location", url.to_variant());
    act(win, "win.play-pause");
    expect_state(win, Phase::Playing, PLAYING, 15).await
}

fn xdotool(args: &[&str]) -> TestResult {
    let out = Command::new("xdotool")
        .args(args)
        .output()
        .map_err(|e| format!("xdotool: {e}"))?;
    check!(
        out.status.success(),
        "xdotool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Sends `keys` (xdotool names) to the player window through the X server.
fn send_keys(keys: &str) -> TestResult {
    xdotool(&[
        "search",
        "--onlyvisible",
        "--name",
        "^Video Streaming Player$",
        "windowfocus",
        "--sync",
    ])?;
    xdotool(&["key", "--clearmodifiers", keys])
}

/// Presses `keys` and lets the window handle them.
async fn press(keys: &str) -> TestResult {
    send_keys(keys)?;
    sleep(150).await;
    Ok(())
}

// ------------------------------------------------------------------ tests --

/// The seed's layout: title, a video area of at least 640×480 keeping the
/// aspect ratio, the four buttons; a tooltip on every control.
async fn layout(env: &Env) -> TestResult {
    let win = &env.win;
    check!(
        win.title().as_deref() == Some("Video Streaming Player"),
        "{:?}",
        win.title()
    );
    let (w, h, keeps_aspect) = win.video_area();
    check!(w >= 640 && h >= 480, "video area {w}×{h}");
    check!(keeps_aspect, "the picture keeps the aspect ratio");
    let mut labels = Vec::new();
    for widget in win.widgets() {
        // GTK's own window buttons (close, maximize) are not ours.
        if widget
            .ancestor(gtk::WindowControls::static_type())
            .is_some()
        {
            continue;
        }
        let control = widget.is::<gtk::Button>()
            || widget.is::<gtk::MenuButton>()
            || widget.is::<gtk::Entry>()
            || widget.is::<gtk::Scale>();
        // A MenuButton's inner toggle button carries no tooltip of its own.
        let inner = widget.parent().is_some_and(|p| p.is::<gtk::MenuButton>());
        if control && !inner {
            check!(
                widget.tooltip_text().is_some_and(|t| !t.is_empty()),
                "{} {:?} has no tooltip",
                widget.type_().name(),
                widget.css_classes()
            );
            if let Some(b) = widget.downcast_ref::<gtk::Button>()
                && let Some(l) = b.label()
            {
                labels.push(l.to_string());
            }
        }
    }
    for label in ["SETUP", "PLAY", "PAUSE", "STOP"] {
        check!(
            labels.iter().any(|l| l == label),
            "button {label} in {labels:?}"
        );
    }
    Ok(())
}

/// SETUP → PLAY → PAUSE → PLAY → seek → STOP against our server; frames are
/// shown, statistics move, the buttons follow the state machine.
async fn rtsp_state_machine(env: &Env) -> TestResult {
    let win = &env.win;
    check!(
        win.controls() == controls(false, false, false, false),
        "nothing to set up yet: {:?}",
        win.controls()
    );
    act_with(
        win,
        "win.open-location",
        env.url("movie.Mjpeg").to_variant(),
    );
    expect_state(win, Phase::Init, INIT, 2).await?;

    act(win, "win.setup");
    check!(
        win.controls() == Controls::default(),
        "every button waits while SETUP is in flight: {:?}",
        win.controls()
    );
    expect_state(win, Phase::Ready, READY, 15).await?;
    check!(
        env.server.sessions() == 1,
        "one session after SETUP, {}",
        env.server.sessions()
    );
    check!(
        win.status().duration == "0:20",
        "duration {:?}",
        win.status().duration
    );
    check!(
        win.can_seek(),
        "the progress bar seeks when there is a duration"
    );

    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 48).await?;
    check!(
        win.video_size() == Some((640, 480)),
        "video size {:?}",
        win.video_size()
    );
    wait_for("statistics", 5, || {
        let s = win.status();
        number(&s.fps) >= 18.0 && number(&s.bitrate) > 100.0 && s.latency.ends_with(" ms")
    })
    .await
    .map_err(|e| format!("{e}: {:?}", win.status()))?;
    let s = win.status();
    eprintln!(
        "    playing: {} | {} | {} | {} | {} | {}",
        s.frame, s.fps, s.bitrate, s.loss, s.dropped, s.latency
    );
    check!(
        (20.0..=28.0).contains(&number(&s.fps)),
        "keeps up with the 24 fps stream: {}",
        s.fps
    );
    check!(s.dropped == "Dropped 0", "nothing dropped: {}", s.dropped);
    check!(number(&s.latency) < 200.0, "display latency {}", s.latency);
    check!(s.loss == "Loss 0", "no loss on loopback: {}", s.loss);

    act(win, "win.pause");
    expect_state(win, Phase::Ready, READY, 10).await?;
    sleep(600).await;
    let paused_at = frames(win);
    sleep(1200).await;
    check!(
        frames(win) == paused_at,
        "no frames while paused: {paused_at} → {}",
        frames(win)
    );

    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;

    act_with(win, "win.seek-to", 12.0f64.to_variant());
    expect_seeked(win, "the seek to 0:12", 12.0..16.0).await?;

    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("the server's session to end (TEARDOWN)", 5, || {
        env.server.sessions() == 0
    })
    .await?;
    check!(win.video_size().is_none(), "no picture after STOP");
    check!(
        win.error_message().is_none(),
        "no error: {:?}",
        win.error_message()
    );
    Ok(())
}

/// Played to its end (RTCP BYE → EOS), the stream is READY again and PLAY
/// starts it from the beginning.
async fn rtsp_end_of_stream(env: &Env) -> TestResult {
    let win = &env.win;
    act_with(
        win,
        "win.open-location",
        env.url("movie.Mjpeg").to_variant(),
    );
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    act_with(win, "win.seek-to", 18.0f64.to_variant());
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    wait_for("end of stream", 10, || {
        win.status().message == "End of stream"
    })
    .await
    .map_err(|e| format!("{e}: {:?}", win.status()))?;
    expect_state(win, Phase::Ready, READY, 10).await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    check!(
        position(win) < 6.0,
        "PLAY after the end starts again: position {}",
        win.status().position
    );
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
}

/// A peer server from `tests/peers/` in its own process while the value
/// lives: the seed-style classic server or gst-rtsp-server.
struct PeerServer {
    child: std::process::Child,
    url: String,
}

impl PeerServer {
    /// `classic_server.py` with the seed's bugs, serving `media`.
    fn classic(media: &std::path::Path) -> Result<PeerServer, String> {
        let (child, port) = Self::start("classic_server.py", &["--seed-bugs"], media)?;
        let url = format!("rtsp://127.0.0.1:{port}/movie.Mjpeg");
        Ok(PeerServer { child, url })
    }

    /// `gst_rtsp_server.py`: gst-rtsp-server sending `media` as RFC 2435.
    fn gst(media: &std::path::Path) -> Result<PeerServer, String> {
        let (child, url) = Self::start("gst_rtsp_server.py", &[], media)?;
        Ok(PeerServer { child, url })
    }

    /// Starts `tests/peers/SCRIPT ARGS --port 0 --media MEDIA` and returns
    /// it with what its `READY …` line says.
    fn start(
        script: &str,
        args: &[&str],
        media: &std::path::Path,
    ) -> Result<(std::process::Child, String), String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/peers")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .args(["--port", "0", "--media"])
            .arg(media)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("python3 {script}: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let read = BufReader::new(stdout).read_line(&mut line);
        match (read, line.trim().strip_prefix("READY ")) {
            (Ok(_), Some(ready)) => Ok((child, ready.to_owned())),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{script} did not start: {line:?}"))
            }
        }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Packets dropped, duplicated and reordered on the way (a seeded proxy that
/// logs what it did): the status bar counts every lost packet and every
/// frame that lost one, and only the whole frames are shown.
async fn lossy_network(env: &Env) -> TestResult {
    use mjpegrtsp_tests::{Fate, Impairer, Impairments, RtspProxy};
    const FRAMES: u64 = 120;
    let win = &env.win;
    let dir = movie_dir(FRAMES as u32, 640, 480, 75, "ball");
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.mtu = 400; // a dozen packets a frame
    let server = TestServer::start_with(config);
    let (impairer, log) = Impairer::new(Impairments {
        seed: 0x5EED_0000_0000_0005,
        drop_per_mille: 30,
        duplicate_per_mille: 20,
        reorder_per_mille: 20,
        // The last two seconds are clean: a statistics message (one a
        // second) reports the whole damage before the end.
        frames: 1..FRAMES - 48,
        forward_frames: None,
        reorder_max_hold: Duration::from_millis(5),
    });
    let proxy = RtspProxy::start(server.addr, impairer);
    open_and_play(win, &proxy.url("movie.Mjpeg")).await?;
    wait_for("the end of the stream", 20, || {
        win.status().message == "End of stream"
    })
    .await
    .map_err(|e| format!("{e}: {:?} {:?}", win.status(), win.error_message()))?;
    sleep(400).await; // the status bar's next refresh
    let (lost, damaged) = {
        let log = log.lock().unwrap();
        let dropped: Vec<u64> = log
            .packets
            .iter()
            .filter(|p| p.fate == Fate::Dropped)
            .map(|p| p.frame)
            .collect();
        let mut frames = dropped.clone();
        frames.dedup();
        (dropped.len() as u64, frames.len() as u64)
    };
    let s = win.status();
    eprintln!(
        "    proxy dropped {lost} packets in {damaged} frames; shown: {} | {} | {}",
        s.frame, s.loss, s.dropped
    );
    check!(lost > 0, "the proxy dropped something");
    check!(s.loss == format!("Loss {lost}"), "{} vs {lost}", s.loss);
    check!(
        s.dropped == format!("Dropped {damaged}"),
        "{} vs {damaged}",
        s.dropped
    );
    check!(
        frames(win) == FRAMES - damaged,
        "only whole frames shown: {} of {FRAMES}, {damaged} damaged",
        s.frame
    );
    check!(win.error_message().is_none(), "{:?}", win.error_message());
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    drop(proxy);
    Ok(())
}

/// The seed's own dialect (bare-LF replies, no DESCRIBE, one JPEG per
/// datagram), from a server with the seed's bugs: the player finds the
/// dialect by itself.
async fn classic_seed_server(env: &Env) -> TestResult {
    let server = PeerServer::classic(&env.media.join("movie.Mjpeg"))?;
    live_peer_session(&env.win, &server.url).await
}

/// gst-rtsp-server, the reference standard server (RFC 2435 payload, its
/// own SDP; it announces `a=range:npt=0-` for this clip).
async fn gst_rtsp_server(env: &Env) -> TestResult {
    let server = PeerServer::gst(&env.media.join("movie.Mjpeg"))?;
    live_peer_session(&env.win, &server.url).await
}

/// SETUP → PLAY → PAUSE → PLAY → STOP with a peer server whose stream has
/// no duration: it shows LIVE and does not seek.
async fn live_peer_session(win: &Window, url: &str) -> TestResult {
    act_with(win, "win.open-location", url.to_variant());
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    check!(
        win.status().duration == "LIVE" && !win.can_seek(),
        "no duration, no seeking: {:?}",
        win.status()
    );
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 24).await?;
    check!(
        win.video_size() == Some((640, 480)),
        "video size {:?}",
        win.video_size()
    );
    act(win, "win.pause");
    expect_state(win, Phase::Ready, READY, 10).await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    check!(
        win.error_message().is_none(),
        "no error: {:?}",
        win.error_message()
    );
    Ok(())
}

/// A local file: SETUP prerolls it, then the same buttons.
async fn file_playback(env: &Env) -> TestResult {
    let win = &env.win;
    let path = env.media.join("movie.Mjpeg");
    act_with(
        win,
        "win.open-location",
        path.to_string_lossy().to_variant(),
    );
    expect_state(win, Phase::Init, INIT, 2).await?;
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    check!(
        win.status().duration == "0:20",
        "duration {:?}",
        win.status().duration
    );
    wait_for("the prerolled frame", 5, || {
        win.video_size() == Some((640, 480))
    })
    .await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 24).await?;
    let before = position(win);
    act(win, "win.seek-forward");
    sleep(400).await;
    wait_for("position +5 s", 5, || position(win) >= before + 4.0)
        .await
        .map_err(|e| format!("{e}: {before} → {}", win.status().position))?;
    expect_frames(win, 12).await?;
    act(win, "win.pause");
    expect_state(win, Phase::Ready, READY, 10).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await
}

/// A file that is not `.Mjpeg` is refused with a message; one cut off in
/// the middle of a frame plays its whole frames and ends.
async fn damaged_files(env: &Env) -> TestResult {
    let win = &env.win;
    let garbage = env.config_dir.join("garbage.Mjpeg");
    std::fs::write(
        &garbage,
        b"this is not a length-prefixed MJPEG file at all\n".repeat(50),
    )
    .map_err(|e| e.to_string())?;
    act_with(
        win,
        "win.open-location",
        garbage.to_string_lossy().to_variant(),
    );
    act(win, "win.setup");
    let message = expect_error(win, "an error message", 15).await?;
    check!(
        message.contains("garbage.Mjpeg") && message.contains(".Mjpeg frame"),
        "{message}"
    );

    // The first 30 frames and half of the 31st.
    let movie = std::fs::read(env.media.join("movie.Mjpeg")).map_err(|e| e.to_string())?;
    let mut end = 0;
    for _ in 0..30 {
        let len: usize = std::str::from_utf8(&movie[end..end + 5])
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or("the test movie's length prefix")?;
        end += 5 + len;
    }
    let cut = env.config_dir.join("cut.Mjpeg");
    std::fs::write(&cut, &movie[..end + 2000]).map_err(|e| e.to_string())?;
    act_with(win, "win.open-location", cut.to_string_lossy().to_variant());
    act(win, "win.play-pause");
    wait_for("the end of the cut file", 15, || {
        win.status().message == "End of stream"
    })
    .await
    .map_err(|e| format!("{e}: {:?} {:?}", win.status(), win.error_message()))?;
    sleep(400).await; // the status bar's next refresh
    check!(
        frames(win) == 30,
        "the 30 whole frames were shown, not the cut one: {}",
        win.status().frame
    );
    check!(win.error_message().is_none(), "{:?}", win.error_message());
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await
}

/// SETUP, the prerolled frame, PLAY with frames coming, STOP.
async fn setup_play_stop(win: &Window) -> TestResult {
    expect_state(win, Phase::Init, INIT, 2).await?;
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    wait_for("the prerolled frame", 5, || {
        win.video_size() == Some((640, 480))
    })
    .await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await
}

/// The window's drop target, as GTK delivers a drop to it: its "drop"
/// signal with the dropped value.
async fn drag_and_drop(env: &Env) -> TestResult {
    let win = &env.win;
    let controllers = win.observe_controllers();
    let target = (0..controllers.n_items())
        .filter_map(|i| controllers.item(i).and_downcast::<gtk::DropTarget>())
        .next();
    let Some(target) = target else {
        return Err("the window has no drop target".into());
    };
    let types = target.types();
    check!(
        types.contains(&gtk::gdk::FileList::static_type()) && types.contains(&glib::Type::STRING),
        "the drop target takes files and text: {types:?}"
    );
    check!(
        target.actions().contains(gtk::gdk::DragAction::COPY),
        "{:?}",
        target.actions()
    );

    // The signal's value is a boxed GValue holding what was dropped.
    // An rtsp:// URL dropped as text (the first line counts).
    let url = env.url("movie.Mjpeg");
    let text = format!("{url}\r\nrtsp://ignored.invalid/other.Mjpeg\r\n").to_value();
    let taken = target.emit_by_name::<bool>("drop", &[&glib::BoxedValue(text), &10.0f64, &10.0f64]);
    check!(taken, "the URL drop was refused");
    check!(win.address_text() == url, "{:?}", win.address_text());
    expect_state(win, Phase::Init, INIT, 2).await?;

    // A file from a file manager: a GdkFileList.
    let path = env.media.join("movie.Mjpeg");
    let files = gtk::gdk::FileList::from_array(&[gtk::gio::File::for_path(&path)]);
    let taken = target.emit_by_name::<bool>(
        "drop",
        &[&glib::BoxedValue(files.to_value()), &20.0f64, &20.0f64],
    );
    check!(taken, "the file drop was refused");
    check!(
        win.address_text() == path.to_string_lossy(),
        "the dropped file is the source: {:?}",
        win.address_text()
    );
    check!(win.error_message().is_none(), "{:?}", win.error_message());
    setup_play_stop(win).await
}

/// File → Open: the file chooser comes up over the window; choosing the
/// file in it opens that file.
async fn file_chooser(env: &Env) -> TestResult {
    let win = &env.win;
    let dialogs = || {
        gtk::Window::list_toplevels()
            .into_iter()
            .filter_map(|w| w.downcast::<gtk::FileChooserDialog>().ok())
            .filter(|d| d.is_visible())
            .collect::<Vec<_>>()
    };
    check!(dialogs().is_empty(), "a file chooser is already open");
    // Something else first, so that the file shows up only by choosing it.
    let url = env.url("movie.Mjpeg");
    act_with(win, "win.open-location", url.to_variant());
    check!(win.address_text() == url, "{:?}", win.address_text());
    act(win, "win.open-file");
    wait_for("the file chooser", 5, || dialogs().len() == 1).await?;
    let dialog = dialogs().remove(0);
    check!(
        dialog.transient_for().as_ref() == Some(win.upcast_ref::<gtk::Window>()),
        "the chooser belongs to the player window"
    );
    check!(
        dialog.action() == gtk::FileChooserAction::Open,
        "{:?}",
        dialog.action()
    );
    let path = env.media.join("movie.Mjpeg");
    dialog
        .set_file(&gtk::gio::File::for_path(&path))
        .map_err(|e| format!("selecting {}: {e}", path.display()))?;
    wait_for("the file selected in the chooser", 5, || {
        dialog.file().and_then(|f| f.path()).as_deref() == Some(path.as_path())
    })
    .await?;
    dialog.response(gtk::ResponseType::Accept);
    wait_for("the chosen file opened", 5, || {
        win.address_text() == path.to_string_lossy()
    })
    .await
    .map_err(|e| format!("{e}: {:?}", win.address_text()))?;
    wait_for("the chooser gone", 5, || dialogs().is_empty()).await?;
    setup_play_stop(win).await
}

/// Nothing listens on the port: a message over the video, not a hang.
async fn server_not_running(env: &Env) -> TestResult {
    let win = &env.win;
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    act_with(
        win,
        "win.open-location",
        format!("rtsp://127.0.0.1:{port}/movie.Mjpeg").to_variant(),
    );
    act(win, "win.setup");
    let message = expect_error(win, "an error message", 15).await?;
    check!(
        message.contains(&port.to_string()),
        "the message names the server: {message}"
    );
    check!(
        message.to_lowercase().contains("refused"),
        "the message says why: {message}"
    );
    // Retry tries again, and fails the same way.
    act(win, "win.retry");
    expect_state(win, Phase::Init, INIT, 15).await?;
    check!(win.error_message().is_some(), "still an error after Retry");
    Ok(())
}

async fn not_found(env: &Env) -> TestResult {
    let win = &env.win;
    act_with(win, "win.open-location", env.url("nope.Mjpeg").to_variant());
    check!(
        win.error_message().is_none(),
        "opening clears the old message"
    );
    act(win, "win.setup");
    let message = expect_error(win, "an error message", 15).await?;
    check!(message.contains("404"), "{message}");
    Ok(())
}

/// A server that accepts the connection and never answers: the request
/// times out (mjpegrtspsrc's 10 s) with a message; the window stays live.
async fn silent_server(env: &Env) -> TestResult {
    let win = &env.win;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        // Accept and hold the connections without a word, for a while.
        listener.set_nonblocking(true).unwrap();
        let mut conns = Vec::new();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok((c, _)) = listener.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    act_with(
        win,
        "win.open-location",
        format!("rtsp://127.0.0.1:{port}/movie.Mjpeg").to_variant(),
    );
    act(win, "win.setup");
    sleep(500).await;
    check!(
        win.is_busy() && win.status().state == "SETUP…",
        "waiting for the answer: {:?}",
        win.status()
    );
    check!(
        win.controls() == Controls::default(),
        "no button while SETUP waits"
    );
    let message = expect_error(win, "a timeout message", 16).await?;
    check!(message.to_lowercase().contains("time"), "{message}");
    drop(held);
    Ok(())
}

/// The server goes away while playing: a message with Retry, back to INIT.
async fn lost_connection(env: &Env) -> TestResult {
    let win = &env.win;
    let server = TestServer::start(&env.media, true);
    act_with(
        win,
        "win.open-location",
        format!("rtsp://{}/movie.Mjpeg", server.addr).to_variant(),
    );
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    drop(server);
    let message = expect_error(win, "a message about the lost stream", 15).await?;
    check!(message.contains("stopped at"), "{message}");
    // Retry reconnects (and fails: nobody listens now), without hanging.
    act(win, "win.retry");
    // The old message goes when Retry starts; the new one says why it failed.
    wait_for(
        "a message about the refused connection after Retry",
        15,
        || {
            win.error_message()
                .is_some_and(|m| m.contains("cannot connect"))
        },
    )
    .await?;
    expect_state(win, Phase::Init, INIT, 15).await?;
    Ok(())
}

/// The network stops carrying anything for four seconds (a proxy that
/// holds TCP and loses UDP), then carries again: the status line says no
/// video comes, then that it plays again, and frames go on, with no error.
async fn network_interruption(env: &Env) -> TestResult {
    use mjpegrtsp_tests::{PassThrough, RtspProxy};
    let win = &env.win;
    let server = TestServer::start(&env.media, true);
    let proxy = RtspProxy::start(server.addr, PassThrough);
    open_and_play(win, &proxy.url("movie.Mjpeg")).await?;
    expect_frames(win, 12).await?;
    proxy.interrupt();
    wait_for("the status line to say no video comes", 10, || {
        win.status().message.starts_with("No media from")
    })
    .await?;
    let stalled_at = frames(win);
    sleep(2000).await;
    check!(
        frames(win) <= stalled_at + 2,
        "frames went on while interrupted: {stalled_at} then {}",
        frames(win)
    );
    proxy.restore();
    wait_for("the status line to say it plays again", 10, || {
        win.status().message.starts_with("Playing again after")
    })
    .await
    .map_err(|e| format!("{e}: {:?}", win.status().message))?;
    let resumed_at = frames(win);
    wait_for("frames after the interruption", 10, || {
        frames(win) >= resumed_at + 24
    })
    .await?;
    check!(win.error_message().is_none(), "{:?}", win.error_message());
    check!(
        win.phase() == Phase::Playing,
        "still playing: {:?}",
        win.phase()
    );
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    Ok(())
}

/// 401: a dialog asks for user and password; wrong ones ask again; right
/// ones connect and play.
async fn unauthorized(env: &Env) -> TestResult {
    let win = &env.win;
    let url = format!("rtsp://{}/movie.Mjpeg", env.auth_addr);
    act_with(win, "win.open-location", url.to_variant());
    act(win, "win.setup");
    wait_for("the credentials dialog", 15, || win.credentials_requested()).await?;
    expect_state(win, Phase::Init, INIT, 5).await?;
    check!(
        win.error_message().unwrap_or_default().contains("401"),
        "{:?}",
        win.error_message()
    );
    check!(win.answer_credentials("viewer", "wrong"), "dialog answered");
    wait_for("the dialog again", 15, || win.credentials_requested()).await?;
    check!(
        win.answer_credentials("viewer", "s3cret"),
        "dialog answered"
    );
    expect_state(win, Phase::Playing, PLAYING, 15).await?;
    expect_frames(win, 24).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
}

/// The server no longer knows the session at PLAY (it restarted, or timed
/// the session out): its 454 is shown with Retry, and Retry plays.
async fn session_not_found(env: &Env) -> TestResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    let win = &env.win;
    let forget = Arc::new(AtomicBool::new(false));
    let proxy = {
        let forget = forget.clone();
        RtspProxy::with_hook(
            env.server.addr,
            Arc::new(move |req: &mut Request| {
                // The server is asked about a session it never made.
                if req.method == Method::Play && forget.load(Ordering::SeqCst) {
                    req.headers.insert("Session", "1234567890");
                }
                None
            }),
        )
    };
    act_with(
        win,
        "win.open-location",
        format!("rtsp://{}/movie.Mjpeg", proxy.addr).to_variant(),
    );
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    forget.store(true, Ordering::SeqCst);
    act(win, "win.play");
    let message = expect_error(win, "a message about the lost session", 15).await?;
    check!(
        message.contains("454") && message.contains("set up a new one"),
        "{message}"
    );
    check!(
        win.widgets().iter().any(|w| w.is_visible()
            && w.downcast_ref::<gtk::Button>()
                .is_some_and(|b| b.label().as_deref() == Some("Retry"))),
        "a Retry button shows"
    );
    // The session the server did make is torn down, not left behind.
    wait_for("the server's session to end", 10, || {
        env.server.sessions() == 0
    })
    .await?;
    forget.store(false, Ordering::SeqCst);
    act(win, "win.retry");
    expect_state(win, Phase::Playing, PLAYING, 15).await?;
    expect_frames(win, 12).await?;
    check!(
        win.error_message().is_none(),
        "Retry took the message away: {:?}",
        win.error_message()
    );
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
}

/// `rtsp://user:password@host/…` connects with them, but the password is
/// neither shown in the window nor written to the recent list.
async fn password_in_url(env: &Env) -> TestResult {
    let win = &env.win;
    let url = format!("rtsp://viewer:s3cret@{}/movie.Mjpeg", env.auth_addr);
    open_and_play(win, &url).await?;
    expect_frames(win, 12).await?;
    check!(!win.credentials_requested(), "no dialog: the URL had them");
    let shown = format!("{:?} {:?}", win.address_text(), win.status());
    check!(!shown.contains("s3cret"), "{shown}");
    check!(
        win.address_text() == format!("rtsp://viewer@{}/movie.Mjpeg", env.auth_addr),
        "{}",
        win.address_text()
    );
    let file = env.config_dir.join("mjpegrtsp").join("recent");
    let recent = std::fs::read_to_string(&file).unwrap_or_default();
    check!(
        !recent.contains("s3cret") && recent.contains("rtsp://viewer@"),
        "{recent}"
    );
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
}

/// `rtsps://` with SRTP media (the server's default), the certificate
/// checked against the CA file the player was given: it plays, seeks and
/// stops like plain RTSP, with no loss.
async fn rtsps_srtp(env: &Env) -> TestResult {
    let win = &env.win;
    let tls = env
        .server
        .tls_addr
        .ok_or("the test server has a TLS port")?;
    let url = format!("rtsps://{tls}/movie.Mjpeg");
    open_and_play(win, &url).await?;
    expect_frames(win, 24).await?;
    check!(win.address_text() == url, "{}", win.address_text());
    act_with(win, "win.seek-to", 10.0f64.to_variant());
    expect_seeked(win, "the seek over rtsps", 10.0..14.0).await?;
    expect_frames(win, frames(win) + 12).await?;
    let status = win.status();
    check!(number(&status.loss) == 0.0, "{status:?}");
    check!(win.error_message().is_none(), "{:?}", win.error_message());
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
}

/// Real key presses through the X server: Ctrl+L, typing an address, Enter,
/// Space, →, ←, Escape.
async fn keyboard(env: &Env) -> TestResult {
    if !env.keys {
        eprintln!("    note: xdotool not installed; key presses not tested");
        return Ok(());
    }
    let win = &env.win;
    win.present();
    press("ctrl+l").await?;
    wait_for("the address field focused", 3, || win.address_has_focus()).await?;
    press("ctrl+a").await?;
    xdotool(&["type", "--delay", "2", &env.url("movie.Mjpeg")])?;
    press("Return").await?;
    wait_for("the typed address opened", 5, || {
        win.phase() == Phase::Init && win.address_text() == env.url("movie.Mjpeg")
    })
    .await
    .map_err(|e| format!("{e}: {:?}", win.address_text()))?;
    check!(
        !win.address_has_focus(),
        "Enter gives the focus back to the video"
    );
    press("space").await?; // INIT: SETUP, then PLAY
    expect_state(win, Phase::Playing, PLAYING, 15).await?;
    expect_frames(win, 12).await?;
    press("space").await?;
    expect_state(win, Phase::Ready, READY, 10).await?;
    press("space").await?;
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    sleep(500).await;
    let before = position(win);
    press("Right").await?;
    expect_seeked(win, "→ (5 s on)", before + 4.0..before + 7.5).await?;
    let before = position(win);
    press("Left").await?;
    expect_seeked(win, "← (5 s back)", (before - 6.5).max(0.0)..before - 2.0).await?;
    press("Escape").await?;
    check!(
        win.phase() == Phase::Playing,
        "Escape does not stop playing"
    );
    press("space").await?;
    expect_state(win, Phase::Ready, READY, 10).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await
}

/// The player window's X id, for pointer events.
fn window_id() -> Result<String, String> {
    let out = Command::new("xdotool")
        .args([
            "search",
            "--onlyvisible",
            "--name",
            "^Video Streaming Player$",
        ])
        .output()
        .map_err(|e| format!("xdotool: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| "no player window on the display".to_owned())
}

/// Real pointer events through the X server: a click on the progress bar
/// seeks there, and so does a drag, to where the pointer is let go.
async fn progress_bar_mouse(env: &Env) -> TestResult {
    if !env.keys {
        eprintln!("    note: xdotool not installed; clicks not tested");
        return Ok(());
    }
    let win = &env.win;
    win.present();
    open_and_play(win, &env.url("movie.Mjpeg")).await?;
    expect_frames(win, 6).await?;
    let id = window_id()?;
    let (x, y, w, h) = win
        .seek_bar_on_surface()
        .ok_or("the progress bar is not on screen")?;
    let at = |fraction: f64| {
        (
            format!("{:.0}", x + w * fraction),
            format!("{:.0}", y + h / 2.0),
        )
    };
    // 20 s movie: a click at three quarters is 0:15.
    let (px, py) = at(0.75);
    xdotool(&["mousemove", "--window", &id, &px, &py, "click", "1"])?;
    expect_seeked(win, "the click at 0:15", 13.5..18.0).await?;

    // Drag from a quarter to a half: plays on from 0:10.
    let (ax, ay) = at(0.25);
    let (bx, by) = at(0.5);
    let (mx, my) = at(0.4);
    xdotool(&["mousemove", "--window", &id, &ax, &ay, "mousedown", "1"])?;
    sleep(100).await;
    xdotool(&["mousemove", "--window", &id, &mx, &my])?;
    sleep(100).await;
    xdotool(&["mousemove", "--window", &id, &bx, &by])?;
    sleep(100).await;
    xdotool(&["mouseup", "1"])?;
    expect_seeked(win, "the drag to 0:10", 8.5..13.0).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await
}

/// Open files and threads of this process.
fn process_resources() -> (usize, usize) {
    let count = |dir: &str| std::fs::read_dir(dir).map_or(0, |d| d.count());
    (count("/proc/self/fd"), count("/proc/self/task"))
}

/// Session after session (SETUP, PLAY, STOP) leaves no socket, file or
/// thread behind, here or on the server.
async fn no_leaks(env: &Env) -> TestResult {
    let win = &env.win;
    let cycle = || async {
        open_and_play(win, &env.url("movie.Mjpeg")).await?;
        expect_frames(win, 6).await?;
        act(win, "win.stop");
        expect_state(win, Phase::Init, INIT, 10).await?;
        wait_for("TEARDOWN", 5, || env.server.sessions() == 0).await
    };
    cycle().await?; // GStreamer and GTK make some things once, on first use
    sleep(500).await;
    let before = process_resources();
    for _ in 0..8 {
        cycle().await?;
    }
    let mut after = process_resources();
    wait_for("the old pipelines to go", 5, || {
        after = process_resources();
        after.0 <= before.0 + 2 && after.1 <= before.1 + 2
    })
    .await
    .map_err(|e| {
        let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .map(|f| format!("{:?}", std::fs::read_link(f.path())))
            .collect();
        format!("{e}: (fds, threads) {before:?} → {after:?}; open now: {fds:?}")
    })?;
    eprintln!("    (fds, threads) {before:?} → {after:?} after 8 sessions");
    Ok(())
}

async fn recent(env: &Env) -> TestResult {
    let file = env.config_dir.join("mjpegrtsp").join("recent");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    check!(
        lines.first() == Some(&env.url("movie.Mjpeg").as_str()) || !env.keys,
        "newest first: {lines:?}"
    );
    check!(
        lines.contains(&env.media.join("movie.Mjpeg").to_string_lossy().as_ref()),
        "{lines:?}"
    );
    check!(
        lines.iter().any(|l| l.ends_with("/nope.Mjpeg")),
        "{lines:?}"
    );
    let unique: std::collections::HashSet<_> = lines.iter().collect();
    check!(unique.len() == lines.len(), "no duplicates: {lines:?}");
    check!(
        win_items_match(&env.win, &lines),
        "the Recent menu shows the file"
    );
    Ok(())
}

/// A window manager on the test's X display while it lives (fullscreen is
/// the window manager's to grant).
struct WindowManager(std::process::Child);

impl WindowManager {
    /// Openbox, when installed.
    fn start() -> Option<WindowManager> {
        let child = Command::new("openbox")
            .args(["--sm-disable"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(WindowManager(child))
    }
}

impl Drop for WindowManager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// F makes the playing window fullscreen (video only, the whole screen),
/// Escape brings the controls back; playing goes on throughout.
async fn fullscreen(env: &Env) -> TestResult {
    if !env.keys {
        eprintln!("    note: xdotool not installed; fullscreen keys not tested");
        return Ok(());
    }
    let Some(mut wm) = WindowManager::start() else {
        eprintln!("    note: openbox not installed; fullscreen not tested");
        return Ok(());
    };
    let win = &env.win;
    // Ready when it answers for the desktops (an EWMH property of its own).
    wait_for("openbox to manage the display", 10, || {
        matches!(wm.0.try_wait(), Ok(None)) && xdotool(&["get_num_desktops"]).is_ok()
    })
    .await?;
    sleep(300).await; // and to take the window over
    win.present();
    open_and_play(win, &env.url("movie.Mjpeg")).await?;
    let (width, height, _) = win.video_area();
    let chrome = |win: &Window| {
        win.titlebar().is_some_and(|t| t.is_visible()) && win.controls() != Controls::default()
    };
    check!(chrome(win), "controls show before fullscreen");

    press("f").await?;
    wait_for("fullscreen", 5, || win.is_fullscreen()).await?;
    wait_for("the video on the whole screen", 5, || {
        let (w, h, _) = win.video_area();
        (w, h) == (1280, 1024)
    })
    .await
    .map_err(|e| {
        format!(
            "{e}: video area {:?}, was {width}x{height}",
            win.video_area()
        )
    })?;
    check!(
        !win.titlebar().is_some_and(|t| t.is_visible()),
        "no title bar in fullscreen"
    );
    expect_frames(win, 12).await?;

    press("Escape").await?;
    wait_for("fullscreen left", 5, || !win.is_fullscreen()).await?;
    wait_for("the window's own size again", 5, || {
        win.video_area().0 < 1280 && win.titlebar().is_some_and(|t| t.is_visible())
    })
    .await
    .map_err(|e| format!("{e}: video area {:?}", win.video_area()))?;
    check!(
        win.phase() == Phase::Playing,
        "Escape leaves fullscreen, not the stream"
    );
    expect_frames(win, 12).await?;
    act(win, "win.stop");
    expect_state(win, Phase::Init, INIT, 10).await?;
    drop(wm);
    sleep(300).await;
    Ok(())
}

fn win_items_match(win: &Window, lines: &[&str]) -> bool {
    win.recent_items()
        .iter()
        .map(String::as_str)
        .eq(lines.iter().copied())
}

/// Closing the window (Ctrl+Q) while playing sends TEARDOWN before it goes.
async fn close_sends_teardown(env: &Env) -> TestResult {
    let win = &env.win;
    act_with(
        win,
        "win.open-location",
        env.url("movie.Mjpeg").to_variant(),
    );
    act(win, "win.setup");
    expect_state(win, Phase::Ready, READY, 15).await?;
    act(win, "win.play");
    expect_state(win, Phase::Playing, PLAYING, 10).await?;
    expect_frames(win, 12).await?;
    check!(
        env.server.sessions() == 1,
        "one session: {}",
        env.server.sessions()
    );
    if env.keys {
        send_keys("ctrl+q")?;
    } else {
        let _ = win
            .application()
            .map(|app| app.activate_action("quit", None));
    }
    // The window goes (and the application ends) once TEARDOWN is answered;
    // main() checks the session count as the window is destroyed.
    Ok(())
}

// ------------------------------------------------- an RTSP front with auth --

/// Lets requests through to `upstream` only with `Authorization: Basic` for
/// viewer:s3cret (taken off on the way), answering 401 otherwise.
fn auth_front(upstream: std::net::SocketAddr) -> RtspProxy {
    let expected = format!("Basic {}", base64("viewer:s3cret"));
    RtspProxy::with_hook(
        upstream,
        Arc::new(move |req: &mut Request| {
            if req.headers.get("Authorization") != Some(expected.as_str()) {
                return Some(
                    Response::reply_to(req, StatusCode::UNAUTHORIZED)
                        .with_header("WWW-Authenticate", "Basic realm=\"player-test\""),
                );
            }
            req.headers.remove("Authorization");
            None
        }),
    )
}

fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ------------------------------------------------------------------- main --

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in TESTS {
            println!("{t}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&'static str> = TESTS
        .iter()
        .copied()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {} filtered out\n",
            TESTS.len()
        );
        return ExitCode::SUCCESS;
    }

    let own_config = tempfile::tempdir().unwrap();
    if let Some(code) = display::own_display(own_config.path(), "window tests") {
        return code;
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("window tests: still running after {WATCHDOG:?}, giving up");
        std::process::exit(101);
    });
    let config_dir =
        PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").expect("set above or by the parent"));

    application::init_gstreamer().expect("GStreamer");
    let media = movie_dir(480, 640, 480, 75, "ball");
    // RTSPS (SRTP on) beside plain RTSP, its certificate trusted by the player.
    let (cert, key) = certificate(media.path());
    player_gtk::player::set_tls_trust(player_gtk::player::TlsTrust {
        ca_file: Some(cert.clone()),
        no_verify: false,
    });
    let mut config = mjpegrtsp::server::ServerConfig::new(media.path());
    config.tls = Some(mjpegrtsp::server::TlsConfig::new(cert, key, 0));
    let server = TestServer::start_with(config);
    let auth_proxy = auth_front(server.addr);
    let keys = Command::new("xdotool")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());

    println!("\nrunning {} tests", selected.len());
    let results: Rc<RefCell<Vec<(String, TestResult)>>> = Rc::default();
    let sessions_at_destroy: Rc<RefCell<Option<usize>>> = Rc::default();
    let env_slot: Rc<RefCell<Option<Rc<Env>>>> = Rc::default();
    let server_slot = Rc::new(RefCell::new(Some(server)));

    let app = application::build(application::Options::default());
    {
        let (results, sessions_at_destroy, env_slot) = (
            results.clone(),
            sessions_at_destroy.clone(),
            env_slot.clone(),
        );
        let media = media.path().to_path_buf();
        let selected_for_run = selected.clone();
        let auth_addr = auth_proxy.addr;
        app.connect_activate(move |app| {
            let win = app
                .active_window()
                .and_downcast::<Window>()
                .expect("the application made its window");
            let Some(server) = server_slot.borrow_mut().take() else {
                return;
            };
            let env = Rc::new(Env {
                win: win.clone(),
                server,
                auth_addr,
                media: media.clone(),
                config_dir: config_dir.clone(),
                keys,
            });
            {
                let env = env.clone();
                let sessions_at_destroy = sessions_at_destroy.clone();
                app.connect_window_removed(move |_, _| {
                    *sessions_at_destroy.borrow_mut() = Some(env.server.sessions());
                });
            }
            *env_slot.borrow_mut() = Some(env.clone());
            let results = results.clone();
            let selected = selected_for_run.clone();
            let app = app.clone();
            glib::spawn_future_local(async move {
                wait_for("the window on screen", 10, || env.win.is_mapped())
                    .await
                    .ok();
                sleep(300).await;
                for name in &selected {
                    let started = Instant::now();
                    let result = run_test(name, &env).await;
                    println!(
                        "test {name} ... {} ({:.1} s)",
                        if result.is_ok() { "ok" } else { "FAILED" },
                        started.elapsed().as_secs_f64()
                    );
                    if let Err(e) = &result {
                        println!("    {e}");
                    }
                    results.borrow_mut().push((name.to_string(), result));
                }
                if !selected.contains(&"close_sends_teardown") {
                    app.quit();
                }
            });
        });
    }
    app.run_with_args(&["player-gtk-window-test"]);

    let env = env_slot.borrow_mut().take();
    let mut results = results.borrow_mut();
    if let Some((_, result)) = results
        .iter_mut()
        .find(|(n, _)| n == "close_sends_teardown")
        && result.is_ok()
    {
        *result = match *sessions_at_destroy.borrow() {
            Some(0) => Ok(()),
            Some(n) => Err(format!(
                "{n} sessions left when the window went: no TEARDOWN"
            )),
            None => Err("the window was not destroyed".into()),
        };
        if let Err(e) = result {
            println!("test close_sends_teardown ... FAILED (after closing)\n    {e}");
        }
    }
    if let Some(env) = &env {
        let stall = env.win.longest_stall_ms();
        println!("longest main-loop stall: {stall} ms");
        let ok = stall < 1500;
        if !ok {
            println!("test window_never_frozen ... FAILED: the main loop stalled {stall} ms");
        } else {
            println!("test window_never_frozen ... ok");
        }
        results.push((
            "window_never_frozen".into(),
            if ok {
                Ok(())
            } else {
                Err(format!("{stall} ms"))
            },
        ));
    }
    let failed: Vec<&String> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| n)
        .collect();
    let passed = results.len() - failed.len();
    let missing = selected.len() + usize::from(env.is_some()) - results.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        if failed.is_empty() && missing == 0 {
            "ok"
        } else {
            "FAILED"
        },
        failed.len() + missing,
        TESTS.len() - selected.len()
    );
    drop(env);
    if failed.is_empty() && missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
