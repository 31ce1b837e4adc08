//! The pipeline and the thread that changes its state.
//!
//! State changes of `mjpegrtspsrc` are RTSP requests (READY→PAUSED sends
//! DESCRIBE and SETUP, PAUSED→PLAYING PLAY, PLAYING→PAUSED PAUSE, →NULL
//! TEARDOWN) and block for as long as the network takes, so they run on one
//! worker thread, in order. Results come back to the main thread through an
//! async channel, and so do the pipeline's bus messages (a bus watch on the
//! main context); the window sees them as [`Event`]s. Events of a pipeline
//! that has since been replaced are dropped.

use crate::state::Request;
use gst::prelude::*;
use gtk::gdk;
use gtk::glib;
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long a file may take to preroll (SETUP of a local file).
const PREROLL_TIMEOUT: Duration = Duration::from_secs(15);

/// What to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An `rtsp://` or `rtsps://` URL.
    Rtsp(String),
    /// A local `.Mjpeg` file.
    File(PathBuf),
}

impl Source {
    /// An `rtsp://` or `rtsps://` URL, a `file://` URI or a path to an
    /// existing file.
    pub fn parse(text: &str) -> Result<Source, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("Type an rtsp:// URL or the path of a .Mjpeg file".into());
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
            return Ok(Source::Rtsp(text.to_owned()));
        }
        if lower.starts_with("file://") {
            return glib::filename_from_uri(text)
                .map(|(path, _)| Source::File(path))
                .map_err(|e| format!("{text}: {e}"));
        }
        if lower.contains("://") {
            return Err(format!(
                "{text}: only rtsp:// and rtsps:// URLs and local files can be played"
            ));
        }
        let path = Path::new(text);
        if path.is_file() {
            Ok(Source::File(path.to_path_buf()))
        } else {
            Err(format!("{text}: no such file (URLs start with rtsp://)"))
        }
    }

    /// As the address field, the messages and the recent list show it: a
    /// URL without its password, if it had one (the recent list is a plain
    /// file; a URL opened from it again asks for the password).
    pub fn display(&self) -> String {
        match self {
            Source::Rtsp(url) => mjpegrtsp::client::without_password(url),
            Source::File(path) => path.display().to_string(),
        }
    }

    pub fn is_rtsp(&self) -> bool {
        matches!(self, Source::Rtsp(_))
    }
}

/// User name and password for a server that answered 401.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// Network statistics from `mjpegrtspsrc`'s `mjpegrtspsrc-stats` messages.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetStats {
    pub packets_lost: u64,
    pub frames_dropped: u64,
    /// Bits per second of JPEG data.
    pub bitrate: f64,
    pub framerate: f64,
}

/// What the player tells the window.
#[derive(Clone, Debug)]
pub enum Event {
    /// A request finished: `Err` carries a short reason (the bus error that
    /// usually accompanies it is sent as [`Event::Error`]).
    Done {
        request: Request,
        result: Result<(), String>,
    },
    /// A seek finished.
    SeekDone {
        ok: bool,
    },
    /// An error from the pipeline; `unauthorized` for 401/403.
    Error {
        message: String,
        debug: Option<String>,
        unauthorized: bool,
    },
    Warning(String),
    /// Media came again after a stall (a warning said it stopped); how
    /// long none came.
    Resumed(std::time::Duration),
    /// End of the stream or file.
    Eos,
    NetStats(NetStats),
    DurationChanged,
}

/// Counters the streaming threads update and the main thread reads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames that reached the video sink.
    pub frames: AtomicU64,
    /// Bytes of JPEG that reached the decoder.
    pub bytes: AtomicU64,
}

enum Job {
    Request {
        generation: u64,
        pipeline: gst::Pipeline,
        request: Request,
    },
    /// Take the latest seek from the slot.
    Seek,
    RecalculateLatency(gst::Pipeline),
}

/// What reaches the main thread: an event of pipeline generation `u64`, or
/// a pipeline the worker is done with. Pipelines are dropped on the main
/// thread only, because `gtk4paintablesink` must free its paintable there.
enum ToMain {
    Event(u64, Event),
    Release(#[allow(dead_code)] gst::Pipeline),
}

/// The newest seek asked for; later ones replace earlier ones not yet done.
type SeekSlot = Arc<Mutex<Option<(u64, gst::Pipeline, gst::ClockTime)>>>;

struct Loaded {
    generation: u64,
    source: Source,
    pipeline: gst::Pipeline,
    sink: gst::Element,
    paintable: gdk::Paintable,
    counters: Arc<Counters>,
    _bus_watch: gst::bus::BusWatchGuard,
}

/// One pipeline at a time and the worker thread that drives it. Lives on the
/// main thread.
pub struct Player {
    jobs: mpsc::Sender<Job>,
    events: async_channel::Sender<ToMain>,
    seek_slot: SeekSlot,
    loaded: RefCell<Option<Loaded>>,
    generation: Rc<Cell<u64>>,
}

impl Player {
    /// Starts the worker thread; `on_event` runs on the main thread for every
    /// event of the current pipeline.
    pub fn new(on_event: impl Fn(Event) + 'static) -> Player {
        let (jobs, job_rx) = mpsc::channel();
        let (events, event_rx) = async_channel::unbounded::<ToMain>();
        let seek_slot = SeekSlot::default();
        let generation = Rc::new(Cell::new(0));
        {
            let events = events.clone();
            let seek_slot = seek_slot.clone();
            std::thread::Builder::new()
                .name("player-control".into())
                .spawn(move || worker(job_rx, events, seek_slot))
                .expect("start the player's control thread");
        }
        let current = generation.clone();
        glib::spawn_future_local(async move {
            while let Ok(msg) = event_rx.recv().await {
                match msg {
                    ToMain::Event(generation, event) if generation == current.get() => {
                        on_event(event)
                    }
                    _ => {} // old events; released pipelines are dropped here
                }
            }
        });
        Player {
            jobs,
            events,
            seek_slot,
            loaded: RefCell::new(None),
            generation,
        }
    }

    /// Builds a pipeline for `source` (in NULL: nothing is sent yet),
    /// replacing the current one, whose session is torn down in the
    /// background. Returns the paintable the video goes to.
    pub fn load(
        &self,
        source: &Source,
        credentials: Option<&Credentials>,
    ) -> Result<gdk::Paintable, String> {
        self.unload();
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let (pipeline, decoder, sink) = build_pipeline(source, credentials)?;
        // The sink makes its paintable on the main thread: ask for it here,
        // before the worker thread changes any state.
        let paintable = sink
            .property::<Option<gdk::Paintable>>("paintable")
            .ok_or("gtk4paintablesink gave no paintable")?;
        let counters = Arc::new(Counters::default());
        if let Some(pad) = sink.static_pad("sink") {
            let counters = counters.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counters.frames.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        }
        if let Some(pad) = decoder.static_pad("sink") {
            let counters = counters.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(buffer) = info.buffer() {
                    counters
                        .bytes
                        .fetch_add(buffer.size() as u64, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        }
        let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
        let events = self.events.clone();
        let jobs = self.jobs.clone();
        let weak_pipeline = pipeline.downgrade();
        let bus_watch = bus
            .add_watch_local(move |_, msg| {
                if let Some(event) = bus_event(msg) {
                    let _ = events.try_send(ToMain::Event(generation, event));
                } else if let gst::MessageView::Latency(_) = msg.view()
                    && let Some(p) = weak_pipeline.upgrade()
                {
                    let _ = jobs.send(Job::RecalculateLatency(p));
                }
                glib::ControlFlow::Continue
            })
            .map_err(|e| format!("cannot watch the pipeline's bus: {e}"))?;
        *self.loaded.borrow_mut() = Some(Loaded {
            generation,
            source: source.clone(),
            pipeline,
            sink,
            paintable: paintable.clone(),
            counters,
            _bus_watch: bus_watch,
        });
        Ok(paintable)
    }

    /// Tears the current pipeline down in the background and forgets it.
    pub fn unload(&self) {
        if let Some(loaded) = self.loaded.borrow_mut().take() {
            let _ = self.jobs.send(Job::Request {
                generation: loaded.generation,
                pipeline: loaded.pipeline.clone(),
                request: Request::Stop,
            });
        }
        // Events still on their way belong to the old pipeline.
        self.generation.set(self.generation.get() + 1);
    }

    /// Sends `request` to the worker; an [`Event::Done`] answers it.
    pub fn request(&self, request: Request) -> bool {
        let loaded = self.loaded.borrow();
        let Some(l) = loaded.as_ref() else {
            return false;
        };
        self.jobs
            .send(Job::Request {
                generation: l.generation,
                pipeline: l.pipeline.clone(),
                request,
            })
            .is_ok()
    }

    /// Seeks to `position`; seeks asked for while one runs are merged into
    /// the newest. An [`Event::SeekDone`] answers.
    pub fn seek(&self, position: gst::ClockTime) -> bool {
        let loaded = self.loaded.borrow();
        let Some(l) = loaded.as_ref() else {
            return false;
        };
        *self.seek_slot.lock().unwrap() = Some((l.generation, l.pipeline.clone(), position));
        self.jobs.send(Job::Seek).is_ok()
    }

    pub fn source(&self) -> Option<Source> {
        self.loaded.borrow().as_ref().map(|l| l.source.clone())
    }

    pub fn paintable(&self) -> Option<gdk::Paintable> {
        self.loaded.borrow().as_ref().map(|l| l.paintable.clone())
    }

    pub fn counters(&self) -> Option<Arc<Counters>> {
        self.loaded.borrow().as_ref().map(|l| l.counters.clone())
    }

    pub fn pipeline(&self) -> Option<gst::Pipeline> {
        self.loaded.borrow().as_ref().map(|l| l.pipeline.clone())
    }

    /// Position of the shown frame in the stream.
    pub fn position(&self) -> Option<gst::ClockTime> {
        let loaded = self.loaded.borrow();
        let l = loaded.as_ref()?;
        if !l.source.is_rtsp() {
            return l.pipeline.query_position::<gst::ClockTime>();
        }
        // A live source's frames carry their arrival time; the segment maps
        // that to the place in the movie (it starts at the last seek's
        // target).
        let (pts, segment) = last_frame(&l.sink)?;
        segment.to_stream_time(pts)
    }

    pub fn duration(&self) -> Option<gst::ClockTime> {
        self.pipeline()?
            .query_duration::<gst::ClockTime>()
            .filter(|d| !d.is_zero())
    }

    /// Frames the video sink dropped for being late.
    pub fn sink_dropped(&self) -> u64 {
        let loaded = self.loaded.borrow();
        loaded
            .as_ref()
            .map(|l| l.sink.property::<gst::Structure>("stats"))
            .and_then(|s| s.get::<u64>("dropped").ok())
            .unwrap_or(0)
    }

    /// Running time (on the pipeline clock) of the frame the sink has last
    /// taken: for a live stream, when it arrived; for a file, when it is due.
    pub fn frame_running_time(&self) -> Option<gst::ClockTime> {
        let loaded = self.loaded.borrow();
        let (pts, segment) = last_frame(&loaded.as_ref()?.sink)?;
        segment.to_running_time(pts)
    }

    /// The pipeline's running time now.
    pub fn running_time(&self) -> Option<gst::ClockTime> {
        let loaded = self.loaded.borrow();
        let l = loaded.as_ref()?;
        let now = l.pipeline.clock()?.time();
        now.checked_sub(l.pipeline.base_time()?)
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.unload();
    }
}

/// The timestamp and segment of the frame `sink` has last taken.
fn last_frame(
    sink: &gst::Element,
) -> Option<(gst::ClockTime, gst::FormattedSegment<gst::ClockTime>)> {
    let sample = sink.property::<Option<gst::Sample>>("last-sample")?;
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?.clone();
    Some((pts, segment))
}

/// How `rtsps://` servers are trusted, for every stream this process plays
/// (the command line's `--tls-ca` and `--tls-no-verify`).
#[derive(Debug, Clone, Default)]
pub struct TlsTrust {
    /// PEM certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Take any certificate (a test server only).
    pub no_verify: bool,
}

static TLS_TRUST: std::sync::OnceLock<TlsTrust> = std::sync::OnceLock::new();

/// Sets how `rtsps://` servers are trusted; once, before the first stream
/// (later calls are ignored).
pub fn set_tls_trust(trust: TlsTrust) {
    let _ = TLS_TRUST.set(trust);
}

/// `mjpegrtspsrc ! jpegdec ! videoconvert ! gtk4paintablesink`, or
/// `filesrc ! lengthmjpegdemux ! jpegdec ! videoconvert ! gtk4paintablesink`.
/// Returns the pipeline, the decoder and the sink.
fn build_pipeline(
    source: &Source,
    credentials: Option<&Credentials>,
) -> Result<(gst::Pipeline, gst::Element, gst::Element), String> {
    let make = |factory: &str, name: &str| {
        gst::ElementFactory::make(factory)
            .name(name)
            .build()
            .map_err(|_| format!("GStreamer element {factory} is missing (see scripts/setup.sh)"))
    };
    let pipeline = gst::Pipeline::with_name("player");
    // A failed SETUP takes the pipeline to NULL at once: keep its error
    // message on the bus for the window instead of flushing it.
    pipeline.set_auto_flush_bus(false);
    let decoder = make("jpegdec", "decoder")?;
    let convert = make("videoconvert", "convert")?;
    let sink = make("gtk4paintablesink", "sink")?;
    pipeline
        .add_many([&decoder, &convert, &sink])
        .map_err(|e| e.to_string())?;
    gst::Element::link_many([&decoder, &convert, &sink]).map_err(|e| e.to_string())?;
    match source {
        Source::Rtsp(url) => {
            let src = make("mjpegrtspsrc", "src")?;
            src.set_property("location", url);
            if let Some(trust) = TLS_TRUST.get() {
                src.set_property("tls-verify", !trust.no_verify);
                if let Some(ca) = &trust.ca_file {
                    src.set_property("tls-ca-file", ca.to_string_lossy().as_ref());
                }
            }
            if let Some(c) = credentials {
                src.set_property("user-id", &c.user);
                src.set_property("user-pw", &c.password);
            }
            pipeline.add(&src).map_err(|e| e.to_string())?;
            src.link(&decoder).map_err(|e| e.to_string())?;
            // Frames are timestamped with their arrival, so they are due the
            // moment they are decoded: showing them then, instead of after the
            // source's 30 ms reordering window, keeps the added delay under a
            // frame.
            sink.set_property("sync", false);
        }
        Source::File(path) => {
            let src = make("filesrc", "src")?;
            src.set_property("location", path.to_string_lossy().as_ref());
            let demux = make("lengthmjpegdemux", "demux")?;
            pipeline
                .add_many([&src, &demux])
                .map_err(|e| e.to_string())?;
            src.link(&demux).map_err(|e| e.to_string())?;
            let decoder_weak = decoder.downgrade();
            demux.connect_pad_added(move |_, pad| {
                if let Some(decoder) = decoder_weak.upgrade()
                    && let Some(sinkpad) = decoder.static_pad("sink")
                    && !sinkpad.is_linked()
                {
                    let _ = pad.link(&sinkpad);
                }
            });
        }
    }
    Ok((pipeline, decoder, sink))
}

/// The window's view of a bus message (latency messages are the worker's).
fn bus_event(msg: &gst::Message) -> Option<Event> {
    match msg.view() {
        gst::MessageView::Error(e) => {
            let err = e.error();
            Some(Event::Error {
                message: err.message().to_owned(),
                debug: e.debug().map(|d| d.to_string()),
                unauthorized: err.matches(gst::ResourceError::NotAuthorized),
            })
        }
        gst::MessageView::Warning(w) => Some(Event::Warning(w.error().message().to_owned())),
        gst::MessageView::Eos(_) => Some(Event::Eos),
        gst::MessageView::DurationChanged(_) => Some(Event::DurationChanged),
        gst::MessageView::Element(e) => {
            let s = e.structure()?;
            if s.name() == "mjpegrtspsrc-resumed" {
                let ms = s.get::<u64>("silent-for").unwrap_or(0);
                return Some(Event::Resumed(std::time::Duration::from_millis(ms)));
            }
            if s.name() != "mjpegrtspsrc-stats" {
                return None;
            }
            Some(Event::NetStats(NetStats {
                packets_lost: s.get("packets-lost").unwrap_or(0),
                frames_dropped: s.get("frames-dropped").unwrap_or(0),
                bitrate: s.get::<u64>("bitrate").map_or(0.0, |b| b as f64),
                framerate: s.get("framerate").unwrap_or(0.0),
            }))
        }
        _ => None,
    }
}

/// The control thread: runs state changes and seeks one after the other.
fn worker(jobs: mpsc::Receiver<Job>, events: async_channel::Sender<ToMain>, seek_slot: SeekSlot) {
    // Ends when the Player (the only sender) is dropped.
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Request {
                generation,
                pipeline,
                request,
            } => {
                let result = run_request(&pipeline, request);
                if request == Request::Stop
                    && let Some(bus) = pipeline.bus()
                {
                    // The pipeline is done with. Its bus keeps messages (no
                    // auto-flush, see `build_pipeline`), and they hold
                    // references to the pipeline: drop them, or it lives on.
                    bus.set_flushing(true);
                }
                let _ = events
                    .send_blocking(ToMain::Event(generation, Event::Done { request, result }));
                let _ = events.send_blocking(ToMain::Release(pipeline));
            }
            Job::Seek => {
                let Some((generation, pipeline, position)) = seek_slot.lock().unwrap().take()
                else {
                    continue; // merged into an earlier job
                };
                let ok = pipeline
                    .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, position)
                    .is_ok();
                let _ = events.send_blocking(ToMain::Event(generation, Event::SeekDone { ok }));
                let _ = events.send_blocking(ToMain::Release(pipeline));
            }
            Job::RecalculateLatency(pipeline) => {
                let _ = pipeline.recalculate_latency();
                let _ = events.send_blocking(ToMain::Release(pipeline));
            }
        }
    }
}

/// One state change; on failure the pipeline is taken back to NULL.
fn run_request(pipeline: &gst::Pipeline, request: Request) -> Result<(), String> {
    let target = match request {
        Request::Setup | Request::Pause => gst::State::Paused,
        Request::Play => gst::State::Playing,
        Request::Stop => gst::State::Null,
    };
    let result = match pipeline.set_state(target) {
        // A file prerolls: SETUP is done when its first frame is decoded.
        Ok(gst::StateChangeSuccess::Async) if request == Request::Setup => {
            match pipeline.state(gst::ClockTime::from_nseconds(
                PREROLL_TIMEOUT.as_nanos() as u64
            )) {
                (Ok(gst::StateChangeSuccess::Async), _, _) => Err(format!(
                    "{request} timed out after {} s",
                    PREROLL_TIMEOUT.as_secs()
                )),
                (Ok(_), _, _) => Ok(()),
                (Err(_), _, _) => Err(format!("{request} failed")),
            }
        }
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{request} failed")),
    };
    if result.is_err() && target != gst::State::Null {
        let _ = pipeline.set_state(gst::State::Null);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse(" rtsp://h:8554/a.Mjpeg ").unwrap(),
            Source::Rtsp("rtsp://h:8554/a.Mjpeg".into())
        );
        assert_eq!(
            Source::parse("rtsps://h:8322/a.Mjpeg").unwrap(),
            Source::Rtsp("rtsps://h:8322/a.Mjpeg".into())
        );
        assert!(Source::parse("RTSP://h/a").unwrap().is_rtsp());
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().to_path_buf();
        assert_eq!(
            Source::parse(path.to_str().unwrap()).unwrap(),
            Source::File(path.clone())
        );
        let uri = glib::filename_to_uri(&path, None).unwrap();
        assert_eq!(Source::parse(&uri).unwrap(), Source::File(path));
        assert!(Source::parse("http://h/a.Mjpeg").is_err());
        let with_password = Source::parse("rtsp://cam:s3cr:et@h:8554/a.Mjpeg?x=1").unwrap();
        assert_eq!(with_password.display(), "rtsp://cam@h:8554/a.Mjpeg?x=1");
        assert_eq!(
            with_password,
            Source::Rtsp("rtsp://cam:s3cr:et@h:8554/a.Mjpeg?x=1".into()),
            "the player still connects with the password"
        );
        assert_eq!(
            Source::parse("rtsp://h/a@b.Mjpeg").unwrap().display(),
            "rtsp://h/a@b.Mjpeg"
        );
        assert!(Source::parse("/no/such/file.Mjpeg").is_err());
        assert!(Source::parse("").is_err());
    }

    #[test]
    fn rtsps_streams_get_the_trust_settings() {
        crate::application::init_gstreamer().unwrap();
        set_tls_trust(TlsTrust {
            ca_file: Some("/etc/test-ca.pem".into()),
            no_verify: false,
        });
        let (pipeline, _, _) =
            build_pipeline(&Source::Rtsp("rtsps://h:8322/a.Mjpeg".into()), None).unwrap();
        let src = pipeline.by_name("src").unwrap();
        assert_eq!(
            src.property::<Option<String>>("tls-ca-file").as_deref(),
            Some("/etc/test-ca.pem")
        );
        assert!(src.property::<bool>("tls-verify"));
    }
}
