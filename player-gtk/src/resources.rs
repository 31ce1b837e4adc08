//! The window's template, the credentials dialog and the style sheet, built
//! into the binary as a GResource bundle (`resources/`, compiled by
//! `build.rs`) under [`PREFIX`].

use gtk::gio;
use std::sync::Once;

/// Where the bundle's files are.
pub const PREFIX: &str = "/org/mjpegrtsp/player";

/// Registers the bundle (once; before the window's class is made).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gio::resources_register_include!("player.gresource")
            .expect("the player's GResource bundle is valid");
    });
}
