//! The window's widgets, laid out as the seed's player: title, address bar,
//! video area, progress bar, control buttons, status bar. Behaviour lives in
//! `window`; this module only builds and names things.

use gtk::prelude::*;
use gtk::{gio, glib};

/// Every widget the window reads or changes.
#[derive(Debug, Clone)]
pub struct Ui {
    pub root: gtk::Box,
    pub header: gtk::HeaderBar,
    pub address_bar: gtk::Box,
    pub address: gtk::Entry,
    pub recent_button: gtk::MenuButton,
    pub recent_menu: gio::Menu,
    pub video: gtk::Overlay,
    pub picture: gtk::Picture,
    pub placeholder: gtk::Label,
    pub banner: gtk::Box,
    pub banner_label: gtk::Label,
    pub banner_retry: gtk::Button,
    pub progress_bar: gtk::Box,
    pub position: gtk::Label,
    pub scale: gtk::Scale,
    pub duration: gtk::Label,
    pub controls: gtk::Box,
    pub setup: gtk::Button,
    pub play: gtk::Button,
    pub pause: gtk::Button,
    pub stop: gtk::Button,
    pub status_bar: gtk::Box,
    pub state: gtk::Label,
    pub frame: gtk::Label,
    pub bitrate: gtk::Label,
    pub fps: gtk::Label,
    pub loss: gtk::Label,
    pub dropped: gtk::Label,
    pub latency: gtk::Label,
    pub message: gtk::Label,
}

fn control_button(label: &str, action: &str, class: &str, tooltip: &str) -> gtk::Button {
    let b = gtk::Button::builder()
        .label(label)
        .action_name(action)
        .tooltip_text(tooltip)
        .focus_on_click(false)
        .width_request(110)
        .build();
    b.add_css_class("control");
    b.add_css_class(class);
    b
}

fn status_label(text: &str, tooltip: &str) -> gtk::Label {
    let l = gtk::Label::builder()
        .label(text)
        .tooltip_text(tooltip)
        .xalign(0.0)
        .build();
    l.add_css_class("stat");
    l
}

impl Ui {
    pub fn build() -> Ui {
        // Title bar: the seed's title, open-file and recent-streams buttons.
        let header = gtk::HeaderBar::new();
        let title = gtk::Label::new(Some("Video Streaming Player"));
        title.add_css_class("title");
        header.set_title_widget(Some(&title));
        let open = gtk::Button::builder()
            .label("Open File…")
            .action_name("win.open-file")
            .tooltip_text("Open a local .Mjpeg file (Ctrl+O); you can also drop one on the window")
            .focus_on_click(false)
            .build();
        header.pack_start(&open);
        let recent_menu = gio::Menu::new();
        let recent_button = gtk::MenuButton::builder()
            .label("Recent")
            .menu_model(&recent_menu)
            .tooltip_text("Streams and files opened before")
            .build();
        header.pack_start(&recent_button);

        // Address bar.
        let address_bar = gtk::Box::new(gtk::Orientation::Horizontal, 8);
        address_bar.add_css_class("panel");
        address_bar.add_css_class("address-bar");
        let address = gtk::Entry::builder()
            .placeholder_text("rtsp://host:8554/movie.Mjpeg or /path/to/movie.Mjpeg")
            .tooltip_text(
                "Address of an RTSP stream or a local .Mjpeg file (Ctrl+L); Enter opens it",
            )
            .hexpand(true)
            .input_purpose(gtk::InputPurpose::Url)
            .build();
        let go = gtk::Button::builder()
            .label("Open")
            .tooltip_text("Open the address (Enter)")
            .focus_on_click(false)
            .build();
        go.add_css_class("go");
        address_bar.append(&address);
        address_bar.append(&go);
        go.connect_clicked(glib::clone!(
            #[weak]
            address,
            move |_| {
                address.emit_activate();
            }
        ));

        // Video area: the picture, a hint while there is none, an error banner.
        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Contain)
            .can_shrink(true)
            .hexpand(true)
            .vexpand(true)
            .width_request(640)
            .height_request(480)
            .build();
        let placeholder = gtk::Label::builder()
            .label(
                "Open a stream: type its rtsp:// address (Ctrl+L), choose a file, or drop one here",
            )
            .wrap(true)
            .justify(gtk::Justification::Center)
            .build();
        placeholder.add_css_class("placeholder");
        let banner = gtk::Box::new(gtk::Orientation::Horizontal, 12);
        banner.add_css_class("banner");
        banner.set_valign(gtk::Align::Start);
        banner.set_halign(gtk::Align::Fill);
        banner.set_visible(false);
        let banner_label = gtk::Label::builder()
            .wrap(true)
            .wrap_mode(gtk::pango::WrapMode::WordChar)
            .xalign(0.0)
            .hexpand(true)
            .selectable(true)
            .build();
        let banner_retry = gtk::Button::builder()
            .label("Retry")
            .action_name("win.retry")
            .tooltip_text("Connect again")
            .focus_on_click(false)
            .valign(gtk::Align::Center)
            .build();
        banner_retry.add_css_class("setup");
        let dismiss = gtk::Button::builder()
            .label("Dismiss")
            .action_name("win.dismiss")
            .tooltip_text("Hide this message")
            .focus_on_click(false)
            .valign(gtk::Align::Center)
            .build();
        banner.append(&banner_label);
        banner.append(&banner_retry);
        banner.append(&dismiss);
        let video = gtk::Overlay::builder().child(&picture).build();
        video.add_css_class("video");
        video.add_overlay(&placeholder);
        video.add_overlay(&banner);
        video.set_focusable(true);
        video.set_hexpand(true);
        video.set_vexpand(true);

        // Progress bar: position, seekable scale, duration.
        let progress_bar = gtk::Box::new(gtk::Orientation::Horizontal, 10);
        progress_bar.add_css_class("panel");
        progress_bar.add_css_class("progress");
        let position = gtk::Label::builder()
            .label("0:00")
            .tooltip_text("Position")
            .width_chars(7)
            .build();
        let scale = gtk::Scale::builder()
            .orientation(gtk::Orientation::Horizontal)
            .adjustment(&gtk::Adjustment::new(0.0, 0.0, 1.0, 1.0, 5.0, 0.0))
            .draw_value(false)
            .hexpand(true)
            .focusable(false)
            .sensitive(false)
            .tooltip_text(
                "Position in the stream: click or drag to seek (when the stream has a duration)",
            )
            .build();
        let duration = gtk::Label::builder()
            .label("--:--")
            .tooltip_text("Duration (LIVE: the stream has none)")
            .width_chars(7)
            .build();
        position.add_css_class("time");
        duration.add_css_class("time");
        progress_bar.append(&position);
        progress_bar.append(&scale);
        progress_bar.append(&duration);

        // Control buttons.
        let controls = gtk::Box::new(gtk::Orientation::Horizontal, 12);
        controls.add_css_class("controls");
        controls.set_halign(gtk::Align::Fill);
        let inner = gtk::Box::new(gtk::Orientation::Horizontal, 12);
        inner.set_halign(gtk::Align::Center);
        inner.set_hexpand(true);
        let setup = control_button(
            "SETUP",
            "win.setup",
            "setup",
            "SETUP: connect and set the stream up (DESCRIBE + SETUP), or load the file",
        );
        let play = control_button(
            "PLAY",
            "win.play",
            "play",
            "PLAY: start or resume playing (Space)",
        );
        let pause = control_button(
            "PAUSE",
            "win.pause",
            "pause",
            "PAUSE: pause playing (Space)",
        );
        let stop = control_button(
            "STOP",
            "win.stop",
            "stop",
            "STOP: end the session (TEARDOWN)",
        );
        for b in [&setup, &play, &pause, &stop] {
            inner.append(b);
        }
        controls.append(&inner);

        // Status bar.
        let status_bar = gtk::Box::new(gtk::Orientation::Horizontal, 18);
        status_bar.add_css_class("panel");
        status_bar.add_css_class("status-bar");
        let state = status_label("INIT", "RTSP state");
        state.add_css_class("state");
        let frame = status_label("Frame 0", "Frames shown since SETUP");
        let bitrate = status_label("0 kbps", "Bitrate of the received JPEG data");
        let fps = status_label("0.0 fps", "Frames shown per second");
        let loss = status_label("Loss 0", "RTP packets lost");
        let dropped = status_label(
            "Dropped 0",
            "Frames dropped: incomplete on arrival, or too late to show",
        );
        let latency = status_label("Latency –", "Time from a frame's arrival to its display");
        let message = gtk::Label::builder()
            .xalign(1.0)
            .hexpand(true)
            .ellipsize(gtk::pango::EllipsizeMode::Middle)
            .tooltip_text("What the player is doing")
            .build();
        message.add_css_class("secondary");
        for w in [
            &state, &frame, &bitrate, &fps, &loss, &dropped, &latency, &message,
        ] {
            status_bar.append(w);
        }

        let root = gtk::Box::new(gtk::Orientation::Vertical, 0);
        root.append(&address_bar);
        root.append(&video);
        root.append(&progress_bar);
        root.append(&controls);
        root.append(&status_bar);

        Ui {
            root,
            header,
            address_bar,
            address,
            recent_button,
            recent_menu,
            video,
            picture,
            placeholder,
            banner,
            banner_label,
            banner_retry,
            progress_bar,
            position,
            scale,
            duration,
            controls,
            setup,
            play,
            pause,
            stop,
            status_bar,
            state,
            frame,
            bitrate,
            fps,
            loss,
            dropped,
            latency,
            message,
        }
    }
}

/// The dialog a 401 opens: user name and password.
#[derive(Debug, Clone)]
pub struct AuthDialog {
    pub window: gtk::Window,
    pub note: gtk::Label,
    pub user: gtk::Entry,
    pub password: gtk::PasswordEntry,
    pub connect: gtk::Button,
    pub cancel: gtk::Button,
}

impl AuthDialog {
    pub fn build(parent: &impl IsA<gtk::Window>, url: &str, again: bool) -> AuthDialog {
        let window = gtk::Window::builder()
            .title("Authentication required")
            .modal(true)
            .transient_for(parent)
            .destroy_with_parent(true)
            .resizable(false)
            .build();
        window.add_css_class("auth");
        let grid = gtk::Grid::builder()
            .row_spacing(10)
            .column_spacing(10)
            .margin_top(18)
            .margin_bottom(18)
            .margin_start(18)
            .margin_end(18)
            .build();
        let note = gtk::Label::builder()
            .label(if again {
                format!("The server refused these credentials for\n{url}\nTry again:")
            } else {
                format!("The server asks for a user name and password for\n{url}")
            })
            .xalign(0.0)
            .wrap(true)
            .max_width_chars(50)
            .build();
        let user = gtk::Entry::builder()
            .tooltip_text("User name")
            .hexpand(true)
            .activates_default(true)
            .build();
        let password = gtk::PasswordEntry::builder()
            .tooltip_text("Password")
            .show_peek_icon(true)
            .activates_default(true)
            .build();
        let cancel = gtk::Button::builder()
            .label("Cancel")
            .tooltip_text("Do not connect")
            .build();
        let connect = gtk::Button::builder()
            .label("Connect")
            .tooltip_text("Connect with this user name and password")
            .build();
        connect.add_css_class("setup");
        let buttons = gtk::Box::new(gtk::Orientation::Horizontal, 10);
        buttons.set_halign(gtk::Align::End);
        buttons.append(&cancel);
        buttons.append(&connect);
        let user_label = gtk::Label::builder().label("User").xalign(1.0).build();
        let pw_label = gtk::Label::builder().label("Password").xalign(1.0).build();
        grid.attach(&note, 0, 0, 2, 1);
        grid.attach(&user_label, 0, 1, 1, 1);
        grid.attach(&user, 1, 1, 1, 1);
        grid.attach(&pw_label, 0, 2, 1, 1);
        grid.attach(&password, 1, 2, 1, 1);
        grid.attach(&buttons, 0, 3, 2, 1);
        window.set_child(Some(&grid));
        window.set_default_widget(Some(&connect));
        AuthDialog {
            window,
            note,
            user,
            password,
            connect,
            cancel,
        }
    }
}
