//! A session's media statistics, and how the counters of one media path
//! (a fallback to TCP starts a new one) add up with those before it.

use super::TransportKind;

/// Statistics of a session's media, since it was set up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Frames handed on (or dropped for a slow consumer).
    pub frames: u64,
    /// Bytes of JPEG in them.
    pub bytes: u64,
    /// JPEG bits per second over about the last second.
    pub bitrate: f64,
    /// Frames per second over about the last second.
    pub framerate: f64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Sequence numbers that never arrived.
    pub packets_lost: u64,
    /// Packets received twice.
    pub packets_duplicated: u64,
    /// Packets that arrived after one with a higher number.
    pub packets_reordered: u64,
    /// Packets that arrived after their place was given up.
    pub packets_late: u64,
    /// Packets that were not RTP of this stream or not a valid payload.
    pub packets_invalid: u64,
    /// RTP and RTCP packets dropped for not being the server's: from another
    /// address or port, or an RTCP BYE that does not name the stream's
    /// source.
    pub packets_rejected: u64,
    /// Sequence number restarts (classic loops, new sources).
    pub restarts: u64,
    /// Frames dropped because a piece was missing or they were not JPEGs.
    pub frames_incomplete: u64,
    /// Frames dropped because the consumer's channel was full.
    pub frames_dropped: u64,
    /// RFC 3550 interarrival jitter, in milliseconds (0 in the classic
    /// dialect, whose timestamps are whole seconds).
    pub jitter_ms: f64,
    /// Width and height of the last frame (or from the SDP).
    pub dimensions: Option<(u32, u32)>,
    /// The transport in use.
    pub transport: Option<TransportKind>,
}

impl Stats {
    /// The counts of `self` followed by those of `later` (a newer media
    /// path of the same session): counts add up; rates, jitter, size and
    /// transport are the later ones' (the size the earlier one where the
    /// later has none yet).
    pub(crate) fn followed_by(&self, later: &Stats) -> Stats {
        Stats {
            frames: self.frames + later.frames,
            bytes: self.bytes + later.bytes,
            bitrate: later.bitrate,
            framerate: later.framerate,
            packets_received: self.packets_received + later.packets_received,
            packets_lost: self.packets_lost + later.packets_lost,
            packets_duplicated: self.packets_duplicated + later.packets_duplicated,
            packets_reordered: self.packets_reordered + later.packets_reordered,
            packets_late: self.packets_late + later.packets_late,
            packets_invalid: self.packets_invalid + later.packets_invalid,
            packets_rejected: self.packets_rejected + later.packets_rejected,
            restarts: self.restarts + later.restarts,
            frames_incomplete: self.frames_incomplete + later.frames_incomplete,
            frames_dropped: self.frames_dropped + later.frames_dropped,
            jitter_ms: later.jitter_ms,
            dimensions: later.dimensions.or(self.dimensions),
            transport: later.transport,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_the_later_path_describes_the_stream() {
        let udp = Stats {
            frames: 10,
            packets_lost: 2,
            jitter_ms: 4.0,
            dimensions: Some((640, 480)),
            transport: Some(TransportKind::Udp),
            ..Stats::default()
        };
        let tcp = Stats {
            frames: 5,
            packets_lost: 1,
            jitter_ms: 1.0,
            transport: Some(TransportKind::Tcp),
            ..Stats::default()
        };
        let both = udp.followed_by(&tcp);
        assert_eq!(both.frames, 15);
        assert_eq!(both.packets_lost, 3);
        assert_eq!(both.jitter_ms, 1.0);
        assert_eq!(both.dimensions, Some((640, 480)));
        assert_eq!(both.transport, Some(TransportKind::Tcp));
    }
}
