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

//!
//! Each packet costs O(log n) in the packets waiting (times the number of
//! waiting frames, at most [`Limits::max_pending_frames`]): a packet can only
//! complete the frame of the contiguous run it lands in, or one whose start
//! it tells (the next marker above it); a frame taken out can only unblock
//! the next marker above it. Only those markers are checked, never every
//! marker waiting (issue: quadratic reassembly).

mod group;
mod types;

use std::collections::VecDeque;

use self::group::{Group, Piece};
pub use self::types::{Frame, Limits, ReassemblyMode, ReassemblyStats};
use super::header::RtpHeader;
use super::seq::SeqExtender;
use crate::container::{EOI, SOI};

/// How many sequence numbers below the highest are remembered as seen.
const SEEN_WINDOW: i64 = 128;
/// How far behind the last frame a whole-frame packet with sequence number 1
/// may be and still be taken as reordered rather than as a new loop.
const CLASSIC_REORDER: i64 = 2;
/// How many recent marker positions are remembered as frame boundaries.
const MAX_MARKERS: usize = 32;

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
    pending: Vec<Group<P>>,
    pending_bytes: usize,
    /// Extended sequence numbers of recent marker packets: frame ends
    /// (those of waiting groups are known there too).
    markers: VecDeque<i64>,
    discont: bool,
    stats: ReassemblyStats,
    /// Marker checks and piece visits so far (for the tests' work bounds).
    #[cfg(test)]
    checks: std::cell::Cell<u64>,
}

impl<P: AsRef<[u8]>> Reassembler<P> {
    /// A reassembler with the default [`Limits`].
    pub fn new(mode: ReassemblyMode) -> Self {
        Self::with_limits(mode, Limits::default())
    }

    /// A reassembler with the given bounds.
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
            #[cfg(test)]
            checks: Default::default(),
        }
    }

    /// The mode it was created with.
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

    /// What happened to the packets so far.
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

        if self.insert_fragment(ext, header, payload, pts) {
            self.collect_complete(header.timestamp, ext)
        } else {
            Vec::new()
        }
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

    /// Files a fragment under its timestamp. Returns false if it was not
    /// kept (a duplicate, or its group went over the caps and was dropped).
    fn insert_fragment(
        &mut self,
        ext: i64,
        header: &RtpHeader,
        payload: P,
        pts: Option<u64>,
    ) -> bool {
        if header.marker {
            // A frame end is worth knowing even if the packet is not kept.
            self.remember_marker(ext);
        }
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
                self.pending.push(Group::new(header.timestamp));
                self.pending.len() - 1
            }
        };
        let g = &mut self.pending[gi];
        if g.contains(ext) {
            self.stats.packets_duplicate += 1;
            return false;
        }
        if g.len() >= self.limits.max_group_pieces
            || (header.marker && g.marker_count() >= self.limits.max_group_markers)
        {
            let g = self.pending.swap_remove(gi);
            self.pending_bytes -= g.bytes;
            self.stats.groups_oversized += 1;
            self.stats.frames_incomplete += 1;
            self.discont = true;
            return false;
        }
        let piece = Piece {
            payload,
            seq: header.sequence_number,
            pts,
        };
        self.pending_bytes += g.insert(ext, piece, header.marker);
        while self.pending_bytes > self.limits.max_pending_bytes && !self.pending.is_empty() {
            self.drop_oldest();
        }
        true
    }

    fn remember_marker(&mut self, ext: i64) {
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
        let recent = self.markers.iter().rev().find(|&&x| x < m).copied();
        let waiting = self.pending.iter().filter_map(|g| g.marker_before(m)).max();
        let frontier = self.frontier.filter(|&f| f < m);
        recent.max(waiting).max(frontier)
    }

    /// Counts one marker check or piece visit (for the tests' work bounds).
    fn tally(&self, _n: u64) {
        #[cfg(test)]
        self.checks.set(self.checks.get() + _n);
    }

    /// Whether the frame ending at marker `m` of group `gi` can be taken out.
    /// O(log n) per waiting group.
    fn completion(&self, gi: usize, m: i64) -> Completion {
        self.tally(1);
        let g = &self.pending[gi];
        // A marker at or before what was returned could only give a frame
        // out of order.
        if self.frontier.is_some_and(|f| m <= f) {
            return Completion::Waiting;
        }
        let Some((run_start, _)) = g.run(m) else {
            return Completion::Waiting;
        };
        let boundary = self.boundary_before(m);
        if let Some(b) = boundary
            && run_start <= b + 1
        {
            return Completion::Ready { start: b + 1 };
        }
        // The boundary is unknown (start of stream) or the packets right after
        // it are missing (e.g. the previous frame's marker packet was lost):
        // take the run back from the marker. The run must reach the group's
        // first packet, which must start a JPEG, and the packet before it
        // must be known to belong to another frame, unless nothing is known
        // at all. (Otherwise the lost packet might be this frame's real
        // start, and the SOI bytes a coincidence inside the JPEG, e.g. in a
        // thumbnail.)
        let k = boundary.map_or(run_start, |b| run_start.max(b + 1));
        if g.first() != k || !g.starts_with_soi(k, m) {
            return Completion::Waiting;
        }
        // The packet before is another frame's if it was seen there, or if
        // the packet before that is another frame's and did not end it.
        let previous_elsewhere = self.pending.iter().enumerate().any(|(i, other)| {
            i != gi && (other.contains(k - 1) || (other.contains(k - 2) && !other.is_marker(k - 2)))
        });
        if boundary.is_none() || previous_elsewhere {
            Completion::Ready { start: k }
        } else {
            Completion::Waiting
        }
    }

    /// Adds to `out` each group's first marker above `x` (`None`: its first).
    fn first_markers_after(&self, x: Option<i64>, out: &mut Vec<(u32, i64)>) {
        for g in &self.pending {
            if let Some(m) = g.marker_after(x) {
                out.push((g.timestamp, m));
            }
        }
    }

    /// Takes out every frame that packet `ext` of timestamp `ts` completes,
    /// lowest first.
    ///
    /// Between calls no waiting marker is ready, so only markers whose state
    /// this packet can change are checked: those in the run it joined (at
    /// most three: each run held at most one marker that was not ready),
    /// each group's first marker above it (whose frame start it may tell),
    /// and each group's first marker above the frontier (whose start a frame
    /// taken out, a group dropped, or this packet as the one before it may
    /// tell). After a frame is taken, the last kind are checked again.
    fn collect_complete(&mut self, ts: u32, ext: i64) -> Vec<Frame<P>> {
        let mut candidates = Vec::new();
        if let Some(g) = self.pending.iter().find(|g| g.timestamp == ts)
            && let Some((start, end)) = g.run(ext)
        {
            let lo = self.frontier.map_or(start, |f| start.max(f + 1));
            candidates.extend(g.markers_within(lo, end).map(|m| (ts, m)));
        }
        self.first_markers_after(Some(ext), &mut candidates);
        self.first_markers_after(self.frontier, &mut candidates);

        let mut out = Vec::new();
        loop {
            candidates.sort_unstable_by_key(|&(ts, m)| (m, ts));
            candidates.dedup();
            let mut ready = Vec::new();
            for &(ts, m) in &candidates {
                let Some(gi) = self.pending.iter().position(|g| g.timestamp == ts) else {
                    continue;
                };
                if !self.pending[gi].is_marker(m) {
                    continue;
                }
                if let Completion::Ready { start } = self.completion(gi, m) {
                    ready.push((ts, m, start));
                }
            }
            let Some(&(ts, m, start)) = ready.first() else {
                break;
            };
            if let Some(gi) = self.pending.iter().position(|g| g.timestamp == ts)
                && let Some(frame) = self.take_frame(gi, start, m)
            {
                out.push(frame);
            }
            candidates = ready[1..].iter().map(|&(ts, m, _)| (ts, m)).collect();
            self.first_markers_after(self.frontier, &mut candidates);
        }
        out
    }

    /// Removes the packets `start..=end` from group `gi` and returns them as a
    /// frame, or drops them as corrupt if they do not form a JPEG.
    fn take_frame(&mut self, gi: usize, start: i64, end: i64) -> Option<Frame<P>> {
        let g = &mut self.pending[gi];
        let before = g.bytes;
        let mut taken = g.take_through(end);
        let timestamp = g.timestamp;
        self.pending_bytes -= before - g.bytes;
        if g.is_empty() {
            self.pending.swap_remove(gi);
        }
        self.tally(taken.len() as u64);
        let split = taken.partition_point(|&(ext, _)| ext < start);
        let frame_pieces = taken.split_off(split);
        if split > 0 {
            // Packets of an earlier frame with the same timestamp.
            self.stats.frames_incomplete += 1;
            self.discont = true;
        }

        let pieces: Vec<Piece<P>> = frame_pieces.into_iter().map(|(_, p)| p).collect();
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
