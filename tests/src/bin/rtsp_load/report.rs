//! The report: a table, and a JSON line.

use super::*;
use mjpegrtsp_tests::quantile;

pub(crate) fn ms_of(v: &mut [f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    v.sort_by(f64::total_cmp);
    (quantile(v, 0.5), quantile(v, 0.99), v.last().copied())
}

pub(crate) fn jnum(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.3}", x),
        _ => "null".into(),
    }
}

pub(crate) fn jstr(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub(crate) fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

pub(crate) struct ServerWindow {
    pub(crate) pid: u32,
    pub(crate) idle: Option<ProcSample>,
    pub(crate) start: Option<ProcSample>,
    pub(crate) end: Option<ProcSample>,
}

/// What the run knows besides the sessions' own results.
pub(crate) struct RunInfo<'a> {
    pub(crate) window: Duration,
    pub(crate) all_set_up: bool,
    pub(crate) server: Option<&'a ServerWindow>,
    pub(crate) own: (Option<ProcSample>, Option<ProcSample>),
    pub(crate) nofile: u64,
    pub(crate) elapsed: Duration,
    /// Datagrams the kernel dropped on this tool's sockets for full receive buffers
    /// (counted at the end of the window): losses on the receiving side, not the
    /// server's.
    pub(crate) udp_drops: Option<u64>,
    /// Threads (event loops) the sessions ran on.
    pub(crate) threads: usize,
    /// Loopback addresses the sessions came from.
    pub(crate) addresses: usize,
}

/// Whole frames per session that played: the fewest, the median, the
/// most; and how many sessions got under half the median share of the
/// frames due to them (starved). The share, not the count: a session that
/// started late in a long set-up phase played for less time, and is not
/// starved for having fewer frames.
pub(crate) struct PerSession {
    pub(crate) min: u64,
    pub(crate) median: u64,
    pub(crate) max: u64,
    pub(crate) under_half_median: usize,
}

impl PerSession {
    pub(crate) fn of(played: &[&SessionResult]) -> Option<PerSession> {
        let mut frames: Vec<u64> = played.iter().map(|r| r.frames_complete).collect();
        frames.sort_unstable();
        let median = *frames.get(frames.len() / 2)?;
        let share = |r: &SessionResult| r.frames_complete as f64 / r.expected_frames.max(1.0);
        let mut shares: Vec<f64> = played.iter().map(|r| share(r)).collect();
        shares.sort_unstable_by(f64::total_cmp);
        let median_share = shares[shares.len() / 2];
        Some(PerSession {
            min: frames[0],
            median,
            max: frames[frames.len() - 1],
            under_half_median: played
                .iter()
                .filter(|r| share(r) * 2.0 < median_share)
                .count(),
        })
    }
}

pub(crate) fn report(
    args: &Args,
    results: &[SessionResult],
    gaps: &Histogram,
    info: &RunInfo,
) -> (String, String) {
    let RunInfo {
        window,
        all_set_up,
        server,
        own,
        nofile,
        elapsed,
        udp_drops,
        threads,
        addresses,
    } = *info;
    let ok: Vec<&SessionResult> = results.iter().filter(|r| r.failure.is_none()).collect();
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        if let Some(f) = &r.failure {
            *failures.entry(f.as_str()).or_default() += 1;
        }
    }
    let teardown_failed = results
        .iter()
        .filter(|r| r.teardown_failure.is_some())
        .count();
    let played: Vec<&SessionResult> = results.iter().filter(|r| !r.played.is_zero()).collect();
    let frames: u64 = played.iter().map(|r| r.frames_complete).sum();
    let per_session = PerSession::of(&played);
    let expected: f64 = played.iter().map(|r| r.expected_frames).sum();
    let incomplete: u64 = played.iter().map(|r| r.frames_incomplete).sum();
    let packets: u64 = played.iter().map(|r| r.packets).sum();
    let bytes: u64 = played.iter().map(|r| r.bytes).sum();
    let lost: u64 = played.iter().map(|r| r.lost).sum();
    let late: u64 = played.iter().map(|r| r.late).sum();
    let invalid: u64 = played.iter().map(|r| r.invalid).sum();
    let frames_pct = if expected > 0.0 {
        Some(frames as f64 / expected * 100.0)
    } else {
        None
    };
    let lost_pct = if packets + lost > 0 {
        Some(lost as f64 / (packets + lost) as f64 * 100.0)
    } else {
        None
    };
    let mut setup: Vec<f64> = results
        .iter()
        .filter_map(|r| r.setup)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let mut first: Vec<f64> = results
        .iter()
        .filter_map(|r| r.first_frame)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let mut jitter: Vec<f64> = results.iter().filter_map(|r| r.jitter_ms).collect();
    let (s50, s99, smax) = ms_of(&mut setup);
    let (f50, f99, fmax) = ms_of(&mut first);
    let (j50, j99, jmax) = ms_of(&mut jitter);
    let (g50, g99, gmax) = (
        gaps.quantile_ms(0.5),
        gaps.quantile_ms(0.99),
        (gaps.count > 0).then(|| gaps.max_us as f64 / 1000.0),
    );
    let playing = ok.len().max(1) as f64;
    let own_cpu = match own {
        (Some(a), Some(b)) => Some(cpu_percent(&a, &b)),
        _ => None,
    };
    let own_rss = own.1.map(|s| s.rss_kb);
    let srv = server.map(|s| {
        let cpu = match (&s.start, &s.end) {
            (Some(a), Some(b)) => Some(cpu_percent(a, b)),
            _ => None,
        };
        let per = match (&s.idle, &s.end) {
            (Some(i), Some(e)) => Some((e.rss_kb as f64 - i.rss_kb as f64) / playing),
            _ => None,
        };
        (s, cpu, per)
    });
    let mode = if args.url.starts_with("http://") {
        "HTTP multipart (packets = parts)"
    } else if args.tcp {
        "TCP interleaved"
    } else if args.gro {
        "UDP (GRO)"
    } else {
        "UDP"
    };

    let mut t = String::new();
    let _ = writeln!(
        t,
        "rtsp_load {}  {mode}, {} sessions{}, {threads} thread{}, {addresses} client address{}, window {:.1} s{}",
        args.url,
        args.sessions,
        if args.rate > 0.0 {
            format!(" at {}/s", args.rate)
        } else {
            String::new()
        },
        if threads == 1 { "" } else { "s" },
        if addresses == 1 { "" } else { "es" },
        window.as_secs_f64(),
        if all_set_up {
            ""
        } else {
            " (started before every session was set up: setup timed out)"
        }
    );
    let _ = writeln!(
        t,
        "  sessions      ok {}   failed {}   teardown failed {teardown_failed}",
        ok.len(),
        results.len() - ok.len()
    );
    for (reason, n) in &failures {
        let _ = writeln!(t, "    {n:>5} x {reason}");
    }
    let _ = writeln!(
        t,
        "  frames        {frames} whole / {:.0} expected ({})   incomplete {incomplete}",
        expected,
        frames_pct.map_or("-".into(), |p| format!("{p:.1}%"))
    );
    let _ = writeln!(
        t,
        "  per session   whole frames min {}   median {}   max {}   under half the median share: {} sessions",
        per_session
            .as_ref()
            .map_or("-".into(), |p| p.min.to_string()),
        per_session
            .as_ref()
            .map_or("-".into(), |p| p.median.to_string()),
        per_session
            .as_ref()
            .map_or("-".into(), |p| p.max.to_string()),
        per_session
            .as_ref()
            .map_or("-".into(), |p| p.under_half_median.to_string()),
    );
    let _ = writeln!(
        t,
        "  packets       {packets} received ({:.1} MB)   lost {lost} ({})   late/dup {late}   invalid {invalid}",
        bytes as f64 / 1e6,
        lost_pct.map_or("-".into(), |p| format!("{p:.2}%"))
    );
    let _ = writeln!(
        t,
        "  frame gap ms  p50 {}   p99 {}   max {}   ({} gaps in the window)",
        fmt_ms(g50),
        fmt_ms(g99),
        fmt_ms(gmax),
        gaps.count
    );
    let _ = writeln!(
        t,
        "  setup ms      p50 {}   p99 {}   max {}   (connect to PLAY reply)",
        fmt_ms(s50),
        fmt_ms(s99),
        fmt_ms(smax)
    );
    let _ = writeln!(
        t,
        "  first frame   p50 {}   p99 {}   max {}   ms after the PLAY reply",
        fmt_ms(f50),
        fmt_ms(f99),
        fmt_ms(fmax)
    );
    let _ = writeln!(
        t,
        "  jitter ms     p50 {}   p99 {}   max {}   (RFC 3550, per session)",
        fmt_ms(j50),
        fmt_ms(j99),
        fmt_ms(jmax)
    );
    match &srv {
        Some((s, cpu, per)) => {
            let mb = |x: Option<&ProcSample>| {
                x.map_or("-".into(), |x| format!("{:.1}", x.rss_kb as f64 / 1024.0))
            };
            let _ = writeln!(
                t,
                "  server {:<6} CPU {} of a core   RSS MB idle {} -> start {} -> end {} ({} KB per playing session)   threads {}",
                s.pid,
                cpu.map_or("-".into(), |c| format!("{c:.1}%")),
                mb(s.idle.as_ref()),
                mb(s.start.as_ref()),
                mb(s.end.as_ref()),
                per.map_or("-".into(), |p| format!("{p:.0}")),
                s.end.map_or("-".into(), |e| e.threads.to_string()),
            );
        }
        None => {
            let _ = writeln!(t, "  server        (no --server-pid: not sampled)");
        }
    }
    let _ = writeln!(
        t,
        "  load tool     CPU {} of a core   RSS {} MB   open-file limit {nofile}   ran {:.1} s",
        own_cpu.map_or("-".into(), |c| format!("{c:.1}%")),
        own_rss.map_or("-".into(), |r| format!("{:.1}", r as f64 / 1024.0)),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "  UDP drops     {} datagrams dropped by this tool's full socket buffers \
         (part of 'lost': the receiver's fault, not the server's)",
        udp_drops.map_or("-".into(), |d| d.to_string())
    );

    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"url\":{},\"transport\":\"{}\",\"sessions\":{},\"ok\":{},\"failed\":{},\"failures\":{{",
        jstr(&args.url),
        if args.tcp { "tcp" } else { "udp" },
        args.sessions,
        ok.len(),
        results.len() - ok.len()
    );
    for (i, (reason, n)) in failures.iter().enumerate() {
        let _ = write!(j, "{}{}:{n}", if i > 0 { "," } else { "" }, jstr(reason));
    }
    let _ = write!(
        j,
        "}},\"teardown_failed\":{teardown_failed},\"all_set_up\":{all_set_up},\"window_s\":{:.3},\
         \"frames\":{frames},\"frames_expected\":{expected:.0},\"frames_pct\":{},\"frames_incomplete\":{incomplete},\
         \"packets\":{packets},\"bytes\":{bytes},\"packets_lost\":{lost},\"packets_late\":{late},\"packets_invalid\":{invalid},\
         \"gap_ms\":{{\"p50\":{},\"p99\":{},\"max\":{},\"n\":{}}},\
         \"setup_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"first_frame_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"jitter_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"per_session_frames\":{},\"threads\":{threads},\"client_addresses\":{addresses},",
        window.as_secs_f64(),
        jnum(frames_pct),
        jnum(g50),
        jnum(g99),
        jnum(gmax),
        gaps.count,
        jnum(s50),
        jnum(s99),
        jnum(smax),
        jnum(f50),
        jnum(f99),
        jnum(fmax),
        jnum(j50),
        jnum(j99),
        jnum(jmax),
        per_session.as_ref().map_or("null".into(), |p| format!(
            "{{\"min\":{},\"median\":{},\"max\":{},\"under_half_median\":{}}}",
            p.min, p.median, p.max, p.under_half_median
        )),
    );
    match &srv {
        Some((s, cpu, per)) => {
            let kb = |x: Option<&ProcSample>| x.map_or("null".into(), |x| x.rss_kb.to_string());
            let _ = write!(
                j,
                "\"server\":{{\"pid\":{},\"cpu_pct\":{},\"rss_idle_kb\":{},\"rss_start_kb\":{},\"rss_end_kb\":{},\"rss_per_session_kb\":{},\"threads\":{}}},",
                s.pid,
                jnum(*cpu),
                kb(s.idle.as_ref()),
                kb(s.start.as_ref()),
                kb(s.end.as_ref()),
                jnum(*per),
                s.end.map_or("null".into(), |e| e.threads.to_string()),
            );
        }
        None => j.push_str("\"server\":null,"),
    }
    let _ = write!(
        j,
        "\"load_cpu_pct\":{},\"load_rss_kb\":{},\"udp_rcvbuf_drops\":{}}}",
        jnum(own_cpu),
        own_rss.map_or("null".into(), |r| r.to_string()),
        udp_drops.map_or("null".into(), |d| d.to_string())
    );
    (t, j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn played(frames: u64, expected: f64) -> SessionResult {
        SessionResult {
            frames_complete: frames,
            expected_frames: expected,
            ..SessionResult::default()
        }
    }

    #[test]
    fn a_session_is_starved_by_its_share_not_its_count() {
        // Three played 30 s and got all their frames; one started late,
        // played 10 s and got them all too; one played 30 s and got a
        // third of its frames.
        let results = [
            played(720, 720.0),
            played(719, 720.0),
            played(720, 720.0),
            played(240, 240.0),
            played(240, 720.0),
        ];
        let refs: Vec<&SessionResult> = results.iter().collect();
        let p = PerSession::of(&refs).unwrap();
        assert_eq!((p.min, p.median, p.max), (240, 719, 720));
        assert_eq!(p.under_half_median, 1);
        assert!(PerSession::of(&[]).is_none());
    }
}
