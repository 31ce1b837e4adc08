//! The read-only inspection API: the window's state as a user sees it.
//!
//! This is what the integration tests (`tests/window.rs`), the benchmark
//! (`benches/playback.rs`) and scripts use to observe the window; apart
//! from [`Window::answer_credentials`], which plays the user in the
//! credentials dialog, nothing here changes the window.

use super::Window;
use crate::state::{Controls, Phase};
use gtk::prelude::*;
use gtk::subclass::prelude::*;

/// What the status bar shows, as text (for tests and the screenshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText {
    /// The RTSP state: INIT, READY or PLAYING.
    pub state: String,
    /// The frame counter (`Frame 411`).
    pub frame: String,
    /// The received bitrate (`1102 kbps`).
    pub bitrate: String,
    /// Frames per second received (`23.9 fps`).
    pub fps: String,
    /// Packets lost (`Loss 0`).
    pub loss: String,
    /// Frames dropped (`Dropped 0`).
    pub dropped: String,
    /// Arrival-to-paint latency (`Latency 5 ms`).
    pub latency: String,
    /// The message line (errors, end of stream).
    pub message: String,
    /// The position label under the progress bar.
    pub position: String,
    /// The duration label under the progress bar.
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

impl Window {
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

    /// The RTSP state the window is in.
    pub fn phase(&self) -> Phase {
        self.imp().phase.get()
    }

    /// Whether a request is in flight.
    pub fn is_busy(&self) -> bool {
        self.imp().busy.get().is_some()
    }

    /// What the status bar and the progress bar show, as text.
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

    /// The recent streams and files, newest first, as the Recent menu lists them.
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

    /// The text in the address field.
    pub fn address_text(&self) -> String {
        self.ui().address.text().into()
    }

    /// Whether the credentials dialog shows.
    pub fn credentials_requested(&self) -> bool {
        self.imp().auth_dialog.borrow().is_some()
    }
}
