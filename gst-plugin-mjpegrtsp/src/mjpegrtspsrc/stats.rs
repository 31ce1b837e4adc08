//! The `stats` property and the `mjpegrtspsrc-stats` element message.
//!
//! Field names follow one scheme shared with `rtpmjpegdepay`'s stats:
//! `packets-*` and `frames-*` are counts (`u64`), `bytes-*` byte counts,
//! `bitrate` bits per second (`u64`), `framerate` frames per second (`f64`),
//! and times are nanoseconds (`u64`, like a `GstClockTime`).

use mjpegrtsp::client::{Stats, TransportKind};

/// The `stats` property's blurb: its fields, their types and units.
pub(super) const BLURB: &str = "Structure mjpegrtspsrc-stats (also posted as an element message every second): \
frames-received, bytes-received (whole JPEG frames reassembled, and their bytes), \
bitrate (JPEG bits per second over the last second, u64), framerate (frames per second over the last second, f64), \
packets-received, packets-lost, packets-duplicated, packets-reordered, packets-late, packets-invalid, packets-rejected, \
frames-dropped (not pushed: incomplete, or the element fell behind), frames-incomplete, restarts (sequence restarts), \
jitter (RFC 3550 interarrival jitter, ns, u64), transport (udp, tcp or none)";

/// The structure the `stats` property and messages carry.
pub(super) fn structure(s: &Stats) -> gst::Structure {
    gst::Structure::builder("mjpegrtspsrc-stats")
        .field("frames-received", s.frames)
        .field("bytes-received", s.bytes)
        .field("bitrate", per_second(s.bitrate))
        .field("framerate", s.framerate)
        .field("packets-received", s.packets_received)
        .field("packets-lost", s.packets_lost)
        .field("packets-duplicated", s.packets_duplicated)
        .field("packets-reordered", s.packets_reordered)
        .field("packets-late", s.packets_late)
        .field("packets-invalid", s.packets_invalid)
        .field("packets-rejected", s.packets_rejected)
        .field("frames-dropped", s.frames_dropped + s.frames_incomplete)
        .field("frames-incomplete", s.frames_incomplete)
        .field("restarts", s.restarts)
        .field("jitter", ms_to_ns(s.jitter_ms))
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

/// A rate as a whole number (negative, NaN: 0; saturating).
fn per_second(rate: f64) -> u64 {
    if rate.is_finite() && rate > 0.0 {
        rate.round() as u64
    } else {
        0
    }
}

/// Milliseconds as nanoseconds (negative, NaN: 0; saturating).
fn ms_to_ns(ms: f64) -> u64 {
    per_second(ms * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_have_their_units() {
        gst::init().unwrap();
        let s = Stats {
            frames: 3,
            bitrate: 1234.6,
            jitter_ms: 1.5,
            frames_dropped: 1,
            frames_incomplete: 2,
            ..Stats::default()
        };
        let st = structure(&s);
        assert_eq!(st.get::<u64>("frames-received").unwrap(), 3);
        assert_eq!(st.get::<u64>("bitrate").unwrap(), 1235);
        assert_eq!(st.get::<u64>("jitter").unwrap(), 1_500_000);
        assert_eq!(st.get::<u64>("frames-dropped").unwrap(), 3);
        assert_eq!(st.get::<u64>("packets-duplicated").unwrap(), 0);
        assert_eq!(st.get::<&str>("transport").unwrap(), "none");
        assert_eq!(per_second(f64::NAN), 0);
        assert_eq!(per_second(-1.0), 0);
        assert_eq!(per_second(f64::INFINITY), 0);
        // Every field is named in the blurb.
        for (name, _) in st.iter() {
            assert!(BLURB.contains(name.as_str()), "{name}");
        }
    }
}
