//! From RTP packets to whole JPEG frames with presentation times: the packet
//! path of one playing stream, whatever carries it (UDP or TCP interleaved).
//!
//! Packets go through the [`JitterBuffer`] (order, duplicates, loss), then to
//! the depacketizer of the stream's format — RFC 2435 through
//! [`Depacketizer`], the project's whole-JPEG scheme and the classic dialect
//! through [`Reassembler`] — and every frame that comes out is checked to be a
//! whole JPEG (`FF D8` … `FF D9`) before it is handed on.

use std::time::{Duration, Instant};

use super::jitter::{ArrivalJitter, JitterBuffer, Pushed};
use super::{Frame, PayloadFormat, Stats};
use crate::container::is_whole_jpeg;
use crate::rtp::reassembly::{Reassembler, ReassemblyMode};
use crate::rtp::rfc2435_depay::Depacketizer;
use crate::rtp::rtcp::ReportBlock;
use crate::rtp::{RtpHeader, seq_diff};
use crate::timing::FrameRate;

/// Packets held at most by the reorder buffer.
const JITTER_CAPACITY: usize = 4096;
/// Payload bytes held at most by the reorder buffer.
const JITTER_MAX_BYTES: usize = 8 << 20;

/// How the stream is to be read.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The payload format.
    pub format: PayloadFormat,
    /// Packets of other payload types are dropped (none: any).
    pub payload_type: Option<u8>,
    /// The RTP clock rate (1 for whole-frame timestamps in seconds).
    pub clock_rate: u32,
    /// How long a packet after a gap waits for the missing ones.
    pub latency: Duration,
    /// Frame rate for times counted in frames (classic, clock rate 1).
    pub framerate: FrameRate,
    /// Size from the SDP, for RFC 2435 headers that say 0.
    pub dimensions: Option<(u32, u32)>,
}

/// Where the next PLAY starts, from its reply.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlayStart {
    /// The media time of the first frame (`Range` start).
    pub npt: Option<Duration>,
    /// `RTP-Info` `seq`: the first packet.
    pub seq: Option<u16>,
    /// `RTP-Info` `rtptime`: the timestamp at `npt`.
    pub rtptime: Option<u32>,
}

struct Packet {
    header: RtpHeader,
    payload: Vec<u8>,
}

enum Depay {
    Rfc2435 {
        depay: Depacketizer,
        /// First sequence number and timestamp of the frame being gathered.
        current: Option<(u16, u32)>,
    },
    Whole(Reassembler<Vec<u8>>),
}

/// The packet path of one stream. See the [module docs](self).
pub struct Media {
    cfg: MediaConfig,
    jitter: JitterBuffer<Packet>,
    depay: Depay,
    arrival: ArrivalJitter,
    ssrc: Option<u32>,
    /// Media time of `ts_base`.
    npt_base: Duration,
    ts_base: Option<u32>,
    /// Last timestamp seen and its distance from `ts_base`, for unwrapping.
    ts_last: Option<(u32, i64)>,
    /// Times counted in frames: extended number and index of the last frame.
    frame_index: Option<(i64, u64)>,
    discont: bool,
    packets_invalid: u64,
    frames_corrupt: u64,
    frames: u64,
    bytes: u64,
    dimensions: Option<(u32, u32)>,
    rr: ReceptionState,
}

#[derive(Default)]
struct ReceptionState {
    base: Option<i64>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    last_sr: Option<(u32, Instant)>,
}

impl Media {
    pub fn new(cfg: MediaConfig) -> Self {
        let classic = cfg.format == PayloadFormat::Classic;
        let depay = match cfg.format {
            PayloadFormat::Rfc2435 => {
                let mut depay = Depacketizer::new();
                depay.set_dimensions(
                    cfg.dimensions
                        .and_then(|(w, h)| Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))),
                );
                Depay::Rfc2435 {
                    depay,
                    current: None,
                }
            }
            PayloadFormat::WholeJpeg => Depay::Whole(Reassembler::new(ReassemblyMode::Auto)),
            PayloadFormat::Classic => Depay::Whole(Reassembler::new(ReassemblyMode::WholeFrame)),
        };
        let clock = if cfg.clock_rate >= 1000 {
            cfg.clock_rate
        } else {
            0
        };
        Self {
            jitter: JitterBuffer::new(cfg.latency, JITTER_CAPACITY, classic)
                .with_max_bytes(JITTER_MAX_BYTES),
            depay,
            arrival: ArrivalJitter::new(clock),
            ssrc: None,
            npt_base: Duration::ZERO,
            ts_base: None,
            ts_last: None,
            frame_index: None,
            discont: true,
            packets_invalid: 0,
            frames_corrupt: 0,
            frames: 0,
            bytes: 0,
            dimensions: cfg.dimensions,
            rr: ReceptionState::default(),
            cfg,
        }
    }

    /// The stream's format.
    pub fn format(&self) -> PayloadFormat {
        self.cfg.format
    }

    /// Holds packets back while a PLAY reply is awaited (its `RTP-Info` says
    /// which packets belong to the new position).
    pub fn set_hold(&mut self, hold: bool) {
        self.jitter.set_hold(hold);
    }

    /// A PLAY succeeded: where its media starts.
    pub fn on_play(&mut self, start: PlayStart) {
        if let Some(seq) = start.seq {
            self.jitter.expect(seq);
        }
        match &mut self.depay {
            Depay::Rfc2435 { depay, current } => {
                depay.reset();
                *current = None;
            }
            Depay::Whole(r) => r.reset(),
        }
        self.arrival.reset();
        self.discont = true;
        let frames_counted = self.arrival_clock() == 0;
        match start.npt {
            Some(npt) => {
                self.npt_base = npt;
                self.ts_base = start.rtptime;
                self.ts_last = None;
                if frames_counted {
                    self.frame_index = None;
                }
            }
            None => {
                // Resuming: keep the mapping, unless there was none.
                if self.ts_base.is_none() {
                    self.ts_base = start.rtptime;
                }
            }
        }
    }

    fn arrival_clock(&self) -> u32 {
        if self.cfg.clock_rate >= 1000 {
            self.cfg.clock_rate
        } else {
            0
        }
    }

    /// One RTP packet as received. Returns whether it was an RTP packet of
    /// this stream.
    pub fn push(&mut self, data: &[u8], arrival: Instant) -> bool {
        let packet = match crate::rtp::parse(data) {
            Ok(p) => p,
            Err(e) => {
                tracing::trace!("dropping a packet that is not RTP: {e}");
                self.packets_invalid += 1;
                return false;
            }
        };
        let header = packet.header;
        if self
            .cfg
            .payload_type
            .is_some_and(|pt| pt != header.payload_type)
        {
            tracing::trace!(
                pt = header.payload_type,
                "dropping a packet of another payload type"
            );
            self.packets_invalid += 1;
            return false;
        }
        if let Some(old) = self.ssrc
            && old != header.ssrc
        {
            tracing::debug!(old, new = header.ssrc, "new SSRC: starting over");
            self.jitter.reset();
            self.rr = ReceptionState::default();
        }
        self.ssrc = Some(header.ssrc);
        self.arrival.update(arrival, header.timestamp);
        let seq = header.sequence_number;
        let payload = packet.payload.to_vec();
        let size = payload.len();
        match self
            .jitter
            .push_sized(seq, arrival, Packet { header, payload }, size)
        {
            Pushed::Accepted => self.rr.received += 1,
            Pushed::Restarted => {
                self.rr = ReceptionState {
                    last_sr: self.rr.last_sr,
                    received: 1,
                    ..ReceptionState::default()
                };
            }
            Pushed::Duplicate | Pushed::Late | Pushed::Stale => {}
        }
        if self.rr.base.is_none() {
            self.rr.base = self.jitter.highest();
        }
        true
    }

    /// When [`pop_frames`](Self::pop_frames) should run again without a new
    /// packet.
    pub fn deadline(&self) -> Option<Instant> {
        self.jitter.deadline()
    }

    /// Frames completed by the packets that may leave the reorder buffer now.
    pub fn pop_frames(&mut self, now: Instant, out: &mut Vec<Frame>) {
        while let Some(rel) = self.jitter.pop(now) {
            if rel.lost_before > 0 || rel.restart {
                self.discont = true;
            }
            let Packet { header, payload } = rel.item;
            match &mut self.depay {
                Depay::Rfc2435 { depay, current } => {
                    if rel.restart {
                        depay.reset();
                        *current = None;
                    }
                    depay.set_source(header.ssrc);
                    if current.is_none_or(|(_, ts)| ts != header.timestamp) {
                        *current = Some((header.sequence_number, header.timestamp));
                    }
                    let first_seq = current.map_or(header.sequence_number, |(s, _)| s);
                    if header.marker {
                        *current = None;
                    }
                    match depay.push(
                        header.sequence_number,
                        header.timestamp,
                        header.marker,
                        &payload,
                    ) {
                        Ok(Some(jpeg)) => {
                            let first_ext =
                                rel.ext - i64::from(seq_diff(header.sequence_number, first_seq));
                            self.emit(jpeg, &header, first_seq, first_ext, rel.arrival, out);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::debug!(
                                seq = header.sequence_number,
                                "RFC 2435 payload dropped: {e}"
                            );
                            self.discont = true;
                        }
                    }
                }
                Depay::Whole(r) => {
                    if rel.restart {
                        r.reset();
                    }
                    for frame in r.push(&header, payload, None) {
                        let first_ext =
                            rel.ext - i64::from(seq_diff(frame.last_seq, frame.first_seq));
                        let jpeg = if frame.pieces.len() == 1 {
                            frame.pieces.into_iter().next().unwrap_or_default()
                        } else {
                            frame.to_vec()
                        };
                        let h = RtpHeader {
                            timestamp: frame.rtp_timestamp,
                            ..header
                        };
                        self.emit(jpeg, &h, frame.first_seq, first_ext, rel.arrival, out);
                    }
                }
            }
        }
    }

    fn emit(
        &mut self,
        jpeg: Vec<u8>,
        header: &RtpHeader,
        first_seq: u16,
        first_ext: i64,
        arrival: Instant,
        out: &mut Vec<Frame>,
    ) {
        if !is_whole_jpeg(&jpeg) {
            // Never hand on a JPEG that does not start and end as one.
            tracing::debug!(
                first_seq,
                len = jpeg.len(),
                "dropping a frame that is not a whole JPEG"
            );
            self.frames_corrupt += 1;
            self.discont = true;
            return;
        }
        let pts = if self.arrival_clock() == 0 {
            self.frame_pts(first_ext)
        } else {
            self.timestamp_pts(header.timestamp)
        };
        if (self.discont || self.dimensions.is_none())
            && let Some(info) = crate::container::jpeg::parse_info(&jpeg)
        {
            self.dimensions = Some((u32::from(info.width), u32::from(info.height)));
        }
        self.frames += 1;
        self.bytes += jpeg.len() as u64;
        out.push(Frame {
            jpeg,
            rtp_timestamp: header.timestamp,
            pts,
            arrival,
            first_seq,
            last_seq: header.sequence_number,
            discont: std::mem::take(&mut self.discont),
        });
    }

    /// Media time from a timestamp: the PLAY's start plus the timestamp's
    /// distance from the PLAY's `rtptime` (or from the first frame's).
    fn timestamp_pts(&mut self, ts: u32) -> Duration {
        let base = *self.ts_base.get_or_insert(ts);
        let ext = match self.ts_last {
            None => i64::from(ts.wrapping_sub(base) as i32),
            Some((last, last_ext)) => last_ext + i64::from(ts.wrapping_sub(last) as i32),
        };
        self.ts_last = Some((ts, ext));
        let nanos = i128::from(ext) * 1_000_000_000 / i128::from(self.cfg.clock_rate.max(1));
        let base = i128::try_from(self.npt_base.as_nanos()).unwrap_or(i128::MAX);
        Duration::from_nanos(u64::try_from(base.saturating_add(nanos).max(0)).unwrap_or(u64::MAX))
    }

    /// Media time counted in frames (classic: the sequence number is the
    /// frame number; lost frames still take their time, loops go on).
    fn frame_pts(&mut self, first_ext: i64) -> Duration {
        let index = match self.frame_index {
            None => 0,
            Some((last, index)) => index + (first_ext - last).max(1) as u64,
        };
        self.frame_index = Some((first_ext, index));
        self.npt_base.saturating_add(Duration::from_nanos(
            self.cfg.framerate.frame_start_ns(index),
        ))
    }

    /// A sender report arrived.
    pub fn on_sender_report(&mut self, ntp_middle: u32, now: Instant) {
        self.rr.last_sr = Some((ntp_middle, now));
    }

    /// The SSRC of the stream, once a packet came.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// A report block for a receiver report; `None` before any packet.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let highest = self.jitter.highest()?;
        let base = self.rr.base.unwrap_or(highest);
        let expected = (highest - base + 1).max(0) as u64;
        let received = self.rr.received;
        let expected_interval = expected.saturating_sub(self.rr.expected_prior);
        let received_interval = received.saturating_sub(self.rr.received_prior);
        self.rr.expected_prior = expected;
        self.rr.received_prior = received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval == 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        let (lsr, dlsr) = match self.rr.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (lsr, (d.as_nanos() * 65536 / 1_000_000_000) as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: (expected as i64 - received as i64).clamp(-0x80_0000, 0x7F_FFFF)
                as i32,
            highest_seq: highest as u32,
            jitter: self.arrival.units(),
            lsr,
            dlsr,
        })
    }

    /// The counters of this media path now (the fields of [`Stats`] the
    /// packet path knows; the rest stay zero).
    pub fn counters(&self) -> Stats {
        let j = self.jitter.stats();
        let (depay_incomplete, depay_invalid) = match &self.depay {
            Depay::Rfc2435 { depay, .. } => {
                let s = depay.stats();
                (s.frames_incomplete, s.packets_invalid)
            }
            Depay::Whole(r) => {
                let s = r.stats();
                (s.frames_incomplete + s.frames_corrupt, s.packets_invalid)
            }
        };
        Stats {
            packets_received: j.received,
            packets_lost: j.lost,
            packets_duplicated: j.duplicates,
            packets_reordered: j.reordered,
            packets_late: j.late,
            packets_invalid: self.packets_invalid + depay_invalid,
            restarts: j.restarts,
            frames: self.frames,
            bytes: self.bytes,
            frames_incomplete: depay_incomplete + self.frames_corrupt,
            jitter_ms: self.arrival.millis(),
            dimensions: self.dimensions,
            ..Stats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpHeader;

    fn jpeg(n: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, n];
        v.resize(len - 2, n);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    fn packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let h = RtpHeader {
            marker,
            payload_type: 26,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 0,
        };
        let mut p = h.to_bytes().unwrap().to_vec();
        p.extend_from_slice(payload);
        p
    }

    fn classic() -> Media {
        Media::new(MediaConfig {
            format: PayloadFormat::Classic,
            payload_type: Some(26),
            clock_rate: 1,
            latency: Duration::from_millis(30),
            framerate: FrameRate::new(24, 1).unwrap(),
            dimensions: None,
        })
    }

    #[test]
    fn classic_frames_in_order_with_frame_count_times_and_loops() {
        let t = Instant::now();
        let mut m = classic();
        let mut out = Vec::new();
        // 1, 2, 4, 3 (reordered), 3 again (duplicate), then the server loops: 1, 2.
        for seq in [1u16, 2, 4, 3, 3, 1, 2] {
            assert!(m.push(&packet(seq, 1_700_000_000, false, &jpeg(seq as u8, 50)), t));
            m.pop_frames(t, &mut out);
        }
        let seqs: Vec<u16> = out.iter().map(|f| f.first_seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 1, 2]);
        let pts: Vec<u128> = out.iter().map(|f| f.pts.as_millis()).collect();
        // Frame count at 24 fps; the loop goes on counting.
        assert_eq!(pts, vec![0, 41, 83, 125, 166, 208]);
        assert!(out[0].discont && !out[1].discont && out[4].discont);
        assert!(out.iter().all(|f| is_whole_jpeg(&f.jpeg)));
        let c = m.counters();
        assert_eq!(c.packets_duplicated, 1);
        assert_eq!(c.packets_reordered, 1);
        assert_eq!(c.restarts, 1);
        assert_eq!(c.frames, 6);
        // A lost frame still takes its time.
        m.push(&packet(4, 1, false, &jpeg(4, 50)), t);
        m.pop_frames(t + Duration::from_secs(1), &mut out);
        assert_eq!(out.last().unwrap().pts.as_millis(), 291);
        assert!(out.last().unwrap().discont);
        assert_eq!(m.counters().packets_lost, 1);
    }

    #[test]
    fn not_a_jpeg_is_never_handed_on() {
        let t = Instant::now();
        let mut m = classic();
        let mut out = Vec::new();
        m.push(&packet(1, 0, false, b"\xFF\xD8 no end"), t);
        m.push(&packet(2, 0, false, &jpeg(2, 40)), t);
        assert!(!m.push(b"junk", t));
        m.pop_frames(t, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].first_seq, 2);
        let c = m.counters();
        assert_eq!(c.frames_incomplete, 1);
        assert_eq!(c.packets_invalid, 1);
    }

    #[test]
    fn rfc2435_frames_from_packetizer_with_rtp_info_times() {
        // Two real 4:2:0 frames packetized by our RFC 2435 packetizer.
        let frames: Vec<Vec<u8>> = (0..3).map(test_jpeg).collect();
        let mut m = rfc2435();
        let t = Instant::now();
        // PLAY reply: npt 2 s, first packet seq 1000 at rtptime 5000.
        m.set_hold(true);
        let mut wire = Vec::new();
        let mut seq = 1000u16;
        for (i, f) in frames.iter().enumerate() {
            let p = crate::rtp::rfc2435::packetize(f, 200).unwrap();
            let n = p.packet_count();
            for k in 0..n {
                wire.push(packet(
                    seq,
                    5000 + 3750 * i as u32,
                    p.marker(k),
                    p.payload(k).unwrap(),
                ));
                seq = seq.wrapping_add(1);
            }
        }
        // A stale packet from before the seek, then the packets with one
        // pair swapped, one duplicated.
        m.push(&packet(990, 1, true, &[0; 20]), t);
        wire.swap(1, 2);
        let dup = wire[3].clone();
        wire.insert(4, dup);
        for p in &wire {
            m.push(p, t);
        }
        let mut out = Vec::new();
        m.pop_frames(t, &mut out);
        assert!(out.is_empty(), "held until the PLAY reply");
        m.on_play(PlayStart {
            npt: Some(Duration::from_secs(2)),
            seq: Some(1000),
            rtptime: Some(5000),
        });
        m.set_hold(false);
        m.pop_frames(t, &mut out);
        assert_eq!(out.len(), 3);
        let pts: Vec<u128> = out.iter().map(|f| f.pts.as_micros()).collect();
        assert_eq!(pts, vec![2_000_000, 2_041_666, 2_083_333]);
        assert_eq!(out[0].first_seq, 1000);
        for f in &out {
            assert!(is_whole_jpeg(&f.jpeg));
            let info = crate::container::jpeg::parse_info(&f.jpeg).unwrap();
            assert_eq!((info.width, info.height), (64, 48));
        }
        let c = m.counters();
        assert_eq!(
            (c.packets_reordered, c.packets_duplicated, c.packets_lost),
            (1, 1, 0)
        );
        assert_eq!(c.dimensions, Some((64, 48)));

        // Losing the first packet of the second frame drops that frame only.
        let mut m2 = Media::new(m.cfg.clone());
        let mut out = Vec::new();
        for p in &wire {
            if u16::from_be_bytes([p[2], p[3]]) != 1002 {
                m2.push(p, t);
            }
        }
        m2.pop_frames(t + Duration::from_secs(1), &mut out);
        let firsts: Vec<u16> = out.iter().map(|f| f.first_seq).collect();
        assert_eq!(firsts, vec![1000, 1004]);
        assert!(m2.counters().frames_incomplete >= 1);
        assert_eq!(m2.counters().packets_lost, 1);
        assert!(out[1].discont);
    }

    fn rfc2435() -> Media {
        Media::new(MediaConfig {
            format: PayloadFormat::Rfc2435,
            payload_type: Some(26),
            clock_rate: 90_000,
            latency: Duration::from_millis(30),
            framerate: FrameRate::new(24, 1).unwrap(),
            dimensions: None,
        })
    }

    fn packet_from(ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = packet(seq, ts, true, payload);
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    /// A one-packet RFC 2435 frame of 16×16 with Q 200 and `tables` (empty:
    /// "the ones sent before").
    fn q200_payload(tables: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0, 1, 200, 2, 2, 0, 0];
        v.extend_from_slice(&u16::try_from(tables.len()).unwrap().to_be_bytes());
        v.extend_from_slice(tables);
        v.extend_from_slice(&[0x12; 40]);
        v
    }

    #[test]
    fn q_128_tables_of_one_source_are_not_used_for_the_next() {
        let t = Instant::now();
        let mut m = rfc2435();
        let mut out = Vec::new();
        let tables: Vec<u8> = (1..=128).collect();
        m.push(&packet_from(0xA, 1, 0, &q200_payload(&tables)), t);
        m.push(&packet_from(0xA, 2, 3750, &q200_payload(&[])), t);
        m.pop_frames(t, &mut out);
        assert_eq!(out.len(), 2, "the same source may refer to its tables");
        // A new source refers to tables it never sent.
        m.push(&packet_from(0xB, 500, 9000, &q200_payload(&[])), t);
        m.pop_frames(t, &mut out);
        assert_eq!(out.len(), 2, "no frame built with the old source's tables");
        assert_eq!(m.counters().packets_invalid, 1);
        // Once it sends its own, they are used.
        m.push(&packet_from(0xB, 501, 12750, &q200_payload(&tables)), t);
        m.pop_frames(t, &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn the_reorder_buffer_holds_a_bounded_number_of_bytes() {
        // A gap (seq 2 never comes) and a long latency: packets wait, but
        // not more than JITTER_MAX_BYTES of them.
        let t = Instant::now();
        let mut m = Media::new(MediaConfig {
            latency: Duration::from_secs(10),
            ..rfc2435().cfg
        });
        let mut out = Vec::new();
        let big = vec![0u8; 60_000];
        let mut most = 0;
        for seq in (1u16..=400).filter(|&s| s != 2) {
            m.push(&packet(seq, u32::from(seq) * 10, false, &big), t);
            m.pop_frames(t, &mut out);
            let waiting = m.jitter.len() * big.len();
            assert!(
                waiting <= JITTER_MAX_BYTES,
                "{waiting} bytes in {} packets wait",
                m.jitter.len()
            );
            assert_eq!(m.jitter.bytes(), waiting);
            most = most.max(m.jitter.len());
        }
        // Packets waited for the missing one until the bound, then flowed.
        assert!(most > 100, "a buffer still: {most} packets at most");
        assert!(m.jitter.is_empty());
        assert_eq!(m.counters().packets_lost, 1);
    }

    /// A small baseline 4:2:0 JPEG with standard Huffman tables: what RFC 2435
    /// can carry. Built by hand: 64×48, all-zero coefficients.
    fn test_jpeg(seed: u8) -> Vec<u8> {
        crate::client::media::tests_support::baseline_jpeg(64, 48, seed)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::container::jpeg::tables::STD_HUFFMAN;
    use crate::container::jpeg::{EOI, SOI, marker, write_segment};

    /// A decodable baseline 4:2:0 JPEG with the standard Huffman tables of
    /// T.81 Annex K.3 and flat quantisation tables: every block codes DC
    /// difference 0 and end-of-block, so it is a flat grey image; `seed`
    /// changes the quantisation tables so that frames differ.
    pub fn baseline_jpeg(width: u16, height: u16, seed: u8) -> Vec<u8> {
        let mut v = SOI.to_vec();
        // DQT: tables 0 and 1, 8-bit.
        for id in 0..2u8 {
            write_segment(&mut v, marker::DQT, &[&[id], &[1 + seed % 50 + id; 64]]);
        }
        // SOF0, 3 components, Y 2x2, Cb/Cr 1x1.
        let (h, w) = (height.to_be_bytes(), width.to_be_bytes());
        let components = [3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
        write_segment(&mut v, marker::SOF0, &[&[8], &h, &w, &components]);
        // DHT: the standard tables.
        for t in &STD_HUFFMAN {
            write_segment(&mut v, marker::DHT, &[&[t.class_id], &t.counts, t.symbols]);
        }
        let sos = [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0];
        write_segment(&mut v, marker::SOS, &[&sos]);
        // Scan: per MCU 4 Y + Cb + Cr blocks, each DC diff 0 ("00", luma;
        // "00" chroma) and EOB ("1010" luma, "00" chroma).
        let mcus = (usize::from(width) / 16) * (usize::from(height) / 16);
        let mut bits: Vec<bool> = Vec::new();
        for _ in 0..mcus {
            for _ in 0..4 {
                bits.extend([false, false, true, false, true, false]);
            }
            for _ in 0..2 {
                bits.extend([false, false, false, false]);
            }
        }
        while !bits.len().is_multiple_of(8) {
            bits.push(true);
        }
        for byte in bits.chunks(8) {
            let b = byte
                .iter()
                .fold(0u8, |acc, &bit| (acc << 1) | u8::from(bit));
            v.push(b);
            if b == 0xFF {
                v.push(0);
            }
        }
        v.extend_from_slice(&EOI);
        v
    }
}
