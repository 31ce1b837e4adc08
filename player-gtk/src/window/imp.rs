//! The window's subclass: its widgets (from the `window.ui` template), its
//! state, actions and key bindings.

use crate::player::{Credentials, NetStats, Player, Source};
use crate::recent::Recent;
use crate::state::{Phase, Request};
use crate::widgets::AuthDialog;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{CompositeTemplate, TemplateChild, gio, glib};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::time::Instant;

/// Rates over the last second, from the player's counters.
#[derive(Debug, Clone, Copy)]
pub struct RateSample {
    pub at: Instant,
    pub frames: u64,
    pub bytes: u64,
}

/// How many paint delays [`Window::paint_delays_ms`] keeps.
pub const PAINT_DELAYS_KEPT: usize = 8192;

#[derive(Default, CompositeTemplate)]
#[template(resource = "/org/mjpegrtsp/player/window.ui")]
pub struct Window {
    #[template_child]
    pub header: TemplateChild<gtk::HeaderBar>,
    #[template_child]
    pub address_bar: TemplateChild<gtk::Box>,
    #[template_child]
    pub address: TemplateChild<gtk::Entry>,
    #[template_child]
    pub recent_button: TemplateChild<gtk::MenuButton>,
    #[template_child]
    pub recent_menu: TemplateChild<gio::Menu>,
    #[template_child]
    pub video: TemplateChild<gtk::Overlay>,
    #[template_child]
    pub picture: TemplateChild<gtk::Picture>,
    #[template_child]
    pub placeholder: TemplateChild<gtk::Label>,
    #[template_child]
    pub banner: TemplateChild<gtk::Box>,
    #[template_child]
    pub banner_label: TemplateChild<gtk::Label>,
    #[template_child]
    pub banner_retry: TemplateChild<gtk::Button>,
    #[template_child]
    pub go: TemplateChild<gtk::Button>,
    #[template_child]
    pub progress_bar: TemplateChild<gtk::Box>,
    #[template_child]
    pub position: TemplateChild<gtk::Label>,
    #[template_child]
    pub scale: TemplateChild<gtk::Scale>,
    #[template_child]
    pub duration_label: TemplateChild<gtk::Label>,
    #[template_child]
    pub controls: TemplateChild<gtk::Box>,
    #[template_child]
    pub setup: TemplateChild<gtk::Button>,
    #[template_child]
    pub play: TemplateChild<gtk::Button>,
    #[template_child]
    pub pause: TemplateChild<gtk::Button>,
    #[template_child]
    pub stop: TemplateChild<gtk::Button>,
    #[template_child]
    pub status_bar: TemplateChild<gtk::Box>,
    #[template_child]
    pub state: TemplateChild<gtk::Label>,
    #[template_child]
    pub frame: TemplateChild<gtk::Label>,
    #[template_child]
    pub bitrate: TemplateChild<gtk::Label>,
    #[template_child]
    pub fps: TemplateChild<gtk::Label>,
    #[template_child]
    pub loss: TemplateChild<gtk::Label>,
    #[template_child]
    pub dropped: TemplateChild<gtk::Label>,
    #[template_child]
    pub latency: TemplateChild<gtk::Label>,
    #[template_child]
    pub message: TemplateChild<gtk::Label>,
    pub player: OnceCell<Player>,
    pub recent: RefCell<Option<Recent>>,
    /// The chosen stream or file.
    pub source: RefCell<Option<Source>>,
    pub credentials: RefCell<Option<Credentials>>,
    pub phase: Cell<Phase>,
    /// The request in flight.
    pub busy: Cell<Option<Request>>,
    /// PLAY as soon as SETUP is done (Space in INIT, --play, Retry).
    pub play_after_setup: Cell<bool>,
    /// An error message is showing for the current attempt.
    pub error_shown: Cell<bool>,
    /// Counts SETUPs, so that a late message is not shown for a newer one.
    pub attempt: Cell<u64>,
    pub at_end: Cell<bool>,
    pub duration: Cell<Option<gst::ClockTime>>,
    /// A user seek: when, and the frame count then. The progress bar shows
    /// its target until frames from the new position come.
    pub seek_started: Cell<Option<(Instant, u64)>>,
    pub net: Cell<NetStats>,
    pub rate_sample: Cell<Option<RateSample>>,
    /// Frames the picture was given (invalidations of the paintable).
    pub frames_given: Cell<u64>,
    /// Frames painted on screen, and given frames a newer one replaced
    /// before any paint.
    pub frames_on_screen: Cell<u64>,
    pub frames_replaced: Cell<u64>,
    /// The picture's newest frame is not painted yet: its running time.
    pub unpainted: Cell<Option<Option<gst::ClockTime>>>,
    /// Arrival-to-screen delays of the latest painted frames (ms).
    pub paint_delays_ms: RefCell<VecDeque<f64>>,
    /// Smoothed display latency (arrival to screen) in milliseconds.
    pub latency_ms: Cell<Option<f64>>,
    /// When the frame counter last moved while playing.
    pub last_progress: Cell<Option<(u64, Instant)>>,
    pub stall_reported: Cell<bool>,
    pub auth_dialog: RefCell<Option<AuthDialog>>,
    pub file_chooser: RefCell<Option<gtk::FileChooserNative>>,
    /// Closing: waiting for TEARDOWN before the window goes.
    pub closing: Cell<bool>,
    /// Longest time the main loop went without running our 50 ms tick.
    pub longest_stall_ms: Cell<u64>,
}

#[glib::object_subclass]
impl ObjectSubclass for Window {
    const NAME: &'static str = "MjpegPlayerWindow";
    type Type = super::Window;
    type ParentType = gtk::ApplicationWindow;

    fn class_init(klass: &mut Self::Class) {
        crate::resources::register();
        klass.bind_template();
        klass.install_action("win.setup", None, |win, _, _| win.request(Request::Setup));
        klass.install_action("win.play", None, |win, _, _| win.request(Request::Play));
        klass.install_action("win.pause", None, |win, _, _| win.request(Request::Pause));
        klass.install_action("win.stop", None, |win, _, _| win.request(Request::Stop));
        klass.install_action("win.play-pause", None, |win, _, _| win.play_pause());
        klass.install_action("win.seek-forward", None, |win, _, _| win.seek_by(5.0));
        klass.install_action("win.seek-backward", None, |win, _, _| win.seek_by(-5.0));
        klass.install_action(
            "win.seek-to",
            Some(glib::VariantTy::DOUBLE),
            |win, _, param| {
                if let Some(secs) = param.and_then(|p| p.get::<f64>()) {
                    win.seek_to(secs);
                }
            },
        );
        klass.install_action("win.fullscreen", None, |win, _, _| {
            if win.is_fullscreen() {
                win.unfullscreen();
            } else {
                win.fullscreen();
            }
        });
        klass.install_action("win.leave-fullscreen", None, |win, _, _| {
            if win.is_fullscreen() {
                win.unfullscreen();
            }
            win.focus_video();
        });
        klass.install_action("win.focus-address", None, |win, _, _| win.focus_address());
        klass.install_action("win.open-file", None, |win, _, _| win.choose_file());
        klass.install_action(
            "win.open-location",
            Some(glib::VariantTy::STRING),
            |win, _, param| {
                if let Some(text) = param.and_then(|p| p.get::<String>()) {
                    win.open_text(&text, false);
                }
            },
        );
        klass.install_action("win.retry", None, |win, _, _| win.retry());
        klass.install_action("win.dismiss", None, |win, _, _| win.hide_error());
    }

    fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
        obj.init_template();
    }
}

impl ObjectImpl for Window {
    fn constructed(&self) {
        self.parent_constructed();
        self.obj().setup();
    }
}

impl WidgetImpl for Window {}

impl WindowImpl for Window {
    /// Closing sends TEARDOWN first: the window hides, and goes when the
    /// answer comes (or after a few seconds without one).
    fn close_request(&self) -> glib::Propagation {
        if self.closing.get() {
            return self.parent_close_request();
        }
        let live =
            self.busy.get().is_some() || matches!(self.phase.get(), Phase::Ready | Phase::Playing);
        if !live {
            return self.parent_close_request();
        }
        self.closing.set(true);
        let obj = self.obj();
        obj.set_visible(false);
        if self.busy.get().is_none() {
            obj.request(Request::Stop);
        }
        glib::timeout_add_local_once(
            std::time::Duration::from_secs(4),
            glib::clone!(
                #[weak]
                obj,
                move || obj.close()
            ),
        );
        glib::Propagation::Stop
    }
}

impl ApplicationWindowImpl for Window {}
