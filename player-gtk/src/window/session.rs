//! The RTSP session as the window drives it: requests (SETUP, PLAY,
//! PAUSE, STOP), the player's events, and the credentials dialog.

use super::Window;
use crate::player::{Credentials, Event, NetStats};
use crate::state::{Phase, Request, format_time};
use crate::widgets::AuthDialog;
use gtk::glib;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use std::time::Duration;

impl Window {
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

    pub(super) fn play_pause(&self) {
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

    pub(super) fn retry(&self) {
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

    pub(super) fn on_event(&self, event: Event) {
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
            Event::Resumed(silent_for) => self.set_message(&format!(
                "Playing again after {:.1} s without video",
                silent_for.as_secs_f64()
            )),
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
}
