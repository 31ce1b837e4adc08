/**
 * element-rtpmjpegpay:
 *
 * Puts whole JPEG images into RTP packets with the plain 12-byte header (V=2,
 * P=0, X=0, CC=0, M, PT, sequence number, timestamp, SSRC) and the JPEG bytes as
 * payload: the scheme of the `.Mjpeg` server, not RFC 2435.
 *
 * `mode=whole-frame` (the default) sends one packet per frame exactly like the
 * classic server: the sequence number is the frame number counting from
 * `seqnum-offset` (1) and never resets (not on a loop, a flush or a seek), the
 * marker bit is 0, the timestamp is the wall-clock Unix time in whole seconds
 * (caps `clock-rate=1`) and the payload type is 26. A frame too big for one UDP
 * datagram (a JPEG over 65,495 bytes) is dropped — never truncated — and its
 * frame number is still used up, so receivers see the gap.
 *
 * `mode=fragmented` splits each frame into packets of at most `mtu` bytes
 * (header included) with the marker bit on the frame's last packet, 90 kHz
 * timestamps from the buffer PTS (`timestamp-offset` + PTS × 90000) and one
 * sequence number per packet. Its payload type defaults to 96, not 26: PT 26
 * with `clock-rate=90000` is what the RFC 2435 `rtpjpegdepay` accepts
 * (`payload=26, clock-rate=90000` or `encoding-name=JPEG`), so decodebin or
 * rtspsrc users would get that depayloader for a stream it cannot parse. A
 * `pt` set explicitly wins in both modes.
 *
 * Payloads share the input's memory; a frame's packets are pushed as one
 * buffer list. Input that does not start with a JPEG SOI marker is dropped
 * with a warning.
 *
 * ## Example pipelines
 * |[
 * gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg ! rtpmjpegpay ! udpsink host=127.0.0.1 port=5000
 * ]| Serves a classic-dialect stream that the seed's Python client can show.
 * |[
 * gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg ! rtpmjpegpay mode=fragmented mtu=1400 ! udpsink host=127.0.0.1 port=5000
 * ]| Frames of any size, split at 1400 bytes.
 *
 * ## Example launch line
 *
 * ```shell
 * gst-launch-1.0 lengthmjpegsrc location=movie.Mjpeg ! rtpmjpegpay ! udpsink host=127.0.0.1 port=5000
 * ```
 */
use crate::pads::{ChainSink, add_pads, chain_pads, sink_src_templates};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::PayMode;
use super::settings::{self, Settings};
use mjpegrtsp::container::SOI;
use mjpegrtsp::rtp::{
    ENCODING_NAME, FRAGMENTED_CLOCK_RATE, HEADER_LEN, MAX_WHOLE_FRAME_JPEG, RtpHeader,
    WHOLE_FRAME_CLOCK_RATE,
};
use mjpegrtsp::timing::FrameRate;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rtpmjpegpay",
        gst::DebugColorFlags::empty(),
        Some("Whole-JPEG RTP payloader"),
    )
});

/// More packets than this for one frame would make its sequence numbers
/// ambiguous to receivers (half the 16-bit space, with margin).
const MAX_PACKETS_PER_FRAME: usize = 16_384;

/// What the current output caps promise.
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    mode: PayMode,
    pt: u8,
    ssrc: u32,
}

#[derive(Debug, Default)]
struct State {
    next_seq: u16,
    timestamp_offset: u32,
    last_timestamp: Option<u32>,
    framerate: Option<gst::Fraction>,
    negotiated: Option<Negotiated>,
    warned_oversize: bool,
    warned_not_jpeg: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    frames_in: u64,
    frames_sent: u64,
    packets_sent: u64,
    bytes_sent: u64,
    frames_dropped_oversize: u64,
    frames_dropped_invalid: u64,
}

pub struct RtpMjpegPay {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    stats: Mutex<Stats>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wall_clock_seconds() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// One RTP packet: a fresh 12-byte header followed by `range` of `input`,
/// sharing its memory.
fn make_packet(
    input: &gst::Buffer,
    header: &RtpHeader,
    range: std::ops::Range<usize>,
) -> Result<gst::Buffer, gst::FlowError> {
    let bytes = header.to_bytes().map_err(|_| gst::FlowError::Error)?;
    let mut packet = gst::Buffer::from_slice(bytes);
    let payload = input
        .copy_region(gst::BufferCopyFlags::MEMORY, range)
        .map_err(|_| gst::FlowError::Error)?;
    packet.append(payload);
    let p = packet.make_mut();
    p.set_pts(input.pts());
    p.set_dts(input.dts());
    if header.marker {
        p.set_flags(gst::BufferFlags::MARKER);
    }
    Ok(packet)
}

impl RtpMjpegPay {
    fn stats_structure(&self) -> gst::Structure {
        let s = *lock(&self.stats);
        gst::Structure::builder("application/x-rtp-mjpeg-pay-stats")
            .field("frames-in", s.frames_in)
            .field("frames-sent", s.frames_sent)
            .field("packets-sent", s.packets_sent)
            .field("bytes-sent", s.bytes_sent)
            .field("frames-dropped-oversize", s.frames_dropped_oversize)
            .field("frames-dropped-invalid", s.frames_dropped_invalid)
            .build()
    }

    fn start(&self) {
        let settings = lock(&self.settings).clone();
        let timestamp_offset = settings.timestamp_offset.unwrap_or_else(rand::random);
        *lock(&self.state) = State {
            next_seq: settings.seqnum_offset,
            timestamp_offset,
            ..State::default()
        };
        *lock(&self.stats) = Stats::default();
        gst::debug!(
            CAT,
            imp = self,
            "starting: first sequence number {}, timestamp offset {timestamp_offset}",
            settings.seqnum_offset
        );
    }

    fn set_caps(&self, caps: &gst::CapsRef) -> bool {
        let framerate = caps
            .structure(0)
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .filter(|f| f.numer() > 0 && f.denom() > 0);
        let settings = lock(&self.settings).clone();
        let mut state = lock(&self.state);
        state.framerate = framerate;
        let negotiated = Negotiated {
            mode: settings.mode,
            pt: settings.pt(),
            ssrc: settings.ssrc,
        };
        let (clock_rate, timestamp_offset) = match settings.mode {
            PayMode::WholeFrame => (WHOLE_FRAME_CLOCK_RATE, 0),
            PayMode::Fragmented => (FRAGMENTED_CLOCK_RATE, state.timestamp_offset),
        };
        let mut builder = gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", ENCODING_NAME)
            .field("payload", i32::from(negotiated.pt))
            .field("clock-rate", clock_rate as i32)
            .field("ssrc", negotiated.ssrc)
            .field("seqnum-offset", u32::from(state.next_seq))
            .field("timestamp-offset", timestamp_offset);
        if let Some(rate) = framerate.and_then(|f| FrameRate::new(f.numer(), f.denom())) {
            builder = builder.field("a-framerate", rate.to_string());
        }
        let out_caps = builder.build();
        state.negotiated = Some(negotiated);
        drop(state);
        gst::debug!(CAT, imp = self, "output caps {out_caps}");
        self.srcpad.push_event(gst::event::Caps::new(&out_caps))
    }

    /// The 90 kHz timestamp of a frame: from its PTS if it has one, else one
    /// frame duration after the previous frame's (or the same, without a rate).
    fn fragment_timestamp(state: &mut State, pts: Option<gst::ClockTime>) -> u32 {
        let clock = u128::from(FRAGMENTED_CLOCK_RATE);
        let ts = match (pts, state.last_timestamp) {
            (Some(pts), _) => {
                let ticks = u128::from(pts.nseconds()) * clock / 1_000_000_000;
                state.timestamp_offset.wrapping_add(ticks as u32)
            }
            (None, Some(last)) => {
                let step = state
                    .framerate
                    .map_or(0, |f| clock * f.denom() as u128 / f.numer() as u128);
                last.wrapping_add(step as u32)
            }
            (None, None) => state.timestamp_offset,
        };
        state.last_timestamp = Some(ts);
        ts
    }

    fn drop_oversize(&self, len: usize, seq: Option<u16>, first: bool, limit: &str) {
        lock(&self.stats).frames_dropped_oversize += 1;
        let skipped = seq.map_or(String::new(), |s| {
            format!("; sequence number {s} is skipped")
        });
        gst::warning!(
            CAT,
            imp = self,
            "dropping a frame of {len} bytes: too big for {limit}{skipped}"
        );
        if first {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                (
                    "A JPEG frame of {} bytes does not fit {}; it was dropped",
                    len,
                    limit
                ),
                [
                    "whole-frame packets carry at most {} bytes of JPEG (use mode=fragmented for bigger frames); fragmented frames at most {} packets; further oversize frames are dropped and only logged",
                    MAX_WHOLE_FRAME_JPEG,
                    MAX_PACKETS_PER_FRAME
                ]
            );
        }
    }
}

impl ChainSink for RtpMjpegPay {
    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mtu = lock(&self.settings).mtu as usize;
        lock(&self.stats).frames_in += 1;

        let is_jpeg = buffer
            .map_readable()
            .map(|m| m.starts_with(&SOI))
            .unwrap_or(false);
        if !is_jpeg {
            lock(&self.stats).frames_dropped_invalid += 1;
            gst::warning!(
                CAT,
                imp = self,
                "dropping a {}-byte buffer that is not a JPEG (no SOI marker)",
                buffer.size()
            );
            let first = !std::mem::replace(&mut lock(&self.state).warned_not_jpeg, true);
            if first {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    ("Input buffer is not a JPEG image (it does not start with FF D8); dropped"),
                    ["further such buffers are dropped and only logged"]
                );
            }
            return Ok(gst::FlowSuccess::Ok);
        }

        let mut state = lock(&self.state);
        let Some(neg) = state.negotiated else {
            drop(state);
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("Received a buffer before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let len = buffer.size();

        match neg.mode {
            PayMode::WholeFrame => {
                // The frame number is used up even if the frame is dropped.
                let seq = state.next_seq;
                state.next_seq = seq.wrapping_add(1);
                if len > MAX_WHOLE_FRAME_JPEG {
                    let first = !std::mem::replace(&mut state.warned_oversize, true);
                    drop(state);
                    self.drop_oversize(len, Some(seq), first, "one UDP datagram");
                    return Ok(gst::FlowSuccess::Ok);
                }
                drop(state);
                let header = RtpHeader {
                    marker: false,
                    payload_type: neg.pt,
                    sequence_number: seq,
                    timestamp: wall_clock_seconds(),
                    ssrc: neg.ssrc,
                };
                let mut packet = make_packet(&buffer, &header, 0..len)?;
                {
                    let p = packet.make_mut();
                    p.set_duration(buffer.duration());
                    if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                        p.set_flags(gst::BufferFlags::DISCONT);
                    }
                }
                gst::trace!(CAT, imp = self, "frame of {len} bytes as packet {seq}");
                let size = packet.size() as u64;
                let res = self.srcpad.push(packet);
                if res.is_ok() {
                    let mut stats = lock(&self.stats);
                    stats.frames_sent += 1;
                    stats.packets_sent += 1;
                    stats.bytes_sent += size;
                }
                res
            }
            PayMode::Fragmented => {
                let max_payload = mtu.saturating_sub(HEADER_LEN).max(1);
                let count = len.div_ceil(max_payload);
                if count > MAX_PACKETS_PER_FRAME {
                    let first = !std::mem::replace(&mut state.warned_oversize, true);
                    drop(state);
                    self.drop_oversize(len, None, first, "the packet limit");
                    return Ok(gst::FlowSuccess::Ok);
                }
                let timestamp = Self::fragment_timestamp(&mut state, buffer.pts());
                let first_seq = state.next_seq;
                state.next_seq = first_seq.wrapping_add(count as u16);
                drop(state);

                let mut list = gst::BufferList::new_sized(count);
                {
                    let l = list.make_mut();
                    for i in 0..count {
                        let start = i * max_payload;
                        let end = (start + max_payload).min(len);
                        let header = RtpHeader {
                            marker: i + 1 == count,
                            payload_type: neg.pt,
                            sequence_number: first_seq.wrapping_add(i as u16),
                            timestamp,
                            ssrc: neg.ssrc,
                        };
                        let mut packet = make_packet(&buffer, &header, start..end)?;
                        if i == 0 && buffer.flags().contains(gst::BufferFlags::DISCONT) {
                            packet.make_mut().set_flags(gst::BufferFlags::DISCONT);
                        }
                        l.add(packet);
                    }
                }
                gst::trace!(
                    CAT,
                    imp = self,
                    "frame of {len} bytes as {count} packets from {first_seq}, timestamp {timestamp}"
                );
                let res = self.srcpad.push_list(list);
                if res.is_ok() {
                    let mut stats = lock(&self.stats);
                    stats.frames_sent += 1;
                    stats.packets_sent += count as u64;
                    stats.bytes_sent += (len + count * HEADER_LEN) as u64;
                }
                res
            }
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        gst::log!(CAT, obj = pad, "handling event {event:?}");
        match event.view() {
            gst::EventView::Caps(c) => self.set_caps(c.caps()),
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RtpMjpegPay {
    const NAME: &'static str = "GstRtpMjpegPay";
    type Type = super::RtpMjpegPay;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let (sinkpad, srcpad) = chain_pads::<Self>(klass);
        RtpMjpegPay {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            stats: Mutex::new(Stats::default()),
        }
    }
}

impl ObjectImpl for RtpMjpegPay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        lock(&self.settings).set(pspec.name(), value);
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats_structure().to_value(),
            name => lock(&self.settings).get(name),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        add_pads(&*self.obj(), &[&self.sinkpad, &self.srcpad]);
    }
}

impl GstObjectImpl for RtpMjpegPay {}

impl ElementImpl for RtpMjpegPay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "RTP whole-JPEG payloader (12-byte header)",
                "Codec/Payloader/Network/RTP",
                "Payloads whole JPEG images behind a plain 12-byte RTP header \
                 (X-WHOLE-JPEG): one packet per frame like the classic server, or \
                 split at the MTU with the marker bit on each frame's last packet",
                "The mjpegrtsp developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst::Caps::builder("image/jpeg").build();
            let src_caps = gst::Caps::builder("application/x-rtp")
                .field("media", "video")
                .field("encoding-name", ENCODING_NAME)
                .field(
                    "payload",
                    gst::IntRange::new(0, i32::from(mjpegrtsp::rtp::header::MAX_PAYLOAD_TYPE)),
                )
                .field("clock-rate", gst::IntRange::new(1, i32::MAX))
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
