//! What the sessions measure together: gaps, RTP counts, RTCP reports.

use super::*;

/// Counts of values in 100 µs buckets, for percentiles over very many values.
pub(crate) struct Histogram {
    pub(crate) buckets: Vec<u32>,
    pub(crate) count: u64,
    pub(crate) max_us: u64,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            buckets: vec![0; GAP_BUCKETS + 1],
            count: 0,
            max_us: 0,
        }
    }
    pub(crate) fn add(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = ((us / GAP_BUCKET_US) as usize).min(GAP_BUCKETS);
        self.buckets[i] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }
    /// Adds every value of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }
    /// The value (ms, bucket middle) at quantile q.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                if i == GAP_BUCKETS {
                    return Some(self.max_us as f64 / 1000.0);
                }
                return Some(
                    ((i as u64 * GAP_BUCKET_US) as f64 + GAP_BUCKET_US as f64 / 2.0) / 1000.0,
                );
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }
}

/// What every thread of the tool shares: the window, the --concurrency
/// slots, and the count of sessions set up.
pub(crate) struct Global {
    /// True while the measuring window runs.
    pub(crate) window: AtomicBool,
    /// One for each session that may be setting up at a time, for all
    /// threads together (a semaphore serves several runtimes).
    pub(crate) setup_slots: Semaphore,
    pub(crate) set_up: AtomicUsize,
    /// Told once every session is set up (or failed).
    pub(crate) all_set_up: Notify,
}

impl Global {
    /// Before any session, with `concurrency` set-up slots.
    pub(crate) fn new(concurrency: usize) -> Global {
        Global {
            window: AtomicBool::new(false),
            setup_slots: Semaphore::new(concurrency.max(1)),
            set_up: AtomicUsize::new(0),
            all_set_up: Notify::new(),
        }
    }
}

/// What the sessions of one thread share.
pub(crate) struct Shared {
    pub(crate) scratch: RefCell<Vec<u8>>,
    pub(crate) gaps: RefCell<Histogram>,
    pub(crate) global: Arc<Global>,
}

impl Shared {
    /// Whether the measuring window runs.
    pub(crate) fn in_window(&self) -> bool {
        self.global.window.load(Ordering::Relaxed)
    }

    /// Runs one session's set-up holding one of the --concurrency slots,
    /// and counts it set up (the window starts
    /// once all `sessions` are): its result, and how long it took.
    pub(crate) async fn setting_up<T>(
        &self,
        sessions: usize,
        setup: impl std::future::Future<Output = T>,
    ) -> (T, Duration) {
        let result = {
            let _slot = self.global.setup_slots.acquire().await;
            let t0 = Instant::now();
            let r = setup.await;
            (r, t0.elapsed())
        };
        if self.global.set_up.fetch_add(1, Ordering::Relaxed) + 1 == sessions {
            self.global.all_set_up.notify_one();
        }
        result
    }
}

/// What one session saw of its RTP stream. A few hundred bytes.
#[derive(Default)]
pub(crate) struct RtpStats {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) late: u64,
    pub(crate) invalid: u64,
    pub(crate) base_ext: Option<u64>,
    pub(crate) max_ext: u64,
    pub(crate) frame_ts: Option<u32>,
    pub(crate) frame_ok: bool,
    pub(crate) frame_open: bool,
    pub(crate) prev_marker: bool,
    pub(crate) frames_complete: u64,
    pub(crate) frames_incomplete: u64,
    pub(crate) last_marker: Option<Instant>,
    pub(crate) first_frame: Option<Instant>,
    pub(crate) clock_rate: f64,
    pub(crate) jitter: f64,
    pub(crate) last_transit: Option<f64>,
    pub(crate) ssrc: Option<u32>,
    pub(crate) epoch: Option<Instant>,
    pub(crate) counting: bool,
    /// Classic packets: each one a whole frame (no marker bit, timestamps in
    /// whole seconds).
    pub(crate) classic: bool,
}

impl RtpStats {
    pub(crate) fn on_packet(&mut self, pkt: &[u8], now: Instant, shared: &Shared) {
        self.on_datagram(pkt, pkt.len(), now, shared);
    }

    /// A packet `len` bytes long of which `pkt` is the start (at least its
    /// header, or all of it), as [`super::sys::recv_many`] reads them.
    pub(crate) fn on_datagram(&mut self, pkt: &[u8], len: usize, now: Instant, shared: &Shared) {
        if !self.counting {
            return;
        }
        if pkt.len() < 12 || pkt[0] >> 6 != 2 {
            self.invalid += 1;
            return;
        }
        let marker = pkt[1] & 0x80 != 0;
        let pt = pkt[1] & 0x7f;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        self.ssrc = Some(u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]));
        self.bytes += len as u64;

        // Interarrival jitter (RFC 3550 §6.4.1), in timestamp units.
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.duration_since(epoch).as_secs_f64() * self.clock_rate;
        let transit = arrival - ts as f64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            if d < self.clock_rate * 10.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);

        let gap = match self.base_ext {
            None => {
                self.base_ext = Some(seq as u64 + 65536);
                self.max_ext = seq as u64 + 65536;
                // A frame's first packet? For RFC 2435 JPEG its fragment offset is 0.
                let head = pt == 26 && pkt.len() >= 16 && pkt[13..16] == [0, 0, 0];
                self.prev_marker = head;
                0
            }
            Some(_) => {
                let delta = seq.wrapping_sub(self.max_ext as u16) as i16;
                if delta <= 0 {
                    self.late += 1;
                    return;
                }
                self.max_ext += delta as u64;
                delta as u64 - 1
            }
        };
        self.packets += 1;

        if self.classic {
            let payload = &pkt[12..];
            if gap == 0 && pkt.len() == len && mjpegrtsp::container::is_whole_jpeg(payload) {
                self.frames_complete += 1;
                self.first_frame.get_or_insert(now);
            } else {
                self.frames_incomplete += 1;
            }
            if let Some(last) = self.last_marker
                && shared.in_window()
            {
                shared.gaps.borrow_mut().add(now - last);
            }
            self.last_marker = Some(now);
            return;
        }

        let new_frame = self.frame_ts != Some(ts) || self.prev_marker;
        if new_frame {
            if self.frame_open {
                self.frames_incomplete += 1; // its marker packet never came
            }
            self.frame_ts = Some(ts);
            self.frame_ok = gap == 0 && self.prev_marker;
            self.frame_open = true;
        } else if gap > 0 {
            self.frame_ok = false;
        }
        self.prev_marker = marker;
        if marker {
            if self.frame_ok {
                self.frames_complete += 1;
                self.first_frame.get_or_insert(now);
            } else {
                self.frames_incomplete += 1;
            }
            self.frame_open = false;
            if let Some(last) = self.last_marker
                && shared.in_window()
            {
                shared.gaps.borrow_mut().add(now - last);
            }
            self.last_marker = Some(now);
        }
    }

    pub(crate) fn lost(&self) -> u64 {
        match self.base_ext {
            Some(base) => (self.max_ext - base + 1).saturating_sub(self.packets),
            None => 0,
        }
    }

    /// Highest extended sequence number and fraction/cumulative loss, for an RR.
    pub(crate) fn report_block(&self, prev: &mut (u64, u64)) -> (u8, i32, u32) {
        let Some(base) = self.base_ext else {
            return (0, 0, 0);
        };
        let expected = self.max_ext - base + 1;
        let lost = expected.saturating_sub(self.packets);
        let exp_int = expected - prev.0;
        let rec_int = self.packets - prev.1;
        *prev = (expected, self.packets);
        let lost_int = exp_int.saturating_sub(rec_int);
        let fraction = (lost_int << 8)
            .checked_div(exp_int)
            .map_or(0, |f| f.min(255) as u8);
        (
            fraction,
            lost.min(0x7f_ffff) as i32,
            (self.max_ext - 65536) as u32,
        )
    }
}

/// An RTCP receiver report plus SDES CNAME (RFC 3550 §6.4.2, §6.5).
pub(crate) fn receiver_report(
    own_ssrc: u32,
    stats: &RtpStats,
    prev: &mut (u64, u64),
    lsr: Option<(u32, Instant)>,
    now: Instant,
) -> Vec<u8> {
    let block = stats.ssrc.map(|ssrc| {
        let (fraction_lost, cumulative_lost, highest_seq) = stats.report_block(prev);
        let (lsr, dlsr) = match lsr {
            Some((mid, at)) => (mid, ((now - at).as_secs_f64() * 65536.0) as u32),
            None => (0, 0),
        };
        rtcp::ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq,
            jitter: stats.jitter as u32,
            lsr,
            dlsr,
        }
    });
    rtcp::receiver_report(own_ssrc, block, "rtsp_load@127.0.0.1")
}

/// The middle 32 bits of the NTP time of a sender report in a compound packet.
pub(crate) fn sender_report_lsr(pkt: &[u8]) -> Option<u32> {
    rtcp::packets(pkt)
        .map_while(Result::ok)
        .find_map(|p| match p {
            rtcp::Packet::SenderReport(sr) => Some(sr.info.ntp_middle()),
            _ => None,
        })
}
