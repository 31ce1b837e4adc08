//! What a [`Reassembler`](super::Reassembler)(super::Reassembler) is told and what it hands back.

/// How the reassembler decides where frames begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReassemblyMode {
    /// Whole-frame until a packet with the marker bit arrives, fragmented from
    /// then on. Packets that are not whole JPEGs are kept as fragments meanwhile.
    #[default]
    Auto,
    /// Every packet must hold one whole JPEG; the marker bit is ignored.
    WholeFrame,
    /// Frames end at packets with the marker bit.
    Fragmented,
}

/// Bounds on what the reassembler keeps while waiting for missing packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Frames (distinct RTP timestamps) waiting for packets at once.
    pub max_pending_frames: usize,
    /// Payload bytes waiting at once (each packet also counts a small overhead).
    pub max_pending_bytes: usize,
    /// A packet more than this many sequence numbers behind the last frame
    /// returned is taken as a sender restart rather than as a late packet
    /// (like MAX_MISORDER in RFC 3550, appendix A.1).
    pub max_misorder: u16,
    /// Packets one RTP timestamp may hold while waiting. A frame split over
    /// more packets than half the sequence number space cannot be told from
    /// a wrap, and 32,768 packets carry a 16 MiB JPEG (the most RFC 2435's
    /// 24-bit offset allows) in payloads of 512 bytes, well under the ~1,400
    /// senders use.
    pub max_group_pieces: usize,
    /// Marker packets one RTP timestamp may hold while waiting. A timestamp
    /// normally holds one frame; senders that stamp wall-clock seconds put up
    /// to a second's worth under one (240 at 240 fps), and finished frames
    /// leave at once, so only frames still missing packets wait here.
    pub max_group_markers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending_frames: 4,
            max_pending_bytes: 16 * 1024 * 1024,
            max_misorder: 100,
            max_group_pieces: 32 * 1024,
            max_group_markers: 256,
        }
    }
}

/// What happened to the packets handed to a [`Reassembler`](super::Reassembler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    /// Packets handed to [`Reassembler::push`](super::Reassembler::push).
    pub packets_received: u64,
    /// Packets the caller could not parse ([`Reassembler::record_invalid`](super::Reassembler::record_invalid)).
    pub packets_invalid: u64,
    /// Packets whose sequence number had been seen already.
    pub packets_duplicate: u64,
    /// Packets that arrived after their frame was completed or given up.
    pub packets_late: u64,
    /// Frames returned.
    pub frames_complete: u64,
    /// Frames given up because packets were missing, or because their RTP
    /// timestamp held more than [`Limits`] allow (see `groups_oversized`).
    pub frames_incomplete: u64,
    /// RTP timestamps whose waiting packets were dropped because they held
    /// more than [`Limits::max_group_pieces`] packets or
    /// [`Limits::max_group_markers`] marker packets (each also counted once
    /// in `frames_incomplete`).
    pub groups_oversized: u64,
    /// Frames with all packets present that are not a JPEG (no SOI or EOI).
    pub frames_corrupt: u64,
    /// Sequence number restarts taken as the sender starting over.
    pub restarts: u64,
    /// Payload bytes in returned frames.
    pub bytes_complete: u64,
}

/// One whole JPEG, as the payloads it was carried in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<P> {
    /// The payloads in sequence order; concatenated, they are the JPEG.
    pub pieces: Vec<P>,
    /// RTP timestamp of the frame's packets.
    pub rtp_timestamp: u32,
    /// Sequence number of the frame's first packet.
    pub first_seq: u16,
    /// Sequence number of the frame's last packet.
    pub last_seq: u16,
    /// Arrival time handed in with the frame's first packet.
    pub pts: Option<u64>,
    /// Something was lost or dropped between the previous frame and this one
    /// (always set on the first frame and after a reset or restart).
    pub discont: bool,
}

impl<P: AsRef<[u8]>> Frame<P> {
    /// Length of the JPEG in bytes.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.as_ref().len()).sum()
    }

    /// Whether the JPEG has no bytes (never true for a returned frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JPEG as one contiguous vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for p in &self.pieces {
            v.extend_from_slice(p.as_ref());
        }
        v
    }
}
