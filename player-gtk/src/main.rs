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
    // Our own flags are parsed above: GTK gets none of them.
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "player-gtk".into());
    app.run_with_args(&[program])
}
