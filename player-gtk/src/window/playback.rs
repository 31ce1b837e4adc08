//! Seeking, the progress bar, the picture and its paint statistics, and
//! the periodic refresh of position and statistics.

use super::{Window, imp};
use crate::state::{Controls, Phase, Request, format_time, seek_nanos};
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A playing stream that shows no new frame for this long is reported.
const STALL_AFTER: Duration = Duration::from_secs(6);

impl Window {
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

    pub(super) fn seek_by(&self, delta: f64) {
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

    pub(super) fn refresh_duration(&self) {
        let imp = self.imp();
        let duration = self.player().duration();
        imp.duration.set(duration);
        let ui = self.ui();
        match duration {
            Some(d) => {
                ui.scale.set_range(0.0, d.seconds_f64().max(0.001));
                ui.duration_label.set_text(&format_time(d.nseconds()));
            }
            None => {
                ui.scale.set_range(0.0, 1.0);
                ui.duration_label.set_text(
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

    pub(super) fn update_controls(&self) {
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

    pub(super) fn show_paintable(&self, paintable: &gdk::Paintable) {
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
    pub(super) fn frame_painted(&self) {
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

    pub(super) fn clear_video(&self) {
        let imp = self.imp();
        let ui = self.ui();
        ui.picture.set_paintable(None::<&gdk::Paintable>);
        imp.duration.set(None);
        ui.scale.set_range(0.0, 1.0);
        ui.scale.set_value(0.0);
        ui.position.set_text("0:00");
        ui.duration_label.set_text("--:--");
        imp.seek_started.set(None);
        ui.frame.set_text("Frame 0");
        ui.fps.set_text("0.0 fps");
        ui.bitrate.set_text("0 kbps");
        ui.loss.set_text("Loss 0");
        ui.dropped.set_text("Dropped 0");
        ui.latency.set_text("Latency –");
    }

    /// Refreshes position and statistics; runs every [`TICK`](super::TICK).
    pub(super) fn tick(&self) {
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
}
