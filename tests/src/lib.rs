//! Helpers for the end-to-end tests and benchmarks: plugin registration,
//! synthetic and encoded `.Mjpeg` media, and running a pipeline into an appsink.

use gst::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().expect("register plugin");
    });
}

/// A JPEG-shaped frame: SOI, a SOF0 segment for `w`×`h`, filler bytes that
/// identify frame `n`, EOI. Not decodable, but what the container needs.
pub fn synthetic_jpeg(w: u16, h: u16, n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8];
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(&n.to_be_bytes());
    let len = len.max(v.len() + 2);
    v.resize(len - 2, (n % 200) as u8);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// The container bytes for `frames`.
pub fn container(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = gstmjpegrtsp::container::FrameWriter::new(Vec::new());
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.into_inner()
}

/// `count` synthetic 320×240 frames of varying sizes.
pub fn synthetic_frames(count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| synthetic_jpeg(320, 240, n, 100 + (n as usize * 37) % 400))
        .collect()
}

pub fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".Mjpeg")
        .tempfile()
        .unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// The reference file from the seed system, when `../shared` is beside the repo.
pub fn reference_movie() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media/movie.Mjpeg");
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "note: {} not found; skipping the reference-file part",
            p.display()
        );
        None
    }
}

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

/// Runs `launch` (which must contain an `appsink name=sink`) to EOS or error.
/// `before_play` runs in PAUSED after preroll (for seeks and queries).
pub fn run(launch: &str, before_play: impl FnOnce(&gst::Pipeline)) -> Outcome {
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
    run_with(&pipeline, &sink, before_play)
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

/// Encodes `frames` frames of `videotestsrc` (pattern `pattern`, moving ball
/// by default) at `w`×`h` with `jpegenc quality=q`, as `.Mjpeg` bytes made by
/// `lengthmjpegmux`. Real, decodable JPEGs.
pub fn encoded_movie(frames: u32, w: u32, h: u32, quality: u32, pattern: &str) -> Vec<u8> {
    init();
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,format=I420,width={w},height={h},framerate=24/1 \
         ! jpegenc quality={quality} ! lengthmjpegmux ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        out.extend_from_slice(&sample.buffer().unwrap().map_readable().unwrap());
    }
    let bus = pipeline.bus().unwrap();
    let ended = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    match ended.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => out,
        other => panic!("encoding failed: {other:?}"),
    }
}

/// Splits container bytes into its frames (panics on damage: for test media).
pub fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let index = gstmjpegrtsp::container::Index::build(bytes).unwrap();
    assert!(index.anomalies().is_empty(), "{:?}", index.anomalies());
    index
        .frames()
        .iter()
        .map(|e| e.read(bytes).unwrap())
        .collect()
}

/// A server of this project's, in this process, on 127.0.0.1 at a free port,
/// serving `media_dir`; stopped when dropped.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    sessions: Arc<dyn Fn() -> usize + Send + Sync>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(media_dir: &Path, looping: bool) -> TestServer {
        let mut config = gstmjpegrtsp::server::ServerConfig::new(media_dir);
        config.looping = looping;
        Self::start_with(config)
    }

    pub fn start_with(config: gstmjpegrtsp::server::ServerConfig) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = gstmjpegrtsp::server::Server::bind(config)
                    .await
                    .expect("server starts");
                let counter = server.session_counter();
                ready_tx.send((server.local_addr(), counter)).unwrap();
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let (addr, counter) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server ready");
        TestServer {
            addr,
            sessions: counter,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Sessions alive now.
    pub fn sessions(&self) -> usize {
        (self.sessions)()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
