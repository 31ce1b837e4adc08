//! The player window: follows the RTSP state machine, shows the video and
//! the statistics, reports errors with a way to retry.

mod imp;

use crate::player::{Credentials, Event, NetStats, Player, Source};
use crate::recent::Recent;
use crate::state::{Controls, Phase, Request, format_time, seek_nanos};
use crate::widgets::{AuthDialog, Ui};
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, gio, glib};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often position and statistics are refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Seek step of the arrow keys.
pub const SEEK_STEP_SECS: f64 = 5.0;
/// A playing stream that shows no new frame for this long is reported.
const STALL_AFTER: Duration = Duration::from_secs(6);

glib::wrapper! {
    pub struct Window(ObjectSubclass<imp::Window>)
        @extends gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gio::ActionGroup, gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

/// What the status bar shows, as text (for tests and the screenshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText {
    pub state: String,
    pub frame: String,
    pub bitrate: String,
    pub fps: String,
    pub loss: String,
    pub dropped: String,
    pub latency: String,
    pub message: String,
    pub position: String,
    pub duration: String,
}

/// Frames the picture got and painted since SETUP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaintStats {
    /// Frames given to the picture (the sink's paintable changed).
    pub given: u64,
    /// Frames the window painted.
    pub on_screen: u64,
    /// Frames replaced by a newer one before a paint showed them.
    pub replaced: u64,
    /// For the latest painted frames (up to a few thousand), the time from
    /// arrival (live) or due time (file) to the end of the paint, in ms.
    pub delays_ms: Vec<f64>,
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
    pub fn new(app: &gtk::Application) -> Window {
        glib::Object::builder().property("application", app).build()
    }

    fn ui(&self) -> &Ui {
        self.imp().ui.get().expect("built in constructed")
    }

    fn player(&self) -> &Player {
        self.imp().player.get().expect("made in constructed")
    }

    /// Builds the widgets and wires them; called once from `constructed`.
    fn setup(&self) {
        let imp = self.imp();
        let ui = Ui::build();
        self.set_title(Some("Video Streaming Player"));
        self.set_default_size(960, 780);
        self.add_css_class("player");
        self.set_titlebar(Some(&ui.header));
        self.set_child(Some(&ui.root));

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

        let _ = imp.ui.set(ui);
        *imp.recent.borrow_mut() = Some(Recent::load_default());
        self.refresh_recent_menu();
        self.update_controls();

        glib::timeout_add_local(
            TICK,
            glib::clone!(
                #[weak(rename_to = win)]
                self,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    win.tick();
                    glib::ControlFlow::Continue
                }
            ),
        );
        // Watches the main loop itself: the longest gap between two runs of
        // a 50 ms timeout says how long the window was ever unresponsive.
        let last = std::cell::Cell::new(Instant::now());
        glib::timeout_add_local(
            Duration::from_millis(50),
            glib::clone!(
                #[weak(rename_to = win)]
                self,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    let now = Instant::now();
                    let gap = now.duration_since(last.replace(now)).as_millis() as u64;
                    let imp = win.imp();
                    imp.longest_stall_ms
                        .set(imp.longest_stall_ms.get().max(gap.saturating_sub(50)));
                    glib::ControlFlow::Continue
                }
            ),
        );
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

    // ---- requests ----

    /// SETUP, PLAY, PAUSE or STOP, when the state machine allows it.
    pub fn request(&self, request: Request) {
        let imp = self.imp();
        if imp.busy.get().is_some() || !request.allowed_in(imp.phase.get()) {
            return;
        }
        if request == Request::Setup {
            let Some(source) = imp.source.borrow().clone() else {
                return;
            };
            imp.error_shown.set(false);
            imp.attempt.set(imp.attempt.get() + 1);
            self.hide_error();
            let credentials = imp.credentials.borrow().clone();
            match self.player().load(&source, credentials.as_ref()) {
                Ok(paintable) => self.show_paintable(&paintable),
                Err(e) => {
                    self.show_error(&e, true);
                    return;
                }
            }
            imp.duration.set(None);
            imp.net.set(NetStats::default());
            imp.rate_sample.set(None);
            imp.latency_ms.set(None);
            imp.frames_given.set(0);
            imp.frames_on_screen.set(0);
            imp.frames_replaced.set(0);
            imp.unpainted.set(None);
            imp.paint_delays_ms.borrow_mut().clear();
        }
        if request == Request::Play && imp.at_end.get() {
            // Played to the end: PLAY starts again from the beginning.
            imp.at_end.set(false);
            if imp.duration.get().is_some() {
                self.player().seek(gst::ClockTime::ZERO);
            }
        }
        if request != Request::Setup {
            imp.play_after_setup.set(false);
        }
        if !self.player().request(request) {
            return;
        }
        imp.busy.set(Some(request));
        imp.stall_reported.set(false);
        imp.last_progress.set(None);
        self.update_controls();
        self.set_message(&format!("{request} {}", self.source_name()));
    }

    fn play_pause(&self) {
        let imp = self.imp();
        match imp.phase.get() {
            Phase::Playing => self.request(Request::Pause),
            Phase::Ready => self.request(Request::Play),
            Phase::Init if imp.busy.get().is_none() => {
                imp.play_after_setup.set(true);
                self.request(Request::Setup);
            }
            _ => {}
        }
    }

    fn retry(&self) {
        let imp = self.imp();
        if imp.source.borrow().is_none() {
            return;
        }
        if matches!(imp.phase.get(), Phase::Ready | Phase::Playing) {
            // A stalled stream: start a new session.
            self.player().unload();
            imp.busy.set(None);
            imp.phase.set(Phase::Init);
        }
        if imp.phase.get() == Phase::Init && imp.busy.get().is_none() {
            imp.play_after_setup.set(true);
            self.request(Request::Setup);
        }
    }

    fn on_event(&self, event: Event) {
        glib::g_debug!("player-gtk", "{event:?}");
        let imp = self.imp();
        match event {
            Event::Done { request, result } => {
                if imp.busy.get() == Some(request) {
                    imp.busy.set(None);
                }
                match result {
                    Ok(()) => {
                        imp.phase.set(request.target());
                        match request {
                            Request::Setup => {
                                self.refresh_duration();
                                self.set_message(&format!("Set up {}", self.source_name()));
                            }
                            Request::Play => self.set_message("Playing"),
                            Request::Pause if imp.at_end.get() => self.set_message("End of stream"),
                            Request::Pause => self.set_message("Paused"),
                            Request::Stop => {
                                self.player().unload();
                                self.clear_video();
                                self.set_message("Session ended (TEARDOWN)");
                            }
                        }
                    }
                    Err(reason) => {
                        // The worker took the pipeline back to NULL; it stays
                        // loaded so that its bus error, which may come after
                        // this, is still shown.
                        imp.phase.set(Phase::Init);
                        imp.play_after_setup.set(false);
                        if !imp.error_shown.get() {
                            // The bus error that says why usually comes
                            // with it; a moment later, say at least this.
                            let attempt = imp.attempt.get();
                            glib::timeout_add_local_once(
                                Duration::from_millis(300),
                                glib::clone!(
                                    #[weak(rename_to = win)]
                                    self,
                                    move || {
                                        let imp = win.imp();
                                        if imp.attempt.get() == attempt && !imp.error_shown.get() {
                                            win.show_error(&reason, true);
                                        }
                                    }
                                ),
                            );
                        }
                    }
                }
                self.update_controls();
                if imp.closing.get() {
                    if matches!(imp.phase.get(), Phase::Ready | Phase::Playing) {
                        self.request(Request::Stop);
                    } else {
                        self.close();
                    }
                } else if request == Request::Setup
                    && imp.phase.get() == Phase::Ready
                    && imp.play_after_setup.replace(false)
                {
                    self.request(Request::Play);
                }
            }
            Event::SeekDone { ok } => {
                if !ok {
                    self.set_message("The seek failed");
                }
            }
            Event::Error {
                message,
                debug,
                unauthorized,
            } => {
                if let Some(debug) = debug {
                    glib::g_message!("player-gtk", "{message} ({debug})");
                }
                // The first error of an attempt says why; later ones (such
                // as "state change failed") only follow from it.
                if !imp.error_shown.replace(true) {
                    self.show_error(&self.about_source(&message), true);
                }
                imp.play_after_setup.set(false);
                if imp.busy.get().is_none()
                    && matches!(imp.phase.get(), Phase::Ready | Phase::Playing)
                {
                    self.request(Request::Stop);
                }
                if unauthorized {
                    self.ask_credentials();
                }
            }
            Event::Warning(w) => self.set_message(&w),
            Event::Eos => {
                if let Some(why) = self.early_end() {
                    // mjpegrtspsrc ends the stream when the server goes
                    // away: a lost connection, not the end of the movie.
                    imp.error_shown.set(true);
                    self.show_error(&why, true);
                    if imp.busy.get().is_none() && imp.phase.get() == Phase::Playing {
                        self.request(Request::Stop);
                    }
                    return;
                }
                imp.at_end.set(true);
                self.set_message("End of stream");
                if imp.busy.get().is_none() && imp.phase.get() == Phase::Playing {
                    self.request(Request::Pause);
                }
            }
            Event::NetStats(s) => imp.net.set(s),
            Event::DurationChanged => self.refresh_duration(),
        }
    }

    /// Why an RTSP stream's end is not the end of its movie: it came before
    /// the duration (or the stream has none).
    fn early_end(&self) -> Option<String> {
        let source = self.imp().source.borrow().clone()?;
        if !source.is_rtsp() {
            return None;
        }
        let position = self.player().position().unwrap_or_default();
        let at = format_time(position.nseconds());
        match self.imp().duration.get() {
            Some(d) if position + gst::ClockTime::from_mseconds(1500) >= d => None,
            Some(d) => Some(format!(
                "The stream from {} stopped at {at} of {}: the server closed the connection",
                source.display(),
                format_time(d.nseconds())
            )),
            None => Some(format!(
                "The live stream from {} ended at {at}: the server closed the connection",
                source.display()
            )),
        }
    }

    fn ask_credentials(&self) {
        let imp = self.imp();
        let Some(source) = imp.source.borrow().clone() else {
            return;
        };
        if let Some(old) = imp.auth_dialog.take() {
            old.window.destroy();
        }
        let again = imp.credentials.borrow().is_some();
        let dialog = AuthDialog::build(self, &source.display(), again);
        if let Some(c) = imp.credentials.borrow().as_ref() {
            dialog.user.set_text(&c.user);
        }
        dialog.connect.connect_clicked(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |_| {
                let imp = win.imp();
                if let Some(d) = imp.auth_dialog.take() {
                    imp.credentials.replace(Some(Credentials {
                        user: d.user.text().to_string(),
                        password: d.password.text().to_string(),
                    }));
                    d.window.destroy();
                    win.retry();
                }
            }
        ));
        dialog.cancel.connect_clicked(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |_| {
                if let Some(d) = win.imp().auth_dialog.take() {
                    d.window.destroy();
                }
            }
        ));
        dialog.window.present();
        dialog.user.grab_focus();
        imp.auth_dialog.replace(Some(dialog));
    }

    // ---- seeking ----

    fn seekable(&self) -> Option<gst::ClockTime> {
        let imp = self.imp();
        if imp.busy.get().is_some_and(|r| r != Request::Play)
            || !matches!(imp.phase.get(), Phase::Ready | Phase::Playing)
        {
            return None;
        }
        imp.duration.get()
    }

    /// Seeks to `secs` when the stream has a duration.
    pub fn seek_to(&self, secs: f64) {
        let Some(duration) = self.seekable() else {
            return;
        };
        let imp = self.imp();
        let secs = secs.clamp(0.0, duration.seconds_f64());
        let position = gst::ClockTime::from_nseconds(seek_nanos(secs, duration.nseconds()));
        if self.player().seek(position) {
            imp.at_end.set(false);
            let frames = self
                .player()
                .counters()
                .map_or(0, |c| c.frames.load(Ordering::Relaxed));
            imp.seek_started.set(Some((Instant::now(), frames)));
            let ui = self.ui();
            ui.scale.set_value(secs);
            ui.position.set_text(&format_time(position.nseconds()));
            self.set_message(&format!("Seek to {}", format_time(position.nseconds())));
        }
    }

    fn seek_by(&self, delta: f64) {
        if self.seekable().is_none() {
            return;
        }
        let now = if self.position_held() {
            self.ui().scale.value()
        } else {
            self.player()
                .position()
                .map_or(self.ui().scale.value(), |p| p.seconds_f64())
        };
        self.seek_to(now + delta);
    }

    /// Whether the progress bar still shows a seek's target: for at least
    /// 300 ms, then until a new frame comes (3 s at most).
    fn position_held(&self) -> bool {
        let imp = self.imp();
        let Some((at, frames_then)) = imp.seek_started.get() else {
            return false;
        };
        let frames_now = self
            .player()
            .counters()
            .map_or(0, |c| c.frames.load(Ordering::Relaxed));
        let elapsed = at.elapsed();
        let held = elapsed < Duration::from_millis(300)
            || (frames_now <= frames_then + 1 && elapsed < Duration::from_secs(3));
        if !held {
            imp.seek_started.set(None);
        }
        held
    }

    fn refresh_duration(&self) {
        let imp = self.imp();
        let duration = self.player().duration();
        imp.duration.set(duration);
        let ui = self.ui();
        match duration {
            Some(d) => {
                ui.scale.set_range(0.0, d.seconds_f64().max(0.001));
                ui.duration.set_text(&format_time(d.nseconds()));
            }
            None => {
                ui.scale.set_range(0.0, 1.0);
                ui.duration.set_text(
                    if matches!(imp.phase.get(), Phase::Ready | Phase::Playing) {
                        "LIVE"
                    } else {
                        "--:--"
                    },
                );
            }
        }
        self.update_controls();
    }

    // ---- display ----

    fn update_controls(&self) {
        let imp = self.imp();
        let phase = imp.phase.get();
        let busy = imp.busy.get();
        let c = Controls::for_phase(phase, busy.is_some());
        self.action_set_enabled("win.setup", c.setup);
        self.action_set_enabled("win.play", c.play);
        self.action_set_enabled("win.pause", c.pause);
        self.action_set_enabled("win.stop", c.stop);
        self.action_set_enabled("win.retry", imp.source.borrow().is_some());
        let ui = self.ui();
        ui.state
            .set_text(busy.map_or(phase.name(), |r| r.progress()));
        ui.scale.set_sensitive(self.seekable().is_some());
        ui.placeholder
            .set_visible(imp.source.borrow().is_none() && !ui.banner.is_visible());
    }

    fn show_paintable(&self, paintable: &gdk::Paintable) {
        let ui = self.ui();
        ui.picture.set_paintable(Some(paintable));
        // A new frame for the picture: remember when it arrived (live) or
        // was due (file) until it is on screen (see `frame_painted`).
        paintable.connect_invalidate_contents(glib::clone!(
            #[weak(rename_to = win)]
            self,
            move |p| {
                if win.ui().picture.paintable().as_ref() != Some(p) {
                    return;
                }
                let imp = win.imp();
                imp.frames_given.set(imp.frames_given.get() + 1);
                let due = win.player().frame_running_time();
                if imp.unpainted.replace(Some(due)).is_some() {
                    // The one before never reached the screen.
                    imp.frames_replaced.set(imp.frames_replaced.get() + 1);
                }
            }
        ));
    }

    /// The frame clock painted the window: the picture's newest frame, if
    /// it had one, is on screen now. Records its delay from arrival.
    fn frame_painted(&self) {
        let imp = self.imp();
        let Some(due) = imp.unpainted.take() else {
            return;
        };
        imp.frames_on_screen.set(imp.frames_on_screen.get() + 1);
        let (Some(due), Some(now)) = (due, self.player().running_time()) else {
            return;
        };
        let ms = now.saturating_sub(due).nseconds() as f64 / 1e6;
        if ms >= 10_000.0 {
            return; // not from this clock: a stale frame
        }
        let smoothed = imp.latency_ms.get().map_or(ms, |s| s * 0.9 + ms * 0.1);
        imp.latency_ms.set(Some(smoothed));
        let mut delays = imp.paint_delays_ms.borrow_mut();
        if delays.len() == imp::PAINT_DELAYS_KEPT {
            delays.pop_front();
        }
        delays.push_back(ms);
    }

    fn clear_video(&self) {
        let imp = self.imp();
        let ui = self.ui();
        ui.picture.set_paintable(None::<&gdk::Paintable>);
        imp.duration.set(None);
        ui.scale.set_range(0.0, 1.0);
        ui.scale.set_value(0.0);
        ui.position.set_text("0:00");
        ui.duration.set_text("--:--");
        imp.seek_started.set(None);
        ui.frame.set_text("Frame 0");
        ui.fps.set_text("0.0 fps");
        ui.bitrate.set_text("0 kbps");
        ui.loss.set_text("Loss 0");
        ui.dropped.set_text("Dropped 0");
        ui.latency.set_text("Latency –");
    }

    /// Refreshes position and statistics; runs every [`TICK`].
    fn tick(&self) {
        let imp = self.imp();
        let ui = self.ui();
        let player = self.player();
        let active = matches!(imp.phase.get(), Phase::Ready | Phase::Playing);
        if active
            && !self.position_held()
            && let Some(p) = player.position()
        {
            let p = imp.duration.get().map_or(p, |d| p.min(d));
            ui.position.set_text(&format_time(p.nseconds()));
            if imp.duration.get().is_some() {
                ui.scale.set_value(p.seconds_f64());
            }
        }
        let Some(counters) = player.counters() else {
            return;
        };
        let frames = counters.frames.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        ui.frame.set_text(&format!("Frame {frames}"));
        let now = Instant::now();
        match imp.rate_sample.get() {
            Some(last) if now.duration_since(last.at) >= Duration::from_secs(1) => {
                let secs = now.duration_since(last.at).as_secs_f64();
                let fps = frames.saturating_sub(last.frames) as f64 / secs;
                let kbps = bytes.saturating_sub(last.bytes) as f64 * 8.0 / 1000.0 / secs;
                ui.fps.set_text(&format!("{fps:.1} fps"));
                ui.bitrate.set_text(&format!("{kbps:.0} kbps"));
                imp.rate_sample.set(Some(imp::RateSample {
                    at: now,
                    frames,
                    bytes,
                }));
            }
            Some(_) => {}
            None => imp.rate_sample.set(Some(imp::RateSample {
                at: now,
                frames,
                bytes,
            })),
        }
        let net = imp.net.get();
        ui.loss.set_text(&format!("Loss {}", net.packets_lost));
        ui.dropped.set_text(&format!(
            "Dropped {}",
            net.frames_dropped + player.sink_dropped()
        ));
        ui.latency.set_text(&match imp.latency_ms.get() {
            Some(ms) if imp.phase.get() == Phase::Playing => format!("Latency {ms:.0} ms"),
            _ => "Latency –".to_owned(),
        });

        // A playing stream whose frames stopped coming: say so, offer Retry.
        if imp.phase.get() == Phase::Playing && imp.busy.get().is_none() && !imp.at_end.get() {
            match imp.last_progress.get() {
                Some((n, _)) if n != frames => imp.last_progress.set(Some((frames, now))),
                Some((_, since)) => {
                    if now.duration_since(since) >= STALL_AFTER && !imp.stall_reported.get() {
                        imp.stall_reported.set(true);
                        self.show_error(
                            &format!(
                                "No video from {} for {} s: the connection may be lost",
                                self.source_name(),
                                STALL_AFTER.as_secs()
                            ),
                            true,
                        );
                    }
                }
                None => imp.last_progress.set(Some((frames, now))),
            }
        } else {
            imp.last_progress.set(None);
        }
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

    // ---- for tests and scripts: the window's state as a user sees it ----

    /// Which control buttons are enabled (their sensitivity).
    pub fn controls(&self) -> Controls {
        let ui = self.ui();
        Controls {
            setup: ui.setup.is_sensitive(),
            play: ui.play.is_sensitive(),
            pause: ui.pause.is_sensitive(),
            stop: ui.stop.is_sensitive(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.imp().phase.get()
    }

    pub fn is_busy(&self) -> bool {
        self.imp().busy.get().is_some()
    }

    pub fn status(&self) -> StatusText {
        let ui = self.ui();
        StatusText {
            state: ui.state.text().into(),
            frame: ui.frame.text().into(),
            bitrate: ui.bitrate.text().into(),
            fps: ui.fps.text().into(),
            loss: ui.loss.text().into(),
            dropped: ui.dropped.text().into(),
            latency: ui.latency.text().into(),
            message: ui.message.text().into(),
            position: ui.position.text().into(),
            duration: ui.duration.text().into(),
        }
    }

    /// The error message over the video, when one shows.
    pub fn error_message(&self) -> Option<String> {
        let ui = self.ui();
        ui.banner
            .is_visible()
            .then(|| ui.banner_label.text().into())
    }

    /// What reached the screen since SETUP.
    pub fn paint_stats(&self) -> PaintStats {
        let imp = self.imp();
        PaintStats {
            given: imp.frames_given.get(),
            on_screen: imp.frames_on_screen.get(),
            replaced: imp.frames_replaced.get(),
            delays_ms: imp.paint_delays_ms.borrow().iter().copied().collect(),
        }
    }

    /// Size of the picture's current frame, when there is one.
    pub fn video_size(&self) -> Option<(i32, i32)> {
        let p = self.ui().picture.paintable()?;
        let (w, h) = (p.intrinsic_width(), p.intrinsic_height());
        (w > 0 && h > 0).then_some((w, h))
    }

    /// The video area's size on screen, and whether it keeps the aspect
    /// ratio (the picture is scaled to fit inside it).
    pub fn video_area(&self) -> (i32, i32, bool) {
        let p = &self.ui().picture;
        (
            p.width(),
            p.height(),
            p.content_fit() == gtk::ContentFit::Contain,
        )
    }

    /// The widget tree under the window (for checks such as tooltips).
    pub fn widgets(&self) -> Vec<gtk::Widget> {
        fn walk(w: &gtk::Widget, out: &mut Vec<gtk::Widget>) {
            out.push(w.clone());
            let mut child = w.first_child();
            while let Some(c) = child {
                walk(&c, out);
                child = c.next_sibling();
            }
        }
        let mut out = Vec::new();
        walk(self.upcast_ref(), &mut out);
        out
    }

    /// Where the progress bar's slider runs, in the window's X surface
    /// coordinates: x, y, width, height (for tests that click it).
    pub fn seek_bar_on_surface(&self) -> Option<(f64, f64, f64, f64)> {
        let scale = &self.ui().scale;
        // The trough is the scale's first child; its bounds are the range.
        let trough = scale.first_child()?;
        let b = trough.compute_bounds(self)?;
        let (sx, sy) = self.surface_transform();
        Some((
            f64::from(b.x()) + sx,
            f64::from(b.y()) + sy,
            f64::from(b.width()),
            f64::from(b.height()),
        ))
    }

    /// Whether the progress bar takes clicks (the stream has a duration).
    pub fn can_seek(&self) -> bool {
        self.ui().scale.is_sensitive()
    }

    /// The longest the main loop was ever kept from running, in ms.
    pub fn longest_stall_ms(&self) -> u64 {
        self.imp().longest_stall_ms.get()
    }

    pub fn recent_items(&self) -> Vec<String> {
        self.imp()
            .recent
            .borrow()
            .as_ref()
            .map(|r| r.items().to_vec())
            .unwrap_or_default()
    }

    /// Fills the credentials dialog, when it shows, and presses Connect.
    pub fn answer_credentials(&self, user: &str, password: &str) -> bool {
        let dialog = self.imp().auth_dialog.borrow().clone();
        let Some(d) = dialog else {
            return false;
        };
        d.user.set_text(user);
        d.password.set_text(password);
        d.connect.emit_clicked();
        true
    }

    /// Whether the address field has the keyboard focus.
    pub fn address_has_focus(&self) -> bool {
        let address = &self.ui().address;
        GtkWindowExt::focus(self).is_some_and(|w| &w == address || w.is_ancestor(address))
    }

    pub fn address_text(&self) -> String {
        self.ui().address.text().into()
    }

    pub fn credentials_requested(&self) -> bool {
        self.imp().auth_dialog.borrow().is_some()
    }
}
