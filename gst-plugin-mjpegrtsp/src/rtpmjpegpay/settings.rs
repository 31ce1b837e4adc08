//! `rtpmjpegpay`'s properties: their defaults, specs and values.

use gst::prelude::*;

use super::PayMode;
use mjpegrtsp::rtp::{CLASSIC_PAYLOAD_TYPE, DYNAMIC_PAYLOAD_TYPE, HEADER_LEN, MAX_UDP_PAYLOAD};

const DEFAULT_MODE: PayMode = PayMode::WholeFrame;
const DEFAULT_MTU: u32 = 1400;
/// Header plus four payload bytes.
const MIN_MTU: u32 = HEADER_LEN as u32 + 4;
const DEFAULT_SSRC: u32 = 0;
const DEFAULT_SEQNUM_OFFSET: u32 = 1;
/// -1: pick a random offset when the element starts.
const DEFAULT_TIMESTAMP_OFFSET: i64 = -1;

/// The properties' values.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub mode: PayMode,
    /// `None` until set: then the mode's default applies.
    pub pt: Option<u8>,
    pub mtu: u32,
    pub ssrc: u32,
    pub seqnum_offset: u16,
    pub timestamp_offset: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: DEFAULT_MODE,
            pt: None,
            mtu: DEFAULT_MTU,
            ssrc: DEFAULT_SSRC,
            seqnum_offset: DEFAULT_SEQNUM_OFFSET as u16,
            timestamp_offset: None,
        }
    }
}

impl Settings {
    /// The payload type: the one set, or the mode's default.
    pub fn pt(&self) -> u8 {
        self.pt.unwrap_or(match self.mode {
            PayMode::WholeFrame => CLASSIC_PAYLOAD_TYPE,
            PayMode::Fragmented => DYNAMIC_PAYLOAD_TYPE,
        })
    }

    /// Sets property `name` (the type is checked by GObject).
    pub fn set(&mut self, name: &str, value: &glib::Value) {
        match name {
            "mode" => self.mode = value.get().expect("type checked upstream"),
            "pt" => {
                let pt: u32 = value.get().expect("type checked upstream");
                self.pt = Some(pt as u8);
            }
            "mtu" => self.mtu = value.get().expect("type checked upstream"),
            "ssrc" => self.ssrc = value.get().expect("type checked upstream"),
            "seqnum-offset" => {
                let v: u32 = value.get().expect("type checked upstream");
                self.seqnum_offset = v as u16;
            }
            "timestamp-offset" => {
                let v: i64 = value.get().expect("type checked upstream");
                self.timestamp_offset = u32::try_from(v).ok();
            }
            other => unreachable!("no writable property {other}"),
        }
    }

    /// The value of property `name`.
    pub fn get(&self, name: &str) -> glib::Value {
        match name {
            "mode" => self.mode.to_value(),
            "pt" => u32::from(self.pt()).to_value(),
            "mtu" => self.mtu.to_value(),
            "ssrc" => self.ssrc.to_value(),
            "seqnum-offset" => u32::from(self.seqnum_offset).to_value(),
            "timestamp-offset" => self.timestamp_offset.map_or(-1i64, i64::from).to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

/// The element's properties.
pub(super) fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
            .nick("Mode")
            .blurb(
                "whole-frame: one packet per frame, frame-numbered, wall-clock-second \
                 timestamps (the classic server); fragmented: frames split at the MTU with \
                 the marker bit on each frame's last packet and 90 kHz timestamps",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("pt")
            .nick("Payload type")
            .blurb(
                "RTP payload type. Default 26 in whole-frame mode (like the classic \
                 server) and 96 in fragmented mode, where 26 with clock-rate 90000 would \
                 make decodebin/rtspsrc pick the RFC 2435 rtpjpegdepay; a value set here \
                 wins in both modes",
            )
            .maximum(u32::from(mjpegrtsp::rtp::header::MAX_PAYLOAD_TYPE))
            .default_value(u32::from(CLASSIC_PAYLOAD_TYPE))
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("mtu")
            .nick("MTU")
            .blurb(
                "Largest RTP packet in fragmented mode, the 12-byte header included \
                 (whole-frame packets are one frame each, up to 65507 bytes)",
            )
            .minimum(MIN_MTU)
            .maximum(MAX_UDP_PAYLOAD as u32)
            .default_value(DEFAULT_MTU)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("ssrc")
            .nick("SSRC")
            .blurb("Synchronization source identifier (0 like the classic server)")
            .default_value(DEFAULT_SSRC)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("seqnum-offset")
            .nick("Sequence number offset")
            .blurb(
                "Sequence number of the first packet; in whole-frame mode it is the \
                 number of the first frame. Counting never restarts while running",
            )
            .maximum(u32::from(u16::MAX))
            .default_value(DEFAULT_SEQNUM_OFFSET)
            .mutable_ready()
            .build(),
        glib::ParamSpecInt64::builder("timestamp-offset")
            .nick("Timestamp offset")
            .blurb(
                "Fragmented mode: RTP timestamp of PTS 0 (-1 = random at start). \
                 Whole-frame timestamps are wall-clock seconds and take no offset",
            )
            .minimum(-1)
            .maximum(i64::from(u32::MAX))
            .default_value(DEFAULT_TIMESTAMP_OFFSET)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "frames-in, frames-sent, packets-sent, bytes-sent (headers included), \
                 frames-dropped-oversize, frames-dropped-invalid",
            )
            .read_only()
            .build(),
    ]
}
