//! The read-only inspection API: the window's state as a user sees it.
//!
//! This is what the integration tests (`tests/window.rs`), the benchmark
//! (`benches/playback.rs`) and scripts use to observe the window, through
//! the [`Inspect`] trait rather than the window's own API; apart from
//! [`Inspect::answer_credentials`], which plays the user in the credentials
//! dialog, nothing here changes the window.

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

/// The window as a user sees it: what the tests, the benchmark and
/// scripts read (a trait of its own, so that the window type's API is the
/// player's; `use player_gtk::window::Inspect` to read it).
pub trait Inspect {
    /// Which control buttons are enabled (their sensitivity).
    fn controls(&self) -> Controls;

    /// The RTSP state the window is in.
    fn phase(&self) -> Phase;

    /// Whether a request is in flight.
    fn is_busy(&self) -> bool;

    /// What the status bar and the progress bar show, as text.
    fn status(&self) -> StatusText;

    /// The error message over the video, when one shows.
    fn error_message(&self) -> Option<String>;

    /// What reached the screen since SETUP.
    fn paint_stats(&self) -> PaintStats;

    /// Size of the picture's current frame, when there is one.
    fn video_size(&self) -> Option<(i32, i32)>;

    /// The video area's size on screen, and whether it keeps the aspect
    /// ratio (the picture is scaled to fit inside it).
    fn video_area(&self) -> (i32, i32, bool);

    /// The widget tree under the window (for checks such as tooltips).
    fn widgets(&self) -> Vec<gtk::Widget>;

    /// Where the progress bar's slider runs, in the window's X surface
    /// coordinates: x, y, width, height (for tests that click it).
    fn seek_bar_on_surface(&self) -> Option<(f64, f64, f64, f64)>;

    /// Whether the progress bar takes clicks (the stream has a duration).
    fn can_seek(&self) -> bool;

    /// The longest the main loop was ever kept from running, in ms.
    fn longest_stall_ms(&self) -> u64;

    /// The recent streams and files, newest first, as the Recent menu lists them.
    fn recent_items(&self) -> Vec<String>;

    /// Fills the credentials dialog, when it shows, and presses Connect.
    fn answer_credentials(&self, user: &str, password: &str) -> bool;

    /// Whether the address field has the keyboard focus.
    fn address_has_focus(&self) -> bool;

    /// The text in the address field.
    fn address_text(&self) -> String;

    /// Whether the credentials dialog shows.
    fn credentials_requested(&self) -> bool;
}

impl Inspect for Window {
    fn controls(&self) -> Controls {
        let ui = self.ui();
        Controls {
            setup: ui.setup.is_sensitive(),
            play: ui.play.is_sensitive(),
            pause: ui.pause.is_sensitive(),
            stop: ui.stop.is_sensitive(),
        }
    }

    fn phase(&self) -> Phase {
        self.imp().phase.get()
    }

    fn is_busy(&self) -> bool {
        self.imp().busy.get().is_some()
    }

    fn status(&self) -> StatusText {
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
            duration: ui.duration_label.text().into(),
        }
    }

    fn error_message(&self) -> Option<String> {
        let ui = self.ui();
        ui.banner
            .is_visible()
            .then(|| ui.banner_label.text().into())
    }

    fn paint_stats(&self) -> PaintStats {
        let imp = self.imp();
        PaintStats {
            given: imp.frames_given.get(),
            on_screen: imp.frames_on_screen.get(),
            replaced: imp.frames_replaced.get(),
            delays_ms: imp.paint_delays_ms.borrow().iter().copied().collect(),
        }
    }

    fn video_size(&self) -> Option<(i32, i32)> {
        let p = self.ui().picture.paintable()?;
        let (w, h) = (p.intrinsic_width(), p.intrinsic_height());
        (w > 0 && h > 0).then_some((w, h))
    }

    fn video_area(&self) -> (i32, i32, bool) {
        let p = &self.ui().picture;
        (
            p.width(),
            p.height(),
            p.content_fit() == gtk::ContentFit::Contain,
        )
    }

    fn widgets(&self) -> Vec<gtk::Widget> {
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

    fn seek_bar_on_surface(&self) -> Option<(f64, f64, f64, f64)> {
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

    fn can_seek(&self) -> bool {
        self.ui().scale.is_sensitive()
    }

    fn longest_stall_ms(&self) -> u64 {
        self.imp().longest_stall_ms.get()
    }

    fn recent_items(&self) -> Vec<String> {
        self.imp()
            .recent
            .borrow()
            .as_ref()
            .map(|r| r.items().to_vec())
            .unwrap_or_default()
    }

    fn answer_credentials(&self, user: &str, password: &str) -> bool {
        let dialog = self.imp().auth_dialog.borrow().clone();
        let Some(d) = dialog else {
            return false;
        };
        d.user.set_text(user);
        d.password.set_text(password);
        d.connect.emit_clicked();
        true
    }

    fn address_has_focus(&self) -> bool {
        let address: &gtk::Entry = &self.ui().address;
        GtkWindowExt::focus(self).is_some_and(|w| w == *address || w.is_ancestor(address))
    }

    fn address_text(&self) -> String {
        self.ui().address.text().into()
    }

    fn credentials_requested(&self) -> bool {
        self.imp().auth_dialog.borrow().is_some()
    }
}
