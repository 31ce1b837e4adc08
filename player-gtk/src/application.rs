//! The application: startup (style, dark theme, application actions and
//! accelerators) and one window per activation.

use crate::window::Window;
use gtk::prelude::*;
use gtk::{gdk, gio, glib};

pub const APP_ID: &str = "org.mjpegrtsp.Player";

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// An `rtsp://` URL or a `.Mjpeg` file to open.
    pub source: Option<String>,
    /// SETUP and PLAY it at once.
    pub play: bool,
}

/// Registers the GStreamer elements the player uses (in this process, no
/// plugin path needed): `gtk4paintablesink` and this project's elements.
pub fn init_gstreamer() -> Result<(), glib::Error> {
    gst::init()?;
    gstgtk4::plugin_register_static()
        .map_err(|e| glib::Error::new(gst::CoreError::Failed, &e.to_string()))?;
    gstmjpegrtsp::plugin_register_static()
        .map_err(|e| glib::Error::new(gst::CoreError::Failed, &e.to_string()))?;
    Ok(())
}

/// The application, not yet running: `run_with_args` starts it. Several
/// players may run at once (each is its own process).
pub fn build(options: Options) -> gtk::Application {
    let app = gtk::Application::builder()
        .application_id(APP_ID)
        .flags(gio::ApplicationFlags::NON_UNIQUE)
        .build();
    app.connect_startup(|app| {
        load_style();
        if let Some(settings) = gtk::Settings::default() {
            settings.set_gtk_application_prefer_dark_theme(true);
        }
        let quit = gio::SimpleAction::new("quit", None);
        quit.connect_activate(glib::clone!(
            #[weak]
            app,
            move |_, _| {
                // Each window sends TEARDOWN before it goes; the
                // application ends with its last window.
                for w in app.windows() {
                    w.close();
                }
            }
        ));
        app.add_action(&quit);
        app.set_accels_for_action("app.quit", &["<Control>q"]);
        app.set_accels_for_action("win.focus-address", &["<Control>l"]);
        app.set_accels_for_action("win.open-file", &["<Control>o"]);
    });
    app.connect_activate(move |app| {
        let win = Window::new(app);
        win.present();
        if let Some(source) = &options.source {
            win.open_text(source, options.play);
        }
    });
    app
}

fn load_style() {
    crate::resources::register();
    let provider = gtk::CssProvider::new();
    provider.load_from_resource(&format!("{}/style.css", crate::resources::PREFIX));
    if let Some(display) = gdk::Display::default() {
        gtk::style_context_add_provider_for_display(
            &display,
            &provider,
            gtk::STYLE_PROVIDER_PRIORITY_APPLICATION,
        );
    }
}
