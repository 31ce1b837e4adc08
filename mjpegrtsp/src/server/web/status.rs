//! `/api/v1/status`: what the server serves and to whom, as JSON. The same
//! overview ([`mounts`], [`sessions`]) feeds the index page and the
//! metrics.

use crate::server::engine::Source;
use crate::server::live::LiveKind;
use crate::server::stats::Port;
use crate::server::{SERVER_NAME, Session, Shared};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One mount, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct MountInfo {
    /// The path, as in its `rtsp://` URL.
    pub path: String,
    /// `file`, `pipeline`, `relay` or `published`.
    pub kind: &'static str,
    pub width: Option<u16>,
    pub height: Option<u16>,
    /// Frames per second, when known.
    pub fps: Option<f64>,
    /// Files: length in seconds and frames (estimates while `indexed` is
    /// false).
    pub duration_s: Option<f64>,
    pub frames: Option<u64>,
    /// Files: whether the file is indexed to its end (its length exact).
    pub indexed: Option<bool>,
    /// Sessions playing it (RTSP and HTTP).
    pub viewers: usize,
    /// Live sources: frames received since the server started.
    pub frames_received: Option<u64>,
    /// Relays: the upstream URL (no password), whether its session is
    /// open, and how often it was opened.
    pub upstream: Option<String>,
    pub upstream_open: Option<bool>,
    pub upstream_opened: Option<u64>,
    /// Published paths: the publisher's address.
    pub publisher: Option<String>,
}

/// One session, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SessionInfo {
    /// A number that names it here (not its RTSP session id, which would
    /// let a reader of this page control it).
    pub id: u64,
    pub mount: String,
    /// The client's address.
    pub peer: String,
    /// `rtsp`, `rtsps` or `http`.
    pub protocol: &'static str,
    /// `standard`, `classic` or `http`.
    pub dialect: &'static str,
    /// `udp` or `tcp`.
    pub transport: &'static str,
    /// `playing` or `ready`.
    pub state: &'static str,
    /// Files: media time of the next frame, in seconds.
    pub position_s: Option<f64>,
    pub bytes_sent: u64,
    pub frames_sent: u64,
    pub frames_dropped: u64,
    pub age_s: f64,
}

/// Every mount: files under the media root, then live ones; with viewers.
pub(super) fn mounts(shared: &Shared) -> Vec<MountInfo> {
    let mut viewers: HashMap<u64, usize> = HashMap::new();
    for s in registry(shared) {
        *viewers
            .entry(s.state.lock().unwrap().stream.source.id())
            .or_insert(0) += 1;
    }
    let mut out = Vec::new();
    let live = shared.live.all();
    for path in shared.library.list() {
        if live.iter().any(|l| l.mount == path) {
            continue; // hidden by a live mount
        }
        let Ok(media) = shared.library.open(&path) else {
            continue;
        };
        out.push(MountInfo {
            path,
            kind: "file",
            width: Some(media.info.width),
            height: Some(media.info.height),
            fps: Some(media.rate.fps()),
            duration_s: Some(media.duration_secs()),
            frames: Some(media.frames()),
            indexed: Some(media.exact_frames().is_some()),
            viewers: viewers.get(&media.id).copied().unwrap_or(0),
            frames_received: None,
            upstream: None,
            upstream_open: None,
            upstream_opened: None,
            publisher: None,
        });
    }
    for source in live {
        let info = source.info();
        let (upstream, publisher) = match &source.kind {
            LiveKind::Relay { upstream } => (Some(upstream.clone()), None),
            LiveKind::Published { publisher } => (None, Some(publisher.to_string())),
            LiveKind::Pipeline => (None, None),
        };
        let relay = upstream.is_some();
        out.push(MountInfo {
            path: source.mount.clone(),
            kind: source.kind.label(),
            width: info.and_then(|i| u16::try_from(i.width).ok()),
            height: info.and_then(|i| u16::try_from(i.height).ok()),
            fps: info.and_then(|i| i.fps).map(|f| f.fps()),
            duration_s: None,
            frames: None,
            indexed: None,
            viewers: viewers.get(&source.id).copied().unwrap_or(0),
            frames_received: Some(source.frames.load(Ordering::Relaxed)),
            upstream,
            upstream_open: relay.then(|| source.upstream_open.load(Ordering::Relaxed)),
            upstream_opened: relay.then(|| source.upstream_opened.load(Ordering::Relaxed)),
            publisher,
        });
    }
    out
}

/// Every session alive.
pub(super) fn sessions(shared: &Shared) -> Vec<SessionInfo> {
    let mut out: Vec<SessionInfo> = registry(shared)
        .iter()
        .map(|s| {
            let st = s.state.lock().unwrap();
            let c = &s.counters;
            let position_s = match &st.stream.source {
                Source::File(media) => {
                    let n = c.next_frame.load(Ordering::Relaxed);
                    let in_file = media.exact_frames().map_or(n, |f| n % f.max(1));
                    Some(media.rate.frame_start_ns(in_file) as f64 / 1e9)
                }
                Source::Live(_) => None,
            };
            SessionInfo {
                id: s.engine_id,
                mount: st.stream.source.mount().to_owned(),
                peer: s.client.to_string(),
                protocol: s.via.label(),
                dialect: dialect(s),
                transport: st.stream.route.lower_transport(),
                state: if st.playing { "playing" } else { "ready" },
                position_s,
                bytes_sent: c.octets_sent.load(Ordering::Relaxed),
                frames_sent: c.frames_sent.load(Ordering::Relaxed),
                frames_dropped: c.frames_dropped.load(Ordering::Relaxed),
                age_s: s.created.elapsed().as_secs_f64(),
            }
        })
        .collect();
    out.sort_by_key(|s| s.id);
    out
}

/// `standard`, `classic` or `http`.
pub(super) fn dialect(session: &Session) -> &'static str {
    match (session.via, session.dialect) {
        (Port::Http, _) => "http",
        (_, crate::rtsp::Dialect::Classic) => "classic",
        _ => "standard",
    }
}

/// The sessions alive, taken out of the registry's lock.
pub(super) fn registry(shared: &Shared) -> Vec<Arc<Session>> {
    shared
        .sessions
        .lock()
        .unwrap()
        .by_id
        .values()
        .cloned()
        .collect()
}

#[derive(Serialize)]
struct Status {
    server: ServerInfo,
    mounts: Vec<MountInfo>,
    sessions: Vec<SessionInfo>,
}

#[derive(Serialize)]
struct ServerInfo {
    version: &'static str,
    uptime_s: f64,
    rtsp_port: Option<u16>,
    rtsps_port: Option<u16>,
    http_port: Option<u16>,
    sessions: usize,
    connections: usize,
    frames_sent: u64,
    bytes_sent: u64,
    frames_dropped: u64,
    /// True while new sessions are refused: a media thread cannot keep pace.
    overloaded: bool,
    /// Each media thread over its last measuring window.
    media_threads: Vec<ThreadInfo>,
}

/// One media thread, as the API shows it.
#[derive(Serialize)]
struct ThreadInfo {
    /// Share of the window spent working (0–1).
    busy: f64,
    /// 99th percentile of how late its sends ran, in milliseconds.
    late_ms: f64,
    /// Sessions it plays.
    sessions: usize,
    /// CPU time one frame to one session cost it, in microseconds (0: not
    /// measured yet).
    frame_cost_us: f64,
}

/// The JSON document.
pub(super) fn render(shared: &Shared) -> String {
    let sessions = sessions(shared);
    let engine = &shared.engine.stats;
    let status = Status {
        server: ServerInfo {
            version: SERVER_NAME,
            uptime_s: shared.stats.started.elapsed().as_secs_f64(),
            rtsp_port: shared.ports.rtsp,
            rtsps_port: shared.ports.rtsps,
            http_port: shared.ports.http,
            sessions: sessions.len(),
            connections: Port::ALL
                .iter()
                .map(|p| shared.stats.open_connections(*p))
                .sum(),
            frames_sent: engine.frames_sent.load(Ordering::Relaxed),
            bytes_sent: engine.octets_sent.load(Ordering::Relaxed),
            frames_dropped: engine.frames_dropped.load(Ordering::Relaxed),
            overloaded: shared.engine.overloaded(),
            media_threads: shared
                .engine
                .loads()
                .iter()
                .map(|l| ThreadInfo {
                    busy: l.busy,
                    late_ms: l.late_p99.as_secs_f64() * 1e3,
                    sessions: l.sessions,
                    frame_cost_us: l.per_frame * 1e6,
                })
                .collect(),
        },
        mounts: mounts(shared),
        sessions,
    };
    let mut json =
        serde_json::to_string_pretty(&status).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    json.push('\n');
    json
}
