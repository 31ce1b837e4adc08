//! How hard each media thread works, and whether it can take one more
//! session: admission control.
//!
//! Each thread measures itself over one-second windows: the share of wall
//! time it spent working rather than waiting for the next frame (busy), and
//! how late its sends ran against their due times (the 99th percentile).
//! At the end of each window it publishes both in its [`ThreadLoad`]; the
//! control plane reads them when a session asks to PLAY
//! ([`Admission::check`]) and refuses new sessions on a thread that cannot
//! keep pace, rather than degrade those already playing there.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one measuring window lasts.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Lateness is counted in buckets this wide, up to [`LATE_BUCKETS`] of them.
const LATE_BUCKET: Duration = Duration::from_millis(1);
const LATE_BUCKETS: usize = 1000;

/// When a media thread takes no more sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// Busy share of wall time (0–1) over which a thread takes no new
    /// session.
    pub max_busy: f64,
    /// 99th percentile of how late sends ran over which a thread takes no
    /// new session.
    pub max_late: Duration,
}

impl Default for Admission {
    /// 85 % busy, or sends 25 ms late: at 24 fps a frame is due every
    /// 41.7 ms, so past that a viewer sees uneven motion.
    fn default() -> Self {
        Admission {
            max_busy: 0.85,
            max_late: Duration::from_millis(25),
        }
    }
}

/// Why a thread takes no more sessions now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overload {
    /// Which media thread (from 0).
    pub thread: usize,
    /// How many there are.
    pub threads: usize,
    /// Its last window's figures.
    pub load: LoadFigures,
    /// The limits it is over.
    pub admission: Admission,
}

impl std::fmt::Display for Overload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let LoadFigures { busy, late_p99, .. } = self.load;
        write!(
            f,
            "the server cannot keep pace with more sessions: media thread {} of {} is busy {:.0} % \
             of the time (limit {:.0} %) and its sends run {:.1} ms late (p99; limit {} ms)",
            self.thread + 1,
            self.threads,
            busy * 100.0,
            self.admission.max_busy * 100.0,
            late_p99.as_secs_f64() * 1e3,
            self.admission.max_late.as_millis()
        )
    }
}

/// One window's figures of one thread.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadFigures {
    /// Share of wall time spent working (0–1).
    pub busy: f64,
    /// 99th percentile of how late sends ran.
    pub late_p99: Duration,
    /// Sessions it plays (file sessions and live viewers).
    pub sessions: usize,
}

impl Admission {
    /// Whether a thread with these figures may take a new session: one
    /// with no session always may; otherwise it must be within both
    /// limits.
    pub fn admits(&self, load: &LoadFigures) -> bool {
        load.sessions == 0 || (load.busy <= self.max_busy && load.late_p99 <= self.max_late)
    }
}

/// One thread's published figures, read by the control plane.
#[derive(Debug, Default)]
pub struct ThreadLoad {
    busy_permille: AtomicU64,
    late_p99_us: AtomicU64,
    sessions: AtomicUsize,
    /// Set while the thread refuses sessions (for the log: said once per
    /// episode).
    pub(super) refusing: AtomicBool,
}

impl ThreadLoad {
    /// The last window's figures.
    pub fn figures(&self) -> LoadFigures {
        LoadFigures {
            busy: self.busy_permille.load(Ordering::Relaxed) as f64 / 1000.0,
            late_p99: Duration::from_micros(self.late_p99_us.load(Ordering::Relaxed)),
            sessions: self.sessions.load(Ordering::Relaxed),
        }
    }

    /// Sessions it plays now (counted as they start and stop).
    pub(super) fn set_sessions(&self, n: usize) {
        self.sessions.store(n, Ordering::Relaxed);
    }

    fn publish(&self, busy: f64, late_p99: Duration) {
        self.busy_permille
            .store((busy * 1000.0).round() as u64, Ordering::Relaxed);
        self.late_p99_us
            .store(late_p99.as_micros() as u64, Ordering::Relaxed);
    }
}

/// What a thread measures of itself in the current window.
pub(super) struct Meter {
    window_start: Instant,
    busy: Duration,
    late: Vec<u32>,
    late_count: u64,
}

impl Meter {
    pub(super) fn new(now: Instant) -> Meter {
        Meter {
            window_start: now,
            busy: Duration::ZERO,
            late: vec![0; LATE_BUCKETS + 1],
            late_count: 0,
        }
    }

    /// Time spent working.
    pub(super) fn worked(&mut self, d: Duration) {
        self.busy += d;
    }

    /// A send this late against its due time.
    pub(super) fn sent_late(&mut self, late: Duration) {
        let i = ((late.as_micros() / LATE_BUCKET.as_micros()) as usize).min(LATE_BUCKETS);
        self.late[i] += 1;
        self.late_count += 1;
    }

    /// At the end of a window, publishes its figures to `to` and starts the
    /// next; before, does nothing.
    pub(super) fn roll(&mut self, now: Instant, to: &ThreadLoad) {
        let span = now.saturating_duration_since(self.window_start);
        if span < WINDOW {
            return;
        }
        let busy = (self.busy.as_secs_f64() / span.as_secs_f64()).min(1.0);
        to.publish(busy, self.late_p99());
        *self = Meter::new(now);
    }

    /// The 99th percentile lateness of the window so far (the top of its
    /// bucket; zero when nothing was sent).
    fn late_p99(&self) -> Duration {
        if self.late_count == 0 {
            return Duration::ZERO;
        }
        let rank = (self.late_count * 99).div_ceil(100);
        let mut seen = 0u64;
        for (i, &n) in self.late.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return LATE_BUCKET * (i as u32 + 1);
            }
        }
        LATE_BUCKET * (LATE_BUCKETS as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_publishes_busy_share_and_late_p99() {
        let t0 = Instant::now();
        let mut meter = Meter::new(t0);
        let load = ThreadLoad::default();
        meter.worked(Duration::from_millis(300));
        for _ in 0..98 {
            meter.sent_late(Duration::from_micros(200));
        }
        meter.sent_late(Duration::from_millis(30));
        meter.sent_late(Duration::from_millis(40));
        // Not a whole window yet: nothing published.
        meter.roll(t0 + Duration::from_millis(500), &load);
        assert_eq!(load.figures(), LoadFigures::default());
        meter.roll(t0 + Duration::from_millis(1000), &load);
        let f = load.figures();
        assert!((f.busy - 0.3).abs() < 0.001, "{f:?}");
        // 99 of 100 sends were at most 30 ms late.
        assert_eq!(f.late_p99, Duration::from_millis(31));
        // The next window starts empty.
        meter.roll(t0 + Duration::from_millis(2000), &load);
        assert_eq!(load.figures().busy, 0.0);
        assert_eq!(load.figures().late_p99, Duration::ZERO);
    }

    #[test]
    fn admits_within_both_limits_and_always_on_an_idle_thread() {
        let admission = Admission::default();
        let ok = LoadFigures {
            busy: 0.5,
            late_p99: Duration::from_millis(2),
            sessions: 100,
        };
        assert!(admission.admits(&ok));
        assert!(!admission.admits(&LoadFigures { busy: 0.9, ..ok }));
        assert!(!admission.admits(&LoadFigures {
            late_p99: Duration::from_millis(60),
            ..ok
        }));
        // No session there: nothing to degrade (the busy share may be
        // another program's doing).
        assert!(admission.admits(&LoadFigures {
            busy: 1.0,
            sessions: 0,
            ..ok
        }));
    }

    #[test]
    fn the_reason_names_the_thread_and_both_figures() {
        let why = Overload {
            thread: 1,
            threads: 4,
            load: LoadFigures {
                busy: 0.93,
                late_p99: Duration::from_millis(64),
                sessions: 3000,
            },
            admission: Admission::default(),
        }
        .to_string();
        assert!(why.contains("media thread 2 of 4"), "{why}");
        assert!(why.contains("busy 93 %"), "{why}");
        assert!(why.contains("64.0 ms late"), "{why}");
    }
}
