//! The live source's producer: a GStreamer pipeline from a gst-launch-1.0
//! description, ending in an appsink whose frames go to the
//! [`LiveSource`]. Built with the `live` feature only.

use super::StartError;
use super::live::{LiveInfo, LiveSource};
use crate::timing::FrameRate;
use gst::prelude::*;
use std::sync::Arc;

/// The running pipeline; stopped when dropped.
#[derive(Debug)]
pub struct LivePipeline {
    pipeline: gst::Pipeline,
}

impl LivePipeline {
    /// Starts `launch` (a gst-launch-1.0 description whose last element
    /// produces `image/jpeg`) feeding `source`. GStreamer must be initialised.
    pub fn start(launch: &str, source: &Arc<LiveSource>) -> Result<LivePipeline, StartError> {
        let full = format!(
            "{launch} ! appsink name=mjpegrtsp_live_sink caps=image/jpeg sync=false max-buffers=4 drop=true emit-signals=false"
        );
        let pipeline = gst::parse::launch(&full)
            .map_err(|e| {
                StartError::LivePipeline(format!("cannot build the live pipeline {launch:?}: {e}"))
            })?
            .downcast::<gst::Pipeline>()
            .map_err(|_| {
                StartError::LivePipeline("the live description is not a pipeline".into())
            })?;
        let sink = pipeline
            .by_name("mjpegrtsp_live_sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| StartError::LivePipeline("internal: live appsink missing".into()))?;
        let weak = Arc::downgrade(source);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(source) = weak.upgrade() else {
                        return Err(gst::FlowError::Flushing);
                    };
                    let info = sample.caps().map(caps_info).unwrap_or_default();
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buffer.map_readable() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let pts_ns = buffer
                        .pts()
                        .and_then(|pts| {
                            sample.segment().and_then(|s| {
                                s.downcast_ref::<gst::ClockTime>()?.to_running_time(pts)
                            })
                        })
                        .map_or(0, |t| t.nseconds());
                    source.push_frame(map.to_vec(), pts_ns, info);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            StartError::LivePipeline(format!(
                "the live pipeline {launch:?} does not start (is its output image/jpeg? end it with `! jpegenc`)"
            ))
        })?;
        watch_bus(&pipeline);
        Ok(LivePipeline { pipeline })
    }
}

/// What `caps` say of size and rate.
fn caps_info(caps: &gst::CapsRef) -> LiveInfo {
    let Some(s) = caps.structure(0) else {
        return LiveInfo::default();
    };
    LiveInfo {
        width: s.get("width").unwrap_or(0),
        height: s.get("height").unwrap_or(0),
        fps: s
            .get::<gst::Fraction>("framerate")
            .ok()
            .and_then(|f| FrameRate::new(f.numer(), f.denom())),
    }
}

impl Drop for LivePipeline {
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
