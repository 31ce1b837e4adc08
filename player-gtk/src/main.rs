//! `player-gtk [rtsp://…|FILE.Mjpeg] [--play]`

use clap::Parser;
use gtk::prelude::*;
use player_gtk::application;

/// Video Streaming Player: plays MJPEG over RTSP and local .Mjpeg files.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// An rtsp:// URL or a .Mjpeg file to open.
    source: Option<String>,
    /// SETUP and PLAY the source at once.
    #[arg(long)]
    play: bool,
}

fn main() -> glib::ExitCode {
    let args = Args::parse();
    if let Err(e) = application::init_gstreamer() {
        eprintln!("player-gtk: cannot start GStreamer: {e}");
        return glib::ExitCode::FAILURE;
    }
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
