//! A live source served at its mount (`/live` by default; any number of
//! them): one producer (a GStreamer pipeline, see
//! `live_pipeline::LivePipeline`, behind the `live` feature) started with
//! the server and shared by every viewer, like gst-rtsp-server's
//! `test-launch` with a shared factory. Its JPEG frames go
//! straight to the media engine, which sends each one to every playing
//! viewer. This side knows nothing of GStreamer.

use super::engine::Commands;
use crate::timing::FrameRate;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The mount path of `--pipeline`'s live source.
pub const LIVE_MOUNT: &str = "live";

/// What the live source's caps say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveInfo {
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Frame rate, when the caps give a non-zero one.
    pub fps: Option<FrameRate>,
}

impl LiveInfo {
    /// What a JPEG's frame header says, with `fps` from elsewhere (zero
    /// size when it has none).
    pub fn of_jpeg(jpeg: &[u8], fps: Option<FrameRate>) -> LiveInfo {
        crate::container::jpeg::parse_info(jpeg)
            .map(|i| LiveInfo {
                width: i32::from(i.width),
                height: i32::from(i.height),
                fps,
            })
            .unwrap_or_default()
    }
}

/// What feeds a live source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveKind {
    /// A GStreamer pipeline (`--pipeline`, `--pipeline-at`).
    Pipeline,
    /// A relay of an upstream RTSP stream (`--relay`); its URL without the
    /// password.
    Relay {
        /// The upstream URL, password removed.
        upstream: String,
    },
    /// A client publishing (`--publish`).
    Published {
        /// The publisher's address.
        publisher: IpAddr,
    },
}

impl LiveKind {
    /// `pipeline`, `relay` or `published`.
    pub fn label(&self) -> &'static str {
        match self {
            LiveKind::Pipeline => "pipeline",
            LiveKind::Relay { .. } => "relay",
            LiveKind::Published { .. } => "published",
        }
    }
}

/// The live source as the server sees it: what its frames are like, and
/// where they go.
#[derive(Debug)]
pub struct LiveSource {
    /// Identifies the source in the engine and the SDP.
    pub id: u64,
    /// Where it is served (no slashes around).
    pub mount: String,
    /// What feeds it.
    pub kind: LiveKind,
    /// A relay's upstream session is open (always true for the others).
    pub upstream_open: AtomicBool,
    /// How many times a relay opened its upstream session.
    pub upstream_opened: AtomicU64,
    /// The latest frame, for snapshots.
    latest: Mutex<Option<Arc<Vec<u8>>>>,
    info: Mutex<Option<LiveInfo>>,
    /// Why its frames cannot be sent as RFC 2435, when they cannot: found
    /// on the first frame of each frame size.
    rfc2435_problem: Mutex<Option<String>>,
    /// Frames received from the producer.
    pub frames: AtomicU64,
    engine: Commands,
    /// Sessions playing it (counted by the engine).
    viewers: AtomicUsize,
    /// Told when the first viewer comes (a relay waits on it).
    viewer_came: tokio::sync::Notify,
}

impl LiveSource {
    /// A source fed by `kind` whose frames go to `engine`.
    pub fn new(id: u64, mount: &str, kind: LiveKind, engine: Commands) -> Arc<LiveSource> {
        Arc::new(LiveSource {
            id,
            mount: mount.to_owned(),
            upstream_open: AtomicBool::new(!matches!(kind, LiveKind::Relay { .. })),
            upstream_opened: AtomicU64::new(0),
            kind,
            latest: Mutex::new(None),
            info: Mutex::new(None),
            rfc2435_problem: Mutex::new(None),
            frames: AtomicU64::new(0),
            engine,
            viewers: AtomicUsize::new(0),
            viewer_came: tokio::sync::Notify::new(),
        })
    }

    /// Sessions playing this source now.
    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::Relaxed)
    }

    /// A session started playing it.
    pub(super) fn viewer_joined(&self) {
        if self.viewers.fetch_add(1, Ordering::Relaxed) == 0 {
            self.viewer_came.notify_one();
        }
    }

    /// A session stopped playing it.
    pub(super) fn viewer_left(&self) {
        let _ = self
            .viewers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Returns once at least one session plays this source.
    pub async fn wait_for_viewers(&self) {
        while self.viewers() == 0 {
            self.viewer_came.notified().await;
        }
    }

    /// A frame from the producer at running time `pts_ns`, with what its
    /// caps say. The first frame of each new format is checked for RFC 2435.
    pub fn push_frame(&self, jpeg: Vec<u8>, pts_ns: u64, info: LiveInfo) {
        let new_format = self.info.lock().unwrap().replace(info) != Some(info);
        if new_format {
            self.check_rfc2435(&jpeg);
        }
        self.frames.fetch_add(1, Ordering::Relaxed);
        let jpeg = Arc::new(jpeg);
        *self.latest.lock().unwrap() = Some(jpeg.clone());
        self.engine.live_frame(self.id, jpeg, pts_ns);
    }

    /// The latest frame, once one has come (a relay's may be old: it
    /// streams only while it has viewers).
    pub fn latest_frame(&self) -> Option<Arc<Vec<u8>>> {
        self.latest.lock().unwrap().clone()
    }

    /// Whether standard clients can get `jpeg` (a frame in a new format):
    /// RFC 2435 carries only baseline 4:2:0 and 4:2:2 JPEG. Says so in the
    /// log when they cannot.
    fn check_rfc2435(&self, jpeg: &[u8]) {
        let problem = crate::rtp::rfc2435::carries(jpeg)
            .err()
            .map(|e| e.to_string());
        if let Some(why) = &problem {
            tracing::warn!(
                mount = %self.mount,
                "the live source's JPEG cannot be sent as RFC 2435 ({why}): standard clients \
                 (ffplay, rtspsrc, VLC) get 415, classic clients can play it; encode it as \
                 4:2:0 to serve everyone: `… ! video/x-raw,format=I420 ! jpegenc`"
            );
        }
        *self.rfc2435_problem.lock().unwrap() = problem;
    }

    /// Why standard clients cannot get this source, if they cannot (known
    /// once its first frame has come).
    pub fn rfc2435_problem(&self) -> Option<String> {
        self.rfc2435_problem.lock().unwrap().clone()
    }

    /// Size and rate, once the first frame has come.
    pub fn info(&self) -> Option<LiveInfo> {
        *self.info.lock().unwrap()
    }
}
