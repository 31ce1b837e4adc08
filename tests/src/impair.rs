//! RTP filters for the proxy: seeded loss, duplication and reordering
//! ([`Impairer`]), and send-time stamps ([`Stamper`]).

use crate::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// xorshift64* (Marsaglia's xorshift with a multiplying output step): a
/// small, seeded, deterministic generator for impairments.
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0; the bias is below 2^-32 for small `n`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// What an [`Impairer`] did with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Forwarded once, in its place.
    Passed,
    /// Not forwarded.
    Dropped,
    /// Forwarded twice, back to back.
    Duplicated,
    /// Held, and forwarded after the next `after` forwarded packets (1 or 2;
    /// 1 when the second did not come within
    /// [`Impairments::reorder_max_hold`] of the first).
    Reordered { after: u8 },
    /// Past [`Impairments::forward_frames`]: not forwarded (not a drop: the
    /// stream simply stops there for the client).
    Gated,
}

/// One packet the server sent through an [`Impairer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// Frame number from the first packet seen (0), by timestamp changes.
    pub frame: u64,
    pub fate: Fate,
}

/// Everything an [`Impairer`] did.
#[derive(Debug, Default, Clone)]
pub struct ImpairLog {
    /// Every packet from the server, in arrival order.
    pub packets: Vec<PacketRecord>,
    /// Datagrams sent to the client (a duplicated packet counts twice).
    pub datagrams_sent: u64,
    /// Held packets that had to be let go in order because nothing followed
    /// (logged as passed: not reordered after all).
    pub released_in_order: u64,
    /// The longest a reordered packet came after the first packet that
    /// overtook it: how long a receiver waits for it.
    pub max_reorder_delay: Duration,
    /// Sequence numbers missing from what the server sent the proxy: loss on
    /// the way in, which the client would count but the proxy did not cause.
    pub input_gaps: u64,
}

/// Which impairments, where. Rates are per 1000 packets, drawn once per
/// packet (so a packet gets at most one).
#[derive(Debug, Clone)]
pub struct Impairments {
    pub seed: u64,
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
    pub reorder_per_mille: u64,
    /// Frames (numbered as in [`PacketRecord::frame`]) whose packets may be
    /// impaired.
    pub frames: std::ops::Range<u64>,
    /// Frames from this one on are not forwarded at all.
    pub forward_frames: Option<u64>,
    /// A held packet goes at the latest this long after the first packet
    /// that overtook it, so that a receiver's reorder window (30 ms by
    /// default) covers it even when the next packet is the next frame's,
    /// a frame interval later.
    pub reorder_max_hold: Duration,
}

/// An [`RtpFilter`] that drops, duplicates and reorders packets, driven by
/// a seeded [`XorShift64`], and logs exactly what it did.
pub struct Impairer {
    cfg: Impairments,
    rng: XorShift64,
    log: Arc<Mutex<ImpairLog>>,
    frame: Option<(u32, u64)>,
    last_seq: Option<u16>,
    held: Option<Held>,
}

/// A packet waiting to be sent late.
struct Held {
    packet: Vec<u8>,
    /// Its index in [`ImpairLog::packets`].
    record: usize,
    /// Packets to forward before it.
    after: u8,
    /// Packets forwarded since it was held, and when the first went.
    forwarded: u8,
    first_later: Option<std::time::Instant>,
}

impl Impairer {
    pub fn new(cfg: Impairments) -> (Impairer, Arc<Mutex<ImpairLog>>) {
        let log = Arc::new(Mutex::new(ImpairLog::default()));
        let imp = Impairer {
            rng: XorShift64::new(cfg.seed),
            cfg,
            log: log.clone(),
            frame: None,
            last_seq: None,
            held: None,
        };
        (imp, log)
    }

    fn draw(&mut self) -> Fate {
        let c = &self.cfg;
        let r = self.rng.below(1000);
        let after = 1 + self.rng.below(2) as u8;
        if r < c.drop_per_mille {
            Fate::Dropped
        } else if r < c.drop_per_mille + c.duplicate_per_mille {
            Fate::Duplicated
        } else if r < c.drop_per_mille + c.duplicate_per_mille + c.reorder_per_mille
            && self.held.is_none()
        {
            Fate::Reordered { after }
        } else {
            Fate::Passed
        }
    }

    /// Sends `packet` (`copies` times) and lets the held packet go when its
    /// turn came.
    fn forward(&mut self, packet: Vec<u8>, copies: usize, out: &mut Vec<Vec<u8>>) {
        for _ in 1..copies {
            out.push(packet.clone());
        }
        out.push(packet);
        if let Some(h) = self.held.as_mut() {
            h.forwarded += 1;
            let now = std::time::Instant::now();
            h.first_later.get_or_insert(now);
            if h.forwarded >= h.after {
                self.release(now, out);
            }
        }
    }

    /// Sends the held packet now, logging what really happened to it.
    fn release(&mut self, now: std::time::Instant, out: &mut Vec<Vec<u8>>) {
        let Some(h) = self.held.take() else { return };
        let mut log = self.log.lock().unwrap();
        match h.first_later {
            Some(first) => {
                log.packets[h.record].fate = Fate::Reordered { after: h.forwarded };
                let delay = now.saturating_duration_since(first);
                log.max_reorder_delay = log.max_reorder_delay.max(delay);
            }
            None => {
                log.packets[h.record].fate = Fate::Passed;
                log.released_in_order += 1;
            }
        }
        out.push(h.packet);
    }
}

impl RtpFilter for Impairer {
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        let Some(f) = rtp_fields(&packet) else {
            out.push(packet);
            return;
        };
        let frame = match self.frame {
            None => 0,
            Some((ts, n)) if ts == f.timestamp => n,
            Some((_, n)) => n + 1,
        };
        self.frame = Some((f.timestamp, frame));
        let gap = self.last_seq.map_or(0, |last| {
            u64::from(f.seq.wrapping_sub(last).wrapping_sub(1))
        });
        self.last_seq = Some(f.seq);
        let fate = if self.cfg.forward_frames.is_some_and(|end| frame >= end) {
            Fate::Gated
        } else if self.cfg.frames.contains(&frame) {
            self.draw()
        } else {
            Fate::Passed
        };
        let record = {
            let mut log = self.log.lock().unwrap();
            if gap < 0x8000 {
                log.input_gaps += gap;
            }
            log.packets.push(PacketRecord {
                seq: f.seq,
                timestamp: f.timestamp,
                marker: f.marker,
                frame,
                fate,
            });
            log.packets.len() - 1
        };
        match fate {
            Fate::Passed => self.forward(packet, 1, out),
            Fate::Duplicated => self.forward(packet, 2, out),
            Fate::Reordered { after } => {
                self.held = Some(Held {
                    packet,
                    record,
                    after,
                    forwarded: 0,
                    first_later: None,
                })
            }
            Fate::Dropped | Fate::Gated => {}
        }
    }

    fn on_idle(&mut self, out: &mut Vec<Vec<u8>>) {
        self.release(std::time::Instant::now(), out);
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        let h = self.held.as_ref()?;
        Some(h.first_later? + self.cfg.reorder_max_hold)
    }

    fn on_tick(&mut self, now: std::time::Instant, out: &mut Vec<Vec<u8>>) {
        if self.deadline().is_some_and(|d| now >= d) {
            self.release(now, out);
        }
    }

    fn on_sent(&mut self, _packet: &[u8], _at: std::time::Instant) {
        self.log.lock().unwrap().datagrams_sent += 1;
    }
}

/// What a [`Stamper`] saw.
#[derive(Debug, Default, Clone)]
pub struct StampLog {
    /// RTP timestamp and send time of every marker packet (a frame's last),
    /// in order.
    pub markers: Vec<(u32, std::time::Instant)>,
    /// Packets forwarded.
    pub packets: u64,
    /// Sequence numbers missing from what the server sent the proxy.
    pub input_gaps: u64,
}

/// An [`RtpFilter`] that forwards every packet unchanged and records when
/// each frame's last packet (the marker) was sent on to the client.
#[derive(Default)]
pub struct Stamper {
    log: Arc<Mutex<StampLog>>,
    last_seq: Option<u16>,
}

impl Stamper {
    pub fn new() -> (Stamper, Arc<Mutex<StampLog>>) {
        let s = Stamper::default();
        let log = s.log.clone();
        (s, log)
    }
}

impl RtpFilter for Stamper {
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if let Some(f) = rtp_fields(&packet) {
            if let Some(last) = self.last_seq {
                let gap = u64::from(f.seq.wrapping_sub(last).wrapping_sub(1));
                if gap < 0x8000 {
                    self.log.lock().unwrap().input_gaps += gap;
                }
            }
            self.last_seq = Some(f.seq);
        }
        out.push(packet);
    }

    fn on_sent(&mut self, packet: &[u8], at: std::time::Instant) {
        let mut log = self.log.lock().unwrap();
        log.packets += 1;
        if let Some(f) = rtp_fields(packet)
            && f.marker
        {
            log.markers.push((f.timestamp, at));
        }
    }
}
