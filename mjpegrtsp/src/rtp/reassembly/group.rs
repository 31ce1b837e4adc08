//! The packets of one RTP timestamp waiting to form frames.
//!
//! A [`Group`] keeps its packets by extended sequence number, together with
//! indexes that answer each question the reassembler asks in O(log n): the
//! contiguous run holding a packet, the marker packets before or after a
//! point, and the first bytes from a packet on (skipping empty payloads).
//! Packets only ever leave a group from the front ([`Group::take_through`])
//! or all at once, so every packet costs O(log n) over its whole stay.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included, Unbounded};

use crate::container::SOI;

/// Bytes each waiting packet counts against `max_pending_bytes` on top of its
/// payload, so that a flood of empty packets is bounded too.
pub(super) const PIECE_OVERHEAD: usize = 64;

/// One waiting packet.
pub(super) struct Piece<P> {
    pub payload: P,
    pub seq: u16,
    pub pts: Option<u64>,
}

/// Packets sharing one RTP timestamp, waiting to form a frame.
pub(super) struct Group<P> {
    pub timestamp: u32,
    pieces: BTreeMap<i64, Piece<P>>,
    /// The contiguous runs of `pieces`: first → last extended sequence number.
    runs: BTreeMap<i64, i64>,
    /// Sequence numbers of the pieces whose payload is not empty, so that the
    /// SOI at the start of a run is found without walking empty packets.
    nonempty: BTreeSet<i64>,
    markers: BTreeSet<i64>,
    /// Payload bytes plus [`PIECE_OVERHEAD`] per piece.
    pub bytes: usize,
}

impl<P: AsRef<[u8]>> Group<P> {
    pub fn new(timestamp: u32) -> Self {
        Group {
            timestamp,
            pieces: BTreeMap::new(),
            runs: BTreeMap::new(),
            nonempty: BTreeSet::new(),
            markers: BTreeSet::new(),
            bytes: 0,
        }
    }

    /// The lowest sequence number held (`i64::MAX` when empty).
    pub fn first(&self) -> i64 {
        self.pieces.keys().next().copied().unwrap_or(i64::MAX)
    }

    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn marker_count(&self) -> usize {
        self.markers.len()
    }

    pub fn contains(&self, ext: i64) -> bool {
        self.pieces.contains_key(&ext)
    }

    pub fn is_marker(&self, ext: i64) -> bool {
        self.markers.contains(&ext)
    }

    /// Adds a packet that is not held yet; returns what it costs in bytes.
    pub fn insert(&mut self, ext: i64, piece: Piece<P>, marker: bool) -> usize {
        debug_assert!(!self.contains(ext));
        let cost = piece.payload.as_ref().len() + PIECE_OVERHEAD;
        if !piece.payload.as_ref().is_empty() {
            self.nonempty.insert(ext);
        }
        self.pieces.insert(ext, piece);
        if marker {
            self.markers.insert(ext);
        }
        let start = match self.runs.range(..ext).next_back() {
            Some((&s, &e)) if e == ext - 1 => s,
            _ => ext,
        };
        let end = self.runs.remove(&(ext + 1)).unwrap_or(ext);
        self.runs.insert(start, end);
        self.bytes += cost;
        cost
    }

    /// The contiguous run of held packets that contains `ext`, as
    /// `(first, last)`.
    pub fn run(&self, ext: i64) -> Option<(i64, i64)> {
        self.runs
            .range(..=ext)
            .next_back()
            .filter(|&(_, &e)| e >= ext)
            .map(|(&s, &e)| (s, e))
    }

    /// The highest marker packet below `m`.
    pub fn marker_before(&self, m: i64) -> Option<i64> {
        self.markers.range(..m).next_back().copied()
    }

    /// The lowest marker packet above `x` (above everything if `None`).
    pub fn marker_after(&self, x: Option<i64>) -> Option<i64> {
        let from = x.map_or(Unbounded, Excluded);
        self.markers.range((from, Unbounded)).next().copied()
    }

    /// The marker packets from `lo` to `hi`, in order.
    pub fn markers_within(&self, lo: i64, hi: i64) -> impl Iterator<Item = i64> + '_ {
        self.markers.range((Included(lo), Included(hi))).copied()
    }

    /// Whether the payloads of `k..=m` start with SOI, looking across piece
    /// boundaries (a packet may carry a single byte, or none).
    pub fn starts_with_soi(&self, k: i64, m: i64) -> bool {
        let mut head = self
            .nonempty
            .range(k..=m)
            .take(2)
            .filter_map(|s| self.pieces.get(s))
            .flat_map(|p| p.payload.as_ref().iter().copied());
        head.next() == Some(SOI[0]) && head.next() == Some(SOI[1])
    }

    /// Removes every packet up to and including `end`; returns them in
    /// order. Costs O(log n) per packet removed.
    pub fn take_through(&mut self, end: i64) -> Vec<(i64, Piece<P>)> {
        let mut taken = Vec::new();
        while let Some(e) = self.pieces.first_entry() {
            if *e.key() > end {
                break;
            }
            let (ext, piece) = e.remove_entry();
            self.bytes -= piece.payload.as_ref().len() + PIECE_OVERHEAD;
            taken.push((ext, piece));
        }
        while self.nonempty.first().is_some_and(|&s| s <= end) {
            self.nonempty.pop_first();
        }
        while self.markers.first().is_some_and(|&s| s <= end) {
            self.markers.pop_first();
        }
        while let Some(e) = self.runs.first_entry() {
            if *e.key() > end {
                break;
            }
            let last = e.remove();
            if last > end {
                self.runs.insert(end + 1, last);
                break;
            }
        }
        taken
    }
}
