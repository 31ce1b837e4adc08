//! How hard each media thread works, and whether it can take one more
//! session: admission control.
//!
//! Each thread measures itself over quarter-second windows: the CPU time it
//! used as a share of the window (busy), how late its sends ran against
//! their due times (the 99th percentile), and what one frame sent to one
//! session cost it (busy time per frame). At the end of each window it
//! publishes them in its [`ThreadLoad`], beside the sessions it plays now
//! and those admitted whose PLAY it has not taken yet. The control plane
//! reads them when a session asks to PLAY ([`Admission::admits`]): what a
//! frame costs, times the frames every session there (and this one) is
//! due, says how busy the thread would be; a thread that cannot keep pace,
//! or would not with the sessions just given to it, takes no more rather
//! than degrade those already playing there.
//!
//! A burst of PLAYs into an idle thread is judged before anything is
//! measured: a frame is reckoned at [`FRAME_COST_PRIOR`] until the thread
//! has sent enough frames to say, and the first window with frames ends as
//! soon as it has [`FIRST_WINDOW_FRAMES`] of them. A thread takes a burst
//! in steps ([`GROWTH_FLOOR`], [`LoadFigures::within_growth`]), each
//! measured before the next; the PLAYs of the next step wait for it
//! ([`super::Engine::until_room`]).

use super::machine::MachineFigures;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one measuring window lasts: short, so that a burst of PLAYs
/// on an idle thread is judged by what its first sessions cost within a
/// quarter of a second.
pub const WINDOW: Duration = Duration::from_millis(250);

/// What one frame to one session is reckoned to cost before a thread has
/// measured it: about four times what a 640×480 frame (ten packets) costs
/// on a 2-core machine, so that a burst into an idle thread is admitted
/// on the safe side until the first window's figures replace it.
pub const FRAME_COST_PRIOR: Duration = Duration::from_micros(100);

/// Frames after which a thread that has not measured a frame's cost yet
/// ends its window early (at least [`FIRST_WINDOW_MIN`] into it), so that
/// the prior is replaced within tens of milliseconds of the first sessions
/// playing.
pub const FIRST_WINDOW_FRAMES: u64 = 480;

/// The shortest first window.
const FIRST_WINDOW_MIN: Duration = Duration::from_millis(40);

/// Sessions a thread may take beyond those its last window measured: at
/// least this many, or a quarter as many again. A burst is let in step by step,
/// each step measured before the next, so that what a session costs with
/// thousands playing is not guessed from a window that had dozens; its
/// PLAYs wait for the next window meanwhile ([`super::Engine::until_room`]).
pub const GROWTH_FLOOR: usize = 64;

/// Frames a window needs for a cost figure: with fewer, its busy time is
/// waking up, not sending.
const FRAMES_FOR_COST: u64 = 24;

/// Lateness is counted in buckets this wide, up to [`LATE_BUCKETS`] of them.
const LATE_BUCKET: Duration = Duration::from_millis(1);
const LATE_BUCKETS: usize = 1000;

/// When a media thread takes no more sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// Busy share (its CPU time over wall time, 0–1) over which a thread
    /// takes no new session; infinite: no busy check.
    pub max_busy: f64,
    /// 99th percentile of how late sends ran over which a thread at least
    /// a quarter as busy as `max_busy` takes no new session. (Lateness on a
    /// thread that is almost idle is the machine's doing, not its
    /// sessions': it is met by degrading fairly, not by refusing.)
    pub max_late: Duration,
    /// Busy share of the whole machine's CPUs (settled over a second;
    /// [`super::machine`]) over which a thread that would be at least a
    /// quarter as busy as `max_busy` with one more session takes no new
    /// session; infinite: no machine check. Lower than `max_busy`: the
    /// control plane, the kernel's network work and whatever else runs
    /// there need room beside the media threads. (A machine kept busy by
    /// other programs while this thread is almost idle is met as lateness
    /// is: by degrading fairly, not by refusing.)
    pub max_machine_busy: f64,
}

impl Default for Admission {
    /// A thread 75 % busy, sends 10 ms late (at 24 fps a frame is due
    /// every 41.7 ms, and a viewer's frame gaps should stay within 50 ms),
    /// or the machine 70 % busy. The quarter left over is for what a
    /// window's mean hides: a frame's cost varies by about a sixth with the
    /// load, and a thread's busy share swings by tens of points within a
    /// second at a constant load (measured on a 2-core machine with its
    /// clients on loopback: `BENCHMARKS.md`, "Every core").
    fn default() -> Self {
        Admission {
            max_busy: 0.75,
            max_late: Duration::from_millis(10),
            max_machine_busy: 0.70,
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
             of the time ({:.0} % with the sessions just started and this one; limit {:.0} %) \
             and its sends run {:.1} ms late (p99; limit {} ms)",
            self.thread + 1,
            self.threads,
            busy * 100.0,
            self.load.busy_with_one_more() * 100.0,
            self.admission.max_busy * 100.0,
            late_p99.as_secs_f64() * 1e3,
            self.admission.max_late.as_millis()
        )?;
        if let (Some(m), Some(with)) = (self.load.machine, self.load.machine_with_one_more()) {
            write!(
                f,
                "; the machine's {} CPUs are busy {:.0} % ({:.0} % with the sessions just started \
                 and this one; limit {:.0} %)",
                m.cores,
                m.busy * 100.0,
                with * 100.0,
                self.admission.max_machine_busy * 100.0
            )?;
        }
        Ok(())
    }
}

/// One window's figures of one thread.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadFigures {
    /// CPU time it used as a share of the window's wall time (0–1).
    pub busy: f64,
    /// 99th percentile of how late sends ran.
    pub late_p99: Duration,
    /// Sessions it plays now (file sessions and live viewers), including
    /// those it took since the window ended.
    pub sessions: usize,
    /// Sessions admitted whose PLAY it has not taken yet.
    pub pending: usize,
    /// Sessions it played when its last window ended: the load its figures
    /// are of.
    pub measured_sessions: usize,
    /// Seconds of work one frame to one session cost it, in the last window
    /// that sent enough frames to say (0: never measured yet).
    pub per_frame: f64,
    /// Frames per second a session there is due, on average over the
    /// sessions it played when the window ended (0: it played none).
    pub session_fps: f64,
    /// The whole machine's figures, where known.
    pub machine: Option<MachineFigures>,
}

/// The frame rate a session is reckoned at when the thread has none to go
/// by.
pub(super) const TYPICAL_FPS: f64 = 30.0;

impl LoadFigures {
    /// What one more session is reckoned to cost, as a share of one CPU:
    /// what a frame cost (or [`FRAME_COST_PRIOR`] if that is not known
    /// yet) at the thread's mean frame rate (or [`TYPICAL_FPS`]).
    pub fn session_cost(&self) -> f64 {
        let per_frame = if self.per_frame > 0.0 {
            self.per_frame
        } else {
            FRAME_COST_PRIOR.as_secs_f64()
        };
        let fps = if self.session_fps > 0.0 {
            self.session_fps
        } else {
            TYPICAL_FPS
        };
        per_frame * fps
    }

    /// The busy share expected once every session it plays, those
    /// admitted to it, and one more play.
    pub fn busy_with_one_more(&self) -> f64 {
        self.session_cost() * (self.sessions + self.pending + 1) as f64
    }

    /// Whether one more session keeps the thread within [`GROWTH_FLOOR`]
    /// sessions, or a quarter again, of those its last window measured
    /// (always, on an idle thread).
    pub fn within_growth(&self) -> bool {
        let most = self.measured_sessions + (self.measured_sessions / 4).max(GROWTH_FLOOR);
        self.sessions + self.pending < most
    }

    /// The machine's busy share expected once the sessions admitted since
    /// its settled window and one more play
    /// ([`MachineFigures::session_cost`] each).
    pub fn machine_with_one_more(&self) -> Option<f64> {
        let m = self.machine?;
        let cost = m.session_cost(self.session_cost());
        Some(m.busy + cost * (m.admitted + 1) as f64 / m.cores.max(1) as f64)
    }
}

impl Admission {
    /// Whether a PLAY waiting for room on a thread with these figures may go
    /// on now: the thread has room ([`Admission::has_room`]) and takes it at
    /// the pace it can measure ([`LoadFigures::within_growth`]). The pace
    /// only ever delays a PLAY ([`super::Engine::until_room`]); what
    /// refuses one is a lack of room ([`super::Engine::admit`]).
    pub fn admits(&self, load: &LoadFigures) -> bool {
        self.has_room(load) && load.within_growth()
    }

    /// Whether a thread with these figures keeps pace with one more
    /// session: an idle one always does; otherwise its last window must be
    /// within both limits, and so must the busy share it would have with
    /// the sessions it plays, those just admitted and this one — and,
    /// unless that share is under a quarter of `max_busy`, the machine's
    /// busy share with them (where known) within its limit.
    pub fn has_room(&self, load: &LoadFigures) -> bool {
        if load.sessions == 0 && load.pending == 0 {
            return true;
        }
        // The floor stays a quarter of the thread even with no busy check.
        let floor = self.max_busy.min(1.0) / 4.0;
        let with_one_more = load.busy_with_one_more();
        let late = load.late_p99 > self.max_late && load.busy >= floor;
        // Judged with the sessions being taken, not on the last window
        // alone: a burst into an idle thread is not "almost idle".
        let machine = with_one_more < floor
            || load
                .machine_with_one_more()
                .is_none_or(|busy| busy <= self.max_machine_busy);
        load.busy <= self.max_busy && !late && with_one_more <= self.max_busy && machine
    }
}

/// One thread's published figures, read by the control plane.
#[derive(Debug, Default)]
pub struct ThreadLoad {
    busy_ppm: AtomicU64,
    late_p99_us: AtomicU64,
    /// Work per frame, in nanoseconds.
    per_frame_ns: AtomicU64,
    /// Frames per second a session is due, in thousandths.
    session_fps_milli: AtomicU64,
    sessions: AtomicUsize,
    pending: AtomicUsize,
    measured_sessions: AtomicUsize,
    /// Set while the thread refuses sessions (for the log: said once per
    /// episode).
    pub(super) refusing: AtomicBool,
}

impl ThreadLoad {
    /// The last window's figures.
    pub fn figures(&self) -> LoadFigures {
        LoadFigures {
            busy: self.busy_ppm.load(Ordering::Relaxed) as f64 / 1e6,
            late_p99: Duration::from_micros(self.late_p99_us.load(Ordering::Relaxed)),
            sessions: self.sessions.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            measured_sessions: self.measured_sessions.load(Ordering::Relaxed),
            per_frame: self.per_frame_ns.load(Ordering::Relaxed) as f64 / 1e9,
            session_fps: self.session_fps_milli.load(Ordering::Relaxed) as f64 / 1e3,
            machine: None,
        }
    }

    /// A session was admitted: counted pending until the thread takes its
    /// PLAY (or the window ends).
    pub(super) fn admitted(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// The thread took a PLAY.
    pub(super) fn took_play(&self) {
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Sessions it plays now.
    pub(super) fn set_sessions(&self, n: usize) {
        self.sessions.store(n, Ordering::Relaxed);
    }

    /// Publishes a window's figures; a window that could not say what a
    /// frame costs (`None`) leaves the last figure.
    fn publish(&self, busy: f64, late_p99: Duration, per_frame: Option<Duration>, fps: f64) {
        self.busy_ppm
            .store((busy * 1e6).round() as u64, Ordering::Relaxed);
        self.late_p99_us
            .store(late_p99.as_micros() as u64, Ordering::Relaxed);
        if let Some(cost) = per_frame {
            self.per_frame_ns
                .store(cost.as_nanos() as u64, Ordering::Relaxed);
        }
        self.session_fps_milli
            .store((fps.max(0.0) * 1e3).round() as u64, Ordering::Relaxed);
        self.measured_sessions
            .store(self.sessions.load(Ordering::Relaxed), Ordering::Relaxed);
        // An admitted session whose PLAY never came (its connection went)
        // is pending one window at most.
        self.pending.store(0, Ordering::Relaxed);
    }
}

/// CPU time the calling thread has used (zero if the clock cannot be
/// read). Busy time is CPU time, not wall time between waits: a thread
/// preempted by other work on the machine is not busier for it (that shows
/// as lateness instead).
pub(super) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// What a thread measures of itself in the current window.
pub(super) struct Meter {
    window_start: Instant,
    /// The thread's CPU time when the window started.
    cpu_start: Duration,
    /// Frames sent (one per session a frame went to).
    frames: u64,
    late: Vec<u32>,
    late_count: u64,
    /// Whether a window has measured what a frame costs yet.
    measured: bool,
}

impl Meter {
    /// A window starting at `now`, with the thread's CPU time `cpu`.
    pub(super) fn new(now: Instant, cpu: Duration) -> Meter {
        Meter {
            window_start: now,
            cpu_start: cpu,
            frames: 0,
            late: vec![0; LATE_BUCKETS + 1],
            late_count: 0,
            measured: false,
        }
    }

    /// A frame sent (or dropped) to `n` sessions.
    pub(super) fn frames(&mut self, n: usize) {
        self.frames += n as u64;
    }

    /// A send this late against its due time.
    pub(super) fn sent_late(&mut self, late: Duration) {
        let i = ((late.as_micros() / LATE_BUCKET.as_micros()) as usize).min(LATE_BUCKETS);
        self.late[i] += 1;
        self.late_count += 1;
    }

    /// Whether the window has lasted its length by `now` (or, until a
    /// frame's cost is known, sent enough frames to measure it).
    pub(super) fn window_over(&self, now: Instant) -> bool {
        let span = now.saturating_duration_since(self.window_start);
        span >= WINDOW
            || (!self.measured && self.frames >= FIRST_WINDOW_FRAMES && span >= FIRST_WINDOW_MIN)
    }

    /// Ends the window at `now`: publishes its figures to `to`, with the
    /// thread's CPU time `cpu` and the frames per second a session there
    /// is due on average (`session_fps`), and starts the next.
    pub(super) fn roll(&mut self, now: Instant, cpu: Duration, session_fps: f64, to: &ThreadLoad) {
        let span = now
            .saturating_duration_since(self.window_start)
            .max(Duration::from_nanos(1));
        let busy_time = cpu.saturating_sub(self.cpu_start);
        let busy = (busy_time.as_secs_f64() / span.as_secs_f64()).min(1.0);
        let per_frame = (self.frames >= FRAMES_FOR_COST)
            .then(|| busy_time / u32::try_from(self.frames).unwrap_or(u32::MAX));
        self.measured |= per_frame.is_some();
        to.publish(busy, self.late_p99(), per_frame, session_fps);
        self.window_start = now;
        self.cpu_start = cpu;
        self.frames = 0;
        self.late.fill(0);
        self.late_count = 0;
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
        let cpu0 = Duration::from_secs(7);
        let mut meter = Meter::new(t0, cpu0);
        let load = ThreadLoad::default();
        let cpu = cpu0 + Duration::from_millis(300);
        for _ in 0..98 {
            meter.sent_late(Duration::from_micros(200));
        }
        meter.sent_late(Duration::from_millis(30));
        meter.sent_late(Duration::from_millis(40));
        // Not a whole window yet: nothing published.
        assert!(!meter.window_over(t0 + WINDOW / 2));
        assert_eq!(load.figures(), LoadFigures::default());
        assert!(meter.window_over(t0 + Duration::from_millis(1000)));
        meter.roll(t0 + Duration::from_millis(1000), cpu, 0.0, &load);
        let f = load.figures();
        assert!((f.busy - 0.3).abs() < 0.001, "{f:?}");
        // No frame sent: what one costs is not known.
        assert_eq!(f.per_frame, 0.0);
        // 99 of 100 sends were at most 30 ms late.
        assert_eq!(f.late_p99, Duration::from_millis(31));
        // The next window starts empty.
        meter.roll(t0 + Duration::from_millis(2000), cpu, 0.0, &load);
        assert_eq!(load.figures().busy, 0.0);
        assert_eq!(load.figures().late_p99, Duration::ZERO);
    }

    /// A thread that sent 6,000 frames in its first second for 0.3 s of
    /// work: 50 µs a frame (250 sessions at 24 fps are due 6,000 frames a
    /// second: 0.3 busy). Its meter, its start and its figures.
    fn thread_at_50_us_a_frame() -> (Meter, Instant, ThreadLoad) {
        let t0 = Instant::now();
        let mut meter = Meter::new(t0, Duration::ZERO);
        let load = ThreadLoad::default();
        meter.frames(6000);
        meter.roll(
            t0 + Duration::from_secs(1),
            Duration::from_millis(300),
            24.0,
            &load,
        );
        (meter, t0, load)
    }

    #[test]
    fn one_more_session_is_reckoned_at_what_a_frame_cost() {
        let (_, _, load) = thread_at_50_us_a_frame();
        load.set_sessions(250);
        let f = load.figures();
        assert_eq!(f.per_frame, 50e-6, "{f:?}");
        assert!((f.busy_with_one_more() - 0.3012).abs() < 1e-9, "{f:?}");
        // Up to 0.75: 15,000 frames a second, 625 sessions: 373 pending
        // and this one make 624; 375 and this one, 626, are too many.
        for _ in 0..373 {
            load.admitted();
        }
        assert!(Admission::default().has_room(&load.figures()));
        load.admitted();
        load.admitted();
        assert!(!Admission::default().has_room(&load.figures()));
        // The thread takes a PLAY: one less pending.
        load.took_play();
        assert_eq!(load.figures().pending, 374);
    }

    #[test]
    fn sessions_taken_since_the_window_ended_still_count() {
        let (mut meter, t0, load) = thread_at_50_us_a_frame();
        // 450 sessions were admitted and their PLAYs taken within the
        // window: no longer pending, but playing, and counted as such.
        for _ in 0..450 {
            load.admitted();
            load.took_play();
        }
        load.set_sessions(620);
        assert_eq!(load.figures().pending, 0);
        assert!(Admission::default().has_room(&load.figures()));
        load.set_sessions(630);
        assert!(!Admission::default().has_room(&load.figures()));
        // A quiet window cannot say what a frame costs: the last figure
        // stays.
        meter.roll(
            t0 + Duration::from_secs(2),
            Duration::from_millis(301),
            24.0,
            &load,
        );
        assert_eq!(load.figures().per_frame, 50e-6);
    }

    #[test]
    fn a_burst_into_an_idle_thread_is_judged_at_the_prior_until_measured() {
        let t0 = Instant::now();
        let load = ThreadLoad::default();
        // Nothing measured, nothing playing: the first PLAY is admitted,
        // then each is reckoned at the prior and the typical frame rate.
        assert!(Admission::default().has_room(&load.figures()));
        let limit = (Admission::default().max_busy / (FRAME_COST_PRIOR.as_secs_f64() * TYPICAL_FPS))
            as usize;
        for _ in 0..limit - 1 {
            load.admitted();
        }
        assert!(Admission::default().has_room(&load.figures()));
        load.admitted();
        assert!(!Admission::default().has_room(&load.figures()));
        // Refused on the prior alone (such a PLAY waits for room:
        // `Engine::until_room`).
        // The first window ends once it has frames enough to measure,
        // not a whole window later.
        let mut meter = Meter::new(t0, Duration::ZERO);
        meter.frames(FIRST_WINDOW_FRAMES as usize);
        assert!(!meter.window_over(t0 + FIRST_WINDOW_MIN / 2));
        assert!(meter.window_over(t0 + FIRST_WINDOW_MIN));
        meter.roll(
            t0 + FIRST_WINDOW_MIN,
            Duration::from_millis(12),
            24.0,
            &load,
        );
        assert_eq!(load.figures().per_frame, 0.012 / 480.0);
        // 25 µs a frame, not 100: the burst fits.
        assert!(Admission::default().has_room(&load.figures()));
        // From then on, windows last their whole length.
        meter.frames(10 * FIRST_WINDOW_FRAMES as usize);
        assert!(!meter.window_over(t0 + FIRST_WINDOW_MIN * 3));
        assert!(meter.window_over(t0 + FIRST_WINDOW_MIN + WINDOW));
    }

    #[test]
    fn the_cpu_clock_counts_this_threads_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        std::hint::black_box(x);
        let used = thread_cpu_time() - before;
        assert!(used >= Duration::from_millis(5), "{used:?}");
        // Sleeping is not work.
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(30));
        assert!(thread_cpu_time() - before < Duration::from_millis(10));
    }

    #[test]
    fn admits_within_both_limits_and_always_on_an_idle_thread() {
        let admission = Admission::default();
        let ok = LoadFigures {
            busy: 0.5,
            late_p99: Duration::from_millis(2),
            sessions: 100,
            pending: 0,
            measured_sessions: 100,
            per_frame: 200e-6,
            session_fps: 24.0,
            machine: None,
        };
        assert!(admission.admits(&ok));
        assert!(!admission.admits(&LoadFigures { busy: 0.9, ..ok }));
        assert!(!admission.admits(&LoadFigures {
            late_p99: Duration::from_millis(60),
            ..ok
        }));
        // Late, but mostly idle: the machine is busy, not the thread.
        assert!(admission.admits(&LoadFigures {
            late_p99: Duration::from_millis(60),
            busy: 0.15,
            per_frame: 60e-6,
            ..ok
        }));
        // Within both now, but not with the 80 sessions just admitted.
        assert!(!admission.admits(&LoadFigures { pending: 80, ..ok }));
        // No session there: nothing to degrade (the busy share may be
        // another program's doing).
        assert!(admission.admits(&LoadFigures {
            busy: 1.0,
            sessions: 0,
            ..ok
        }));
        // With no busy check (server-cli --max-engine-load 100), lateness
        // still refuses.
        let no_busy_check = Admission {
            max_busy: f64::INFINITY,
            ..admission
        };
        assert!(no_busy_check.admits(&LoadFigures { busy: 0.99, ..ok }));
        assert!(!no_busy_check.admits(&LoadFigures {
            late_p99: Duration::from_millis(60),
            ..ok
        }));
        // Room on the thread, none on the machine (limit 70 %): 2 CPUs 80 %
        // busy, or 60 % and 40 sessions admitted since, at 0.96 % of a CPU
        // each (twice the thread's 0.48 %: its 100 sessions are not all
        // that keeps the machine busy).
        let machine = |busy, admitted| {
            Some(MachineFigures {
                busy,
                admitted,
                cores: 2,
                sessions: 100,
            })
        };
        assert!(admission.admits(&LoadFigures {
            machine: machine(0.5, 0),
            ..ok
        }));
        assert!(!admission.admits(&LoadFigures {
            machine: machine(0.8, 0),
            ..ok
        }));
        assert!(admission.admits(&LoadFigures {
            machine: machine(0.6, 10),
            ..ok
        }));
        assert!(!admission.admits(&LoadFigures {
            machine: machine(0.6, 40),
            ..ok
        }));
        let no_machine_check = Admission {
            max_machine_busy: f64::INFINITY,
            ..admission
        };
        assert!(no_machine_check.admits(&LoadFigures {
            machine: machine(1.0, 40),
            ..ok
        }));
        // An idle thread still takes one.
        assert!(admission.admits(&LoadFigures {
            sessions: 0,
            machine: machine(1.0, 0),
            ..ok
        }));
        // So does one that would be under a quarter of its limit with it
        // (30 playing and this one, at 0.48 % each: 14.9 %, under
        // 18.75 %): the machine is busy with other programs, and its
        // sessions would degrade fairly. With 39 playing (19.2 %) the
        // machine counts.
        let few = |sessions| LoadFigures {
            busy: 0.1,
            sessions,
            measured_sessions: sessions,
            machine: machine(1.0, 0),
            ..ok
        };
        assert!(admission.admits(&few(30)));
        assert!(!admission.admits(&few(39)));
        // A burst of PLAYs not taken yet is not idle.
        assert!(!admission.admits(&LoadFigures {
            busy: 1.0,
            sessions: 0,
            pending: 10,
            ..ok
        }));
    }

    #[test]
    fn a_burst_is_taken_a_quarter_again_at_a_time() {
        let admission = Admission::default();
        let load = LoadFigures {
            busy: 0.1,
            sessions: 1000,
            measured_sessions: 1000,
            per_frame: 10e-6,
            session_fps: 24.0,
            ..LoadFigures::default()
        };
        // Room for 3,500 sessions, but 1,250 is as far as the last window
        // can speak for.
        assert!(admission.admits(&LoadFigures {
            pending: 249,
            ..load
        }));
        let burst = LoadFigures {
            pending: 250,
            ..load
        };
        // It waits (has room, but not at this pace).
        assert!(admission.has_room(&burst));
        assert!(!admission.admits(&burst));
        // A thread that has measured few takes the floor at least; an idle
        // one always takes one.
        let few = LoadFigures {
            sessions: 3,
            measured_sessions: 3,
            ..load
        };
        assert!(admission.admits(&LoadFigures {
            pending: GROWTH_FLOOR - 1,
            ..few
        }));
        assert!(!admission.admits(&LoadFigures {
            pending: GROWTH_FLOOR,
            ..few
        }));
        assert!(admission.admits(&LoadFigures::default()));
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
                pending: 0,
                measured_sessions: 3000,
                per_frame: 30e-6,
                session_fps: 24.0,
                machine: Some(MachineFigures {
                    busy: 0.9,
                    admitted: 0,
                    cores: 16,
                    sessions: 3000,
                }),
            },
            admission: Admission::default(),
        }
        .to_string();
        assert!(why.contains("media thread 2 of 4"), "{why}");
        assert!(why.contains("busy 93 %"), "{why}");
        assert!(why.contains("64.0 ms late"), "{why}");
        assert!(why.contains("machine's 16 CPUs are busy 90 %"), "{why}");
    }
}
