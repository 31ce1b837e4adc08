//! The `stats` property and the `mjpegrtspsrc-stats` element message.

use mjpegrtsp::client::{Stats, TransportKind};

/// The `stats` property's blurb: the fields.
pub(super) const BLURB: &str = "frames, bytes, bitrate, framerate, packets received/lost/duplicated/reordered/rejected, frames dropped, jitter-ms, transport";

/// The structure the `stats` property and messages carry.
pub(super) fn structure(s: &Stats) -> gst::Structure {
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
                Some(TransportKind::Udp) => "udp",
                Some(TransportKind::Tcp) => "tcp",
                None => "none",
            },
        )
        .build()
}
