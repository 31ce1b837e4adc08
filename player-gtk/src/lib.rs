//! `player-gtk`: the desktop player for this project's RTSP streams and
//! `.Mjpeg` files. GTK4 on top of a GStreamer pipeline:
//! `mjpegrtspsrc ! jpegdec ! videoconvert ! gtk4paintablesink` (or
//! `filesrc ! lengthmjpegdemux ! …` for files), whose paintable a
//! `gtk::Picture` shows. State changes (RTSP requests) run on a worker thread;
//! the window follows the RTSP state machine.

pub mod application;
pub mod player;
pub mod recent;
pub mod renderer;
pub mod resources;
pub mod state;
pub mod widgets;
pub mod window;
