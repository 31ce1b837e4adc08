//! `lengthmjpegdemux` takes the `.Mjpeg` container (`video/x-length-mjpeg`:
//! five ASCII digits giving a JPEG's size, then the JPEG, repeated) and
//! outputs one `image/jpeg` buffer per frame with PTS and duration at
//! `frame-rate`.
//!
//! When upstream can be read at random (a file through `filesrc`), it works in
//! pull mode: it indexes the stream by hopping over the length prefixes, then
//! answers duration and position queries in time and frames and seeks to the
//! exact frame. Otherwise (a pipe, a network stream) it parses the bytes as
//! they come and cannot seek. Damage is skipped with a warning giving its
//! byte offset; no partial frame is ever output.
//!
//! ```text
//! gst-launch-1.0 filesrc location=movie.Mjpeg ! lengthmjpegdemux ! jpegdec ! videoconvert ! autovideosink
//! gst-play-1.0 movie.Mjpeg
//! gst-discoverer-1.0 movie.Mjpeg
//! ```
//!
//! ## Example launch line
//!
//! ```shell
//! gst-launch-1.0 filesrc location=movie.Mjpeg ! lengthmjpegdemux ! jpegdec ! videoconvert ! autovideosink
//! ```

use crate::CONTAINER_CAPS_NAME;
use crate::pads::template;
use crate::playhead::{
    Next, Playhead, jpeg_caps, jpeg_template_caps, report_anomalies, report_anomalies_once,
};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use mjpegrtsp::container::{ReadAt, SharedIndex, StreamParser, is_whole_jpeg, jpeg, stream::Item};
use mjpegrtsp::timing::FrameRate;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

mod pull;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "lengthmjpegdemux",
        gst::DebugColorFlags::empty(),
        Some("Length-prefixed MJPEG demuxer"),
    )
});

const DEFAULT_FRAME_RATE: gst::Fraction = gst::Fraction::from_integer(24);

/// How the sink pad is scheduled.
enum Mode {
    /// Random access: the whole stream is indexed.
    Pull { playhead: Option<Playhead> },
    /// Bytes arrive in order; frames are numbered as they come.
    Push { parser: StreamParser, frames: u64 },
}

struct State {
    mode: Mode,
    srcpad: Option<gst::Pad>,
    segment: gst::FormattedSegment<gst::ClockTime>,
    need_segment: bool,
    seqnum: gst::Seqnum,
    rate: gst::Fraction,
}

impl Default for State {
    fn default() -> Self {
        Self {
            mode: Mode::Push {
                parser: StreamParser::new(),
                frames: 0,
            },
            srcpad: None,
            segment: gst::FormattedSegment::new(),
            need_segment: true,
            seqnum: gst::Seqnum::next(),
            rate: DEFAULT_FRAME_RATE,
        }
    }
}

pub struct LengthMjpegDemux {
    sinkpad: gst::Pad,
    frame_rate: Mutex<gst::Fraction>,
    state: Mutex<State>,
}

impl LengthMjpegDemux {
    fn frame_rate(&self) -> gst::Fraction {
        *self.frame_rate.lock().unwrap()
    }

    // ---- sink pad ----

    fn sink_activate(&self, pad: &gst::Pad) -> Result<(), gst::LoggableError> {
        let mut query = gst::query::Scheduling::new();
        let pull = pad.peer_query(&mut query)
            && query
                .has_scheduling_mode_with_flags(gst::PadMode::Pull, gst::SchedulingFlags::SEEKABLE);
        let mode = if pull {
            gst::PadMode::Pull
        } else {
            gst::PadMode::Push
        };
        gst::debug!(CAT, imp = self, "activating in {mode:?} mode");
        pad.activate_mode(mode, true)
            .map_err(|e| gst::loggable_error!(CAT, "could not activate in {mode:?} mode: {e}"))
    }

    fn sink_activatemode(
        &self,
        pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError> {
        if !active {
            if mode == gst::PadMode::Pull {
                pad.stop_task()
                    .map_err(|e| gst::loggable_error!(CAT, "stop task: {e}"))?;
            }
            return Ok(());
        }
        let mut state = self.state.lock().unwrap();
        *state = State {
            rate: self.frame_rate(),
            ..State::default()
        };
        if mode == gst::PadMode::Pull {
            state.mode = Mode::Pull { playhead: None };
            drop(state);
            self.start_task()?;
        }
        Ok(())
    }

    fn sink_chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let items = {
            let mut state = self.state.lock().unwrap();
            let Mode::Push { parser, .. } = &mut state.mode else {
                return Err(gst::FlowError::Error);
            };
            parser.push(&map);
            std::iter::from_fn(|| parser.next_item()).collect::<Vec<_>>()
        };
        drop(map);
        for item in items {
            match item {
                Item::Anomaly(a) => report_anomalies(&*self.obj(), "stream", &[a]),
                Item::Frame { data, .. } => {
                    self.push_streamed_frame(data)?;
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn push_streamed_frame(&self, data: Vec<u8>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let srcpad = match self.srcpad() {
            Some(pad) => pad,
            None => match jpeg::parse_info(&data) {
                Some(info) => {
                    let rate = self.state.lock().unwrap().rate;
                    self.add_srcpad(&jpeg_caps(&info, rate))?
                }
                None => {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Demux,
                        ("JPEG frame without a readable size (SOF) skipped")
                    );
                    return Ok(gst::FlowSuccess::Ok);
                }
            },
        };
        let mut buffer = gst::Buffer::from_mut_slice(data);
        {
            let mut state = self.state.lock().unwrap();
            let rate = FrameRate::new(state.rate.numer(), state.rate.denom())
                .ok_or(gst::FlowError::NotNegotiated)?;
            let Mode::Push { frames, .. } = &mut state.mode else {
                return Err(gst::FlowError::Error);
            };
            let n = *frames;
            *frames += 1;
            let buf = buffer.get_mut().expect("new buffer is writable");
            buf.set_pts(gst::ClockTime::from_nseconds(rate.frame_start_ns(n)));
            buf.set_duration(gst::ClockTime::from_nseconds(rate.frame_duration_ns(n)));
            buf.set_offset(n);
            buf.set_offset_end(n + 1);
        }
        self.push_segment_if_needed(&srcpad);
        srcpad.push(buffer)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            // Upstream speaks bytes; we make our own time segment, caps and stream.
            EventView::Segment(_) | EventView::Caps(_) | EventView::StreamStart(_) => true,
            EventView::FlushStop(_) => {
                let mut state = self.state.lock().unwrap();
                if let Mode::Push { parser, .. } = &mut state.mode {
                    *parser = StreamParser::new();
                }
                state.need_segment = true;
                drop(state);
                self.forward_downstream(event)
            }
            EventView::Eos(_) => {
                let leftover = {
                    let mut state = self.state.lock().unwrap();
                    match &mut state.mode {
                        Mode::Push { parser, .. } => parser.finish(),
                        Mode::Pull { .. } => None,
                    }
                };
                if let Some(a) = leftover {
                    report_anomalies(&*self.obj(), "stream", &[a]);
                }
                if self.srcpad().is_none() {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Demux,
                        ("The stream ended without a single whole .Mjpeg frame")
                    );
                    return true;
                }
                self.forward_downstream(event)
            }
            _ => {
                if self.srcpad().is_some() {
                    self.forward_downstream(event)
                } else {
                    gst::Pad::event_default(pad, Some(&*self.obj()), event)
                }
            }
        }
    }

    fn forward_downstream(&self, event: gst::Event) -> bool {
        match self.srcpad() {
            Some(pad) => pad.push_event(event),
            None => true,
        }
    }

    // ---- pull mode ----

    // ---- source pad ----

    fn srcpad(&self) -> Option<gst::Pad> {
        self.state.lock().unwrap().srcpad.clone()
    }

    fn add_srcpad(&self, caps: &gst::Caps) -> Result<gst::Pad, gst::FlowError> {
        let templ = self.obj().pad_template("video_%u").expect("src template");
        let pad = gst::Pad::builder_from_template(&templ)
            .name("video_0")
            .event_function(|pad, parent, event| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.src_query(pad, query),
                )
            })
            .build();
        pad.set_active(true).map_err(|_| gst::FlowError::Error)?;
        let stream_id = pad.create_stream_id(&*self.obj(), Some("video"));
        pad.push_event(gst::event::StreamStart::builder(&stream_id).build());
        pad.push_event(gst::event::Caps::new(caps));
        self.state.lock().unwrap().srcpad = Some(pad.clone());
        self.obj()
            .add_pad(&pad)
            .map_err(|_| gst::FlowError::Error)?;
        self.obj().no_more_pads();
        Ok(pad)
    }

    fn push_segment_if_needed(&self, srcpad: &gst::Pad) {
        let event = {
            let mut state = self.state.lock().unwrap();
            if !std::mem::take(&mut state.need_segment) {
                return;
            }
            gst::event::Segment::builder(&state.segment)
                .seqnum(state.seqnum)
                .build()
        };
        srcpad.push_event(event);
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => {
                let pull = matches!(self.state.lock().unwrap().mode, Mode::Pull { .. });
                if pull {
                    self.pull_seek(seek)
                } else {
                    self.sinkpad.push_event(event)
                }
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        {
            let state = self.state.lock().unwrap();
            if let Mode::Pull {
                playhead: Some(playhead),
            } = &state.mode
            {
                if playhead.answer_query(query) {
                    return true;
                }
                if let gst::QueryViewMut::Seeking(q) = query.view_mut() {
                    let dur = playhead.duration_ns().map(gst::ClockTime::from_nseconds);
                    if q.format() == gst::Format::Time {
                        q.set(true, gst::ClockTime::ZERO, dur);
                        return true;
                    }
                }
            } else if let gst::QueryViewMut::Seeking(q) = query.view_mut()
                && q.format() == gst::Format::Time
            {
                drop(state);
                // In push mode only upstream can say; we cannot map time to bytes.
                q.set(false, gst::ClockTime::ZERO, gst::ClockTime::NONE);
                return true;
            }
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for LengthMjpegDemux {
    const NAME: &'static str = "GstLengthMjpegDemux";
    type Type = super::LengthMjpegDemux;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .activate_function(|pad, parent| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "panic in activate")),
                    |this| this.sink_activate(pad),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "panic in activate")),
                    |this| this.sink_activatemode(pad, mode, active),
                )
            })
            .chain_function(|_pad, parent, buffer| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(buffer),
                )
            })
            .event_function(|pad, parent, event| {
                LengthMjpegDemux::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .build();
        Self {
            sinkpad,
            frame_rate: Mutex::new(DEFAULT_FRAME_RATE),
            state: Mutex::new(State::default()),
        }
    }
}

impl ObjectImpl for LengthMjpegDemux {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                gst::ParamSpecFraction::builder("frame-rate")
                    .nick("Frame rate")
                    .blurb("Frame rate to time the frames at: the container does not store one")
                    .minimum(gst::Fraction::new(1, 1001))
                    .maximum(gst::Fraction::new(1000, 1))
                    .default_value(DEFAULT_FRAME_RATE)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "frame-rate" => {
                *self.frame_rate.lock().unwrap() = value.get().expect("type checked upstream")
            }
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "frame-rate" => self.frame_rate().to_value(),
            _ => unreachable!("unknown property {}", pspec.name()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj().add_pad(&self.sinkpad).expect("add sink pad");
    }
}

impl GstObjectImpl for LengthMjpegDemux {}

impl ElementImpl for LengthMjpegDemux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Length-prefixed MJPEG demuxer",
                "Codec/Demuxer/Video",
                "Splits the .Mjpeg container (five-digit length + JPEG per frame) into timestamped JPEG frames; seekable when upstream can be read at random (filesrc)",
                "The mjpegrtsp developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                template(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &gst::Caps::new_empty_simple(CONTAINER_CAPS_NAME),
                ),
                template(
                    "video_%u",
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &jpeg_template_caps(),
                ),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            let pad = self.state.lock().unwrap().srcpad.take();
            if let Some(pad) = pad {
                let _ = pad.set_active(false);
                let _ = self.obj().remove_pad(&pad);
            }
            *self.state.lock().unwrap() = State::default();
        }
        Ok(ret)
    }
}
