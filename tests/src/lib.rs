//! Helpers for the end-to-end tests and benchmarks, one concern a module:
//! media ([`media`]), a client session's events ([`events`]), pipelines ([`pipeline`]), this project's server in
//! process ([`server`]), a raw-text RTSP client ([`rtsp_text`]), an HTTP
//! client for the server's HTTP port ([`http`]), headless Chromium over
//! WebDriver ([`browser`]), a loopback
//! RTSP/RTP proxy ([`proxy`]: request hooks, RTP filters, network
//! interruptions) with impairments ([`impair`]), and the benchmarks' options
//! ([`bench`]), and readings of a process in `/proc` ([`procfs`]). Everything is re-exported at the root.

use std::sync::Once;

pub mod bench;
pub mod browser;
pub mod capture;
pub mod events;
pub mod http;
pub mod impair;
pub mod media;
pub mod peers;
pub mod pipeline;
pub mod procfs;
pub mod proxy;
pub mod rtsp_text;
pub mod server;
pub mod tls;

pub use bench::*;
pub use events::*;
pub use impair::*;
pub use media::*;
pub use peers::*;
pub use pipeline::*;
pub use procfs::*;
pub use proxy::*;
pub use server::*;
pub use tls::*;

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
