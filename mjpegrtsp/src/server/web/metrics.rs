//! `/metrics`: the Prometheus text exposition format (version 0.0.4):
//! sessions by protocol, transport and dialect; connections; requests by
//! method and status; what the engine sent and dropped; refusals by
//! reason; viewers per mount; relays and publishers. Cheap to scrape: no
//! file is opened, the registry is read once.

use super::status::{dialect, registry};
use crate::server::Shared;
use crate::server::engine::Source;
use crate::server::engine::load::LoadFigures;
use crate::server::live::LiveKind;
use crate::server::stats::Port;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The exposition text.
pub(super) fn render(shared: &Shared) -> String {
    let mut out = String::with_capacity(4096);
    let mut sessions: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    let mut viewers: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for s in registry(shared) {
        let st = s.state.lock().unwrap();
        let transport = st.stream.route.lower_transport();
        *sessions
            .entry((s.via.label(), transport, dialect(&s)))
            .or_insert(0) += 1;
        let kind = match &st.stream.source {
            Source::File(_) => "file",
            Source::Live(live) => live.kind.label(),
        };
        *viewers
            .entry((st.stream.source.mount().to_owned(), kind))
            .or_insert(0) += 1;
    }
    let live = shared.live.all();
    for source in &live {
        viewers
            .entry((source.mount.clone(), source.kind.label()))
            .or_insert(0);
    }

    family(
        &mut out,
        "mjpegrtsp_sessions",
        "gauge",
        "Sessions alive, RTSP and HTTP viewers alike.",
    );
    for ((protocol, transport, dialect), n) in &sessions {
        sample(
            &mut out,
            "mjpegrtsp_sessions",
            &[
                ("protocol", protocol),
                ("transport", transport),
                ("dialect", dialect),
            ],
            *n,
        );
    }
    family(
        &mut out,
        "mjpegrtsp_connections",
        "gauge",
        "Connections open, by port.",
    );
    for port in Port::ALL {
        let n = shared.stats.open_connections(port) as u64;
        sample(
            &mut out,
            "mjpegrtsp_connections",
            &[("protocol", port.label())],
            n,
        );
    }
    family(
        &mut out,
        "mjpegrtsp_requests_total",
        "counter",
        "Requests answered, by method and status.",
    );
    for ((port, method, status), n) in shared.stats.requests() {
        let status = status.to_string();
        let labels = [
            ("protocol", port.label()),
            ("method", &method),
            ("status", &status),
        ];
        sample(&mut out, "mjpegrtsp_requests_total", &labels, n);
    }
    let engine = &shared.engine.stats;
    for (name, help, value) in [
        (
            "mjpegrtsp_sent_frames_total",
            "Frames sent to viewers.",
            &engine.frames_sent,
        ),
        (
            "mjpegrtsp_sent_packets_total",
            "RTP packets sent (one per frame to HTTP viewers).",
            &engine.packets_sent,
        ),
        (
            "mjpegrtsp_sent_bytes_total",
            "Bytes sent: RTP payloads, and HTTP parts whole.",
            &engine.octets_sent,
        ),
        (
            "mjpegrtsp_dropped_frames_total",
            "Frames not sent: slow readers' full queues, full sockets, JPEGs a wire cannot carry.",
            &engine.frames_dropped,
        ),
        (
            "mjpegrtsp_late_frames_total",
            "Frames skipped by senders that fell far behind.",
            &engine.frames_late,
        ),
    ] {
        family(&mut out, name, "counter", help);
        sample(&mut out, name, &[], value.load(Ordering::Relaxed));
    }
    media_threads(&mut out, &shared.engine);
    family(
        &mut out,
        "mjpegrtsp_refusals_total",
        "counter",
        "Connections, sessions and requests refused, by reason.",
    );
    for (why, n) in shared.stats.refusals() {
        sample(
            &mut out,
            "mjpegrtsp_refusals_total",
            &[("reason", why.label())],
            n,
        );
    }
    family(
        &mut out,
        "mjpegrtsp_mount_viewers",
        "gauge",
        "Sessions playing each mount that has any, and every live mount.",
    );
    for ((mount, kind), n) in &viewers {
        sample(
            &mut out,
            "mjpegrtsp_mount_viewers",
            &[("mount", mount), ("kind", kind)],
            *n,
        );
    }
    family(
        &mut out,
        "mjpegrtsp_live_frames_received_total",
        "counter",
        "Frames a live mount received from its pipeline, upstream or publisher.",
    );
    for source in &live {
        let labels = [
            ("mount", source.mount.as_str()),
            ("kind", source.kind.label()),
        ];
        sample(
            &mut out,
            "mjpegrtsp_live_frames_received_total",
            &labels,
            source.frames.load(Ordering::Relaxed),
        );
    }
    family(
        &mut out,
        "mjpegrtsp_relay_upstream_open",
        "gauge",
        "1 while a relay's upstream session is open.",
    );
    let relays: Vec<_> = live
        .iter()
        .filter(|s| matches!(s.kind, LiveKind::Relay { .. }))
        .collect();
    for source in &relays {
        let open = u64::from(source.upstream_open.load(Ordering::Relaxed));
        sample(
            &mut out,
            "mjpegrtsp_relay_upstream_open",
            &[("mount", &source.mount)],
            open,
        );
    }
    family(
        &mut out,
        "mjpegrtsp_relay_upstream_opens_total",
        "counter",
        "Times a relay opened its upstream session.",
    );
    for source in &relays {
        let opened = source.upstream_opened.load(Ordering::Relaxed);
        sample(
            &mut out,
            "mjpegrtsp_relay_upstream_opens_total",
            &[("mount", &source.mount)],
            opened,
        );
    }
    let published = live
        .iter()
        .filter(|s| matches!(s.kind, LiveKind::Published { .. }))
        .count();
    family(
        &mut out,
        "mjpegrtsp_publishers",
        "gauge",
        "Clients publishing a stream now.",
    );
    sample(&mut out, "mjpegrtsp_publishers", &[], published as u64);
    family(
        &mut out,
        "mjpegrtsp_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(
        out,
        "mjpegrtsp_uptime_seconds {:.3}",
        shared.stats.started.elapsed().as_secs_f64()
    );
    out
}

/// One figure of a media thread's load.
type ThreadFigure = fn(&LoadFigures) -> f64;

/// The media threads: how busy each was and how late its sends ran over
/// its last measuring window, its sessions, and whether new sessions are refused.
fn media_threads(out: &mut String, engine: &crate::server::engine::Engine) {
    let loads = engine.loads();
    family(
        out,
        "mjpegrtsp_media_threads",
        "gauge",
        "Media threads sending frames.",
    );
    sample(out, "mjpegrtsp_media_threads", &[], loads.len());
    family(
        out,
        "mjpegrtsp_engine_overloaded",
        "gauge",
        "1 while a media thread cannot keep pace and new sessions are refused.",
    );
    sample(
        out,
        "mjpegrtsp_engine_overloaded",
        &[],
        u8::from(engine.overloaded()),
    );
    let per_thread: [(&str, &str, &str, ThreadFigure); 4] = [
        (
            "mjpegrtsp_media_thread_busy_ratio",
            "gauge",
            "CPU time a media thread used, as a share of its last measuring window (a quarter second).",
            |l| l.busy,
        ),
        (
            "mjpegrtsp_media_thread_late_seconds",
            "gauge",
            "99th percentile of how late a media thread's sends ran in its last measuring window.",
            |l| l.late_p99.as_secs_f64(),
        ),
        (
            "mjpegrtsp_media_thread_sessions",
            "gauge",
            "Sessions a media thread plays.",
            |l| l.sessions as f64,
        ),
        (
            "mjpegrtsp_media_thread_frame_cost_seconds",
            "gauge",
            "CPU time one frame to one session cost a media thread, in its last window that sent enough frames to say (0: not measured yet); admission reckons a new session with it.",
            |l| l.per_frame,
        ),
    ];
    for (name, kind, help, value) in per_thread {
        family(out, name, kind, help);
        for (i, load) in loads.iter().enumerate() {
            let thread = (i + 1).to_string();
            sample(out, name, &[("thread", &thread)], value(load));
        }
    }
    if let Some(machine) = loads.first().and_then(|l| l.machine) {
        family(
            out,
            "mjpegrtsp_machine_busy_ratio",
            "gauge",
            "Share of all the machine's CPUs spent working (niced programs aside), the mean over its last second: what admission reckons with.",
        );
        sample(out, "mjpegrtsp_machine_busy_ratio", &[], machine.busy);
    }
}

/// `# HELP` and `# TYPE` of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample line, label values escaped.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the format writes it: `\\`, `\"` and `\n` escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("mount", "a\"b\\c\nd")], 3);
        assert_eq!(out, "m{mount=\"a\\\"b\\\\c\\nd\"} 3\n");
        let mut out = String::new();
        sample(&mut out, "m", &[], 0);
        assert_eq!(out, "m 0\n");
    }
}
