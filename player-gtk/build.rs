//! Compiles the window's template, the credentials dialog and the style
//! sheet (`resources/`) into the GResource bundle the binary embeds.

fn main() {
    glib_build_tools::compile_resources(
        &["resources"],
        "resources/player.gresource.xml",
        "player.gresource",
    );
}
