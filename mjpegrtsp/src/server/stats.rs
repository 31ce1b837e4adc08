//! The server's own counters since it started, for `/metrics` and
//! `/api/v1/status`: requests by port, method and status; refusals by
//! reason; connections open on each port. What the media engine sent is
//! counted by the engine ([`super::engine::EngineStats`]); sessions are read
//! from the registry when asked.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

/// Which of the server's ports a connection or session came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// Plain RTSP.
    Rtsp,
    /// RTSP over TLS.
    Rtsps,
    /// The HTTP port (pages, MJPEG over HTTP, metrics, API).
    Http,
}

impl Port {
    /// Every port, in label order.
    pub const ALL: [Port; 3] = [Port::Rtsp, Port::Rtsps, Port::Http];

    /// `rtsp`, `rtsps` or `http`.
    pub fn label(self) -> &'static str {
        match self {
            Port::Rtsp => "rtsp",
            Port::Rtsps => "rtsps",
            Port::Http => "http",
        }
    }

    /// The RTSP port a connection came through.
    pub fn rtsp(secure: bool) -> Port {
        if secure { Port::Rtsps } else { Port::Rtsp }
    }
}

/// Why the server said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// A connection over `--max-connections`.
    ConnectionsFull,
    /// A connection over `--max-connections-per-address`.
    ConnectionsPerAddress,
    /// A session over `--max-sessions`.
    SessionsFull,
    /// A session over `--max-sessions-per-address`.
    SessionsPerAddress,
    /// No or wrong credentials (401).
    Unauthorized,
    /// A user not allowed there (403).
    Forbidden,
    /// An address locked out after failing too often (503).
    LockedOut,
    /// A PLAY while the media engine cannot keep pace (453; an HTTP
    /// viewer 503).
    Overload,
}

impl Refusal {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ConnectionsFull => "max_connections",
            Refusal::ConnectionsPerAddress => "max_connections_per_address",
            Refusal::SessionsFull => "max_sessions",
            Refusal::SessionsPerAddress => "max_sessions_per_address",
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::LockedOut => "locked_out",
            Refusal::Overload => "overload",
        }
    }

    /// The refusal a limit's [`Full`](super::limits::Full) is, for
    /// connections or sessions.
    pub fn of_full(full: super::limits::Full, sessions: bool) -> Refusal {
        use super::limits::Full;
        match (full, sessions) {
            (Full::Total { .. }, false) => Refusal::ConnectionsFull,
            (Full::Address { .. }, false) => Refusal::ConnectionsPerAddress,
            (Full::Total { .. }, true) => Refusal::SessionsFull,
            (Full::Address { .. }, true) => Refusal::SessionsPerAddress,
        }
    }
}

/// Counters since the server started.
#[derive(Debug)]
pub struct ServerStats {
    /// When the server started.
    pub started: Instant,
    /// The same, on the wall clock.
    pub started_at: SystemTime,
    requests: Mutex<BTreeMap<(Port, String, u16), u64>>,
    refusals: Mutex<BTreeMap<Refusal, u64>>,
    open: [AtomicUsize; 3],
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            started_at: SystemTime::now(),
            requests: Mutex::default(),
            refusals: Mutex::default(),
            open: Default::default(),
        }
    }
}

/// Counts a connection open on its port while it lives.
#[derive(Debug)]
pub struct OpenConnection<'a> {
    stats: &'a ServerStats,
    port: Port,
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.stats.open[self.port as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

impl ServerStats {
    /// A request answered with `status`. Methods the server does not know
    /// are counted as `other`, so that clients cannot grow the table.
    pub fn request(&self, port: Port, method: &str, status: u16) {
        let known = !matches!(
            crate::rtsp::Method::parse(method),
            crate::rtsp::Method::Other(_)
        ) || matches!(method, "GET" | "HEAD" | "POST" | "PUT" | "DELETE");
        let method = if known { method } else { "other" };
        *self
            .requests
            .lock()
            .unwrap()
            .entry((port, method.to_owned(), status))
            .or_insert(0) += 1;
    }

    /// Something refused.
    pub fn refused(&self, why: Refusal) {
        *self.refusals.lock().unwrap().entry(why).or_insert(0) += 1;
    }

    /// A connection on `port`, counted open until the guard is dropped.
    pub fn connection_opened(&self, port: Port) -> OpenConnection<'_> {
        self.open[port as usize].fetch_add(1, Ordering::Relaxed);
        OpenConnection { stats: self, port }
    }

    /// Connections open on `port`.
    pub fn open_connections(&self, port: Port) -> usize {
        self.open[port as usize].load(Ordering::Relaxed)
    }

    /// Requests answered: (port, method, status) → count.
    pub fn requests(&self) -> Vec<((Port, String, u16), u64)> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Refusals by reason.
    pub fn refusals(&self) -> Vec<(Refusal, u64)> {
        let refusals = self.refusals.lock().unwrap();
        refusals.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_port_method_and_status() {
        let stats = ServerStats::default();
        stats.request(Port::Rtsp, "PLAY", 200);
        stats.request(Port::Rtsp, "PLAY", 200);
        stats.request(Port::Http, "GET", 404);
        stats.request(Port::Rtsp, "FROBNICATE", 501);
        assert_eq!(
            stats.requests(),
            vec![
                ((Port::Rtsp, "PLAY".to_owned(), 200), 2),
                ((Port::Rtsp, "other".to_owned(), 501), 1),
                ((Port::Http, "GET".to_owned(), 404), 1),
            ]
        );
        {
            let _a = stats.connection_opened(Port::Http);
            let _b = stats.connection_opened(Port::Http);
            assert_eq!(stats.open_connections(Port::Http), 2);
        }
        assert_eq!(stats.open_connections(Port::Http), 0);
        stats.refused(Refusal::Unauthorized);
        assert_eq!(stats.refusals(), vec![(Refusal::Unauthorized, 1)]);
    }
}
