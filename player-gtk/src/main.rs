//! `player-gtk [rtsp://…|rtsps://…|FILE.Mjpeg] [--play] [--renderer auto|gl|cairo] [--tls-ca FILE]`

use clap::{Parser, ValueEnum};
use gtk::prelude::*;
use player_gtk::{application, renderer};
use std::os::unix::process::CommandExt;

/// Video Streaming Player: plays MJPEG over RTSP and local .Mjpeg files.
///
/// Given a source without --play, the window opens with it in the address
/// field and does not connect until you press Play (or Space): SETUP, then
/// PLAY, as the RTSP state machine goes. With no source, type an address
/// (Ctrl+L) or open a file (Ctrl+O).
#[derive(Parser, Debug)]
#[command(version, about, after_help = EXAMPLES)]
struct Args {
    /// An rtsp:// or rtsps:// URL, or a .Mjpeg file, to open (without
    /// --play: shown, not connected to).
    source: Option<String>,
    /// SETUP and PLAY the source at once.
    #[arg(long)]
    play: bool,
    /// How GTK draws the window: `auto` takes OpenGL unless it runs in
    /// software (llvmpipe), then cairo, which costs far less CPU there.
    /// GSK_RENDERER, when set, wins over `auto`.
    #[arg(long, value_enum, default_value_t = Renderer::Auto)]
    renderer: Renderer,
    /// Print the OpenGL driver and the renderer the window would get, then
    /// exit.
    #[arg(long)]
    renderer_info: bool,
    /// For rtsps:// streams: trust the certificates in this PEM file instead
    /// of the system's (a test CA, or a self-signed server's certificate).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<std::path::PathBuf>,
    /// For rtsps:// streams: take any certificate (a test server only).
    #[arg(long)]
    tls_no_verify: bool,
}

const EXAMPLES: &str = "\
Examples:
  player-gtk --play rtsp://127.0.0.1:8554/sample.Mjpeg   connect and play at once
  player-gtk rtsp://camera.local:8554/door               open; press Play (Space) to connect
  player-gtk --play ~/videos/holiday.Mjpeg                a local file
  player-gtk --play rtsps://host:8322/cam --tls-ca ca.pem  RTSPS with a private CA
  player-gtk                                              type an address with Ctrl+L

Keys: Space play/pause, Left/Right seek 5 s, F fullscreen, Ctrl+Q quit.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Renderer {
    Auto,
    Gl,
    Cairo,
}

/// Picks the renderer before any window exists (GTK reads `GSK_RENDERER`
/// when it makes the first). `Some(code)`: exit with it.
fn choose_renderer(args: &Args) -> Option<glib::ExitCode> {
    let forced = match args.renderer {
        Renderer::Gl => Some("gl"),
        Renderer::Cairo => Some("cairo"),
        Renderer::Auto => None,
    };
    if let Some(name) = forced {
        // SAFETY: called first thing in main: no other thread exists yet.
        unsafe { std::env::set_var("GSK_RENDERER", name) };
    }
    let preset = std::env::var("GSK_RENDERER").ok().filter(|r| !r.is_empty());
    if preset.is_some() && !args.renderer_info {
        return None;
    }
    if let Err(e) = gtk::init() {
        eprintln!(
            "player-gtk: cannot open a display ({e}): it needs a desktop session (DISPLAY or WAYLAND_DISPLAY set), or xvfb-run"
        );
        return Some(glib::ExitCode::FAILURE);
    }
    let gl = renderer::gl_renderer();
    let (choice, why) = match &preset {
        Some(r) => (Some(r.as_str()), format!("GSK_RENDERER={r}")),
        None => renderer::automatic_choice(&gl),
    };
    if args.renderer_info {
        match gl {
            Ok(gl) => println!(
                "OpenGL: {gl}{}",
                if renderer::is_software(&gl) {
                    " (software)"
                } else {
                    ""
                }
            ),
            Err(e) => println!("OpenGL: {e}"),
        }
        println!("renderer: {} ({why})", choice.unwrap_or("GTK's choice"));
        return Some(glib::ExitCode::SUCCESS);
    }
    glib::g_info!("player-gtk", "{why}");
    let name = choice?;
    // GTK is up in this process already: start again with the renderer set
    // (setting the environment now could race GLib's own threads).
    let exe = std::env::current_exe().ok()?;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GSK_RENDERER", name)
        .exec();
    eprintln!("player-gtk: cannot restart with GSK_RENDERER={name}: {err}");
    None
}

fn main() -> glib::ExitCode {
    let args = Args::parse();
    if let Some(code) = choose_renderer(&args) {
        return code;
    }
    if let Err(e) = application::init_gstreamer() {
        eprintln!("player-gtk: cannot start GStreamer: {e}");
        return glib::ExitCode::FAILURE;
    }
    player_gtk::player::set_tls_trust(player_gtk::player::TlsTrust {
        ca_file: args.tls_ca.clone(),
        no_verify: args.tls_no_verify,
    });
    let app = application::build(application::Options {
        source: args.source,
        play: args.play,
    });
    quit_on_signals(&app);
    // Our own flags are parsed above: GTK gets none of them.
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "player-gtk".into());
    app.run_with_args(&[program])
}

/// SIGINT (Ctrl+C in the terminal) and SIGTERM close the windows as Ctrl+Q
/// does, so that every session gets its TEARDOWN; a second one ends the
/// process at once.
fn quit_on_signals(app: &gtk::Application) {
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    let asked = std::rc::Rc::new(std::cell::Cell::new(false));
    for signal in [SIGINT, SIGTERM] {
        let app = app.downgrade();
        let asked = asked.clone();
        glib::unix_signal_add_local(signal, move || {
            if asked.replace(true) {
                std::process::exit(128 + signal);
            }
            if let Some(app) = app.upgrade() {
                app.activate_action("quit", None);
            }
            glib::ControlFlow::Continue
        });
    }
}
