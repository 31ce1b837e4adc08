//! `lengthmjpegsrc` reads the length-prefixed `.Mjpeg` container (five ASCII
//! digits giving a JPEG's size, then the JPEG, repeated) and outputs one
//! `image/jpeg` buffer per frame with PTS and duration at `frame-rate`.
//!
//! Opening a file indexes it by hopping over the length prefixes (seven bytes
//! read per frame), so duration and position queries (in time and in frames)
//! and frame-accurate seeks work without reading the frames themselves. The
//! index is built in a background thread, so that the first frame comes at
//! once however large the file: until it is complete the duration is an
//! estimate (a `duration-changed` message says when it is exact) and a seek
//! beyond the frames indexed lands near its target and is corrected to the
//! exact frame when the walk gets there. Indexes of files of 16 MiB and more
//! are remembered in the user's cache (`$XDG_CACHE_HOME/mjpegrtsp/index`),
//! so the next open is complete at once.
//! Damaged files are played as far as they can be, with a warning for each
//! problem naming its byte offset; no partial frame is ever output.
//!
//! ```text
//! gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg ! jpegdec ! videoconvert ! autovideosink
//! gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg frame-rate=30/1 loop=true ! jpegdec ! autovideosink
//! ```
//!
//! It is a `GstURIHandler` for `file://` URIs (percent-decoded into
//! `location`; other schemes and remote hosts are refused), so applications
//! that hold a URI can give it one. Its rank stays `NONE`: `playbin` and
//! `uridecodebin` keep opening `file://` URIs with `filesrc`, and a `.Mjpeg`
//! file reaches `lengthmjpegdemux` through the typefinder — that path already
//! plays, seeks and reports duration, and it serves every other file type too.
//!
//! ## Example launch line
//!
//! ```shell
//! gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg ! jpegdec ! videoconvert ! autovideosink
//! ```

use crate::playhead::Next;
use crate::playhead::{Playhead, jpeg_caps, report_anomalies_once};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use mjpegrtsp::container::{IndexCache, SharedIndex, jpeg};
use mjpegrtsp::timing::FrameRate;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "lengthmjpegsrc",
        gst::DebugColorFlags::empty(),
        Some("Length-prefixed MJPEG file source"),
    )
});

const DEFAULT_FRAME_RATE: gst::Fraction = gst::Fraction::from_integer(24);
const DEFAULT_LOOP: bool = false;

#[derive(Debug, Clone)]
struct Settings {
    location: Option<PathBuf>,
    frame_rate: gst::Fraction,
    looping: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: None,
            frame_rate: DEFAULT_FRAME_RATE,
            looping: DEFAULT_LOOP,
        }
    }
}

/// An open file and where playback is in it.
struct Opened {
    path: PathBuf,
    caps: gst::Caps,
    playhead: Playhead,
}

#[derive(Default)]
pub struct LengthMjpegSrc {
    settings: Mutex<Settings>,
    state: Mutex<Option<Opened>>,
    /// Set by `unlock` (a flush or stop): a wait for the index gives up.
    unlocked: AtomicBool,
}

/// What one attempt at producing a buffer came to.
enum Step {
    Frame(gst::Buffer),
    Skipped(String),
    /// The frame is not found yet (the index is being built).
    Wait(std::sync::Arc<SharedIndex>, u64),
    Eos,
}

impl LengthMjpegSrc {
    /// Opens and indexes the file the `location` property names.
    fn open_location(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let opened = self.open(&settings)?;
        *self.state.lock().unwrap() = Some(opened);
        Ok(())
    }

    fn open(&self, settings: &Settings) -> Result<Opened, gst::ErrorMessage> {
        let Some(path) = settings.location.clone() else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No file name specified for reading: set the location property")
            ));
        };
        let shown = path.display();
        let meta = std::fs::metadata(&path).map_err(|err| {
            let kind = match err.kind() {
                io::ErrorKind::NotFound => gst::ResourceError::NotFound,
                _ => gst::ResourceError::OpenRead,
            };
            gst::error_msg!(kind, ("Could not open file \"{shown}\" for reading: {err}"))
        })?;
        if meta.is_dir() {
            return Err(gst::error_msg!(
                gst::ResourceError::OpenRead,
                ("\"{shown}\" is a directory, not a .Mjpeg file")
            ));
        }
        if meta.len() == 0 {
            return Err(gst::error_msg!(
                gst::StreamError::Demux,
                ("File \"{shown}\" is empty: a .Mjpeg file needs at least one frame")
            ));
        }
        // Damage is reported, and the duration announced as exact, when
        // the walk over the file ends (in its own thread), or here when it
        // ended before the first frame.
        let element = self.obj().downgrade();
        let name = shown.to_string();
        let reported = Arc::new(AtomicBool::new(false));
        let reported_at_end = reported.clone();
        let index = SharedIndex::open(&path, IndexCache::user(), move |index| {
            let Some(element) = element.upgrade() else {
                return;
            };
            report_anomalies_once(&reported_at_end, &element, &name, index.anomalies());
            gst::info!(
                CAT,
                obj = element,
                "{name}: indexed, {} frames",
                index.len()
            );
            let _ = element.post_message(
                gst::message::DurationChanged::builder()
                    .src(&element)
                    .build(),
            );
        })
        .map_err(|err| {
            let kind = match err.kind() {
                io::ErrorKind::NotFound => gst::ResourceError::NotFound,
                _ => gst::ResourceError::OpenRead,
            };
            gst::error_msg!(kind, ("Could not open file \"{shown}\" for reading: {err}"))
        })?;
        let ready = index.wait_ready();
        if let Some(whole) = index.index() {
            report_anomalies_once(
                &reported,
                &*self.obj(),
                &shown.to_string(),
                whole.anomalies(),
            );
        }
        if !ready {
            return Err(gst::error_msg!(
                gst::StreamError::WrongType,
                ("File \"{shown}\" contains no whole frame: it is not a .Mjpeg file (five-digit length, then a JPEG) or is damaged throughout")
            ));
        }
        // Size from the first frame whose SOF can be read.
        let info = index
            .first_frame_where(|d| jpeg::parse_info(&d))
            .ok_or_else(|| {
                gst::error_msg!(
                    gst::StreamError::Decode,
                    ("No readable JPEG frame header (SOF) in the first frames of \"{shown}\"")
                )
            })?;
        let rate = FrameRate::new(settings.frame_rate.numer(), settings.frame_rate.denom())
            .ok_or_else(|| {
                gst::error_msg!(
                    gst::LibraryError::Settings,
                    ("Invalid frame-rate {}", settings.frame_rate)
                )
            })?;
        let caps = jpeg_caps(&info, settings.frame_rate);
        gst::info!(
            CAT,
            imp = self,
            "opened {shown}: {} frames found so far, {}x{}, {} bytes",
            index.frames_found(),
            info.width,
            info.height,
            index.size()
        );
        Ok(Opened {
            path,
            caps,
            playhead: Playhead::new(index, rate, settings.looping),
        })
    }

    fn step(
        &self,
        segment: &gst::FormattedSegment<gst::ClockTime>,
    ) -> Result<Step, gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let Some(o) = state.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let cue = match o.playhead.advance(segment) {
            Next::Cue(cue) => cue,
            Next::Wait(n) => return Ok(Step::Wait(o.playhead.index().clone(), n)),
            Next::Eos => return Ok(Step::Eos),
        };
        let mut buffer =
            gst::Buffer::with_size(cue.entry.len as usize).map_err(|_| gst::FlowError::Error)?;
        let buf = buffer.get_mut().expect("new buffer is writable");
        let read = buf
            .map_writable()
            .map_err(|_| gst::FlowError::Error)
            .map(|mut map| {
                cue.entry
                    .read_into(&**o.playhead.index().source(), &mut map)
            })?;
        match read {
            Ok(()) => {
                cue.stamp(buf);
                Ok(Step::Frame(buffer))
            }
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                o.playhead.mark_discont();
                Ok(Step::Skipped(format!("{}: {err}", o.path.display())))
            }
            Err(err) => {
                let path = o.path.display().to_string();
                drop(state);
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Read,
                    (
                        "Could not read frame at byte offset {} of \"{path}\": {err}",
                        cue.entry.header_offset()
                    )
                );
                Err(gst::FlowError::Error)
            }
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for LengthMjpegSrc {
    const NAME: &'static str = "GstLengthMjpegSrc";
    type Type = super::LengthMjpegSrc;
    type ParentType = gst_base::PushSrc;
    type Interfaces = (gst::URIHandler,);
}

impl ObjectImpl for LengthMjpegSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("File location")
                    .blurb("Path of the .Mjpeg file to read")
                    .mutable_ready()
                    .build(),
                gst::ParamSpecFraction::builder("frame-rate")
                    .nick("Frame rate")
                    .blurb("Frame rate to play at: the container does not store one")
                    .minimum(gst::Fraction::new(1, 1001))
                    .maximum(gst::Fraction::new(1000, 1))
                    .default_value(DEFAULT_FRAME_RATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("loop")
                    .nick("Loop")
                    .blurb("Start again from the first frame at the end of the file, with timestamps that keep increasing (no duration is reported then)")
                    .default_value(DEFAULT_LOOP)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => {
                settings.location = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .map(PathBuf::from);
            }
            "frame-rate" => settings.frame_rate = value.get().expect("type checked upstream"),
            "loop" => settings.looping = value.get().expect("type checked upstream"),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => settings
                .location
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            "frame-rate" => settings.frame_rate.to_value(),
            "loop" => settings.looping.to_value(),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj().set_format(gst::Format::Time);
    }
}

impl GstObjectImpl for LengthMjpegSrc {}

impl URIHandlerImpl for LengthMjpegSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["file"]
    }

    fn uri(&self) -> Option<String> {
        let settings = self.settings.lock().unwrap();
        let path = settings.location.as_ref()?;
        // A relative location names a file in the current directory.
        let absolute = std::path::absolute(path).ok()?;
        glib::filename_to_uri(absolute, None).ok().map(String::from)
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let path = path_of_file_uri(uri)?;
        if self.obj().current_state() > gst::State::Ready {
            return Err(glib::Error::new(
                gst::URIError::BadState,
                "Cannot change the URI of lengthmjpegsrc while it plays",
            ));
        }
        gst::debug!(CAT, imp = self, "uri {uri}: location {}", path.display());
        self.settings.lock().unwrap().location = Some(path);
        Ok(())
    }
}

/// The local path a `file://` URI names, percent-decoded.
fn path_of_file_uri(uri: &str) -> Result<PathBuf, glib::Error> {
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("file") {
        return Err(glib::Error::new(
            gst::URIError::UnsupportedProtocol,
            &format!("lengthmjpegsrc reads file:// URIs, not \"{uri}\""),
        ));
    }
    let (path, host) = glib::filename_from_uri(uri).map_err(|e| {
        glib::Error::new(
            gst::URIError::BadUri,
            &format!("Invalid file URI \"{uri}\": {e}"),
        )
    })?;
    match host.as_deref() {
        None | Some("localhost") => Ok(path),
        Some(host) => Err(glib::Error::new(
            gst::URIError::BadUri,
            &format!("File URI \"{uri}\" names host \"{host}\": only local files can be read"),
        )),
    }
}

impl ElementImpl for LengthMjpegSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Length-prefixed MJPEG file source",
                "Source/File/Video",
                "Reads a .Mjpeg file (five-digit length + JPEG per frame) as timestamped, seekable JPEG frames",
                "The mjpegrtsp developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(crate::pads::jpeg_src_templates);
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        // Opening here rather than in start() posts one error when it
        // fails: basesrc adds a vague second one to any failed start().
        if transition == gst::StateChange::ReadyToPaused
            && let Err(e) = self.open_location()
        {
            self.post_error_message(e);
            return Err(gst::StateChangeError);
        }
        self.parent_change_state(transition).inspect_err(|_| {
            if transition == gst::StateChange::ReadyToPaused {
                *self.state.lock().unwrap() = None;
            }
        })
    }
}

impl BaseSrcImpl for LengthMjpegSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        // Normally already open: see change_state.
        if self.state.lock().unwrap().is_some() {
            return Ok(());
        }
        self.open_location()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        true
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.unlocked.store(true, Ordering::Release);
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.unlocked.store(false, Ordering::Release);
        Ok(())
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        let caps = self.state.lock().unwrap().as_ref().map(|o| o.caps.clone());
        match (caps, filter) {
            (Some(caps), Some(filter)) => {
                Some(filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First))
            }
            (Some(caps), None) => Some(caps),
            (None, _) => self.parent_caps(filter),
        }
    }

    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        let Some(segment) = segment.downcast_mut::<gst::ClockTime>() else {
            return false;
        };
        let mut state = self.state.lock().unwrap();
        let Some(o) = state.as_mut() else {
            return false;
        };
        let ok = o.playhead.seek(segment);
        gst::debug!(CAT, imp = self, "seek {ok} for {segment:?}");
        ok
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        let answered = {
            let state = self.state.lock().unwrap();
            state
                .as_ref()
                .is_some_and(|o| o.playhead.answer_query(query))
        };
        answered || BaseSrcImplExt::parent_query(self, query)
    }
}

impl PushSrcImpl for LengthMjpegSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let segment = self.obj().segment();
        let segment = segment
            .downcast::<gst::ClockTime>()
            .map_err(|_| gst::FlowError::NotNegotiated)?;
        loop {
            match self.step(&segment)? {
                Step::Frame(buffer) => return Ok(CreateSuccess::NewBuffer(buffer)),
                Step::Skipped(why) => {
                    gst::element_imp_warning!(self, gst::StreamError::Demux, ("{why}"));
                }
                Step::Wait(index, n) => {
                    // Not under the state lock: seeks and queries go on.
                    index.wait_for(n, Duration::from_millis(50));
                    if self.unlocked.load(Ordering::Acquire) {
                        return Err(gst::FlowError::Flushing);
                    }
                }
                Step::Eos => {
                    gst::debug!(CAT, imp = self, "end of stream");
                    return Err(gst::FlowError::Eos);
                }
            }
        }
    }
}
