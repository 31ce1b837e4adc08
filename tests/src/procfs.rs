//! A process's CPU time, memory, threads and open descriptors from
//! `/proc/PID`, for the benchmarks and the soak.

use std::time::Instant;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// User + system CPU time, in clock ticks.
    pub ticks: u64,
    /// Resident memory, KiB.
    pub rss_kb: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors (0 when they cannot be listed).
    pub fds: u64,
    /// When it was read.
    pub at: Instant,
}

/// Reads `/proc/<pid>` (`pid` may be `self`); `None` once the process is
/// gone.
pub fn proc_sample(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Some(ProcSample {
        ticks,
        rss_kb: field("VmRSS:"),
        threads: field("Threads:"),
        fds,
        at: Instant::now(),
    })
}

/// CPU use between two readings, in % of one core.
pub fn cpu_percent(a: &ProcSample, b: &ProcSample) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = (b.at - a.at).as_secs_f64().max(1e-6);
    (b.ticks.saturating_sub(a.ticks)) as f64 / hz / secs * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_back() {
        let a = proc_sample("self").expect("/proc/self");
        assert!(a.rss_kb > 0 && a.threads >= 1 && a.fds >= 3, "{a:?}");
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(0u64);
        }
        let b = proc_sample("self").unwrap();
        assert!(cpu_percent(&a, &b) >= 0.0);
    }
}
