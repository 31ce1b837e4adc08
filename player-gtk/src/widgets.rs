//! The credentials dialog a 401 opens, built from `auth-dialog.ui`. (The
//! window's own widgets are its template's children: `window.ui`.)

use gtk::glib;
use gtk::prelude::*;

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
    /// The dialog over `parent`, for `url`; `again` after refused
    /// credentials.
    pub fn build(parent: &impl IsA<gtk::Window>, url: &str, again: bool) -> AuthDialog {
        let builder =
            gtk::Builder::from_resource(&format!("{}/auth-dialog.ui", crate::resources::PREFIX));
        let get = |id: &str| {
            builder
                .object::<glib::Object>(id)
                .unwrap_or_else(|| panic!("auth-dialog.ui has no {id}"))
        };
        let dialog = AuthDialog {
            window: get("window").downcast().expect("a GtkWindow"),
            note: get("note").downcast().expect("a GtkLabel"),
            user: get("user").downcast().expect("a GtkEntry"),
            password: get("password").downcast().expect("a GtkPasswordEntry"),
            connect: get("connect").downcast().expect("a GtkButton"),
            cancel: get("cancel").downcast().expect("a GtkButton"),
        };
        dialog.window.set_transient_for(Some(parent));
        dialog.note.set_text(&if again {
            format!("The server refused these credentials for\n{url}\nTry again:")
        } else {
            format!("The server asks for a user name and password for\n{url}")
        });
        dialog
    }
}
