//! The reorder ("jitter") buffer between the sockets and the depacketizers,
//! and the RFC 3550 interarrival jitter estimate.
//!
//! [`JitterBuffer`] takes packets in arrival order and gives them back in
//! sequence order (by extended sequence number). A packet that arrives after
//! a gap is held until the missing ones come or until it has waited
//! `latency`; then the missing ones are taken as lost. Duplicates and packets
//! that come after their place was given up are dropped; every case is
//! counted. Over TCP, where nothing is reordered, a latency of zero gives
//! packets up at once. The buffer is bounded in packets and in bytes: when
//! either is exceeded, the wait for missing packets is given up early (no
//! packet is dropped for it, and nothing stalls).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rtp::SeqExtender;

/// A packet more than this many numbers behind the next expected one is taken
/// as the sender starting a new numbering (RFC 3550 A.1's MAX_MISORDER).
const MAX_MISORDER: i64 = 100;
/// A jump ahead by more than this is a new numbering too (MAX_DROPOUT).
const MAX_DROPOUT: i64 = 3000;
/// How far behind a classic packet numbered 1 may be and still be reordered
/// rather than the classic server looping its file (it starts again at 1).
const CLASSIC_REORDER: i64 = 2;

/// What the buffer did with the packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Packets whose number had been seen already.
    pub duplicates: u64,
    /// Packets that arrived after one with a higher number.
    pub reordered: u64,
    /// Packets that came after their place was given up.
    pub late: u64,
    /// Sequence numbers given up as lost.
    pub lost: u64,
    /// Packets from before a PLAY's `RTP-Info` sequence number (from before a
    /// seek or pause), dropped.
    pub stale: u64,
    /// New numberings (sender restarts, classic loops, big jumps).
    pub restarts: u64,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Kept, to come out in order.
    Accepted,
    /// A copy of one already seen: dropped.
    Duplicate,
    /// Its place was given up already: dropped.
    Late,
    /// From before the expected start: dropped.
    Stale,
    /// Taken as the first of a new numbering: what was waiting was dropped.
    Restarted,
}

/// A packet given back in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released<P> {
    /// Its sequence number.
    pub seq: u16,
    /// Its extended sequence number.
    pub ext: i64,
    /// When it arrived.
    pub arrival: Instant,
    /// The packet.
    pub item: P,
    /// Sequence numbers given up as lost just before it.
    pub lost_before: u64,
    /// It starts a new numbering (after a restart): reset what depends on
    /// continuity.
    pub restart: bool,
}

struct Slot<P> {
    seq: u16,
    arrival: Instant,
    item: P,
    size: usize,
}

/// Takes packets in arrival order and gives them back in sequence order,
/// holding a packet after a gap for at most `latency` before the missing
/// ones are counted as lost; duplicates and packets too late for their place
/// are dropped and counted.
pub struct JitterBuffer<P> {
    latency: Duration,
    capacity: usize,
    max_bytes: usize,
    /// Sum of the sizes of the waiting packets.
    bytes: usize,
    classic: bool,
    seqs: SeqExtender,
    /// The extended number to give out next.
    next: Option<i64>,
    /// Bit `i` set: `next - 1 - i` was given out.
    delivered: u128,
    highest: Option<i64>,
    slots: BTreeMap<i64, Slot<P>>,
    /// While set, nothing is given out (a PLAY reply is awaited).
    hold: bool,
    restart_pending: bool,
    stats: JitterStats,
}

impl<P> JitterBuffer<P> {
    /// A buffer that waits up to `latency` for a missing packet and holds at
    /// most `capacity` packets. `classic` turns on the classic server's loop
    /// rule: a packet numbered 1 well behind the others starts a new
    /// numbering.
    pub fn new(latency: Duration, capacity: usize, classic: bool) -> Self {
        Self {
            latency,
            capacity: capacity.max(1),
            max_bytes: usize::MAX,
            bytes: 0,
            classic,
            seqs: SeqExtender::default(),
            next: None,
            delivered: 0,
            highest: None,
            slots: BTreeMap::new(),
            hold: false,
            restart_pending: false,
            stats: JitterStats::default(),
        }
    }

    /// Bounds the packets waiting to `max_bytes` of the sizes given to
    /// [`push_sized`](Self::push_sized) (no bound by default).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Bytes waiting (the sizes given to [`push_sized`](Self::push_sized)).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Over the packet or byte bound: waiting is given up.
    fn over(&self) -> bool {
        self.slots.len() > self.capacity || self.bytes > self.max_bytes
    }

    /// The counters.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no packet waits.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Holds everything back (`true`) or lets packets out again.
    pub fn set_hold(&mut self, hold: bool) {
        self.hold = hold;
    }

    /// Forgets the numbering and every waiting packet (counters are kept).
    pub fn reset(&mut self) {
        self.seqs.reset();
        self.next = None;
        self.delivered = 0;
        self.highest = None;
        self.slots.clear();
        self.bytes = 0;
        self.restart_pending = true;
    }

    /// The next packet to give out is `seq` (a PLAY reply's `RTP-Info`):
    /// waiting packets before it are dropped as stale, later ones kept.
    pub fn expect(&mut self, seq: u16) {
        let ext = if self.seqs.highest().is_some() {
            self.seqs.peek(seq)
        } else {
            self.seqs.extend(seq)
        };
        let keep = self.slots.split_off(&ext);
        self.stats.stale += self.slots.len() as u64;
        self.slots = keep;
        self.bytes = self.slots.values().map(|s| s.size).sum();
        self.next = Some(ext);
        self.delivered = 0;
        self.highest = self.highest.map(|h| h.max(ext - 1)).or(Some(ext - 1));
        self.restart_pending = true;
    }

    /// Takes one packet that arrived at `arrival`.
    pub fn push(&mut self, seq: u16, arrival: Instant, item: P) -> Pushed {
        self.push_sized(seq, arrival, item, 0)
    }

    /// Takes one packet of `size` bytes that arrived at `arrival`.
    pub fn push_sized(&mut self, seq: u16, arrival: Instant, item: P, size: usize) -> Pushed {
        self.stats.received += 1;
        let mut ext = self.seqs.peek(seq);
        let mut result = Pushed::Accepted;
        if let Some(next) = self.next {
            let behind = next - ext;
            let classic_loop = self.classic && seq == 1 && behind > CLASSIC_REORDER;
            if classic_loop || behind > MAX_MISORDER || ext - next >= MAX_DROPOUT {
                self.restart();
                ext = self.seqs.extend(seq);
                self.next = Some(ext);
                result = Pushed::Restarted;
            } else if behind > 0 {
                if behind <= 128 && self.delivered & (1u128 << (behind - 1)) != 0 {
                    self.stats.duplicates += 1;
                    return Pushed::Duplicate;
                }
                if self.delivered == 0 {
                    // Before the start the PLAY reply named.
                    self.stats.stale += 1;
                    return Pushed::Stale;
                }
                self.stats.late += 1;
                return Pushed::Late;
            } else {
                ext = self.seqs.extend(seq);
            }
        } else {
            ext = self.seqs.extend(seq);
        }
        if self.slots.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        if self.highest.is_some_and(|h| ext < h) {
            self.stats.reordered += 1;
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.slots.insert(
            ext,
            Slot {
                seq,
                arrival,
                item,
                size,
            },
        );
        self.bytes = self.bytes.saturating_add(size);
        result
    }

    fn restart(&mut self) {
        self.stats.restarts += 1;
        self.seqs.reset();
        self.slots.clear();
        self.bytes = 0;
        self.delivered = 0;
        self.highest = None;
        self.restart_pending = true;
    }

    /// The next packet in order, if it may go out at `now`: the expected one
    /// when it is there, else the first after a gap once it has waited the
    /// latency (or the buffer is over its packet or byte bound).
    pub fn pop(&mut self, now: Instant) -> Option<Released<P>> {
        if self.hold && !self.over() {
            return None;
        }
        let (&ext, slot) = self.slots.first_key_value()?;
        let lost = match self.next {
            None => 0,
            Some(next) if ext <= next => 0,
            Some(next) => {
                let waited = now.saturating_duration_since(slot.arrival);
                if waited < self.latency && !self.over() && !self.hold {
                    return None;
                }
                (ext - next) as u64
            }
        };
        let slot = self.slots.remove(&ext)?;
        self.bytes = self.bytes.saturating_sub(slot.size);
        let shift = self.next.map_or(1, |next| ext + 1 - next);
        self.delivered = if (1..128).contains(&shift) {
            self.delivered << shift
        } else {
            0
        };
        self.delivered |= 1;
        self.next = Some(ext + 1);
        self.stats.lost += lost;
        Some(Released {
            seq: slot.seq,
            ext,
            arrival: slot.arrival,
            item: slot.item,
            lost_before: lost,
            restart: std::mem::take(&mut self.restart_pending),
        })
    }

    /// When [`pop`](Self::pop) may next give something out without a new
    /// packet: when the first packet after a gap has waited the latency.
    pub fn deadline(&self) -> Option<Instant> {
        if self.hold {
            return None;
        }
        let (&ext, slot) = self.slots.first_key_value()?;
        match self.next {
            Some(next) if ext > next => Some(slot.arrival + self.latency),
            _ => Some(slot.arrival),
        }
    }

    /// The highest extended sequence number received, and the first one of
    /// the current numbering (for receiver reports).
    pub fn highest(&self) -> Option<i64> {
        self.highest
    }
}

/// RFC 3550 §6.4.1 / A.8 interarrival jitter, in RTP timestamp units, kept
/// as the RFC does (a running estimate with gain 1/16).
#[derive(Debug, Clone)]
pub struct ArrivalJitter {
    clock_rate: u32,
    epoch: Instant,
    last_transit: Option<u32>,
    jitter: f64,
}

impl ArrivalJitter {
    /// An estimator for a stream with `clock_rate` Hz timestamps.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            epoch: Instant::now(),
            last_transit: None,
            jitter: 0.0,
        }
    }

    /// Starts over (after a seek: transit times change).
    pub fn reset(&mut self) {
        self.last_transit = None;
    }

    /// A packet with RTP timestamp `ts` arrived at `arrival`.
    pub fn update(&mut self, arrival: Instant, ts: u32) {
        if self.clock_rate == 0 {
            return;
        }
        let since = arrival.saturating_duration_since(self.epoch);
        let arrival_ts =
            (since.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64 as u32;
        let transit = arrival_ts.wrapping_sub(ts);
        if let Some(last) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// The estimate in timestamp units (what a receiver report carries).
    pub fn units(&self) -> u32 {
        self.jitter as u32
    }

    /// The estimate in milliseconds.
    pub fn millis(&self) -> f64 {
        if self.clock_rate == 0 {
            0.0
        } else {
            self.jitter * 1000.0 / f64::from(self.clock_rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn drain(jb: &mut JitterBuffer<u32>, now: Instant) -> Vec<(u16, u64)> {
        let mut out = Vec::new();
        while let Some(r) = jb.pop(now) {
            assert_eq!(u32::from(r.seq), r.item);
            out.push((r.seq, r.lost_before));
        }
        out
    }

    #[test]
    fn in_order_packets_go_out_at_once() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        for s in 10u16..15 {
            assert_eq!(jb.push(s, t, u32::from(s)), Pushed::Accepted);
            assert_eq!(drain(&mut jb, t), vec![(s, 0)]);
        }
        assert_eq!(jb.stats().reordered, 0);
        assert_eq!(jb.deadline(), None);
    }

    #[test]
    fn reordered_packets_are_put_back_in_order_within_the_latency() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        jb.push(1, t, 1);
        assert_eq!(drain(&mut jb, t), vec![(1, 0)]);
        // 3 and 4 arrive before 2.
        jb.push(3, t + MS, 3);
        jb.push(4, t + 2 * MS, 4);
        assert!(drain(&mut jb, t + 2 * MS).is_empty(), "waits for 2");
        assert_eq!(jb.deadline(), Some(t + 31 * MS));
        jb.push(2, t + 10 * MS, 2);
        assert_eq!(drain(&mut jb, t + 10 * MS), vec![(2, 0), (3, 0), (4, 0)]);
        assert_eq!(jb.stats().reordered, 1);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn a_gap_is_given_up_after_the_latency_and_late_packets_dropped() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        jb.push(100, t, 100);
        drain(&mut jb, t);
        jb.push(103, t + MS, 103);
        assert!(drain(&mut jb, t + 30 * MS).is_empty());
        assert_eq!(drain(&mut jb, t + 31 * MS), vec![(103, 2)]);
        assert_eq!(jb.stats().lost, 2);
        assert_eq!(jb.push(101, t + 40 * MS, 101), Pushed::Late);
        assert_eq!(jb.push(103, t + 41 * MS, 103), Pushed::Duplicate);
        assert_eq!(jb.push(100, t + 41 * MS, 100), Pushed::Duplicate);
        assert_eq!(jb.stats().late, 1);
        assert_eq!(jb.stats().duplicates, 2);
    }

    #[test]
    fn duplicates_while_waiting_are_dropped() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        jb.push(5, t, 5);
        drain(&mut jb, t);
        jb.push(7, t, 7);
        assert_eq!(jb.push(7, t, 7), Pushed::Duplicate);
        jb.push(6, t, 6);
        assert_eq!(drain(&mut jb, t), vec![(6, 0), (7, 0)]);
    }

    #[test]
    fn wraps_around_65535() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::ZERO, 100, false);
        let seqs = [65534u16, 65535, 1, 0, 2];
        let mut out = Vec::new();
        let mut jb2 = JitterBuffer::new(30 * MS, 100, false);
        for &s in &seqs {
            jb2.push(s, t, u32::from(s));
            out.extend(drain(&mut jb2, t));
        }
        assert_eq!(
            out.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![65534, 65535, 0, 1, 2]
        );
        // With zero latency (TCP) a gap is given up at once.
        jb.push(65535, t, 65535);
        jb.push(1, t, 1);
        assert_eq!(drain(&mut jb, t), vec![(65535, 0), (1, 1)]);
    }

    #[test]
    fn classic_loop_restarts_the_numbering() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, true);
        for s in 1u16..=48 {
            jb.push(s, t, u32::from(s));
        }
        assert_eq!(drain(&mut jb, t).len(), 48);
        assert_eq!(jb.push(1, t, 1), Pushed::Restarted);
        let r = jb.pop(t).unwrap();
        assert_eq!((r.seq, r.restart, r.lost_before), (1, true, 0));
        jb.push(2, t, 2);
        assert_eq!(drain(&mut jb, t), vec![(2, 0)]);
        assert_eq!(jb.stats().restarts, 1);
        // Without the classic rule, 1 just behind is merely late.
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        for s in 1u16..=10 {
            jb.push(s, t, u32::from(s));
        }
        drain(&mut jb, t);
        assert_eq!(jb.push(1, t, 1), Pushed::Duplicate);
    }

    #[test]
    fn far_jumps_restart() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        jb.push(1000, t, 1000);
        drain(&mut jb, t);
        assert_eq!(jb.push(9000, t, 9000), Pushed::Restarted);
        assert_eq!(drain(&mut jb, t), vec![(9000, 0)]);
        assert_eq!(jb.push(500, t, 500), Pushed::Restarted);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn expect_drops_stale_packets_and_hold_waits() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(30 * MS, 100, false);
        jb.push(10, t, 10);
        drain(&mut jb, t);
        // A PLAY (seek) is on its way: packets of the old and new position
        // arrive before its reply.
        jb.set_hold(true);
        for s in [11u16, 12, 20, 21] {
            jb.push(s, t, u32::from(s));
        }
        assert!(drain(&mut jb, t + 100 * MS).is_empty(), "held");
        assert_eq!(jb.deadline(), None);
        jb.expect(20);
        jb.set_hold(false);
        let first = jb.pop(t).unwrap();
        assert!(first.restart);
        assert_eq!((first.seq, first.lost_before), (20, 0));
        assert_eq!(drain(&mut jb, t), vec![(21, 0)]);
        assert_eq!(jb.stats().stale, 2);
        // An old packet still in flight is dropped too.
        assert_eq!(jb.push(13, t, 13), Pushed::Late);
    }

    #[test]
    fn a_full_buffer_gives_up_gaps() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_secs(10), 3, false);
        jb.push(0, t, 0);
        drain(&mut jb, t);
        for s in [2u16, 3, 4, 5] {
            jb.push(s, t, u32::from(s));
        }
        assert_eq!(drain(&mut jb, t), vec![(2, 1), (3, 0), (4, 0), (5, 0)]);
    }

    #[test]
    fn interarrival_jitter_follows_rfc3550() {
        let t = Instant::now();
        // Packets every 40 ms with timestamps every 40 ms: no jitter.
        let mut j = ArrivalJitter::new(90_000);
        for i in 0..50u32 {
            j.update(t + 40 * MS * i, 1_000 + i * 3600);
        }
        assert!(j.millis() < 0.1, "{}", j.millis());
        // Every other packet 10 ms late: |D| is 10 ms each time and J tends to it.
        let mut j = ArrivalJitter::new(90_000);
        for i in 0..400u32 {
            let wobble = if i % 2 == 0 { 10 * MS } else { Duration::ZERO };
            j.update(t + 40 * MS * i + wobble, i * 3600);
        }
        assert!((j.millis() - 10.0).abs() < 0.5, "{}", j.millis());
        assert!((f64::from(j.units()) - 900.0).abs() < 50.0);
    }
}
