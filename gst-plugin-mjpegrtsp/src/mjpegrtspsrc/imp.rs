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
 * PAUSED→READY sends TEARDOWN. A seek becomes a PLAY with `Range`. The
 * stream ends (EOS) when the server says so with an RTCP BYE; a server that
 * closes the connection without one is an error naming it. Packets
 * reordered or duplicated on UDP are put back in order; a frame with a missing
 * piece is dropped and counted, never pushed. The `stats` property and an
 * element message named `mjpegrtspsrc-stats` every second tell
 * `frames-received`, `bytes-received`, `bitrate` (bits/s), `framerate`,
 * `packets-received/-lost/-duplicated/-reordered/-late/-invalid/-rejected`,
 * `frames-dropped`, `frames-incomplete`, `restarts`, `jitter` (ns) and
 * `transport` (see the property's blurb).
 *
 * When no media comes for `stall-timeout` milliseconds while playing (a
 * network interruption, or a server that stopped sending), a warning
 * message says so once; when media comes again an element message named
 * `mjpegrtspsrc-resumed` tells `silent-for` (milliseconds), and the stream
 * goes on. An interruption long enough for the server to drop the session
 * ends as an error, like a cut connection.
 *
 * Its RTSP exchange is in its debug category: `GST_DEBUG=mjpegrtspsrc:5`
 * shows the start line and headers of each request sent and reply received
 * (credentials redacted).
 *
 * ## Example pipelines
 * |[
 * gst-launch-1.0 mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! jpegdec ! autovideosink
 * ]| Plays a stream.
 * |[
 * gst-launch-1.0 -e mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! lengthmjpegmux ! filesink location=rec.Mjpeg
 * ]| Records it to a `.Mjpeg` file.
 *
 * ## Example launch line
 *
 * ```shell
 * gst-launch-1.0 mjpegrtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! jpegdec ! autovideosink
 * ```
 */
use super::settings::{PROPERTIES, Settings};
use super::state::{self, Started, State};
use super::stats;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use mjpegrtsp::client::{EndReason, Event, MessageDirection, MessageObserver, Session};
use mjpegrtsp::container::jpeg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// The element message posted when media comes again after a stall.
const RESUMED_MESSAGE: &str = "mjpegrtspsrc-resumed";

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpegrtspsrc",
        gst::DebugColorFlags::empty(),
        Some("MJPEG RTSP source"),
    )
});

#[derive(Default)]
pub struct MjpegRtspSrc {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Wakes a waiting `create` on unlock (no lock needed).
    wake: Arc<tokio::sync::Notify>,
    flushing: AtomicBool,
}

impl MjpegRtspSrc {
    /// The server's address, for messages.
    fn server_name(&self) -> String {
        self.state
            .lock()
            .unwrap()
            .started()
            .map(|s| s.session.server_addr().to_string())
            .unwrap_or_else(|| "the server".into())
    }

    /// Logs each RTSP request and reply head to [`CAT`].
    fn observer(&self) -> MessageObserver {
        let weak = self.obj().downgrade();
        MessageObserver::new(move |direction, head| {
            let Some(obj) = weak.upgrade() else {
                return;
            };
            match direction {
                MessageDirection::Sent => gst::debug!(CAT, obj = obj, "sent:\n{head}"),
                MessageDirection::Received => gst::debug!(CAT, obj = obj, "received:\n{head}"),
            }
        })
    }

    /// Runs a session call on the shared runtime. The state lock is held
    /// for the exchange, which `create` does not need while it waits.
    fn with_session<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Started, &tokio::runtime::Handle) -> Result<T, mjpegrtsp::client::Error>,
    ) -> Result<T, gst::ErrorMessage> {
        let rt = state::runtime()?;
        let mut state = self.state.lock().unwrap();
        let Some(started) = state.started() else {
            return Err(gst::error_msg!(
                gst::CoreError::StateChange,
                ("{what}: not connected")
            ));
        };
        f(started, &rt).map_err(|e| rtsp_error(what, &e))
    }

    fn play(&self) -> Result<(), gst::ErrorMessage> {
        self.with_session("PLAY", |s, rt| {
            let range = s
                .pending_seek
                .take()
                .map(mjpegrtsp::rtsp::NptRange::starting_at);
            let r = rt.block_on(s.session.play(range));
            if r.is_ok() {
                s.played = true;
            }
            r
        })
    }

    fn pause(&self) -> Result<(), gst::ErrorMessage> {
        self.with_session("PAUSE", |s, rt| {
            if !s.played {
                return Ok(());
            }
            rt.block_on(s.session.pause())
        })
    }

    /// Sets caps for a frame of `data` when they are new.
    fn ensure_caps(&self, data: &[u8]) -> Result<(), gst::FlowError> {
        let Some(info) = jpeg::parse_info(data) else {
            return Ok(());
        };
        let caps = {
            let mut state = self.state.lock().unwrap();
            let Some(s) = state.started() else {
                return Err(gst::FlowError::Flushing);
            };
            let caps = gst::Caps::builder("image/jpeg")
                .field("parsed", true)
                .field("width", i32::from(info.width))
                .field("height", i32::from(info.height))
                .field("framerate", s.framerate.unwrap_or(gst::Fraction::new(0, 1)))
                .build();
            if s.caps.as_ref() == Some(&caps) {
                return Ok(());
            }
            caps
        };
        gst::debug!(CAT, imp = self, "caps {caps}");
        self.obj()
            .set_caps(&caps)
            .map_err(|_| gst::FlowError::NotNegotiated)?;
        if let Some(s) = self.state.lock().unwrap().started() {
            s.caps = Some(caps);
        }
        Ok(())
    }

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

    /// Connects, DESCRIBEs and SETs UP: what READY → PAUSED needs.
    fn connect(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let Some(location) = settings.location.clone() else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No RTSP URL: set the location property")
            ));
        };
        let rt = state::runtime()?;
        let opts = mjpegrtsp::client::ClientOptions {
            observer: Some(self.observer()),
            ..settings.client_options()
        };
        let shown = mjpegrtsp::client::without_password(&location);
        let session = rt
            .block_on(async {
                let mut session = Session::connect(&location, opts).await?;
                session.describe().await?;
                session.setup().await?;
                Ok::<_, mjpegrtsp::client::Error>(session)
            })
            .map_err(|e| rtsp_error(&format!("Opening {shown}"), &e))?;
        gst::info!(CAT, imp = self, "set up {shown}: {session:?}");
        self.flushing.store(false, Ordering::SeqCst);
        *self.state.lock().unwrap() = State::Started(Box::new(Started::new(session)));
        Ok(())
    }

    /// Tears the session down (bounded wait); dropping it ends its task.
    fn disconnect(&self) {
        self.flushing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let State::Started(mut s) = std::mem::take(&mut *self.state.lock().unwrap()) else {
            return;
        };
        let Ok(rt) = state::runtime() else {
            return;
        };
        let teardown = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), s.session.teardown()).await
        });
        if let Ok(Err(e)) = teardown {
            gst::debug!(CAT, imp = self, "TEARDOWN: {e}");
        }
    }

    /// A frame as a timestamped buffer.
    fn buffer(&self, frame: mjpegrtsp::client::Frame) -> Result<gst::Buffer, gst::FlowError> {
        self.ensure_caps(&frame.jpeg)?;
        let pts = self.arrival_running_time(frame.arrival);
        let framerate = self
            .state
            .lock()
            .unwrap()
            .started()
            .and_then(|s| s.framerate);
        let mut buffer = gst::Buffer::from_mut_slice(frame.jpeg);
        let buf = buffer.get_mut().expect("new buffer is writable");
        buf.set_pts(pts);
        if let Some(rate) = framerate
            && rate.numer() > 0
        {
            buf.set_duration(
                gst::ClockTime::SECOND.mul_div_floor(rate.denom() as u64, rate.numer() as u64),
            );
        }
        if frame.discont {
            buf.set_flags(gst::BufferFlags::DISCONT);
        }
        Ok(buffer)
    }
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
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.settings.lock().unwrap().set(pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if let Some(v) = self.settings.lock().unwrap().get(pspec.name()) {
            return v;
        }
        match pspec.name() {
            "stats" => {
                let s = match &*self.state.lock().unwrap() {
                    State::Started(s) => s.stats.clone(),
                    State::Stopped => Default::default(),
                };
                stats::structure(&s).to_value()
            }
            name => unreachable!("unknown property {name}"),
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
                "Plays MJPEG from an RTSP server (RFC 2435, X-WHOLE-JPEG or the classic dialect) as whole, timestamped JPEG images",
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

impl BaseSrcImpl for MjpegRtspSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        // Normally already connected by change_state (READY → PAUSED).
        if matches!(*self.state.lock().unwrap(), State::Started(_)) {
            return Ok(());
        }
        self.connect()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.disconnect();
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        state.started().is_some_and(|s| s.duration.is_some())
    }

    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        let Some(segment) = segment.downcast_mut::<gst::ClockTime>() else {
            return false;
        };
        let start = Duration::from_nanos(segment.start().map_or(0, |s| s.nseconds()));
        if matches!(*self.state.lock().unwrap(), State::Stopped) {
            return true; // not connected yet: nothing to seek
        }
        let sought = self.with_session("seek", |s, rt| {
            if s.played {
                rt.block_on(s.session.seek(start))
            } else {
                s.pending_seek = (start > Duration::ZERO).then_some(start);
                Ok(())
            }
        });
        if let Err(e) = sought {
            gst::warning!(CAT, imp = self, "seek to {start:?}: {e:?}");
            return false;
        }
        // Buffers carry the running time of their arrival, which starts again
        // from 0 after a flushing seek: the segment starts at 0 too, and its
        // stream time says where in the media that is.
        let position = segment.start().unwrap_or(gst::ClockTime::ZERO);
        segment.set_time(position);
        segment.set_start(gst::ClockTime::ZERO);
        segment.set_position(gst::ClockTime::ZERO);
        segment.set_stop(gst::ClockTime::NONE);
        true
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Duration(q) if q.format() == gst::Format::Time => {
                let duration = self
                    .state
                    .lock()
                    .unwrap()
                    .started()
                    .and_then(|s| s.duration);
                match duration {
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
        let rt = state::runtime().map_err(|_| gst::FlowError::Error)?;
        loop {
            if self.flushing.load(Ordering::SeqCst) {
                return Err(gst::FlowError::Flushing);
            }
            // Wait for the next event without the state lock; unlock()
            // wakes the wait.
            let Some(mut events) = self
                .state
                .lock()
                .unwrap()
                .started()
                .and_then(|s| s.events.take())
            else {
                return Err(gst::FlowError::Flushing);
            };
            let wake = self.wake.clone();
            let event = rt.block_on(async {
                tokio::select! {
                    e = events.recv() => Some(e),
                    _ = wake.notified() => None,
                }
            });
            if let Some(s) = self.state.lock().unwrap().started() {
                s.events = Some(events);
            }
            match event {
                None => continue, // woken up: check flushing
                Some(None) => return Err(gst::FlowError::Eos),
                Some(Some(Event::Frame(frame))) => {
                    return self.buffer(frame).map(CreateSuccess::NewBuffer);
                }
                Some(Some(Event::Stats(s))) => {
                    let structure = stats::structure(&s);
                    if let Some(started) = self.state.lock().unwrap().started() {
                        started.stats = s;
                    }
                    let obj = self.obj();
                    let _ = obj
                        .post_message(gst::message::Element::builder(structure).src(&*obj).build());
                }
                Some(Some(Event::Stalled { silent_for })) => {
                    let server = self.server_name();
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Read,
                        (
                            "No media from {server} for {:.1} s: waiting for it",
                            silent_for.as_secs_f64()
                        )
                    );
                }
                Some(Some(Event::Resumed { silent_for })) => {
                    gst::info!(CAT, imp = self, "media again after {silent_for:?}");
                    let structure = gst::Structure::builder(RESUMED_MESSAGE)
                        .field("silent-for", silent_for.as_millis() as u64)
                        .build();
                    let obj = self.obj();
                    let _ = obj
                        .post_message(gst::message::Element::builder(structure).src(&*obj).build());
                }
                Some(Some(Event::End(EndReason::ConnectionClosed))) => {
                    // No BYE first: the stream did not end, it was cut.
                    let server = self.server_name();
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Read,
                        ("{server} closed the connection while playing, without ending the stream")
                    );
                    return Err(gst::FlowError::Error);
                }
                Some(Some(Event::End(EndReason::Bye))) => {
                    gst::info!(CAT, imp = self, "stream ended: the server sent BYE");
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
