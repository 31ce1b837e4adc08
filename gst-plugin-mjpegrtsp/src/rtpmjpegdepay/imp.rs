/**
 * element-rtpmjpegdepay:
 *
 * Reassembles whole JPEG images from RTP packets with the plain 12-byte header
 * and JPEG bytes as payload (`encoding-name=X-WHOLE-JPEG`): what the classic
 * server sends (one whole JPEG per packet, marker bit always 0, timestamps in
 * wall-clock seconds) and what `rtpmjpegpay` sends in either mode (fragmented:
 * frames split over consecutive packets sharing one timestamp, marker bit on
 * the last).
 *
 * It never pushes a partial JPEG: every buffer starts with FF D8, ends with
 * FF D9 and was assembled from a gap-free run of sequence numbers. Duplicate,
 * late and reordered packets within a frame are tolerated; frames with missing
 * packets or that are not JPEGs are dropped and counted in `stats`, and the
 * next buffer pushed carries the DISCONT flag. The classic server starts its
 * sequence numbers again at 1 each time it loops its file: such a jump is taken
 * as a new loop (`restarts` in `stats`), not as late packets. Waiting data is
 * bounded (4 frames, 16 MiB).
 *
 * Output caps are `image/jpeg, parsed=true` with `width` and `height` from the
 * JPEG's SOF segment (updated when they change) and `framerate` from the
 * `a-framerate` field of the input caps when present. Output PTS is the arrival
 * time of the frame's first packet when the input buffers have one (udpsrc,
 * rtpjitterbuffer), else the RTP timestamp relative to the first frame's when
 * the clock rate is above 1 (fragmented streams), else none.
 *
 * The rank is one above rtpjpegdepay's so that decodebin prefers this element
 * where caps intersect; its sink caps require `encoding-name=X-WHOLE-JPEG`, so
 * it never takes RFC 2435 streams.
 *
 * ## Example pipeline
 * |[
 * gst-launch-1.0 udpsrc port=5000 caps="application/x-rtp,media=video,encoding-name=X-WHOLE-JPEG,clock-rate=1" ! rtpmjpegdepay ! jpegdec ! autovideosink
 * ]| Shows what a classic server (or `rtpmjpegpay`) sends to port 5000.
 *
 * ## Example launch line
 *
 * ```shell
 * gst-launch-1.0 udpsrc port=5000 caps="application/x-rtp,media=video,encoding-name=X-WHOLE-JPEG,clock-rate=1" ! rtpmjpegdepay ! jpegdec ! autovideosink
 * ```
 */
use crate::pads::{ChainSink, add_pads, chain_pads, sink_src_templates};
use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::DepayMode;
use mjpegrtsp::container::jpeg::{JpegInfo, parse_info};
use mjpegrtsp::rtp::{
    ENCODING_NAME, FRAGMENTED_CLOCK_RATE, Frame, Reassembler, TimestampExtender, parse,
};
use mjpegrtsp::timing::FrameRate;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rtpmjpegdepay",
        gst::DebugColorFlags::empty(),
        Some("Whole-JPEG RTP depayloader"),
    )
});

const DEFAULT_MODE: DepayMode = DepayMode::Auto;
/// How much of a fragmented frame's start is searched for the SOF segment
/// when it is not in the first packet (large APP segments).
const SOF_SEARCH_LIMIT: usize = 256 * 1024;
/// Frames in at most this many packets are output sharing the packets'
/// memory (GStreamer buffers hold up to 16 memories).
const MAX_SHARED_PIECES: usize = 16;

/// A packet's payload: shared memory of the incoming buffer, mapped.
struct Payload(Option<gst::MappedBuffer<gst::buffer::Readable>>);

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |m| m.as_slice())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Settings {
    mode: DepayMode,
}

/// What the output caps say, to tell when they must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OutputFormat {
    size: Option<(u16, u16)>,
    framerate: Option<gst::Fraction>,
}

struct State {
    reassembler: Reassembler<Payload>,
    clock_rate: Option<u32>,
    framerate: Option<gst::Fraction>,
    timestamps: TimestampExtender,
    /// The caps pushed downstream, if any.
    output: Option<OutputFormat>,
    /// A segment received before the first caps were pushed.
    pending_segment: Option<gst::Event>,
    segment_seen: bool,
    discont: bool,
    frames_pushed: u64,
    bytes_pushed: u64,
}

impl State {
    fn new(mode: DepayMode) -> Self {
        State {
            reassembler: Reassembler::new(mode.into()),
            clock_rate: None,
            framerate: None,
            timestamps: TimestampExtender::default(),
            output: None,
            pending_segment: None,
            segment_seen: false,
            discont: true,
            frames_pushed: 0,
            bytes_pushed: 0,
        }
    }
}

pub struct RtpMjpegDepay {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `a-framerate` whether a sender put it as a string (SDP style), a
/// double or a fraction.
fn framerate_from_caps(s: &gst::StructureRef) -> Option<gst::Fraction> {
    let parsed = |text: &str| FrameRate::parse(text).map(|r| (r.num(), r.den()));
    let (n, d) = if let Ok(v) = s.get::<&str>("a-framerate") {
        parsed(v)?
    } else if let Ok(v) = s.get::<f64>("a-framerate") {
        parsed(&v.to_string())?
    } else if let Ok(f) = s.get::<gst::Fraction>("a-framerate") {
        (f.numer(), f.denom())
    } else {
        return None;
    };
    (n > 0 && d > 0).then(|| gst::Fraction::new(n, d))
}

/// The SOF of a frame, looking past the first packet if need be.
fn frame_info(frame: &Frame<Payload>) -> Option<JpegInfo> {
    let first = frame.pieces.first()?.as_ref();
    if let Some(info) = parse_info(first) {
        return Some(info);
    }
    if frame.pieces.len() == 1 {
        return None;
    }
    let mut head = Vec::new();
    for p in &frame.pieces {
        head.extend_from_slice(p.as_ref());
        if head.len() >= SOF_SEARCH_LIMIT {
            break;
        }
    }
    parse_info(&head)
}

/// The frame as one buffer: sharing the packets' memory when a buffer can
/// hold that many memories, else copied once into one block (a buffer with
/// too many memories would be merged over and over while appending).
fn join_pieces(pieces: Vec<Payload>) -> Option<gst::Buffer> {
    let pieces: Vec<_> = pieces.into_iter().filter_map(|p| p.0).collect();
    if pieces.len() <= MAX_SHARED_PIECES {
        let mut pieces = pieces.into_iter().map(|m| m.into_buffer());
        let mut buffer = pieces.next()?;
        for piece in pieces {
            buffer.append(piece);
        }
        return Some(buffer);
    }
    let len = pieces.iter().map(|m| m.len()).sum();
    let mut buffer = gst::Buffer::with_size(len).ok()?;
    {
        let mut map = buffer.get_mut()?.map_writable().ok()?;
        let mut at = 0;
        for m in &pieces {
            map[at..at + m.len()].copy_from_slice(m.as_slice());
            at += m.len();
        }
    }
    Some(buffer)
}

enum Output {
    Event(gst::Event),
    Buffer(gst::Buffer),
}

impl RtpMjpegDepay {
    fn stats_structure(&self) -> gst::Structure {
        let state = lock(&self.state);
        let s = *state.reassembler.stats();
        gst::Structure::builder("application/x-rtp-mjpeg-depay-stats")
            .field("packets-received", s.packets_received)
            .field("packets-invalid", s.packets_invalid)
            .field("packets-duplicated", s.packets_duplicate)
            .field("packets-late", s.packets_late)
            .field("frames-pushed", state.frames_pushed)
            .field("frames-incomplete", s.frames_incomplete)
            .field("frames-corrupt", s.frames_corrupt)
            .field("restarts", s.restarts)
            .field("bytes-pushed", state.bytes_pushed)
            .build()
    }

    fn start(&self) {
        let mode = lock(&self.settings).mode;
        *lock(&self.state) = State::new(mode);
        gst::debug!(CAT, imp = self, "starting in mode {mode:?}");
    }

    /// Turns a frame into a buffer, preceded by caps (and a pending segment)
    /// when they must change.
    fn prepare_output(&self, state: &mut State, frame: Frame<Payload>, out: &mut Vec<Output>) {
        let info = frame_info(&frame);
        let format = OutputFormat {
            size: info
                .map(|i| (i.width, i.height))
                .or(state.output.and_then(|o| o.size)),
            framerate: state.framerate,
        };
        if state.output != Some(format) {
            let mut caps = gst::Caps::builder("image/jpeg").field("parsed", true);
            if let Some((w, h)) = format.size {
                caps = caps
                    .field("width", i32::from(w))
                    .field("height", i32::from(h));
            }
            if let Some(f) = format.framerate {
                caps = caps.field("framerate", f);
            }
            let caps = caps.build();
            gst::debug!(CAT, imp = self, "output caps {caps}");
            out.push(Output::Event(gst::event::Caps::new(&caps)));
            if state.output.is_none() {
                let segment = state.pending_segment.take().unwrap_or_else(|| {
                    gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new())
                });
                out.push(Output::Event(segment));
            }
            state.output = Some(format);
        }

        let rate = match state.clock_rate {
            Some(r) if r > 1 => Some(r),
            Some(_) => None,
            None => state
                .reassembler
                .is_fragmented()
                .then_some(FRAGMENTED_CLOCK_RATE),
        };
        let ticks = state.timestamps.extend(frame.rtp_timestamp);
        let pts = frame.pts.map(gst::ClockTime::from_nseconds).or_else(|| {
            let rate = u128::from(rate?);
            let ticks = u128::try_from(ticks).ok()?;
            Some(gst::ClockTime::from_nseconds(
                (ticks * 1_000_000_000 / rate) as u64,
            ))
        });
        let duration = state
            .framerate
            .and_then(|f| gst::ClockTime::SECOND.mul_div_floor(f.denom() as u64, f.numer() as u64));
        let discont = std::mem::take(&mut state.discont) || frame.discont;

        gst::trace!(
            CAT,
            imp = self,
            "frame of {} bytes from seq {} to {}, pts {}",
            frame.len(),
            frame.first_seq,
            frame.last_seq,
            pts.display()
        );
        let Some(mut buffer) = join_pieces(frame.pieces) else {
            gst::error!(CAT, imp = self, "cannot allocate an output buffer");
            return;
        };
        {
            let b = buffer.make_mut();
            b.set_pts(pts);
            b.set_dts(gst::ClockTime::NONE);
            b.set_duration(duration);
            if discont {
                b.set_flags(gst::BufferFlags::DISCONT);
            } else {
                b.unset_flags(gst::BufferFlags::DISCONT);
            }
        }
        out.push(Output::Buffer(buffer));
    }
}

impl ChainSink for RtpMjpegDepay {
    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let parsed = {
            let map = buffer.map_readable().map_err(|_| {
                gst::error!(CAT, imp = self, "cannot map an input buffer");
                gst::FlowError::Error
            })?;
            parse(&map).map(|p| (p.header, p.payload_range))
        };
        let (header, range) = match parsed {
            Ok(p) => p,
            Err(e) => {
                lock(&self.state).reassembler.record_invalid();
                gst::warning!(
                    CAT,
                    imp = self,
                    "ignoring an invalid {}-byte RTP packet: {e}",
                    buffer.size()
                );
                return Ok(gst::FlowSuccess::Ok);
            }
        };
        let payload = if range.is_empty() {
            Payload(None)
        } else {
            let region = buffer
                .copy_region(gst::BufferCopyFlags::MEMORY, range)
                .map_err(|_| gst::FlowError::Error)?;
            Payload(Some(
                region
                    .into_mapped_buffer_readable()
                    .map_err(|_| gst::FlowError::Error)?,
            ))
        };
        gst::trace!(
            CAT,
            imp = self,
            "packet seq {} ts {} marker {} payload {} bytes",
            header.sequence_number,
            header.timestamp,
            header.marker,
            payload.as_ref().len()
        );

        let mut state = lock(&self.state);
        let frames = state
            .reassembler
            .push(&header, payload, buffer.pts().map(|t| t.nseconds()));
        if frames.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let mut outputs = Vec::with_capacity(frames.len() + 2);
        for frame in frames {
            self.prepare_output(&mut state, frame, &mut outputs);
        }
        drop(state);

        let mut result = Ok(gst::FlowSuccess::Ok);
        for output in outputs {
            match output {
                Output::Event(e) => {
                    if !self.srcpad.push_event(e) {
                        gst::debug!(CAT, imp = self, "downstream refused an event");
                    }
                }
                Output::Buffer(b) => {
                    let size = b.size() as u64;
                    result = self.srcpad.push(b);
                    if result.is_err() {
                        break;
                    }
                    let mut state = lock(&self.state);
                    state.frames_pushed += 1;
                    state.bytes_pushed += size;
                }
            }
        }
        result
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        gst::log!(CAT, obj = pad, "handling event {event:?}");
        match event.view() {
            gst::EventView::Caps(c) => {
                let Some(s) = c.caps().structure(0) else {
                    return false;
                };
                let clock_rate = s
                    .get::<i32>("clock-rate")
                    .ok()
                    .and_then(|r| u32::try_from(r).ok());
                let framerate = framerate_from_caps(s);
                gst::debug!(
                    CAT,
                    imp = self,
                    "input clock rate {clock_rate:?}, frame rate {framerate:?}"
                );
                let mut state = lock(&self.state);
                state.clock_rate = clock_rate;
                state.framerate = framerate;
                // Output caps are made (or remade) with the next frame.
                true
            }
            gst::EventView::Segment(_) => {
                let mut state = lock(&self.state);
                state.segment_seen = true;
                if state.output.is_none() {
                    // Caps go first: this follows them with the first frame.
                    state.pending_segment = Some(event);
                    return true;
                }
                drop(state);
                self.srcpad.push_event(event)
            }
            gst::EventView::FlushStop(_) => {
                let mut state = lock(&self.state);
                state.reassembler.reset();
                state.timestamps.reset();
                state.discont = true;
                drop(state);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            gst::EventView::Eos(_) => {
                let dropped = lock(&self.state).reassembler.drain();
                if dropped > 0 {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "end of stream: dropping {dropped} incomplete frames"
                    );
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RtpMjpegDepay {
    const NAME: &'static str = "GstRtpMjpegDepay";
    type Type = super::RtpMjpegDepay;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let (sinkpad, srcpad) = chain_pads::<Self>(klass);
        RtpMjpegDepay {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::new(DEFAULT_MODE)),
        }
    }
}

impl ObjectImpl for RtpMjpegDepay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb(
                        "auto: whole-frame until a packet has the marker bit, then fragmented; \
                         whole-frame: every packet is one whole JPEG (the classic dialect); \
                         fragmented: frames end at packets with the marker bit",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "Structure application/x-rtp-mjpeg-depay-stats, all u64 counts: \
                         packets-received, packets-invalid, packets-duplicated, packets-late, \
                         frames-pushed, frames-incomplete, frames-corrupt, restarts \
                         (sequence numbers starting over, e.g. a classic server looping its \
                         file), bytes-pushed (JPEG bytes in the frames pushed)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "mode" => {
                let mode = value.get().expect("type checked upstream");
                lock(&self.settings).mode = mode;
                gst::debug!(CAT, imp = self, "mode set to {mode:?}");
            }
            other => unreachable!("no writable property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "mode" => lock(&self.settings).mode.to_value(),
            "stats" => self.stats_structure().to_value(),
            other => unreachable!("no property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        add_pads(&*self.obj(), &[&self.sinkpad, &self.srcpad]);
    }
}

impl GstObjectImpl for RtpMjpegDepay {}

impl ElementImpl for RtpMjpegDepay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "RTP whole-JPEG depayloader (12-byte header)",
                "Codec/Depayloader/Network/RTP",
                "Extracts whole JPEG images from X-WHOLE-JPEG RTP packets: one JPEG per \
                 packet (classic server) or split with the marker bit on each frame's last \
                 packet; never outputs a partial JPEG",
                "The mjpegrtsp developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst::Caps::builder("application/x-rtp")
                .field("media", "video")
                .field("encoding-name", ENCODING_NAME)
                .build();
            let src_caps = gst::Caps::builder("image/jpeg")
                .field("parsed", true)
                .build();
            sink_src_templates(&sink_caps, &src_caps)
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::trace!(CAT, imp = self, "changing state: {transition:?}");
        if transition == gst::StateChange::ReadyToPaused {
            self.start();
        }
        self.parent_change_state(transition)
    }
}
