//! A live GStreamer source served at `/live`: one pipeline, started with the
//! server and shared by every viewer (like gst-rtsp-server's `test-launch`
//! with a shared factory). Its JPEG frames go straight to the media engine,
//! which sends each one to every playing viewer.

use super::engine::Command;
use crate::timing::FrameRate;
use gst::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// The mount path of the live source.
pub const LIVE_MOUNT: &str = "live";

/// What the live source's caps say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveInfo {
    pub width: i32,
    pub height: i32,
    /// Frame rate, when the caps give a non-zero one.
    pub fps: Option<FrameRate>,
}

#[derive(Debug)]
pub struct LiveSource {
    pub id: u64,
    pipeline: gst::Pipeline,
    info: Mutex<Option<LiveInfo>>,
    /// Why its frames cannot be sent as RFC 2435, when they cannot: found
    /// on the first frame of each frame size.
    rfc2435_problem: Mutex<Option<String>>,
    pub frames: AtomicU64,
}

impl LiveSource {
    /// Starts `launch` (a gst-launch-1.0 description whose last element
    /// produces `image/jpeg`) and sends its frames to the engine.
    pub fn start(
        launch: &str,
        id: u64,
        engine: mpsc::Sender<Command>,
    ) -> Result<Arc<LiveSource>, String> {
        let full = format!(
            "{launch} ! appsink name=mjpegrtsp_live_sink caps=image/jpeg sync=false max-buffers=4 drop=true emit-signals=false"
        );
        let pipeline = gst::parse::launch(&full)
            .map_err(|e| format!("cannot build the live pipeline {launch:?}: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "the live description is not a pipeline".to_string())?;
        let sink = pipeline
            .by_name("mjpegrtsp_live_sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| "internal: live appsink missing".to_string())?;
        let source = Arc::new(LiveSource {
            id,
            pipeline: pipeline.clone(),
            info: Mutex::new(None),
            rfc2435_problem: Mutex::new(None),
            frames: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&source);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(source) = weak.upgrade() else {
                        return Err(gst::FlowError::Flushing);
                    };
                    let new_format = sample.caps().is_some_and(|caps| source.note_caps(caps));
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buffer.map_readable() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    if new_format {
                        source.check_rfc2435(&map);
                    }
                    let pts_ns = buffer
                        .pts()
                        .and_then(|pts| {
                            sample.segment().and_then(|s| {
                                s.downcast_ref::<gst::ClockTime>()?.to_running_time(pts)
                            })
                        })
                        .map_or(0, |t| t.nseconds());
                    source.frames.fetch_add(1, Ordering::Relaxed);
                    let _ = engine.send(Command::LiveFrame {
                        source: source.id,
                        jpeg: Arc::new(map.to_vec()),
                        pts_ns,
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| format!("the live pipeline {launch:?} does not start (is its output image/jpeg? end it with `! jpegenc`)"))?;
        watch_bus(&pipeline);
        Ok(source)
    }

    /// Records what `caps` say; whether that changed the size or rate
    /// (or is the first).
    fn note_caps(&self, caps: &gst::CapsRef) -> bool {
        let Some(s) = caps.structure(0) else {
            return false;
        };
        let fps = s
            .get::<gst::Fraction>("framerate")
            .ok()
            .and_then(|f| FrameRate::new(f.numer(), f.denom()));
        let info = LiveInfo {
            width: s.get("width").unwrap_or(0),
            height: s.get("height").unwrap_or(0),
            fps,
        };
        self.info.lock().unwrap().replace(info) != Some(info)
    }

    /// Whether standard clients can get `jpeg` (a frame in a new format):
    /// RFC 2435 carries only baseline 4:2:0 and 4:2:2 JPEG. Says so in the
    /// log when they cannot.
    fn check_rfc2435(&self, jpeg: &[u8]) {
        let problem = crate::rtp::rfc2435::carries(jpeg).err();
        if let Some(why) = &problem {
            tracing::warn!(
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

impl Drop for LiveSource {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Logs the live pipeline's errors, warnings and end from a bus thread.
fn watch_bus(pipeline: &gst::Pipeline) {
    let Some(bus) = pipeline.bus() else { return };
    let weak = pipeline.downgrade();
    std::thread::Builder::new()
        .name("live-bus".into())
        .spawn(move || {
            while weak.upgrade().is_some() {
                let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(500)) else {
                    continue;
                };
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        tracing::error!("live source: {} ({:?})", e.error(), e.debug());
                        return;
                    }
                    gst::MessageView::Warning(w) => tracing::warn!("live source: {}", w.error()),
                    gst::MessageView::Eos(_) => {
                        tracing::warn!("live source ended");
                        return;
                    }
                    _ => {}
                }
            }
        })
        .ok();
}
