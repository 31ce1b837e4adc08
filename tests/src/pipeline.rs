//! Running a GStreamer pipeline into an appsink: the frames it gives, how
//! it ends, seeking, and the errors of one that cannot start.

use crate::*;
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Frame {
    pub pts: Option<gst::ClockTime>,
    pub duration: Option<gst::ClockTime>,
    pub offset: u64,
    pub discont: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub frames: Vec<Frame>,
    pub caps: Option<gst::Caps>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub eos: bool,
}

impl Outcome {
    /// Fails the test unless at least `frames` came and no error.
    pub fn assert_played(&self, frames: usize) {
        assert!(
            self.frames.len() >= frames && self.error.is_none(),
            "{} frames of at least {frames}, error {:?}",
            self.frames.len(),
            self.error
        );
    }

    /// The frames' bytes one after the other (what a `lengthmjpegmux` in
    /// front of the sink wrote: a `.Mjpeg` file).
    pub fn bytes(&self) -> Vec<u8> {
        self.frames.iter().flat_map(|f| f.data.clone()).collect()
    }
}

/// Waits up to `secs` for the playing `pipeline` to end, sets it to NULL,
/// and panics unless it ended with EOS.
pub fn expect_eos(pipeline: &impl IsA<gst::Element>, secs: u64) {
    let msg = pipeline.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::from_seconds(secs),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => panic!("{} ({:?})", e.error(), e.debug()),
        _ => panic!("no EOS within {secs} s"),
    }
}

/// Sends EOS into `pipeline` after `delay` (from another thread).
pub fn eos_after(pipeline: &gst::Pipeline, delay: Duration) {
    let p = pipeline.clone();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        p.send_event(gst::event::Eos::new());
    });
}

/// Runs `launch` (with an `appsink name=sink`) for `ms` milliseconds, then
/// ends it with EOS (or until an error).
pub fn run_for(launch: &str, ms: u64) -> Outcome {
    run(launch, |p| eos_after(p, Duration::from_millis(ms)))
}

/// Runs `launch` (which must contain an `appsink name=sink`) to EOS or error.
/// `before_play` runs in PAUSED after preroll (for seeks and queries).
pub fn run(launch: &str, before_play: impl FnOnce(&gst::Pipeline)) -> Outcome {
    let (pipeline, sink) = launch_with_appsink(launch);
    run_with(&pipeline, &sink, before_play)
}

/// Parses `launch`, which must contain an `appsink name=sink`.
pub fn launch_with_appsink(launch: &str) -> (gst::Pipeline, gst_app::AppSink) {
    init();
    let pipeline = gst::parse::launch(launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

/// Like [`run`], for a pipeline built in code with `sink` somewhere inside.
pub fn run_with(
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    before_play: impl FnOnce(&gst::Pipeline),
) -> Outcome {
    sink.set_property("sync", false);
    let frames = Arc::new(Mutex::new(Vec::new()));
    let caps = Arc::new(Mutex::new(None));
    {
        let frames = frames.clone();
        let caps = caps.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    *caps.lock().unwrap() = sample.caps_owned();
                    let b = sample.buffer().unwrap();
                    frames.lock().unwrap().push(Frame {
                        pts: b.pts(),
                        duration: b.duration(),
                        offset: b.offset(),
                        discont: b.flags().contains(gst::BufferFlags::DISCONT),
                        data: b.map_readable().unwrap().to_vec(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    let bus = pipeline.bus().unwrap();
    let mut out = Outcome::default();
    let paused = pipeline.set_state(gst::State::Paused);
    if paused.is_ok() {
        let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(10));
        if res.is_ok() {
            before_play(pipeline);
            let _ = pipeline.set_state(gst::State::Playing);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                out.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                out.error = Some(format!("{} | {:?}", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => out.warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    // Collect warnings posted before the error or EOS was popped.
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Warning(w) = msg.view() {
            out.warnings.push(w.error().to_string());
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out.frames = std::mem::take(&mut frames.lock().unwrap());
    out.caps = caps.lock().unwrap().clone();
    out
}

/// Flushing, accurate seek in time.
pub fn seek(
    pipeline: &gst::Pipeline,
    rate: f64,
    start: gst::ClockTime,
    stop: Option<gst::ClockTime>,
) {
    let stop_type = if stop.is_some() {
        gst::SeekType::Set
    } else {
        gst::SeekType::None
    };
    pipeline
        .seek(
            rate,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            start,
            stop_type,
            stop,
        )
        .expect("seek accepted");
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(10));
    res.expect("preroll after seek");
}

/// Every error message a pipeline posts when it fails to start (PAUSED is
/// refused): a source that cannot start should post exactly one, saying why.
pub fn start_errors(launch: &str) -> Vec<String> {
    init();
    let pipeline = gst::parse::launch(launch).expect("the description parses");
    assert!(
        pipeline.set_state(gst::State::Paused).is_err(),
        "{launch} should not start"
    );
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut errors = Vec::new();
    while let Some(msg) = bus.timed_pop_filtered(
        gst::ClockTime::from_mseconds(300),
        &[gst::MessageType::Error],
    ) {
        if let gst::MessageView::Error(e) = msg.view() {
            errors.push(e.error().to_string());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    errors
}

/// The directory holding the freshly built plugin (`libgstmjpegrtsp.so`),
/// next to the running test binary: what `GST_PLUGIN_PATH` needs for a
/// GStreamer tool or peer run by a test. Another cargo run in the same
/// target directory may be replacing it: it is given a moment.
pub fn plugin_dir() -> std::path::PathBuf {
    let deps = std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .expect("the test binary is in a directory")
        .to_path_buf();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !deps.join("libgstmjpegrtsp.so").exists() {
        assert!(
            std::time::Instant::now() < end,
            "plugin built in {}",
            deps.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    deps
}
