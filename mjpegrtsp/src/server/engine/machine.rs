//! How busy the whole machine is: the share of all its CPUs' time spent
//! working over the last window, read from `/proc/stat` by the first media
//! thread at the end of each of its windows. Admission reckons with it too
//! ([`super::load::Admission::admits`]): a media thread may have room of its
//! own on a machine whose cores are all taken — by the control plane, by
//! other media threads, by other programs — and its sessions would then run
//! late however idle the thread looks.
//!
//! What admission reads is the machine's settled load: the mean of the
//! last [`SETTLE_WINDOWS`] windows (a second), with the sessions admitted
//! since the first of them ended reckoned on top. One window is too
//! jittery to judge by: a quarter second of set-ups, or of a client's
//! work, swings it by tens of points. A burst that keeps the machine busy
//! is not refused for it at once: its PLAYs wait for room
//! ([`super::Engine::until_room`]), and while they wait their clients set
//! up no more.
//!
//! Time in programs running at a positive nice value is not counted as
//! busy: they give way to the server.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Published in [`MachineLoad::busy_ppm`] while nothing is known (no
/// `/proc/stat`, or no window yet).
const UNKNOWN: u64 = u64::MAX;

/// Windows over which the machine's load settles: a second of quarter
/// second windows.
pub const SETTLE_WINDOWS: usize = 4;

/// The machine's figures, read by the control plane.
#[derive(Debug)]
pub struct MachineLoad {
    /// Settled busy share of all CPUs, in millionths.
    busy_ppm: AtomicU64,
    /// Sessions admitted since the engine started.
    admitted: AtomicUsize,
    /// What `admitted` was when the first window of the settled share
    /// ended.
    admitted_then: AtomicUsize,
    /// CPUs the share is of: the `cpuN` lines of `/proc/stat` (the whole
    /// machine, as the share is, whatever this process may run on).
    cores: AtomicUsize,
}

impl Default for MachineLoad {
    fn default() -> Self {
        MachineLoad {
            busy_ppm: AtomicU64::new(UNKNOWN),
            admitted: AtomicUsize::new(0),
            admitted_then: AtomicUsize::new(0),
            cores: AtomicUsize::new(1),
        }
    }
}

/// One window's figures of the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineFigures {
    /// Share of all CPUs' time spent working (0–1), settled: the mean of
    /// the last [`SETTLE_WINDOWS`] windows.
    pub busy: f64,
    /// Sessions admitted since that window ended (their work is not in
    /// `busy`).
    pub admitted: usize,
    /// CPUs.
    pub cores: usize,
    /// Sessions playing on all media threads (filled in by the engine).
    pub sessions: usize,
}

impl MachineFigures {
    /// What one more session is reckoned to cost the machine, as a share
    /// of one CPU, given what it costs its media thread (`thread_cost`):
    /// the machine's busy time over the sessions it carries, but no less
    /// than the thread's cost and no more than twice it. More than the
    /// thread's cost is the kernel's network work and, in a test on
    /// loopback, the receiver's; the bounds keep another program's work on
    /// a machine with few sessions from being charged to them.
    pub fn session_cost(&self, thread_cost: f64) -> f64 {
        if self.sessions == 0 {
            return thread_cost;
        }
        let average = self.busy * self.cores as f64 / self.sessions as f64;
        average.clamp(thread_cost, 2.0 * thread_cost)
    }
}

impl MachineLoad {
    /// The settled figures, if any.
    pub fn figures(&self) -> Option<MachineFigures> {
        let ppm = self.busy_ppm.load(Ordering::Relaxed);
        let since = self.admitted_then.load(Ordering::Relaxed);
        (ppm != UNKNOWN).then(|| MachineFigures {
            busy: ppm as f64 / 1e6,
            admitted: self.admitted.load(Ordering::Relaxed).saturating_sub(since),
            cores: self.cores.load(Ordering::Relaxed),
            sessions: 0,
        })
    }

    /// A session was admitted.
    pub(super) fn admitted(&self) {
        self.admitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Sessions admitted so far, to note at the end of a window.
    fn admitted_so_far(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    fn publish(&self, settled: Window, cpus: usize) {
        self.cores.store(cpus.max(1), Ordering::Relaxed);
        self.busy_ppm.store(
            (settled.busy.clamp(0.0, 1.0) * 1e6).round() as u64,
            Ordering::Relaxed,
        );
        self.admitted_then
            .store(settled.admitted_by_end, Ordering::Relaxed);
    }
}

/// One window of the machine: its busy share, and the sessions admitted
/// by its end.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    busy: f64,
    admitted_by_end: usize,
}

/// CPU time of all CPUs since boot, in clock ticks: working, and in all;
/// and how many CPUs there are.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTimes {
    busy: u64,
    total: u64,
    cpus: usize,
}

/// The `cpu` line of `/proc/stat`: user, nice, system, idle, iowait, irq,
/// softirq, steal (guest time is already within user). Busy is user,
/// system, irq, softirq and steal: not idle, not waiting, not niced. The
/// CPUs are the `cpuN` lines after it.
fn parse_stat(text: &str) -> Option<CpuTimes> {
    let cpus = text
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = f[..] else {
        return None;
    };
    Some(CpuTimes {
        busy: user + system + irq + softirq + steal,
        total: user + nice + system + idle + iowait + irq + softirq + steal,
        cpus,
    })
}

/// What the first media thread samples of the machine.
#[derive(Debug, Default)]
pub(super) struct MachineMeter {
    last: Option<CpuTimes>,
    /// The last windows, newest last.
    windows: std::collections::VecDeque<Window>,
}

impl MachineMeter {
    /// Reads `/proc/stat` and publishes the settled busy share to `to`
    /// (nothing the first time, or without `/proc`).
    pub(super) fn sample(&mut self, to: &MachineLoad) {
        let admitted_by_end = to.admitted_so_far();
        let Some(now) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_stat(&t))
        else {
            return;
        };
        if let Some(busy) = self.last.and_then(|last| share(last, now)) {
            to.publish(
                self.settle(Window {
                    busy,
                    admitted_by_end,
                }),
                now.cpus,
            );
        }
        self.last = Some(now);
    }

    /// Adds a window; returns the mean busy share of the last
    /// [`SETTLE_WINDOWS`], with the sessions admitted by the end of the
    /// first of them.
    fn settle(&mut self, window: Window) -> Window {
        if self.windows.len() == SETTLE_WINDOWS {
            self.windows.pop_front();
        }
        self.windows.push_back(window);
        let n = self.windows.len() as f64;
        Window {
            busy: self.windows.iter().map(|w| w.busy).sum::<f64>() / n,
            admitted_by_end: self.windows.front().map_or(0, |w| w.admitted_by_end),
        }
    }
}

/// The busy share between two samples (`None` if no time passed).
fn share(before: CpuTimes, after: CpuTimes) -> Option<f64> {
    let total = after.total.checked_sub(before.total)?;
    let busy = after.busy.saturating_sub(before.busy);
    (total > 0).then(|| busy as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_working_time_not_idle_waiting_or_niced() {
        let stat = "cpu  100 50 30 800 10 5 5 0 0 0\ncpu0 50 25 15 400 5 2 3 0 0 0\nintr 1 2\n";
        let t = parse_stat(stat).unwrap();
        assert_eq!(t.busy, 140);
        assert_eq!(t.total, 1000);
        assert_eq!(t.cpus, 1);
        assert_eq!(parse_stat("cpu0 1 2 3\n"), None);
        assert_eq!(parse_stat("cpu  1 2 x 4 5 6 7 8\n"), None);
        let later = CpuTimes {
            busy: 140 + 150,
            total: 1000 + 200,
            cpus: 1,
        };
        assert_eq!(share(t, later), Some(0.75));
        assert_eq!(share(t, t), None);
    }

    #[test]
    fn published_figures_and_sessions_admitted_since() {
        let load = MachineLoad::default();
        assert_eq!(load.figures(), None);
        let window = |busy, admitted_by_end| Window {
            busy,
            admitted_by_end,
        };
        load.publish(window(0.5, 0), 2);
        load.admitted();
        load.admitted();
        let f = load.figures().unwrap();
        assert_eq!((f.busy, f.admitted, f.cores), (0.5, 2, 2));
        assert_eq!(f.sessions, 0);
        // A new window: its busy share counts them.
        load.publish(window(0.6, load.admitted_so_far()), 2);
        assert_eq!(load.figures().unwrap().admitted, 0);
        // This machine's own /proc/stat: two samples give a share.
        let mut meter = MachineMeter::default();
        meter.sample(&load);
        std::thread::sleep(std::time::Duration::from_millis(30));
        meter.sample(&load);
        let busy = load.figures().unwrap().busy;
        assert!((0.0..=1.0).contains(&busy), "{busy}");
        assert!(load.figures().unwrap().cores >= 1);
    }

    #[test]
    fn a_session_costs_the_machine_between_once_and_twice_its_thread_cost() {
        let figures = |busy, sessions| MachineFigures {
            busy,
            admitted: 0,
            cores: 2,
            sessions,
        };
        // 1,000 sessions keep 2 CPUs 60 % busy: 1.2 ms of CPU a second each.
        assert!((figures(0.6, 1000).session_cost(0.001) - 0.0012).abs() < 1e-9);
        // Another program's work is not theirs beyond twice their cost.
        assert_eq!(figures(0.6, 10).session_cost(0.001), 0.002);
        // Nor less than what their thread spends on them.
        assert_eq!(figures(0.1, 1000).session_cost(0.001), 0.001);
        assert_eq!(figures(0.9, 0).session_cost(0.001), 0.001);
    }

    #[test]
    fn the_machine_settles_over_a_second() {
        let mut meter = MachineMeter::default();
        let window = |busy, admitted_by_end| Window {
            busy,
            admitted_by_end,
        };
        assert_eq!(meter.settle(window(0.25, 0)), window(0.25, 0));
        // A busy quarter second moves the mean, not all the way; the
        // sessions admitted since the first window are reckoned on top.
        assert_eq!(meter.settle(window(0.75, 100)), window(0.5, 0));
        assert_eq!(meter.settle(window(0.5, 150)), window(0.5, 0));
        assert_eq!(meter.settle(window(0.5, 150)), window(0.5, 0));
        // A second on, the first window has gone.
        assert_eq!(meter.settle(window(1.0, 200)), window(0.6875, 100));
    }
}
