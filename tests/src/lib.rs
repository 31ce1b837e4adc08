//! Helpers for the end-to-end tests and benchmarks, one concern a module:
//! media ([`media`]), pipelines ([`pipeline`]), this project's server in
//! process ([`server`]), a raw-text RTSP client ([`rtsp_text`]), a loopback
//! RTSP/RTP proxy ([`proxy`]) with impairments ([`impair`]), an RTSP front
//! with a hook on every request ([`front`]), and the
//! benchmarks' options ([`bench`]). Everything is re-exported at the root.

use std::sync::Once;

pub mod bench;
pub mod front;
pub mod impair;
pub mod media;
pub mod pipeline;
pub mod proxy;
pub mod rtsp_text;
pub mod server;

pub use bench::*;
pub use front::*;
pub use impair::*;
pub use media::*;
pub use pipeline::*;
pub use proxy::*;
pub use server::*;

/// Runs `f` to completion on a fresh two-thread tokio runtime (for tests of
/// the async client library).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// Initialises GStreamer and registers this project's elements (once).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().expect("register plugin");
    });
}
