//! What a server is asked to serve and how, and why it may fail to start.

use super::limits;
use crate::timing::FrameRate;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// What a server serves and how.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (RTSP, and the UDP ports media goes from).
    pub bind: IpAddr,
    /// RTSP port (0: any free port; see [`Server::local_addr`]).
    pub port: u16,
    /// Every `.Mjpeg` under it is served at its relative path.
    pub media_dir: PathBuf,
    /// Frame rate files are played at.
    pub fps: FrameRate,
    /// Files start again from the beginning when they end.
    pub looping: bool,
    /// Live sources, each at its own path, shared by its viewers:
    /// GStreamer pipelines (need the `live` feature; without it,
    /// [`Server::bind`] refuses) and relays of upstream RTSP streams.
    pub live: Vec<LiveMount>,
    /// Clients may publish (ANNOUNCE and RECORD) an MJPEG stream at any
    /// free path; its viewers get it live (see `publish`).
    pub publish: bool,
    /// Sessions alive at once; more get 453.
    pub max_sessions: usize,
    /// Sessions one client address may hold at once (0: no maximum); more
    /// get 453.
    pub max_sessions_per_address: usize,
    /// Connections open at once. The server raises its open-file limit as
    /// far as it may and keeps this below it, with room for everything
    /// else; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections one client address may hold at once (0: no maximum);
    /// more are answered 503 and closed.
    pub max_connections_per_address: usize,
    /// A request not whole this long after its first byte closes its
    /// connection (a slow or stalled sender).
    pub request_timeout: Duration,
    /// A connection that holds no session and sends nothing for this long
    /// is closed.
    pub idle_timeout: Duration,
    /// A standard session with no request or RTCP for this long ends.
    pub session_timeout: Duration,
    /// Largest RTP packet over UDP, header included.
    pub mtu: usize,
    /// Who may play what (none: everyone may play everything).
    pub access: Option<Access>,
    /// RTSPS beside plain RTSP (needs the `tls` feature; without it,
    /// [`Server::bind`](super::Server::bind) refuses).
    pub tls: Option<TlsConfig>,
    /// Serve plain `rtsp://` on `port` (default true; false: `rtsps://`
    /// only, which then needs `tls`).
    pub plain: bool,
    /// Proxies (load balancers) whose connections start with a PROXY
    /// protocol header (v1 or v2, [`crate::proxy_protocol`]) naming the
    /// real client: it is then that client's address the server uses for
    /// media, limits and logs. Empty (the default): no PROXY protocol;
    /// otherwise a PROXY header from any other address closes its
    /// connection.
    pub trusted_proxies: Vec<crate::net::IpNet>,
    /// PEM certificates a relay trusts for its `rtsps://` upstreams instead
    /// of the system's roots (a camera or server with a private CA or a
    /// self-signed certificate).
    pub relay_ca_file: Option<PathBuf>,
    /// The HTTP port on `bind` (none: no HTTP): pages, MJPEG over HTTP,
    /// snapshots, metrics and the status API.
    pub http: Option<HttpConfig>,
    /// Media threads sending the sessions' frames (0, the default: one per
    /// core, less one for the control plane from four cores up; see
    /// [`super::engine::default_threads`]).
    pub media_threads: usize,
    /// When a media thread takes no new session: a PLAY then gets 453 (an
    /// HTTP viewer 503) rather than degrade the sessions playing.
    pub admission: super::engine::load::Admission,
    /// Where files' indexes are remembered between runs, so that a large
    /// file opens at once even when it is not in the page cache (default:
    /// the user's cache, [`crate::container::IndexCache::user`]; none: every open walks the
    /// file, in the background).
    pub index_cache: Option<crate::container::IndexCache>,
}

/// The HTTP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// The port (0: any free port; see `Server::http_addr`).
    pub port: u16,
    /// The port is a default nobody asked for (`server-cli`'s 8080): when
    /// it is taken, the server starts without HTTP and says so in the log,
    /// rather than not at all.
    pub optional: bool,
}

impl HttpConfig {
    /// The HTTP port `port`, asked for: if it cannot be listened on, the
    /// server does not start.
    pub fn on(port: u16) -> HttpConfig {
        HttpConfig {
            port,
            optional: false,
        }
    }
}

/// A live source and where it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMount {
    /// The mount path, e.g. `live` or `cams/door` (no leading slash
    /// needed); it hides a file of the same path.
    pub path: String,
    /// Where its frames come from.
    pub input: LiveInput,
}

/// Where a live mount's frames come from.
#[derive(Clone, PartialEq, Eq)]
pub enum LiveInput {
    /// A gst-launch-1.0 description producing `image/jpeg`, started with
    /// the server.
    Pipeline(String),
    /// An upstream `rtsp://` (or `rtsps://`) URL, opened on demand
    /// ([`super::relay`]); credentials in it are never logged.
    Relay(String),
}

// The URL of a relay may hold a password: Debug leaves it out.
impl std::fmt::Debug for LiveInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pipeline(launch) => f.debug_tuple("Pipeline").field(launch).finish(),
            Self::Relay(url) => f
                .debug_tuple("Relay")
                .field(&crate::client::without_password(url))
                .finish(),
        }
    }
}

impl LiveMount {
    /// The pipeline `launch` at `path`.
    pub fn new(path: impl Into<String>, launch: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            input: LiveInput::Pipeline(launch.into()),
        }
    }

    /// A relay of `url` at `path`.
    pub fn relay(path: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            input: LiveInput::Relay(url.into()),
        }
    }

    /// The pipeline `launch` at the default path, `live`.
    pub fn default_path(launch: impl Into<String>) -> Self {
        Self::new(super::live::LIVE_MOUNT, launch)
    }

    /// The path as the server matches it (no slashes around); `None` if it
    /// is empty or has `.`/`..` segments.
    pub fn normalized_path(&self) -> Option<String> {
        let path = self.path.trim_matches('/');
        let fine = !path.is_empty()
            && path
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        fine.then(|| path.to_owned())
    }
}

/// RTSPS: where the certificate and key are, and the port.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the server's own first.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
    /// The `rtsps://` port (0: any free one).
    pub port: u16,
    /// SRTP for the media of `rtsps://` sessions (default true): each
    /// DESCRIBE over TLS offers a fresh key (SDES `a=crypto`, `RTP/SAVP`),
    /// and every session set up from it is sent as SRTP/SRTCP, over UDP and
    /// interleaved alike. False: `RTP/AVP`, for clients without SDES
    /// (interleaved media is still inside TLS; UDP media is then in clear).
    pub srtp: bool,
}

impl TlsConfig {
    /// RTSPS with `cert` and `key` on `port`, SRTP on.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>, port: u16) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            port,
            srtp: true,
        }
    }
}

/// The users a server asks for credentials, its realm, and the mounts open
/// to anyone; see [`auth`](super::auth).
#[derive(Debug, Clone)]
pub struct Access {
    /// The users file's users.
    pub users: super::users::Users,
    /// The realm of the challenges (the users' hashes must be for it).
    pub realm: String,
    /// Mount patterns anyone may play, classic clients included.
    pub public: Vec<String>,
}

impl ServerConfig {
    /// When a connection's next read must have come: `request_timeout`
    /// after the first byte of a request still in `buf` (`request_began`,
    /// kept up to date here), else `idle_timeout` after the last request.
    pub(super) fn read_deadline(
        &self,
        buf: &[u8],
        request_began: &mut Option<std::time::Instant>,
        last_request: std::time::Instant,
    ) -> std::time::Instant {
        if buf.is_empty() {
            *request_began = None;
        } else {
            request_began.get_or_insert_with(std::time::Instant::now);
        }
        match request_began {
            Some(began) => *began + self.request_timeout,
            None => last_request + self.idle_timeout,
        }
    }

    /// Defaults for serving `media_dir` on loopback at an ephemeral port.
    pub fn new(media_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            media_dir: media_dir.into(),
            fps: FrameRate::new(24, 1).expect("24/1 is a frame rate"),
            looping: false,
            live: Vec::new(),
            publish: false,
            max_sessions: 1000,
            max_sessions_per_address: limits::DEFAULT_MAX_SESSIONS_PER_ADDRESS,
            max_connections: limits::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: limits::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            request_timeout: limits::DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: limits::DEFAULT_IDLE_TIMEOUT,
            session_timeout: Duration::from_secs(60),
            mtu: 1400,
            access: None,
            tls: None,
            plain: true,
            trusted_proxies: Vec::new(),
            relay_ca_file: None,
            http: None,
            media_threads: 0,
            admission: super::engine::load::Admission::default(),
            index_cache: crate::container::IndexCache::user(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The media directory cannot be read.
    MediaDir {
        /// The directory given.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The RTSP, RTSPS or HTTP port cannot be listened on (in use, no
    /// permission, …).
    Listen {
        /// The address and port asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No RTP/RTCP port pair could be bound, or set up.
    MediaPorts(std::io::Error),
    /// The media engine's threads could not start.
    Engine(std::io::Error),
    /// The live pipeline cannot be built or does not start (GStreamer says
    /// why in the text).
    LivePipeline(String),
    /// A live pipeline was asked for in a build without the `live` feature.
    NoLiveSupport,
    /// A relay's upstream is not an `rtsp://` or `rtsps://` URL.
    Relay(String),
    /// A live mount path is empty, has `.`/`..` segments, or is given twice.
    LiveMount(String),
    /// The TLS certificate or key cannot be used (the text says why), or
    /// TLS was asked for in a build without the `tls` feature.
    Tls(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MediaDir { dir, source } => {
                write!(f, "cannot serve media directory {}: {source}", dir.display())
            }
            Self::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::MediaPorts(e) => write!(f, "cannot bind RTP/RTCP ports: {e}"),
            Self::Engine(e) => write!(f, "cannot start the media engine: {e}"),
            Self::LivePipeline(why) => f.write_str(why),
            Self::NoLiveSupport => f.write_str(
                "this build serves files only: a live --pipeline needs the `live` feature (GStreamer)",
            ),
            Self::LiveMount(why) | Self::Relay(why) => f.write_str(why),
            Self::Tls(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::MediaDir { source, .. } | Self::Listen { source, .. } => Some(source),
            Self::MediaPorts(e) | Self::Engine(e) => Some(e),
            Self::LivePipeline(_)
            | Self::NoLiveSupport
            | Self::LiveMount(_)
            | Self::Relay(_)
            | Self::Tls(_) => None,
        }
    }
}
