//! Turning a stream of RTP packets back into whole JPEG frames.
//!
//! Two senders' habits are understood:
//!
//! * **Whole-frame** (the classic dialect): one whole JPEG per packet, marker
//!   bit always 0, sequence number = frame number, timestamps in wall-clock
//!   seconds (so many frames share one timestamp). The seed's own server starts
//!   its sequence numbers again at 1 each time it loops its file; such a jump is
//!   taken as a new loop (a *restart*), not as a run of late packets.
//! * **Fragmented**: a frame is split over consecutive sequence numbers that
//!   share one RTP timestamp, with the marker bit on its last packet.
//!
//! A [`Reassembler`] never yields a partial JPEG: every [`Frame`] it returns
//! starts with SOI (`FF D8`), ends with EOI (`FF D9`) and was assembled from a
//! gap-free run of sequence numbers. Frames come out in sequence order, each at
//! most once; what cannot be completed is dropped and counted in
//! [`ReassemblyStats`].
//!
//! The reassembler is generic over the payload storage `P` so that the element
//! can hand in shared GStreamer memory while tests use `Vec<u8>`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::header::RtpHeader;
use super::seq::SeqExtender;
use crate::container::{EOI, SOI};

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending_frames: 4,
            max_pending_bytes: 16 * 1024 * 1024,
            max_misorder: 100,
        }
    }
}

/// What happened to the packets handed to a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    /// Packets handed to [`Reassembler::push`].
    pub packets_received: u64,
    /// Packets the caller could not parse ([`Reassembler::record_invalid`]).
    pub packets_invalid: u64,
    /// Packets whose sequence number had been seen already.
    pub packets_duplicate: u64,
    /// Packets that arrived after their frame was completed or given up.
    pub packets_late: u64,
    /// Frames returned.
    pub frames_complete: u64,
    /// Frames given up because packets were missing.
    pub frames_incomplete: u64,
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

/// Bytes each waiting packet counts against `max_pending_bytes` on top of its
/// payload, so that a flood of empty packets is bounded too.
const PIECE_OVERHEAD: usize = 64;
/// How many sequence numbers below the highest are remembered as seen.
const SEEN_WINDOW: i64 = 128;
/// How far behind the last frame a whole-frame packet with sequence number 1
/// may be and still be taken as reordered rather than as a new loop.
const CLASSIC_REORDER: i64 = 2;
/// How many recent marker positions are remembered as frame boundaries.
const MAX_MARKERS: usize = 32;

struct Piece<P> {
    payload: P,
    seq: u16,
    pts: Option<u64>,
}

/// Packets sharing one RTP timestamp, waiting to form a frame.
struct Pending<P> {
    timestamp: u32,
    pieces: BTreeMap<i64, Piece<P>>,
    markers: BTreeSet<i64>,
    bytes: usize,
}

impl<P> Pending<P> {
    fn first(&self) -> i64 {
        self.pieces.keys().next().copied().unwrap_or(i64::MAX)
    }
}

enum Class {
    New(i64),
    Duplicate,
    Late,
    Restart,
}

/// Outcome of looking at one marker of a waiting frame.
enum Completion {
    /// Every packet from `start` to the marker is there.
    Ready { start: i64 },
    /// Still waiting for packets.
    Waiting,
}

/// The depayloader's reassembly state machine; see the [module docs](self).
pub struct Reassembler<P> {
    mode: ReassemblyMode,
    limits: Limits,
    /// Auto mode has seen a marker bit.
    marker_seen: bool,
    seqs: SeqExtender,
    /// Bit `i` set: extended sequence number `highest - i` was seen.
    seen: u128,
    /// Extended sequence number of the last packet of the last frame returned
    /// or dropped as corrupt: packets at or before it are late.
    frontier: Option<i64>,
    pending: Vec<Pending<P>>,
    pending_bytes: usize,
    /// Extended sequence numbers of recent marker packets: frame ends.
    markers: VecDeque<i64>,
    discont: bool,
    stats: ReassemblyStats,
}

impl<P: AsRef<[u8]>> Reassembler<P> {
    pub fn new(mode: ReassemblyMode) -> Self {
        Self::with_limits(mode, Limits::default())
    }

    pub fn with_limits(mode: ReassemblyMode, limits: Limits) -> Self {
        Reassembler {
            mode,
            limits,
            marker_seen: false,
            seqs: SeqExtender::default(),
            seen: 0,
            frontier: None,
            pending: Vec::new(),
            pending_bytes: 0,
            markers: VecDeque::new(),
            discont: true,
            stats: ReassemblyStats::default(),
        }
    }

    pub fn mode(&self) -> ReassemblyMode {
        self.mode
    }

    /// Whether packets are currently grouped into fragmented frames.
    pub fn is_fragmented(&self) -> bool {
        match self.mode {
            ReassemblyMode::Auto => self.marker_seen,
            ReassemblyMode::WholeFrame => false,
            ReassemblyMode::Fragmented => true,
        }
    }

    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Counts a packet the caller could not parse.
    pub fn record_invalid(&mut self) {
        self.stats.packets_received += 1;
        self.stats.packets_invalid += 1;
    }

    /// Payload bytes currently waiting.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Frames currently waiting for packets.
    pub fn pending_frames(&self) -> usize {
        self.pending.len()
    }

    /// Forgets everything in flight without counting it (after a flush).
    /// Statistics and the auto-detected mode are kept.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
        self.seqs.reset();
        self.seen = 0;
        self.frontier = None;
        self.markers.clear();
        self.discont = true;
    }

    /// Drops every waiting frame, counting each as incomplete (at end of stream).
    /// Returns how many were dropped.
    pub fn drain(&mut self) -> usize {
        let n = self.pending.len();
        self.stats.frames_incomplete += n as u64;
        self.pending.clear();
        self.pending_bytes = 0;
        if n > 0 {
            self.discont = true;
        }
        n
    }

    /// Takes one packet; returns the frames it completes (usually none or one,
    /// in sequence order).
    pub fn push(&mut self, header: &RtpHeader, payload: P, pts: Option<u64>) -> Vec<Frame<P>> {
        self.stats.packets_received += 1;
        if header.marker && self.mode == ReassemblyMode::Auto {
            self.marker_seen = true;
        }
        let fragmented = self.is_fragmented();

        let ext = match self.classify(header.sequence_number, !fragmented) {
            Class::New(ext) => ext,
            Class::Duplicate => {
                self.stats.packets_duplicate += 1;
                return Vec::new();
            }
            Class::Late => {
                self.stats.packets_late += 1;
                return Vec::new();
            }
            Class::Restart => {
                self.restart();
                self.first_packet(header.sequence_number)
            }
        };

        if !fragmented {
            if crate::container::is_whole_jpeg(payload.as_ref()) {
                let discont = self.finish_frame(ext, ext);
                self.stats.frames_complete += 1;
                self.stats.bytes_complete += payload.as_ref().len() as u64;
                return vec![Frame {
                    pieces: vec![payload],
                    rtp_timestamp: header.timestamp,
                    first_seq: header.sequence_number,
                    last_seq: header.sequence_number,
                    pts,
                    discont,
                }];
            }
            if self.mode == ReassemblyMode::WholeFrame {
                self.stats.frames_corrupt += 1;
                self.finish_frame(ext, ext);
                self.discont = true;
                return Vec::new();
            }
            // Auto mode: this may be part of a fragmented frame whose marker
            // packet has not arrived yet; keep it as a fragment.
        }

        self.insert_fragment(ext, header, payload, pts);
        self.collect_complete()
    }

    fn first_packet(&mut self, seq: u16) -> i64 {
        self.seen = 1;
        self.seqs.extend(seq)
    }

    fn classify(&mut self, seq: u16, whole_path: bool) -> Class {
        let Some(highest) = self.seqs.highest() else {
            return Class::New(self.first_packet(seq));
        };
        let ext = self.seqs.peek(seq);
        let misorder = i64::from(self.limits.max_misorder);

        // The classic server starts again at 1 when it loops its file. A frame
        // 1 only a frame or two behind is more likely reordered than a loop.
        if whole_path
            && seq == 1
            && self
                .frontier
                .is_some_and(|f| f - ext > CLASSIC_REORDER || ext - f > misorder)
        {
            return Class::Restart;
        }

        if ext > highest {
            let shift = ext - highest;
            self.seen = if shift >= SEEN_WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.seqs.extend(seq);
            return Class::New(ext);
        }

        let age = highest - ext;
        if age < SEEN_WINDOW && self.seen & (1u128 << age) != 0 {
            return Class::Duplicate;
        }
        if let Some(f) = self.frontier.filter(|&f| ext <= f) {
            // Far behind what was already returned: the sender started over.
            if f - ext > misorder {
                return Class::Restart;
            }
            self.mark_seen(age);
            return Class::Late;
        }
        self.mark_seen(age);
        Class::New(ext)
    }

    fn mark_seen(&mut self, age: i64) {
        if age < SEEN_WINDOW {
            self.seen |= 1u128 << age;
        }
    }

    fn restart(&mut self) {
        self.stats.restarts += 1;
        self.stats.frames_incomplete += self.pending.len() as u64;
        self.reset();
    }

    /// Bookkeeping when the frame `start..=end` is returned or dropped as
    /// corrupt: older waiting frames are given up. Returns the frame's DISCONT.
    fn finish_frame(&mut self, start: i64, end: i64) -> bool {
        let gap = self.frontier.is_some_and(|f| start != f + 1);
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|g| {
            let keep = g.first() >= start;
            if !keep {
                freed += g.bytes;
            }
            keep
        });
        let dropped = before - self.pending.len();
        self.pending_bytes -= freed;
        self.stats.frames_incomplete += dropped as u64;
        let discont = self.discont || gap || dropped > 0;
        self.discont = false;
        self.frontier = Some(self.frontier.map_or(end, |f| f.max(end)));
        while self.markers.front().is_some_and(|&m| m < end - SEEN_WINDOW) {
            self.markers.pop_front();
        }
        discont
    }

    fn insert_fragment(&mut self, ext: i64, header: &RtpHeader, payload: P, pts: Option<u64>) {
        let gi = match self
            .pending
            .iter()
            .position(|g| g.timestamp == header.timestamp)
        {
            Some(gi) => gi,
            None => {
                if self.pending.len() >= self.limits.max_pending_frames.max(1) {
                    self.drop_oldest();
                }
                self.pending.push(Pending {
                    timestamp: header.timestamp,
                    pieces: BTreeMap::new(),
                    markers: BTreeSet::new(),
                    bytes: 0,
                });
                self.pending.len() - 1
            }
        };
        let g = &mut self.pending[gi];
        if g.pieces.contains_key(&ext) {
            self.stats.packets_duplicate += 1;
            return;
        }
        let cost = payload.as_ref().len() + PIECE_OVERHEAD;
        g.pieces.insert(
            ext,
            Piece {
                payload,
                seq: header.sequence_number,
                pts,
            },
        );
        g.bytes += cost;
        self.pending_bytes += cost;
        if header.marker {
            g.markers.insert(ext);
            if let Some(pos) = self.markers.iter().position(|&m| m >= ext) {
                if self.markers[pos] != ext {
                    self.markers.insert(pos, ext);
                }
            } else {
                self.markers.push_back(ext);
            }
            if self.markers.len() > MAX_MARKERS {
                self.markers.pop_front();
            }
        }
        while self.pending_bytes > self.limits.max_pending_bytes && !self.pending.is_empty() {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((i, _)) = self
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, g)| g.first())
        {
            let g = self.pending.swap_remove(i);
            self.pending_bytes -= g.bytes;
            self.stats.frames_incomplete += 1;
            self.discont = true;
        }
    }

    /// The frame boundary before the frame ending at marker `m`, if known: the
    /// previous marker or the end of the last frame returned.
    fn boundary_before(&self, m: i64) -> Option<i64> {
        let marker = self.markers.iter().rev().find(|&&x| x < m).copied();
        let frontier = self.frontier.filter(|&f| f < m);
        marker.max(frontier)
    }

    fn completion(&self, gi: usize, m: i64) -> Completion {
        let g = &self.pending[gi];
        let boundary = self.boundary_before(m);
        if let Some(b) = boundary {
            let needed = m - b;
            if g.pieces.len() as i64 >= needed && g.pieces.range(b + 1..=m).count() as i64 == needed
            {
                return Completion::Ready { start: b + 1 };
            }
        }
        // The boundary is unknown (start of stream) or the packets right after
        // it are missing (e.g. the previous frame's marker packet was lost):
        // walk back from the marker. The run must reach the group's first
        // packet, which must start a JPEG, and the packet before it must be
        // known to belong to another frame, unless nothing is known at all.
        // (Otherwise the lost packet might be this frame's real start, and
        // the SOI bytes a coincidence inside the JPEG, e.g. in a thumbnail.)
        let floor = boundary.unwrap_or(i64::MIN);
        let mut k = m;
        while k - 1 > floor && g.pieces.contains_key(&(k - 1)) {
            k -= 1;
        }
        let starts_jpeg = starts_with_soi(g.pieces.range(k..=m).map(|(_, p)| p.payload.as_ref()));
        if !starts_jpeg || g.first() != k {
            return Completion::Waiting;
        }
        // The packet before is another frame's if it was seen there, or if
        // the packet before that is another frame's and did not end it.
        let previous_elsewhere = self.pending.iter().enumerate().any(|(i, other)| {
            i != gi
                && (other.pieces.contains_key(&(k - 1))
                    || (other.pieces.contains_key(&(k - 2)) && !other.markers.contains(&(k - 2))))
        });
        if boundary.is_none() || previous_elsewhere {
            Completion::Ready { start: k }
        } else {
            Completion::Waiting
        }
    }

    fn collect_complete(&mut self) -> Vec<Frame<P>> {
        let mut out = Vec::new();
        loop {
            let mut best: Option<(i64, usize, i64)> = None;
            for (gi, g) in self.pending.iter().enumerate() {
                for &m in &g.markers {
                    if best.is_some_and(|(bm, _, _)| bm < m) {
                        break;
                    }
                    if let Completion::Ready { start } = self.completion(gi, m) {
                        best = Some((m, gi, start));
                        break;
                    }
                }
            }
            let Some((m, gi, start)) = best else {
                break;
            };
            if let Some(frame) = self.take_frame(gi, start, m) {
                out.push(frame);
            }
        }
        out
    }

    /// Removes the packets `start..=end` from group `gi` and returns them as a
    /// frame, or drops them as corrupt if they do not form a JPEG.
    fn take_frame(&mut self, gi: usize, start: i64, end: i64) -> Option<Frame<P>> {
        let g = &mut self.pending[gi];
        let rest = g.pieces.split_off(&(end + 1));
        let mut taken = std::mem::replace(&mut g.pieces, rest);
        let frame_pieces = taken.split_off(&start);
        let stale = taken;
        g.markers.retain(|&x| x > end);
        let timestamp = g.timestamp;
        let freed: usize = frame_pieces
            .values()
            .chain(stale.values())
            .map(|p| p.payload.as_ref().len() + PIECE_OVERHEAD)
            .sum();
        g.bytes -= freed;
        self.pending_bytes -= freed;
        if g.pieces.is_empty() {
            self.pending.swap_remove(gi);
        }
        if !stale.is_empty() {
            // Packets of an earlier frame with the same timestamp.
            self.stats.frames_incomplete += 1;
            self.discont = true;
        }

        let pieces: Vec<Piece<P>> = frame_pieces.into_values().collect();
        let is_jpeg = starts_with_soi(pieces.iter().map(|p| p.payload.as_ref()))
            && ends_with_eoi(pieces.iter().map(|p| p.payload.as_ref()));
        if !is_jpeg {
            self.stats.frames_corrupt += 1;
            self.finish_frame(start, end);
            self.discont = true;
            return None;
        }
        let discont = self.finish_frame(start, end);
        let first = &pieces[0];
        let (first_seq, pts) = (first.seq, first.pts);
        let last_seq = pieces[pieces.len() - 1].seq;
        let payloads: Vec<P> = pieces.into_iter().map(|p| p.payload).collect();
        let len: usize = payloads.iter().map(|p| p.as_ref().len()).sum();
        self.stats.frames_complete += 1;
        self.stats.bytes_complete += len as u64;
        Some(Frame {
            pieces: payloads,
            rtp_timestamp: timestamp,
            first_seq,
            last_seq,
            pts,
            discont,
        })
    }
}

/// Whether the concatenation of `pieces` starts with SOI, looking across
/// piece boundaries (a packet may carry a single byte).
fn starts_with_soi<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> bool {
    let mut head = pieces.flat_map(|p| p.iter().copied());
    head.next() == Some(SOI[0]) && head.next() == Some(SOI[1])
}

/// Whether the concatenation of `pieces` ends with EOI, looking across piece
/// boundaries.
fn ends_with_eoi<'a>(pieces: impl DoubleEndedIterator<Item = &'a [u8]>) -> bool {
    let mut tail = pieces.rev().flat_map(|p| p.iter().rev().copied());
    tail.next() == Some(EOI[1]) && tail.next() == Some(EOI[0])
}

#[cfg(test)]
mod tests;
