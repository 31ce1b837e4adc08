/**
 * element-mjpegrtspsrc:
 *
 * Plays MJPEG from an RTSP server and outputs whole JPEG images
 * (`image/jpeg, parsed=true` with width, height and framerate) timestamped
 * with their arrival in running time. It speaks standard RTSP (RFC 2435 JPEG
 * or the project's `X-WHOLE-JPEG` over UDP or TCP interleaved, falling back to
 * TCP when no UDP packet comes) and the seed system's classic dialect, with
 * Basic and Digest authentication.
 *
 * GStreamer state changes map to RTSP: READY→PAUSED connects and sends
 * DESCRIBE and SETUP; PAUSED→PLAYING sends PLAY; PLAYING→PAUSED sends PAUSE;
 * PAUSED→READY sends TEARDOWN. A seek becomes a PLAY with `Range`. Packets
 * reordered or duplicated on UDP are put back in order; a frame with a missing
 * piece is dropped and counted, never pushed. The `stats` property and an
 * element message named `mjpegrtspsrc-stats` every second tell frames, bytes,
 * bitrate, packets lost, frames dropped and jitter.
 *
 * ## Example pipelines
 * |[
 * gst-launch-1.0 mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! jpegdec ! autovideosink
 * ]| Plays a stream.
 * |[
 * gst-launch-1.0 -e mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! lengthmjpegmux ! filesink location=rec.Mjpeg
 * ]| Records it to a `.Mjpeg` file.
 */
use super::{DialectChoice, Protocols};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use mjpegrtsp::client::{
    ClientOptions, DialectPreference, Event, Events, Session, Stats, TransportPreference,
};
use mjpegrtsp::container::jpeg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpegrtspsrc",
        gst::DebugColorFlags::empty(),
        Some("MJPEG RTSP source"),
    )
});

const DEFAULT_LATENCY_MS: u32 = 30;
const DEFAULT_TIMEOUT_S: u32 = 10;

#[derive(Debug, Clone)]
struct Settings {
    location: Option<String>,
    protocols: Protocols,
    latency_ms: u32,
    user_id: Option<String>,
    user_pw: Option<String>,
    timeout_s: u32,
    dialect: DialectChoice,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: None,
            protocols: Protocols::UDP | Protocols::TCP,
            latency_ms: DEFAULT_LATENCY_MS,
            user_id: None,
            user_pw: None,
            timeout_s: DEFAULT_TIMEOUT_S,
            dialect: DialectChoice::Auto,
        }
    }
}

/// The RTSP side, once started.
struct Connection {
    runtime: tokio::runtime::Runtime,
    session: Session,
    /// Set by a PLAY; a seek before the first PLAY is kept for it.
    played: bool,
    pending_seek: Option<Duration>,
}

#[derive(Default)]
pub struct MjpegRtspSrc {
    settings: Mutex<Settings>,
    connection: Mutex<Option<Connection>>,
    /// Taken by `create` while it waits for a frame.
    events: Mutex<Option<Events>>,
    /// Wakes a waiting `create` on unlock.
    wake: Arc<tokio::sync::Notify>,
    flushing: AtomicBool,
    /// Caps last set on the source pad.
    caps: Mutex<Option<gst::Caps>>,
    duration: Mutex<Option<gst::ClockTime>>,
    framerate: Mutex<Option<gst::Fraction>>,
    last_stats: Mutex<Stats>,
    /// A handle on the session's runtime for `create` (which must not hold
    /// the connection lock while it waits).
    handle: Mutex<Option<tokio::runtime::Handle>>,
}

impl MjpegRtspSrc {
    fn options(&self, settings: &Settings) -> ClientOptions {
        let transport = match (
            settings.protocols.contains(Protocols::UDP),
            settings.protocols.contains(Protocols::TCP),
        ) {
            (true, false) => TransportPreference::Udp,
            (false, true) => TransportPreference::Tcp,
            _ => TransportPreference::Auto,
        };
        ClientOptions {
            transport,
            dialect: match settings.dialect {
                DialectChoice::Auto => DialectPreference::Auto,
                DialectChoice::Standard => DialectPreference::Standard,
                DialectChoice::Classic => DialectPreference::Classic,
            },
            user: settings.user_id.clone(),
            password: settings.user_pw.clone(),
            timeout: Duration::from_secs(u64::from(settings.timeout_s.max(1))),
            latency: Duration::from_millis(u64::from(settings.latency_ms)),
            ..ClientOptions::default()
        }
    }

    /// Runs a session call on the connection's runtime.
    fn with_session<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> Result<T, mjpegrtsp::client::Error>,
    ) -> Result<T, gst::ErrorMessage> {
        let mut guard = self.connection.lock().unwrap();
        let Some(conn) = guard.as_mut() else {
            return Err(gst::error_msg!(
                gst::CoreError::StateChange,
                ("{what}: not connected")
            ));
        };
        f(conn).map_err(|e| rtsp_error(what, &e))
    }

    fn play(&self) -> Result<(), gst::ErrorMessage> {
        self.with_session("PLAY", |c| {
            let range = c
                .pending_seek
                .take()
                .map(mjpegrtsp::rtsp::NptRange::starting_at);
            let r = c.runtime.block_on(c.session.play(range));
            if r.is_ok() {
                c.played = true;
            }
            r
        })
    }

    fn pause(&self) -> Result<(), gst::ErrorMessage> {
        self.with_session("PAUSE", |c| {
            if !c.played {
                return Ok(());
            }
            c.runtime.block_on(c.session.pause())
        })
    }

    fn stats_structure(&self) -> gst::Structure {
        let s = self.last_stats.lock().unwrap().clone();
        gst::Structure::builder("mjpegrtspsrc-stats")
            .field("frames", s.frames)
            .field("bytes", s.bytes)
            .field("bitrate", s.bitrate)
            .field("framerate", s.framerate)
            .field("packets-received", s.packets_received)
            .field("packets-lost", s.packets_lost)
            .field("packets-duplicated", s.packets_duplicated)
            .field("packets-reordered", s.packets_reordered)
            .field("packets-rejected", s.packets_rejected)
            .field("frames-dropped", s.frames_dropped + s.frames_incomplete)
            .field("frames-incomplete", s.frames_incomplete)
            .field("jitter-ms", s.jitter_ms)
            .field(
                "transport",
                match s.transport {
                    Some(mjpegrtsp::client::TransportKind::Udp) => "udp",
                    Some(mjpegrtsp::client::TransportKind::Tcp) => "tcp",
                    None => "none",
                },
            )
            .build()
    }

    /// Sets caps for a frame of `data` when they are new.
    fn ensure_caps(&self, data: &[u8]) -> Result<(), gst::FlowError> {
        let Some(info) = jpeg::parse_info(data) else {
            return Ok(());
        };
        let framerate = self
            .framerate
            .lock()
            .unwrap()
            .unwrap_or(gst::Fraction::new(0, 1));
        let caps = gst::Caps::builder("image/jpeg")
            .field("parsed", true)
            .field("width", i32::from(info.width))
            .field("height", i32::from(info.height))
            .field("framerate", framerate)
            .build();
        if self.caps.lock().unwrap().as_ref() == Some(&caps) {
            return Ok(());
        }
        gst::debug!(CAT, imp = self, "caps {caps}");
        self.obj()
            .set_caps(&caps)
            .map_err(|_| gst::FlowError::NotNegotiated)?;
        *self.caps.lock().unwrap() = Some(caps);
        Ok(())
    }
}

impl MjpegRtspSrc {
    /// The running time at which a frame's last packet arrived: a live
    /// source's timestamp. Taking it at arrival rather than when `create`
    /// returns keeps a syncing sink from pushing timestamps ever later.
    fn arrival_running_time(&self, arrival: std::time::Instant) -> Option<gst::ClockTime> {
        let obj = self.obj();
        let clock = obj.clock()?;
        let base = obj.base_time()?;
        let age = gst::ClockTime::from_nseconds(arrival.elapsed().as_nanos() as u64);
        Some(clock.time().saturating_sub(base).saturating_sub(age))
    }
}

/// `d` as a clock time, when it is one (a duration from the network may be
/// anything: `None` rather than a panic or a wrapped value).
fn clock_time(d: Duration) -> Option<gst::ClockTime> {
    gst::ClockTime::try_from(d).ok()
}

/// A client error as a GStreamer error message: the text says what failed and where.
fn rtsp_error(what: &str, e: &mjpegrtsp::client::Error) -> gst::ErrorMessage {
    let kind = match e.status() {
        Some(401 | 403) => gst::ResourceError::NotAuthorized,
        Some(404) => gst::ResourceError::NotFound,
        Some(_) => gst::ResourceError::Read,
        None => gst::ResourceError::OpenRead,
    };
    gst::error_msg!(kind, ("{what} failed: {e}"))
}

#[glib::object_subclass]
impl ObjectSubclass for MjpegRtspSrc {
    const NAME: &'static str = "GstMjpegRtspSrc";
    type Type = super::MjpegRtspSrc;
    type ParentType = gst_base::PushSrc;
}

impl ObjectImpl for MjpegRtspSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("RTSP URL to play: rtsp://[user:password@]host[:port]/path")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecFlags::builder::<Protocols>("protocols")
                    .nick("Protocols")
                    .blurb("Lower transports allowed: udp, tcp, or both (UDP first, TCP when no UDP packet arrives)")
                    .default_value(Protocols::UDP | Protocols::TCP)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("latency")
                    .nick("Latency")
                    .blurb("Milliseconds a missing UDP packet is waited for before its frame is given up (reordering window)")
                    .maximum(10_000)
                    .default_value(DEFAULT_LATENCY_MS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("user-id")
                    .nick("User ID")
                    .blurb("User name for Basic or Digest authentication (overrides the URL's)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("user-pw")
                    .nick("User password")
                    .blurb("Password for Basic or Digest authentication (overrides the URL's)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("timeout")
                    .nick("Timeout")
                    .blurb("Seconds to wait for the connection and for each reply")
                    .minimum(1)
                    .maximum(3600)
                    .default_value(DEFAULT_TIMEOUT_S)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("dialect", DialectChoice::Auto)
                    .nick("Dialect")
                    .blurb("RTSP dialect: auto (standard, or classic when the server ignores OPTIONS), standard or classic")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("frames, bytes, bitrate, framerate, packets received/lost/duplicated/reordered/rejected, frames dropped, jitter-ms, transport")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location = value.get().expect("type checked upstream"),
            "protocols" => s.protocols = value.get().expect("type checked upstream"),
            "latency" => s.latency_ms = value.get().expect("type checked upstream"),
            "user-id" => s.user_id = value.get().expect("type checked upstream"),
            "user-pw" => s.user_pw = value.get().expect("type checked upstream"),
            "timeout" => s.timeout_s = value.get().expect("type checked upstream"),
            "dialect" => s.dialect = value.get().expect("type checked upstream"),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location.to_value(),
            "protocols" => s.protocols.to_value(),
            "latency" => s.latency_ms.to_value(),
            "user-id" => s.user_id.to_value(),
            "user-pw" => s.user_pw.to_value(),
            "timeout" => s.timeout_s.to_value(),
            "dialect" => s.dialect.to_value(),
            "stats" => {
                drop(s);
                self.stats_structure().to_value()
            }
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_live(true);
        obj.set_format(gst::Format::Time);
    }
}

impl GstObjectImpl for MjpegRtspSrc {}

impl ElementImpl for MjpegRtspSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MJPEG RTSP source",
                "Source/Network/Video",
                "Plays MJPEG from an RTSP server (RFC 2435, X-WHOLE-JPEG or the classic dialect) as whole, timestamped JPEG images\n\
                 Example: gst-launch-1.0 mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! jpegdec ! autovideosink",
                "The mjpegrtsp developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &crate::playhead::jpeg_template_caps(),
                )
                .expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        // Connecting here rather than in start() posts one error when it
        // fails: basesrc adds a vague second one to any failed start().
        let step = match transition {
            gst::StateChange::ReadyToPaused => Some(self.connect()),
            gst::StateChange::PausedToPlaying => Some(self.play()),
            _ => None,
        };
        if let Some(Err(e)) = step {
            self.post_error_message(e);
            return Err(gst::StateChangeError);
        }
        let ret = self.parent_change_state(transition).inspect_err(|_| {
            if transition == gst::StateChange::ReadyToPaused {
                self.disconnect();
            }
        })?;
        if transition == gst::StateChange::PlayingToPaused
            && let Err(e) = self.pause()
        {
            gst::warning!(CAT, imp = self, "PAUSE: {e:?}");
        }
        Ok(ret)
    }
}

impl MjpegRtspSrc {
    /// Connects, DESCRIBEs and SETs UP: what READY → PAUSED needs.
    fn connect(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let Some(location) = settings.location.clone() else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No RTSP URL: set the location property")
            ));
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mjpegrtspsrc")
            .enable_all()
            .build()
            .map_err(|e| {
                gst::error_msg!(
                    gst::CoreError::Failed,
                    ("Cannot start the network thread: {e}")
                )
            })?;
        let opts = self.options(&settings);
        let mut session = runtime
            .block_on(async {
                let mut session = Session::connect(&location, opts).await?;
                session.describe().await?;
                session.setup().await?;
                Ok::<_, mjpegrtsp::client::Error>(session)
            })
            .map_err(|e| {
                let shown = mjpegrtsp::client::without_password(&location);
                rtsp_error(&format!("Opening {shown}"), &e)
            })?;
        let events = session.events();
        *self.duration.lock().unwrap() = session.duration().and_then(clock_time);
        *self.framerate.lock().unwrap() = session
            .framerate()
            .map(|r| gst::Fraction::new(r.num(), r.den()));
        gst::info!(
            CAT,
            imp = self,
            "set up {}: {session:?}",
            mjpegrtsp::client::without_password(&location)
        );
        *self.events.lock().unwrap() = events;
        *self.handle.lock().unwrap() = Some(runtime.handle().clone());
        *self.caps.lock().unwrap() = None;
        *self.last_stats.lock().unwrap() = Stats::default();
        self.flushing.store(false, Ordering::SeqCst);
        *self.connection.lock().unwrap() = Some(Connection {
            runtime,
            session,
            played: false,
            pending_seek: None,
        });
        Ok(())
    }

    /// Tears the session down (bounded wait) and stops the network thread.
    fn disconnect(&self) {
        self.flushing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let conn = self.connection.lock().unwrap().take();
        *self.events.lock().unwrap() = None;
        *self.handle.lock().unwrap() = None;
        if let Some(mut c) = conn {
            let teardown = c.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), c.session.teardown()).await
            });
            if let Ok(Err(e)) = teardown {
                gst::debug!(CAT, imp = self, "TEARDOWN: {e}");
            }
            c.runtime.shutdown_timeout(Duration::from_millis(500));
        }
    }
}

impl BaseSrcImpl for MjpegRtspSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        // Normally already connected by change_state (READY → PAUSED).
        if self.connection.lock().unwrap().is_some() {
            return Ok(());
        }
        self.connect()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.disconnect();
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        self.duration.lock().unwrap().is_some()
    }

    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        let Some(segment) = segment.downcast_mut::<gst::ClockTime>() else {
            return false;
        };
        let start = Duration::from_nanos(segment.start().map_or(0, |s| s.nseconds()));
        let mut guard = self.connection.lock().unwrap();
        let Some(c) = guard.as_mut() else {
            return true;
        };
        let ok = if !c.played {
            c.pending_seek = (start > Duration::ZERO).then_some(start);
            true
        } else {
            match c.runtime.block_on(c.session.seek(start)) {
                Ok(()) => true,
                Err(e) => {
                    gst::warning!(CAT, imp = self, "seek to {start:?}: {e}");
                    false
                }
            }
        };
        if ok {
            // Buffers carry the running time of their arrival, which starts
            // again from 0 after a flushing seek: the segment starts at 0 too,
            // and its stream time says where in the media that is.
            let position = segment.start().unwrap_or(gst::ClockTime::ZERO);
            segment.set_time(position);
            segment.set_start(gst::ClockTime::ZERO);
            segment.set_position(gst::ClockTime::ZERO);
            segment.set_stop(gst::ClockTime::NONE);
        }
        ok
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Duration(q) if q.format() == gst::Format::Time => {
                match *self.duration.lock().unwrap() {
                    Some(d) => {
                        q.set(d);
                        true
                    }
                    None => false,
                }
            }
            gst::QueryViewMut::Latency(q) => {
                let latency = gst::ClockTime::from_mseconds(u64::from(
                    self.settings.lock().unwrap().latency_ms,
                ));
                q.set(true, latency, gst::ClockTime::NONE);
                true
            }
            _ => BaseSrcImplExt::parent_query(self, query),
        }
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(false, Ordering::SeqCst);
        Ok(())
    }
}

impl PushSrcImpl for MjpegRtspSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let Some(handle) = self.handle.lock().unwrap().clone() else {
            return Err(gst::FlowError::Flushing);
        };
        loop {
            if self.flushing.load(Ordering::SeqCst) {
                return Err(gst::FlowError::Flushing);
            }
            // Wait for the next event; unlock() wakes the wait.
            let event = {
                let mut guard = self.events.lock().unwrap();
                let Some(events) = guard.as_mut() else {
                    return Err(gst::FlowError::Flushing);
                };
                let wake = self.wake.clone();
                handle.block_on(async {
                    tokio::select! {
                        e = events.recv() => Some(e),
                        _ = wake.notified() => None,
                    }
                })
            };
            match event {
                None => continue, // woken up: check flushing
                Some(None) => return Err(gst::FlowError::Eos),
                Some(Some(Event::Frame(frame))) => {
                    self.ensure_caps(&frame.jpeg)?;
                    let pts = self.arrival_running_time(frame.arrival);
                    let mut buffer = gst::Buffer::from_mut_slice(frame.jpeg);
                    {
                        let buffer = buffer.get_mut().expect("new buffer is writable");
                        buffer.set_pts(pts);
                        if let Some(rate) = *self.framerate.lock().unwrap()
                            && rate.numer() > 0
                        {
                            buffer.set_duration(
                                gst::ClockTime::SECOND
                                    .mul_div_floor(rate.denom() as u64, rate.numer() as u64),
                            );
                        }
                        if frame.discont {
                            buffer.set_flags(gst::BufferFlags::DISCONT);
                        }
                    }
                    return Ok(CreateSuccess::NewBuffer(buffer));
                }
                Some(Some(Event::Stats(stats))) => {
                    *self.last_stats.lock().unwrap() = stats;
                    let s = self.stats_structure();
                    let _ = self
                        .obj()
                        .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
                }
                Some(Some(Event::End(reason))) => {
                    gst::info!(CAT, imp = self, "stream ended: {reason:?}");
                    return Err(gst::FlowError::Eos);
                }
                Some(Some(Event::Error(e))) => {
                    gst::element_imp_error!(self, gst::ResourceError::Read, ("{e}"));
                    return Err(gst::FlowError::Error);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_only_when_they_are_clock_times() {
        assert_eq!(
            clock_time(Duration::from_millis(2500)),
            Some(gst::ClockTime::from_mseconds(2500))
        );
        // GST_CLOCK_TIME_NONE in nanoseconds, and beyond u64.
        assert_eq!(clock_time(Duration::from_nanos(u64::MAX)), None);
        assert_eq!(clock_time(Duration::from_secs(u64::MAX)), None);
        let max = Duration::from_nanos(u64::MAX - 1);
        assert_eq!(clock_time(max), Some(gst::ClockTime::MAX));
    }
}
