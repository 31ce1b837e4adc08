//! Which GSK renderer draws the window.
//!
//! GTK draws with OpenGL when it can. Where OpenGL is done in software
//! (Mesa's llvmpipe: virtual machines, remote X, Xvfb, machines without a
//! GPU driver) that costs most of a CPU core for a 24 fps video, while
//! GTK's cairo renderer draws the same window for a tenth of it (figures in
//! BENCHMARKS.md). So, unless the user chose (`GSK_RENDERER`, `--renderer`),
//! the player asks the OpenGL driver who it is and takes cairo for a
//! software one.

use gtk::gdk;
use gtk::prelude::*;
use std::ffi::{CStr, c_char};

/// `GL_RENDERER` for `glGetString`.
const GL_RENDERER: u32 = 0x1F01;

#[link(name = "epoxy")]
unsafe extern "C" {
    /// libepoxy's dispatch pointer for `glGetString` (GTK draws with
    /// libepoxy, so it is loaded anyway).
    static epoxy_glGetString: unsafe extern "C" fn(name: u32) -> *const c_char;
}

/// The OpenGL driver's renderer string (such as "llvmpipe (LLVM 15.0.6, 256
/// bits)" or "Mesa Intel(R) UHD Graphics 620"), from a context made on the
/// default display. Needs GTK initialised.
pub fn gl_renderer() -> Result<String, String> {
    let display = gdk::Display::default().ok_or("no display")?;
    let context = display
        .create_gl_context()
        .map_err(|e| format!("no OpenGL: {e}"))?;
    context
        .realize()
        .map_err(|e| format!("no OpenGL context: {e}"))?;
    context.make_current();
    // SAFETY: a context is current on this thread; glGetString returns a
    // static NUL-terminated string owned by the driver, or NULL.
    let name = unsafe {
        let ptr = epoxy_glGetString(GL_RENDERER);
        (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
    };
    gdk::GLContext::clear_current();
    name.ok_or_else(|| "the OpenGL driver did not name its renderer".to_owned())
}

/// Whether `renderer` (a `GL_RENDERER` string) runs on the CPU.
pub fn is_software(renderer: &str) -> bool {
    let r = renderer.to_ascii_lowercase();
    [
        "llvmpipe",
        "softpipe",
        "software rasterizer",
        "swrast",
        "lavapipe",
    ]
    .iter()
    .any(|s| r.contains(s))
}

/// The renderer the player picks when the user did not, given what
/// [`gl_renderer`] found: `Some("cairo")` for software OpenGL or none at
/// all, `None` to leave it to GTK. The second value says why, for
/// `--renderer-info` and the debug log.
pub fn automatic_choice(gl: &Result<String, String>) -> (Option<&'static str>, String) {
    match gl {
        Ok(r) if is_software(r) => (
            Some("cairo"),
            format!("OpenGL renderer {r:?} runs on the CPU: drawing with cairo"),
        ),
        Ok(r) => (None, format!("OpenGL renderer {r:?}: GTK's choice")),
        Err(e) => (Some("cairo"), format!("{e}: drawing with cairo")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_renderers() {
        assert!(is_software("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(is_software("Software Rasterizer"));
        assert!(is_software("softpipe"));
        assert!(!is_software("Mesa Intel(R) UHD Graphics 620 (KBL GT2)"));
        assert!(!is_software(
            "AMD Radeon RX 6600 (radeonsi, navi23, LLVM 15.0.6)"
        ));
        assert!(!is_software("NVIDIA GeForce GTX 1080/PCIe/SSE2"));
    }
}
