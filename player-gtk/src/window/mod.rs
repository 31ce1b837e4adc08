//! The player window: follows the RTSP state machine, shows the video and
//! the statistics, reports errors with a way to retry.
//!
//! Split by concern:
//! - this file: construction and wiring, opening a source, messages,
//!   the error banner and focus;
//! - `session.rs`: the RTSP requests (SETUP, PLAY, PAUSE, STOP), the player's
//!   events and the credentials dialog;
//! - `playback.rs`: seeking, the progress bar, the picture and the periodic
//!   statistics;
//! - `inspect.rs`: the [`Inspect`] trait, the read-only view of the window
//!   that tests, the benchmark and scripts use to observe it.
//!
//! The widgets are the children of the `resources/window.ui` template.

mod imp;
mod inspect;
mod playback;
mod session;

pub use inspect::{Inspect, PaintStats, StatusText};

use crate::player::{Player, Source};
use crate::recent::Recent;
use crate::state::{Phase, Request};
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, gio, glib};
use std::time::{Duration, Instant};

/// How often position and statistics are refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Seek step of the arrow keys.
pub const SEEK_STEP_SECS: f64 = 5.0;

glib::wrapper! {
    /// The player's main window.
    pub struct Window(ObjectSubclass<imp::Window>)
        @extends gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gio::ActionGroup, gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

/// Space, ←, →, F and Escape act on the player wherever the focus is,
/// except while typing in a text field. (GtkWindow's own Space and arrow
/// bindings would take them otherwise, hence the capture phase.)
fn key_shortcuts() -> gtk::ShortcutController {
    let controller = gtk::ShortcutController::new();
    controller.set_propagation_phase(gtk::PropagationPhase::Capture);
    let keys = [
        (gdk::Key::space, "win.play-pause"),
        (gdk::Key::KP_Space, "win.play-pause"),
        (gdk::Key::Right, "win.seek-forward"),
        (gdk::Key::Left, "win.seek-backward"),
        (gdk::Key::f, "win.fullscreen"),
        (gdk::Key::F, "win.fullscreen"),
        (gdk::Key::F11, "win.fullscreen"),
        (gdk::Key::Escape, "win.leave-fullscreen"),
    ];
    for (key, action) in keys {
        let callback = gtk::CallbackAction::new(move |widget, _| {
            let typing = widget
                .root()
                .and_then(|root| root.focus())
                .is_some_and(|focus| focus.is::<gtk::Editable>());
            if typing && action != "win.leave-fullscreen" {
                return glib::Propagation::Proceed;
            }
            let _ = widget.activate_action(action, None);
            glib::Propagation::Stop
        });
        controller.add_shortcut(gtk::Shortcut::new(
            Some(gtk::KeyvalTrigger::new(key, gdk::ModifierType::empty())),
            Some(callback),
        ));
    }
    controller
}

impl Window {
    /// A new player window for `app`.
    pub fn new(app: &gtk::Application) -> Window {
        glib::Object::builder().property("application", app).build()
    }

    /// The widgets (the template's children).
    fn ui(&self) -> &imp::Window {
        self.imp()
    }

    fn player(&self) -> &Player {
        self.imp().player.get().expect("made in constructed")
    }

    /// Wires the template's widgets; called once from `constructed`.
    fn setup(&self) {
        let imp = self.imp();
        let ui = self.ui();
        ui.go.connect_clicked(glib::clone!(
            #[weak(rename_to = address)]
            ui.address,
            move |_| address.emit_activate()
        ));

        let player = Player::new(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |event| win.on_event(event)
        ));
        let _ = imp.player.set(player);

        ui.address.connect_activate(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |entry| {
                let text = entry.text().to_string();
                win.open_text(&text, false);
            }
        ));
        ui.scale.connect_change_value(glib::clone!(
            #[weak(rename_to = win)]
            self,
            #[upgrade_or]
            glib::Propagation::Stop,
            move |_, _, value| {
                win.seek_to(value);
                glib::Propagation::Proceed
            }
        ));
        // A click on the video takes the keyboard focus from the address bar.
        let click = gtk::GestureClick::new();
        click.connect_pressed(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |_, _, _, _| win.focus_video()
        ));
        ui.video.add_controller(click);

        // Drag and drop: .Mjpeg files, or an rtsp:// URL as text.
        let drop = gtk::DropTarget::new(glib::Type::INVALID, gdk::DragAction::COPY);
        drop.set_types(&[gdk::FileList::static_type(), glib::Type::STRING]);
        drop.connect_drop(glib::clone!(
            #[weak(rename_to = win)]
            self,
            #[upgrade_or]
            false,
            move |_, value, _, _| {
                if let Ok(files) = value.get::<gdk::FileList>() {
                    if let Some(path) = files.files().first().and_then(|f| f.path()) {
                        win.open_text(&path.to_string_lossy(), false);
                        return true;
                    }
                } else if let Ok(text) = value.get::<String>() {
                    win.open_text(text.lines().next().unwrap_or(""), false);
                    return true;
                }
                false
            }
        ));
        self.add_controller(drop);

        self.add_controller(key_shortcuts());

        self.connect_fullscreened_notify(|win| {
            let ui = win.ui();
            let chrome = !win.is_fullscreen();
            for w in [
                ui.header.upcast_ref::<gtk::Widget>(),
                ui.address_bar.upcast_ref(),
                ui.progress_bar.upcast_ref(),
                ui.controls.upcast_ref(),
                ui.status_bar.upcast_ref(),
            ] {
                w.set_visible(chrome);
            }
        });

        *imp.recent.borrow_mut() = Some(Recent::load_default());
        self.refresh_recent_menu();
        self.update_controls();

        self.every(TICK, Window::tick);
        // Watches the main loop itself: the longest gap between two runs of
        // a 50 ms timeout says how long the window was ever unresponsive.
        let last = std::cell::Cell::new(Instant::now());
        self.every(Duration::from_millis(50), move |win| {
            let now = Instant::now();
            let gap = now.duration_since(last.replace(now)).as_millis() as u64;
            let imp = win.imp();
            imp.longest_stall_ms
                .set(imp.longest_stall_ms.get().max(gap.saturating_sub(50)));
        });
        self.connect_map(|win| win.focus_video());
        self.connect_realize(|win| {
            if let Some(clock) = win.frame_clock() {
                clock.connect_after_paint(glib::clone!(
                    #[weak]
                    win,
                    move |_| win.frame_painted()
                ));
            }
        });
    }

    /// Runs `f` every `period` while the window lives.
    fn every(&self, period: Duration, f: impl Fn(&Window) + 'static) {
        glib::timeout_add_local(
            period,
            glib::clone!(
                #[weak(rename_to = win)]
                self,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    f(&win);
                    glib::ControlFlow::Continue
                }
            ),
        );
    }

    // ---- opening ----

    /// Opens an `rtsp://` URL or a file path; with `play`, SETUP then PLAY.
    pub fn open_text(&self, text: &str, play: bool) {
        match Source::parse(text) {
            Ok(source) => self.open(source, play),
            Err(e) => self.show_error(&e, false),
        }
    }

    /// Chooses `source`: INIT, ready for SETUP. The previous session, if
    /// any, is torn down in the background.
    pub fn open(&self, source: Source, play: bool) {
        let imp = self.imp();
        self.player().unload();
        self.clear_video();
        imp.busy.set(None);
        imp.phase.set(Phase::Init);
        imp.credentials.replace(None);
        imp.at_end.set(false);
        imp.attempt.set(imp.attempt.get() + 1);
        self.hide_error();
        let ui = self.ui();
        ui.address.set_text(&source.display());
        if let Some(recent) = imp.recent.borrow_mut().as_mut() {
            recent.remember(&source.display());
            if let Err(e) = recent.save() {
                self.set_message(&format!(
                    "Cannot save the recent list {}: {e}",
                    recent.path().display()
                ));
            }
        }
        self.refresh_recent_menu();
        imp.source.replace(Some(source));
        self.update_controls();
        self.set_message("Press SETUP to connect, or Space to play");
        if play {
            imp.play_after_setup.set(true);
            self.request(Request::Setup);
        }
        self.focus_video();
    }

    fn choose_file(&self) {
        let chooser = gtk::FileChooserNative::new(
            Some("Open a .Mjpeg file"),
            Some(self),
            gtk::FileChooserAction::Open,
            Some("_Open"),
            Some("_Cancel"),
        );
        let filter = gtk::FileFilter::new();
        filter.set_name(Some("MJPEG files (*.Mjpeg)"));
        filter.add_pattern("*.Mjpeg");
        filter.add_pattern("*.mjpeg");
        filter.add_pattern("*.MJPEG");
        chooser.add_filter(&filter);
        let all = gtk::FileFilter::new();
        all.set_name(Some("All files"));
        all.add_pattern("*");
        chooser.add_filter(&all);
        chooser.connect_response(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |chooser, response| {
                if response == gtk::ResponseType::Accept
                    && let Some(path) = chooser.file().and_then(|f| f.path())
                {
                    win.open(Source::File(path), false);
                }
                win.imp().file_chooser.replace(None);
            }
        ));
        chooser.show();
        self.imp().file_chooser.replace(Some(chooser));
    }

    fn refresh_recent_menu(&self) {
        let ui = self.ui();
        ui.recent_menu.remove_all();
        let recent = self.imp().recent.borrow();
        let items = recent.as_ref().map(|r| r.items()).unwrap_or(&[]);
        for item in items {
            let entry = gio::MenuItem::new(Some(item), None);
            entry.set_action_and_target_value(Some("win.open-location"), Some(&item.to_variant()));
            ui.recent_menu.append_item(&entry);
        }
        ui.recent_button.set_sensitive(!items.is_empty());
    }

    /// `message`, naming the file it is about when it does not already (the
    /// network source's messages name their URL themselves).
    fn about_source(&self, message: &str) -> String {
        match self.imp().source.borrow().as_ref() {
            Some(Source::File(path)) => {
                let shown = path.display().to_string();
                if message.contains(&shown) {
                    message.to_owned()
                } else {
                    format!("{shown}: {message}")
                }
            }
            _ => message.to_owned(),
        }
    }

    fn source_name(&self) -> String {
        self.imp()
            .source
            .borrow()
            .as_ref()
            .map(|s| s.display())
            .unwrap_or_default()
    }

    fn set_message(&self, text: &str) {
        self.ui().message.set_text(text);
    }

    /// Shows `text` over the video, with Retry when `retry` and a source is set.
    pub fn show_error(&self, text: &str, retry: bool) {
        let ui = self.ui();
        ui.banner_label.set_text(text);
        ui.banner_retry
            .set_visible(retry && self.imp().source.borrow().is_some());
        ui.banner.set_visible(true);
        ui.placeholder.set_visible(false);
        self.set_message(text);
    }

    /// Hides the error message over the video.
    pub fn hide_error(&self) {
        let ui = self.ui();
        ui.banner.set_visible(false);
        ui.placeholder
            .set_visible(self.imp().source.borrow().is_none());
    }

    fn focus_address(&self) {
        if self.is_fullscreen() {
            self.unfullscreen();
        }
        let entry = &self.ui().address;
        entry.grab_focus();
        entry.select_region(0, -1);
    }

    fn focus_video(&self) {
        self.ui().video.grab_focus();
    }
}
