//! The RTSP/1.0 server: serves every `.Mjpeg` under a media root to classic
//! (seed) clients and to standard clients (ffmpeg, GStreamer `rtspsrc`, VLC).
//!
//! Control runs on tokio: one task per TCP connection parses requests in both
//! dialects ([`crate::rtsp`]) and drives a small state machine per session
//! (READY ⇄ PLAYING); the sessions live in one registry (`sessions.rs`).
//! Media runs on the engine's threads ([`engine`], one per core by
//! default), which pace every playing session, packetise each frame once
//! and send with UDP GSO. A session costs a few hundred bytes of state; no
//! per-session pipeline or thread exists.
//!
//! Standard clients get RFC 2435 JPEG (payload type 26) over UDP or TCP
//! interleaved; classic clients get the seed's whole-frame packets (12-byte
//! header, sequence number = frame number) on the UDP port they name.

mod accept;
pub mod auth;
mod config;
mod connection;
mod describe;
pub mod engine;
pub mod limits;
pub mod live;
mod live_mounts;
#[cfg(feature = "live")]
pub mod live_pipeline;
pub mod media;
mod publish;
pub mod queue;
mod relay;
mod rtcp;
mod sessions;
mod setup;
pub mod stats;
#[cfg(feature = "tls")]
mod tls;
pub mod udp;
pub mod users;
mod web;

pub use config::{Access, HttpConfig, LiveInput, LiveMount, ServerConfig, StartError, TlsConfig};
pub use engine::load::Admission;
pub use setup::MAX_SESSIONS_PER_CONNECTION;

use crate::rtsp::PortPair;
use engine::Engine;
use limits::{Full, RateLimitedLog, Tally};
use media::Library;
use sessions::{Session, SessionState, Sessions, reap_sessions};
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

const SERVER_NAME: &str = concat!("mjpegrtsp/", env!("CARGO_PKG_VERSION"));

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    /// The plain RTSP port (none when only RTSPS is served).
    listener: Option<TcpListener>,
    /// The RTSPS port and its handshakes.
    #[cfg(feature = "tls")]
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    /// The HTTP port, when served.
    http: Option<TcpListener>,
    shared: Arc<Shared>,
}

struct Shared {
    config: ServerConfig,
    /// Credentials checks, with [`ServerConfig::access`].
    gate: Option<auth::Gate>,
    library: Library,
    /// The live sources by mount path, and their producers (stopped with
    /// the server).
    live: live_mounts::LiveMounts,
    engine: Engine,
    /// Server RTP and RTCP ports, for the Transport reply.
    server_ports: PortPair,
    rtcp_socket: Arc<UdpSocket>,
    sessions: Mutex<Sessions>,
    /// Open connections, by client address.
    connections: Mutex<Tally>,
    /// `max_connections`, kept below the open-file limit.
    max_connections: usize,
    next_engine_id: AtomicU64,
    next_connection: AtomicU64,
    stopping: AtomicBool,
    /// Counters for `/metrics` and the status API.
    stats: stats::ServerStats,
    /// The ports bound, for URLs and hints.
    ports: Ports,
}

/// The ports the server listens on.
#[derive(Debug, Clone, Copy, Default)]
struct Ports {
    rtsp: Option<u16>,
    rtsps: Option<u16>,
    http: Option<u16>,
}

impl Server {
    /// Binds the RTSP port and the server's RTP/RTCP ports and starts the
    /// media engine.
    pub async fn bind(config: ServerConfig) -> Result<Server, StartError> {
        let descriptors = limits::raise_descriptor_limit().unwrap_or(1024);
        let max_connections = limits::connections_within(config.max_connections, descriptors);
        if max_connections < config.max_connections {
            tracing::warn!(
                "at most {max_connections} connections: {descriptors} open files are allowed \
                 (ulimit -n) and {} are kept for the rest",
                limits::RESERVED_DESCRIPTORS
            );
        }
        let rate = config.fps;
        let library = Library::new(&config.media_dir, rate, config.index_cache.clone()).map_err(
            |source| StartError::MediaDir {
                dir: config.media_dir.clone(),
                source,
            },
        )?;
        for (mount, path, why) in library.survey() {
            tracing::warn!(
                "{mount}: {why}; make a file every client plays with: {}",
                media::convert_command(&path)
            );
        }
        if !config.plain && config.tls.is_none() {
            return Err(StartError::Tls(
                "nothing to listen on: plain RTSP is off and there is no TLS port".into(),
            ));
        }
        let listener = if config.plain {
            Some(
                TcpListener::bind((config.bind, config.port))
                    .await
                    .map_err(|source| StartError::Listen {
                        addr: SocketAddr::new(config.bind, config.port),
                        source,
                    })?,
            )
        } else {
            None
        };
        #[cfg(feature = "tls")]
        let tls = match &config.tls {
            None => None,
            Some(t) => {
                let acceptor = tls::acceptor(t).map_err(StartError::Tls)?;
                let listener =
                    TcpListener::bind((config.bind, t.port))
                        .await
                        .map_err(|source| StartError::Listen {
                            addr: SocketAddr::new(config.bind, t.port),
                            source,
                        })?;
                Some((listener, acceptor))
            }
        };
        #[cfg(not(feature = "tls"))]
        if config.tls.is_some() {
            return Err(StartError::Tls(
                "this build has no TLS: rtsps:// needs the `tls` feature".into(),
            ));
        }
        let (rtp, rtcp) = crate::net::bind_rtp_pair(config.bind).map_err(StartError::MediaPorts)?;
        let server_ports = PortPair::new(
            rtp.local_addr().map_err(StartError::MediaPorts)?.port(),
            rtcp.local_addr().map_err(StartError::MediaPorts)?.port(),
        );
        let rtcp_socket = Arc::new(rtcp.try_clone().map_err(StartError::MediaPorts)?);
        let engine = Engine::start(
            &rtp,
            &rtcp,
            engine::EngineConfig {
                threads: match config.media_threads {
                    0 => engine::default_threads(),
                    n => n,
                },
                mtu: config.mtu,
                admission: config.admission,
            },
        )
        .map_err(StartError::Engine)?;
        tracing::info!(
            "{} media thread{}",
            engine.threads(),
            if engine.threads() == 1 { "" } else { "s" }
        );
        let live = live_mounts::LiveMounts::start(&config, &library, &engine.sender())?;
        let http = web::bind(&config).await?;
        let port_of =
            |l: Option<&TcpListener>| l.and_then(|l| l.local_addr().ok()).map(|a| a.port());
        #[cfg(feature = "tls")]
        let rtsps = port_of(tls.as_ref().map(|(l, _)| l));
        #[cfg(not(feature = "tls"))]
        let rtsps = None;
        let ports = Ports {
            rtsp: port_of(listener.as_ref()),
            rtsps,
            http: port_of(http.as_ref()),
        };
        Ok(Server {
            listener,
            #[cfg(feature = "tls")]
            tls,
            http,
            shared: Arc::new(Shared {
                gate: config
                    .access
                    .clone()
                    .map(|a| auth::Gate::new(a.users, &a.realm, a.public)),
                config,
                library,
                live,
                engine,
                server_ports,
                rtcp_socket,
                sessions: Mutex::new(Sessions::default()),
                connections: Mutex::new(Tally::default()),
                max_connections,
                next_engine_id: AtomicU64::new(1),
                next_connection: AtomicU64::new(1),
                stopping: AtomicBool::new(false),
                stats: stats::ServerStats::default(),
                ports,
            }),
        })
    }

    /// The address the plain RTSP port is bound to (the RTSPS port's when
    /// plain RTSP is off).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .or_else(|| self.tls_addr())
            .expect("a bound listener has an address")
    }

    pub fn media_root(&self) -> &Path {
        self.shared.library.root()
    }

    /// The `rtsp://` URL of every file served, then its `rtsps://` one
    /// (each for the ports served).
    pub fn urls(&self) -> Vec<String> {
        let plain = self.listener.as_ref().and_then(|l| l.local_addr().ok());
        let plain = plain.map(|a| self.urls_at("rtsp", a)).unwrap_or_default();
        let secure = self.tls_addr().map(|a| self.urls_at("rtsps", a));
        plain
            .into_iter()
            .chain(secure.into_iter().flatten())
            .collect()
    }

    fn urls_at(&self, scheme: &str, addr: SocketAddr) -> Vec<String> {
        let host = crate::net::url_host(addr.ip());
        let live = self.shared.live.paths();
        self.shared
            .library
            .list()
            .into_iter()
            .chain(live)
            .map(|m| format!("{scheme}://{host}:{}/{}", addr.port(), encode_path(&m)))
            .collect()
    }

    /// The address of the HTTP port, when it is served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The URL of the HTTP port's index page, when it is served.
    pub fn http_url(&self) -> Option<String> {
        self.http_addr()
            .map(|a| format!("http://{}:{}/", crate::net::url_host(a.ip()), a.port()))
    }

    /// Number of sessions alive.
    pub fn session_count(&self) -> usize {
        self.shared.sessions.lock().unwrap().by_id.len()
    }

    /// A function that tells the number of sessions alive, usable after
    /// [`run`](Server::run) took the server (0 once it has stopped).
    pub fn session_counter(&self) -> Arc<dyn Fn() -> usize + Send + Sync> {
        let shared = Arc::downgrade(&self.shared);
        Arc::new(move || {
            shared
                .upgrade()
                .map_or(0, |s| s.sessions.lock().unwrap().by_id.len())
        })
    }

    /// Serves until `shutdown` resolves, then ends every session.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let shared = self.shared.clone();
        let reaper = tokio::spawn(reap_sessions(shared.clone()));
        let rtcp = tokio::task::spawn_blocking({
            let shared = shared.clone();
            move || rtcp::receive(&shared)
        });
        tokio::pin!(shutdown);
        let mut refused = RateLimitedLog::new("connections refused");
        let mut accept_failed = RateLimitedLog::new("accept failed");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.accept_plain() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err((peer, full)) = self.take(stream, peer, None) {
                            refused.event(&format_args!("connection from {peer}: {full}"));
                        }
                    }
                    Err(e) => {
                        // Out of descriptors or memory: wait rather than spin
                        // on a backlog accept cannot take.
                        accept_failed.event(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                accepted = self.accept_tls() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err((peer, full)) = self.take(stream, peer, self.acceptor()) {
                            refused.event(&format_args!("TLS connection from {peer}: {full}"));
                        }
                    }
                    Err(e) => {
                        accept_failed.event(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                accepted = self.accept_http() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(full) = web::take(&self.shared, stream, peer) {
                            refused.event(&format_args!("HTTP connection from {peer}: {full}"));
                        }
                    }
                    Err(e) => {
                        accept_failed.event(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        reaper.abort();
        let ids: Vec<String> = shared
            .sessions
            .lock()
            .unwrap()
            .by_id
            .keys()
            .cloned()
            .collect();
        for id in ids {
            shared.remove_session(&id, "server shutting down", true);
        }
        // Every BYE is on its way before the connections close.
        shared.engine.flush();
        shared.stopping.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(1), rtcp).await;
    }
}

impl Server {
    /// The next connection on the plain RTSP port (never, without one).
    async fn accept_plain(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        match &self.listener {
            Some(listener) => listener.accept().await,
            None => std::future::pending().await,
        }
    }

    /// The next connection on the RTSPS port (never, without one).
    async fn accept_tls(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        #[cfg(feature = "tls")]
        if let Some((listener, _)) = &self.tls {
            return listener.accept().await;
        }
        std::future::pending().await
    }

    /// The next connection on the HTTP port (never, without one).
    async fn accept_http(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        match &self.http {
            Some(listener) => listener.accept().await,
            None => std::future::pending().await,
        }
    }

    /// The RTSPS port, if the server has one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "tls")]
        if let Some((listener, _)) = &self.tls {
            return listener.local_addr().ok();
        }
        None
    }

    /// The RTSPS port's acceptor.
    fn acceptor(&self) -> Option<accept::Acceptor> {
        #[cfg(feature = "tls")]
        if let Some((_, acceptor)) = &self.tls {
            return Some(acceptor.clone());
        }
        None
    }

    /// Takes a connection from the plain (`tls` none) or RTSPS port: from a
    /// trusted proxy, after its PROXY header; else admitted now, or refused.
    fn take(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<accept::Acceptor>,
    ) -> Result<(), (SocketAddr, Full)> {
        let shared = self.shared.clone();
        if shared
            .config
            .trusted_proxies
            .iter()
            .any(|n| n.contains(peer.ip()))
        {
            tokio::spawn(accept::serve_proxied(shared, stream, peer, tls));
            return Ok(());
        }
        match shared.admit(peer.ip()) {
            Ok(slot) => {
                let local = accept::local_ip(&stream, &shared);
                tokio::spawn(accept::serve(shared, stream, (local, peer), slot, tls));
                Ok(())
            }
            Err(full) => {
                if tls.is_none() {
                    accept::refuse(stream, full);
                }
                Err((peer, full))
            }
        }
    }
}

/// A connection the server took: counted against the maximums until it is
/// dropped.
pub(super) struct ConnectionSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.connections.lock().unwrap().give_back(self.ip);
    }
}

pub(super) fn encode_path(mount: &str) -> String {
    let mut out = String::with_capacity(mount.len());
    for b in mount.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Shared {
    /// Counts a new connection from `ip`, if the maximums allow it.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Full> {
        let ip = ip.to_canonical();
        self.connections
            .lock()
            .unwrap()
            .take(
                ip,
                self.max_connections,
                self.config.max_connections_per_address,
            )
            .inspect_err(|full| self.stats.refused(stats::Refusal::of_full(*full, false)))?;
        Ok(ConnectionSlot {
            shared: self.clone(),
            ip,
        })
    }

    /// A new session's engine id, which places it on a media thread.
    fn new_engine_id(&self) -> u64 {
        self.next_engine_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether session `engine_id` may start playing ([`Engine::admit`]);
    /// a refusal is counted, and its reason returned.
    fn admit_play(&self, engine_id: u64) -> Result<(), String> {
        self.engine.admit(engine_id).map_err(|overload| {
            self.stats.refused(stats::Refusal::Overload);
            overload.to_string()
        })
    }

    /// The file or live source at `path` (percent-decoded, slashes around
    /// or not): a live mount or a path being published first, then a file.
    fn source(&self, path: &str) -> Result<engine::Source, media::MediaError> {
        if let Some(live) = self.live.get(path.trim_matches('/')) {
            return Ok(engine::Source::Live(live));
        }
        self.library.open(path).map(engine::Source::File)
    }

    /// The HTTP port, when one is served.
    fn http_port(&self) -> Option<u16> {
        self.ports.http
    }

    fn timeout_secs(&self) -> u32 {
        self.config
            .session_timeout
            .as_secs()
            .clamp(1, u64::from(u32::MAX)) as u32
    }
}
