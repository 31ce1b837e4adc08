//! An RTSP/1.0 client for MJPEG, on tokio: the library behind the
//! `mjpegrtspsrc`-style element, the GTK player and the tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mjpegrtsp::client::Error> {
//! use mjpegrtsp::client::{ClientOptions, Event, Session};
//! let mut session = Session::connect("rtsp://127.0.0.1:8554/movie.Mjpeg", ClientOptions::default()).await?;
//! session.describe().await?;
//! session.setup().await?;
//! let mut events = session.events().expect("taken once");
//! session.play(None).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Frame(frame) => { /* frame.jpeg is a whole JPEG, frame.pts its media time */ }
//!         Event::End(_) => break,
//!         _ => {}
//!     }
//! }
//! session.teardown().await?;
//! # Ok(()) }
//! ```
//!
//! # What it speaks
//!
//! * **Standard** RTSP (RFC 2326): OPTIONS, DESCRIBE (SDP), SETUP over UDP
//!   (`client_port`) or TCP (`interleaved`), PLAY with `Range` (seeking),
//!   PAUSE, TEARDOWN (also, best effort, when the [`Session`] is dropped);
//!   keep-alives before the session timeout (GET_PARAMETER, or OPTIONS when
//!   the server does not list it or refuses it); Basic and Digest (MD5,
//!   SHA-256, `qop=auth`) authentication, with the user and password from
//!   [`ClientOptions`] or the URL; RTCP receiver reports and BYE.
//! * **Classic**: the seed system's dialect (see `docs/walkthrough.md`): bare-LF
//!   requests without a blank line, `SETUP <file>` with
//!   `Transport: RTP/UDP; client_port= P`, replies that may lack `Session`
//!   (the seed server's bug), later requests with `Session: <id or 0>`, and
//!   one whole JPEG per UDP packet with timestamps in wall-clock seconds.
//!   With [`DialectPreference::Auto`] the client starts with OPTIONS and
//!   takes a server that does not answer within
//!   [`ClientOptions::classic_detect_timeout`] (or answers with bare LF) as
//!   classic, reconnecting if it has to.
//!
//! # Transports
//!
//! [`TransportPreference::Auto`] asks for UDP first. It switches to TCP
//! interleaved when the server refuses UDP (461), or when no UDP packet
//! arrives within [`ClientOptions::udp_fallback_after`] of the first PLAY
//! (a firewall): it then tears the UDP session down and sets up again over TCP,
//! starting where the PLAY asked.
//!
//! # Media
//!
//! Packets pass a reorder buffer (UDP: up to [`ClientOptions::latency`] of
//! waiting for a missing packet), then RFC 2435 depacketization (the standard
//! path) or whole-JPEG reassembly (the classic path and the project's
//! `X-WHOLE-JPEG` scheme). A frame with a missing piece is dropped and
//! counted; every [`Frame`] is a whole JPEG (`FF D8` … `FF D9`). Frames reach
//! the consumer through a bounded channel ([`Events`]); when it is full,
//! frames are dropped and counted ([`Stats::frames_dropped`]) rather than
//! slowing the network task down.

mod auth;
mod driver;
mod error;
mod events;
mod jitter;
mod media;
mod observer;
mod peer;
mod url;

pub use auth::{Algorithm, DigestInput, digest_response};
pub use error::Error;
pub use events::Events;
pub use jitter::{JitterBuffer, JitterStats, Pushed, Released};
pub use observer::{MessageDirection, MessageObserver};
pub use url::{DEFAULT_PORT, RtspUrl, without_password};

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use crate::rtsp::{
    ChannelPair, Dialect, LowerTransport, Method, NptRange, PortPair, Request, Response,
    SessionHeader, StatusCode, Transport, names,
};
use crate::rtsp::{Media as SdpMedia, Sdp};
pub use crate::timing::FrameRate;
use auth::Credentials;
use driver::{Cmd, Driver, DriverConfig, MediaSetup, MediaTransport};
use events::FrameBudget;
use media::MediaConfig;
use peer::PeerFilter;

/// Which lower transport to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportPreference {
    /// UDP, falling back to TCP (see the [module docs](self)).
    #[default]
    Auto,
    /// UDP only.
    Udp,
    /// TCP interleaved only.
    Tcp,
}

/// Which dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectPreference {
    /// Find out (see the [module docs](self)).
    #[default]
    Auto,
    /// RFC 2326.
    Standard,
    /// The seed system's.
    Classic,
}

/// How media reached the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// RTP over UDP.
    Udp,
    /// RTP interleaved in the RTSP connection.
    Tcp,
}

/// How a stream's JPEGs are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// RFC 2435 (`JPEG/90000`): what standard servers send.
    Rfc2435,
    /// The project's `X-WHOLE-JPEG` (12-byte header, whole or fragmented).
    WholeJpeg,
    /// The classic dialect: one whole JPEG per packet, no SDP.
    Classic,
}

/// Settings of a [`Session`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Lower transport.
    pub transport: TransportPreference,
    /// Dialect.
    pub dialect: DialectPreference,
    /// User name (overrides the URL's).
    pub user: Option<String>,
    /// Password (overrides the URL's).
    pub password: Option<String>,
    /// How long to wait to connect and for each reply (default 10 s).
    pub timeout: Duration,
    /// With [`DialectPreference::Auto`]: how long to wait for an answer to
    /// the first OPTIONS before taking the server as classic (default 1.5 s).
    pub classic_detect_timeout: Duration,
    /// With [`TransportPreference::Auto`]: how long to wait for the first UDP
    /// packet after PLAY before switching to TCP (default 3 s).
    pub udp_fallback_after: Duration,
    /// Reorder buffer time over UDP (default 30 ms).
    pub latency: Duration,
    /// Events the consumer's channel holds (default 64).
    pub event_capacity: usize,
    /// Bytes of JPEG the frames in the consumer's channel hold together
    /// (default 32 MiB); frames that do not fit are dropped and counted like
    /// those beyond `event_capacity` (one frame always fits an empty channel).
    pub event_bytes: usize,
    /// How often an [`Event::Stats`] is sent (default every second; `None`:
    /// never, use [`Session::stats`]).
    pub stats_interval: Option<Duration>,
    /// Frame rate for presentation times in the classic dialect, which says
    /// none (default 24/1).
    pub classic_framerate: FrameRate,
    /// Send RTCP receiver reports (default true).
    pub receiver_reports: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Called with the head of each request and reply, credentials redacted
    /// (default none); see [`MessageObserver`].
    pub observer: Option<MessageObserver>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            transport: TransportPreference::Auto,
            dialect: DialectPreference::Auto,
            user: None,
            password: None,
            timeout: Duration::from_secs(10),
            classic_detect_timeout: Duration::from_millis(1500),
            udp_fallback_after: Duration::from_secs(3),
            latency: Duration::from_millis(30),
            event_capacity: 64,
            event_bytes: 32 << 20,
            stats_interval: Some(Duration::from_secs(1)),
            classic_framerate: FrameRate::new(24, 1).expect("24/1 is a frame rate"),
            receiver_reports: true,
            user_agent: concat!("mjpegrtsp-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: None,
        }
    }
}

/// One whole JPEG frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The JPEG, `FF D8` … `FF D9`.
    pub jpeg: Vec<u8>,
    /// The RTP timestamp of its packets.
    pub rtp_timestamp: u32,
    /// Its media time: from the start of the presentation (the PLAY's
    /// `Range` and `RTP-Info`, then the RTP timestamps); in the classic
    /// dialect, from the frame count at [`ClientOptions::classic_framerate`].
    pub pts: Duration,
    /// When its last packet arrived.
    pub arrival: Instant,
    /// Sequence number of its first packet.
    pub first_seq: u16,
    /// Sequence number of its last packet.
    pub last_seq: u16,
    /// Something was lost, skipped or restarted before it (always set on
    /// the first frame after a PLAY).
    pub discont: bool,
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The server sent an RTCP BYE (the end of a file).
    Bye,
    /// The server closed the control connection while playing.
    ConnectionClosed,
}

/// What a playing session reports.
#[derive(Debug)]
pub enum Event {
    /// A frame.
    Frame(Frame),
    /// Statistics, every [`ClientOptions::stats_interval`].
    Stats(Stats),
    /// The stream ended.
    End(EndReason),
    /// Something failed in the background (e.g. a keep-alive found the
    /// session gone).
    Error(Error),
}

/// Statistics of a session's media, since it was set up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Frames handed on (or dropped for a slow consumer).
    pub frames: u64,
    /// Bytes of JPEG in them.
    pub bytes: u64,
    /// JPEG bits per second over about the last second.
    pub bitrate: f64,
    /// Frames per second over about the last second.
    pub framerate: f64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Sequence numbers that never arrived.
    pub packets_lost: u64,
    /// Packets received twice.
    pub packets_duplicated: u64,
    /// Packets that arrived after one with a higher number.
    pub packets_reordered: u64,
    /// Packets that arrived after their place was given up.
    pub packets_late: u64,
    /// Packets that were not RTP of this stream or not a valid payload.
    pub packets_invalid: u64,
    /// RTP and RTCP packets dropped for not being the server's: from another
    /// address or port, or an RTCP BYE that does not name the stream's
    /// source.
    pub packets_rejected: u64,
    /// Sequence number restarts (classic loops, new sources).
    pub restarts: u64,
    /// Frames dropped because a piece was missing or they were not JPEGs.
    pub frames_incomplete: u64,
    /// Frames dropped because the consumer's channel was full.
    pub frames_dropped: u64,
    /// RFC 3550 interarrival jitter, in milliseconds (0 in the classic
    /// dialect, whose timestamps are whole seconds).
    pub jitter_ms: f64,
    /// Width and height of the last frame (or from the SDP).
    pub dimensions: Option<(u32, u32)>,
    /// The transport in use.
    pub transport: Option<TransportKind>,
}

/// What DESCRIBE said (or, in the classic dialect, what is known without it).
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The SDP (none in the classic dialect).
    pub sdp: Option<Sdp>,
    /// The base URL of relative controls (`Content-Base`, …).
    pub base_url: String,
    /// The URL of PLAY, PAUSE and TEARDOWN.
    pub aggregate_url: String,
    /// The URL of the stream's SETUP (in the classic dialect: the file name).
    pub control_url: String,
    /// How the JPEGs are carried.
    pub format: PayloadFormat,
    /// The RTP payload type.
    pub payload_type: u8,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// `a=range` (the duration of a file; `npt=now-` for a live source).
    pub range: Option<NptRange>,
    /// `a=framerate`.
    pub framerate: Option<FrameRate>,
    /// `a=x-dimensions`.
    pub dimensions: Option<(u32, u32)>,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No stream set up.
    Init,
    /// Set up (or paused).
    Ready,
    /// Playing.
    Playing,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Init => "not set up",
            State::Ready => "ready (not playing)",
            State::Playing => "playing",
        }
    }
}

/// A client session with one presentation. See the [module docs](self).
pub struct Session {
    addr: SocketAddr,
    local_ip: IpAddr,
    url: RtspUrl,
    opts: ClientOptions,
    dialect: Dialect,
    has_credentials: bool,
    cmds: mpsc::UnboundedSender<Cmd>,
    events: Option<Events>,
    stats: Arc<Mutex<Stats>>,
    public: Option<Vec<String>>,
    description: Option<Description>,
    session: Option<SessionHeader>,
    transport: Option<TransportKind>,
    state: State,
    pending_start: Option<Duration>,
    udp_confirmed: bool,
    /// A PLAY succeeded since the SETUP.
    played: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.addr)
            .field("url", &self.url.request_url)
            .field("dialect", &self.dialect)
            .field("state", &self.state)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects to the server of `url` (`rtsp://[user:pass@]host[:port]/path`)
    /// and finds out its dialect (see [`DialectPreference`]). Must be called
    /// within a tokio runtime: the session's network task is spawned on it.
    pub async fn connect(url: &str, opts: ClientOptions) -> Result<Session, Error> {
        let url = RtspUrl::parse(url)?;
        let authority = url.authority();
        let stream = connect_tcp(&authority, opts.timeout).await?;
        let addr = stream.peer_addr().map_err(|source| Error::Connect {
            addr: authority.clone(),
            source,
        })?;
        let local_ip = stream
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let _ = stream.set_nodelay(true);
        let user = opts.user.clone().or_else(|| url.user.clone());
        let password = opts.password.clone().or_else(|| url.password.clone());
        let credentials = user.map(|user| Credentials {
            user,
            password: password.unwrap_or_default(),
        });
        let has_credentials = credentials.is_some();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(opts.event_capacity.max(1));
        let stats = Arc::new(Mutex::new(Stats::default()));
        let budget = FrameBudget::new(opts.event_bytes);
        let driver = Driver::new(
            DriverConfig {
                addr,
                credentials,
                user_agent: opts.user_agent.clone(),
                stats_interval: opts.stats_interval,
                receiver_reports: opts.receiver_reports,
                observer: opts.observer.clone(),
            },
            stream,
            cmd_rx,
            (ev_tx, budget.clone()),
            stats.clone(),
        );
        tokio::spawn(driver.run());
        let mut session = Session {
            addr,
            local_ip,
            url,
            dialect: Dialect::Standard,
            has_credentials,
            cmds: cmd_tx,
            events: Some(Events::new(ev_rx, budget)),
            stats,
            public: None,
            description: None,
            session: None,
            transport: None,
            state: State::Init,
            pending_start: None,
            udp_confirmed: false,
            played: false,
            opts,
        };
        session.find_dialect().await?;
        tracing::debug!(server = %addr, dialect = ?session.dialect, "connected");
        Ok(session)
    }

    async fn find_dialect(&mut self) -> Result<(), Error> {
        match self.opts.dialect {
            DialectPreference::Classic => {
                self.dialect = Dialect::Classic;
                Ok(())
            }
            DialectPreference::Standard => {
                let r = self.options(self.opts.timeout).await?;
                self.check_options(&r)
            }
            DialectPreference::Auto => match self.options(self.opts.classic_detect_timeout).await {
                Ok(r) if r.dialect == Dialect::Classic => {
                    tracing::debug!(server = %self.addr, "bare-LF reply to OPTIONS: classic dialect");
                    self.dialect = Dialect::Classic;
                    Ok(())
                }
                Ok(r) => self.check_options(&r),
                Err(Error::Timeout { .. } | Error::ConnectionClosed { .. }) => {
                    tracing::debug!(server = %self.addr, "no reply to OPTIONS: classic dialect");
                    self.dialect = Dialect::Classic;
                    self.reconnect().await
                }
                Err(e) => Err(e),
            },
        }
    }

    async fn options(&mut self, timeout: Duration) -> Result<Response, Error> {
        let req = Request::new(Method::Options, self.url.request_url.clone());
        self.request(req, timeout).await
    }

    /// An OPTIONS reply from a standard server: only 401 is fatal.
    fn check_options(&mut self, r: &Response) -> Result<(), Error> {
        self.dialect = Dialect::Standard;
        if r.status == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized(Method::Options, &self.url.request_url.clone()));
        }
        if !r.status.is_success() {
            tracing::debug!(status = r.status.as_u16(), "OPTIONS refused; going on");
        }
        self.public = r.headers.get(names::PUBLIC).map(|p| {
            p.split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        });
        Ok(())
    }

    fn unauthorized(&self, method: Method, url: &str) -> Error {
        Error::Unauthorized {
            addr: self.addr,
            method,
            url: url.to_owned(),
            reason: if self.has_credentials {
                "the server refused the user name and password".to_owned()
            } else {
                "the server wants a user name and password, and none was given".to_owned()
            },
        }
    }

    async fn reconnect(&mut self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send_cmd(Cmd::Reconnect {
            timeout: self.opts.timeout,
            reply: tx,
        })?;
        rx.await.map_err(|_| self.closed(None))?
    }

    fn closed(&self, method: Option<Method>) -> Error {
        Error::ConnectionClosed {
            addr: self.addr,
            method,
        }
    }

    fn send_cmd(&self, cmd: Cmd) -> Result<(), Error> {
        self.cmds.send(cmd).map_err(|_| self.closed(None))
    }

    async fn request(&mut self, req: Request, timeout: Duration) -> Result<Response, Error> {
        let method = req.method.clone();
        let (tx, rx) = oneshot::channel();
        self.send_cmd(Cmd::Request {
            req,
            timeout,
            reply: tx,
        })?;
        rx.await.map_err(|_| self.closed(Some(method)))?
    }

    /// Sends `req` and wants a 2xx reply.
    async fn expect_ok(&mut self, req: Request) -> Result<Response, Error> {
        let method = req.method.clone();
        let url = req.uri.clone();
        let resp = self.request(req, self.opts.timeout).await?;
        if resp.status.is_success() {
            Ok(resp)
        } else if resp.status == StatusCode::UNAUTHORIZED {
            Err(self.unauthorized(method, &url))
        } else {
            Err(Error::from_reply(self.addr, method, &url, &resp))
        }
    }

    /// A request in the session's dialect, with its Session header when
    /// `with_session` (classic: `Session: <id or 0>`).
    fn make_request(&self, method: Method, url: &str, with_session: bool) -> Request {
        let mut req = Request::new(method, url.to_owned()).with_dialect(self.dialect);
        if with_session {
            match (&self.session, self.dialect) {
                (Some(s), _) => req = req.with_session(&SessionHeader::new(s.id.clone())),
                (None, Dialect::Classic) => req = req.with_header(names::SESSION, "0"),
                (None, Dialect::Standard) => {}
            }
        }
        req
    }

    /// The server's address.
    pub fn server_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The transport in use, once set up.
    pub fn transport(&self) -> Option<TransportKind> {
        self.transport
    }

    /// The session id the server gave (none yet, or none from a classic
    /// server with the seed's bug).
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// The description, once [`describe`](Self::describe) ran.
    pub fn description(&self) -> Option<&Description> {
        self.description.as_ref()
    }

    /// The presentation's length, from the SDP's `a=range` (none for a live
    /// source or in the classic dialect).
    pub fn duration(&self) -> Option<Duration> {
        let range = self.description.as_ref()?.range?;
        let end = range.end_time()?;
        Some(end.saturating_sub(range.start_time().unwrap_or_default()))
    }

    /// `a=framerate` (classic: [`ClientOptions::classic_framerate`]).
    pub fn framerate(&self) -> Option<FrameRate> {
        self.description.as_ref()?.framerate
    }

    /// Width and height: `a=x-dimensions`, else those of the last frame.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.description
            .as_ref()
            .and_then(|d| d.dimensions)
            .or_else(|| self.stats().dimensions)
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The event receiver: frames, statistics, the end. Given once.
    pub fn events(&mut self) -> Option<Events> {
        self.events.take()
    }

    /// DESCRIBE: fetches and reads the SDP and picks the JPEG video stream.
    /// In the classic dialect nothing is sent.
    pub async fn describe(&mut self) -> Result<&Description, Error> {
        let description = match self.dialect {
            Dialect::Classic => {
                let file = self.url.classic_file().to_owned();
                Description {
                    sdp: None,
                    base_url: file.clone(),
                    aggregate_url: file.clone(),
                    control_url: file,
                    format: PayloadFormat::Classic,
                    payload_type: crate::rtp::CLASSIC_PAYLOAD_TYPE,
                    clock_rate: crate::rtp::WHOLE_FRAME_CLOCK_RATE,
                    range: None,
                    framerate: Some(self.opts.classic_framerate),
                    dimensions: None,
                }
            }
            Dialect::Standard => {
                let url = self.url.request_url.clone();
                let req = self
                    .make_request(Method::Describe, &url, false)
                    .with_header(names::ACCEPT, "application/sdp");
                let resp = self.expect_ok(req).await?;
                self.read_description(&url, &resp)?
            }
        };
        Ok(self.description.insert(description))
    }

    fn read_description(&self, url: &str, resp: &Response) -> Result<Description, Error> {
        let base = resp
            .headers
            .get(names::CONTENT_BASE)
            .or_else(|| resp.headers.get(names::CONTENT_LOCATION))
            .map(|b| b.trim().to_owned())
            .unwrap_or_else(|| url.to_owned());
        let sdp = Sdp::parse_bytes(&resp.body)
            .map_err(|e| Error::protocol(self.addr, Some(Method::Describe), format!("SDP: {e}")))?;
        let mut offered = Vec::new();
        let mut chosen = None;
        'media: for m in sdp.media.iter().filter(|m| m.kind == "video") {
            for pt in m.payload_types() {
                let map = m.rtpmap(pt);
                let (format, clock) = match &map {
                    Some(map) if map.encoding_name.eq_ignore_ascii_case("JPEG") => {
                        (PayloadFormat::Rfc2435, map.clock_rate)
                    }
                    Some(map)
                        if map
                            .encoding_name
                            .eq_ignore_ascii_case(crate::rtp::ENCODING_NAME) =>
                    {
                        (PayloadFormat::WholeJpeg, map.clock_rate)
                    }
                    None if pt == crate::rtp::rfc2435::PAYLOAD_TYPE => {
                        (PayloadFormat::Rfc2435, crate::rtp::rfc2435::CLOCK_RATE)
                    }
                    Some(map) => {
                        offered.push(format!("{} ({})", map.encoding_name, pt));
                        continue;
                    }
                    None => {
                        offered.push(format!("payload type {pt}"));
                        continue;
                    }
                };
                chosen = Some((m, pt, format, clock));
                break 'media;
            }
        }
        let Some((m, pt, format, clock_rate)) = chosen else {
            let kinds: Vec<&str> = sdp.media.iter().map(|m| m.kind.as_str()).collect();
            let detail = if offered.is_empty() {
                format!("media offered: {kinds:?}")
            } else {
                format!("video offered as {}", offered.join(", "))
            };
            return Err(Error::NoMedia {
                addr: self.addr,
                url: error::shown(url, error::MAX_SHOWN),
                detail: error::shown(&detail, error::MAX_SHOWN),
            });
        };
        Ok(Description {
            aggregate_url: sdp.aggregate_url(&base),
            control_url: m.control_url(&base),
            format,
            payload_type: pt,
            clock_rate,
            range: m.range().or_else(|| sdp.range()),
            framerate: m.framerate(),
            dimensions: m.dimensions(),
            base_url: base,
            sdp: Some(media_only(&sdp, m)),
        })
    }

    /// SETUP of the stream (DESCRIBE first if it was not done), over the
    /// transport the options ask for.
    pub async fn setup(&mut self) -> Result<TransportKind, Error> {
        if self.state != State::Init {
            return Err(Error::State {
                action: "set up",
                state: self.state.name(),
            });
        }
        if self.description.is_none() {
            self.describe().await?;
        }
        let kind = match (self.dialect, self.opts.transport) {
            (Dialect::Classic, TransportPreference::Tcp) => {
                return Err(Error::Unsupported {
                    addr: self.addr,
                    what: "TCP transport in the classic dialect (it only has UDP)".into(),
                });
            }
            (Dialect::Classic, _) => self.setup_classic().await?,
            (Dialect::Standard, TransportPreference::Udp) => self.setup_udp().await?,
            (Dialect::Standard, TransportPreference::Tcp) => self.setup_tcp().await?,
            (Dialect::Standard, TransportPreference::Auto) => match self.setup_udp().await {
                Err(Error::Status { status: 461, .. }) => {
                    tracing::info!(server = %self.addr, "UDP refused (461): using TCP");
                    self.setup_tcp().await?
                }
                other => other?,
            },
        };
        self.transport = Some(kind);
        self.state = State::Ready;
        Ok(kind)
    }

    /// How the stream is read; `reordering` says whether packets can arrive
    /// out of order (UDP) and so need the reorder buffer's latency.
    fn media_config(&self, reordering: bool) -> MediaConfig {
        let d = self.description.as_ref();
        let format = d.map_or(PayloadFormat::Classic, |d| d.format);
        let framerate = match d.and_then(|d| d.framerate) {
            Some(rate) if format != PayloadFormat::Classic => rate,
            _ => self.opts.classic_framerate,
        };
        MediaConfig {
            format,
            payload_type: d.map(|d| d.payload_type),
            clock_rate: d.map_or(1, |d| d.clock_rate),
            latency: if reordering {
                self.opts.latency
            } else {
                Duration::ZERO
            },
            framerate,
            dimensions: d.and_then(|d| d.dimensions),
        }
    }

    async fn setup_classic(&mut self) -> Result<TransportKind, Error> {
        let file = self.url.classic_file().to_owned();
        if file.is_empty() {
            return Err(Error::InvalidUrl {
                url: self.url.request_url.clone(),
                reason: "the classic dialect needs a file name in the path".into(),
            });
        }
        let rtp = std::net::UdpSocket::bind((self.local_ip, 0))
            .and_then(media_socket)
            .map_err(|source| self.io_error("binding the RTP port", source))?;
        let port = rtp
            .local_addr()
            .map_err(|source| self.io_error("binding the RTP port", source))?
            .port();
        // The seed client's bytes: `SETUP <file> RTSP/1.0\nCSeq: N\nTransport: RTP/UDP; client_port= P\n`.
        let req = self
            .make_request(Method::Setup, &file, false)
            .with_header(names::TRANSPORT, format!("RTP/UDP; client_port= {port}"));
        let resp = self.expect_ok(req).await?;
        // The seed server leaves Session out of its SETUP reply.
        self.session = resp.session().ok().flatten();
        // The seed server sends from a port it does not name: only the
        // address is checked.
        self.send_cmd(Cmd::StartMedia(Box::new(MediaSetup {
            config: self.media_config(true),
            transport: MediaTransport::Udp {
                rtp,
                rtcp: None,
                server_rtcp: None,
                peer: PeerFilter::new(self.addr.ip(), None, None),
            },
            announced_ssrc: None,
        })))?;
        Ok(TransportKind::Udp)
    }

    fn io_error(&self, context: &str, source: std::io::Error) -> Error {
        Error::Io {
            addr: self.addr,
            context: context.to_owned(),
            source,
        }
    }

    async fn setup_udp(&mut self) -> Result<TransportKind, Error> {
        let (rtp, rtcp) = crate::net::bind_rtp_pair(self.local_ip)
            .and_then(|(rtp, rtcp)| Ok((media_socket(rtp)?, media_socket(rtcp)?)))
            .map_err(|source| self.io_error("binding RTP/RTCP ports", source))?;
        let rtp_port = rtp
            .local_addr()
            .map_err(|source| self.io_error("binding RTP/RTCP ports", source))?
            .port();
        let offer = Transport::udp_unicast(PortPair::new(rtp_port, rtp_port + 1));
        let resp = self.send_setup(offer).await?;
        let chosen = self.reply_transport(&resp)?;
        if chosen.lower != LowerTransport::Udp {
            return Err(Error::protocol(
                self.addr,
                Some(Method::Setup),
                format!("asked for UDP, the server chose {chosen}"),
            ));
        }
        let server_rtcp = chosen
            .server_port
            .and_then(|p| p.rtcp)
            .map(|port| SocketAddr::new(self.addr.ip(), port));
        // Media comes from `source=` when the server names one, else from
        // the server itself (its ports, when it says them).
        let source = chosen
            .source
            .as_deref()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
            .unwrap_or(self.addr.ip());
        let peer = PeerFilter::new(
            source,
            chosen.server_port.map(|p| p.rtp),
            chosen.server_port.and_then(|p| p.rtcp),
        );
        self.start_standard_media(
            &resp,
            MediaTransport::Udp {
                rtp,
                rtcp: Some(rtcp),
                server_rtcp,
                peer,
            },
            chosen.ssrc,
        )?;
        Ok(TransportKind::Udp)
    }

    async fn setup_tcp(&mut self) -> Result<TransportKind, Error> {
        let offer = Transport::tcp_interleaved(ChannelPair::new(0, 1));
        let resp = self.send_setup(offer).await?;
        let chosen = self.reply_transport(&resp)?;
        if chosen.lower != LowerTransport::Tcp {
            return Err(Error::protocol(
                self.addr,
                Some(Method::Setup),
                format!("asked for TCP, the server chose {chosen}"),
            ));
        }
        let channels = chosen.interleaved.unwrap_or(ChannelPair::new(0, 1));
        let rtp_channel = channels.rtp;
        let rtcp_channel = channels.rtcp.unwrap_or(rtp_channel.wrapping_add(1));
        self.start_standard_media(
            &resp,
            MediaTransport::Tcp {
                rtp_channel,
                rtcp_channel,
            },
            chosen.ssrc,
        )?;
        Ok(TransportKind::Tcp)
    }

    async fn send_setup(&mut self, offer: Transport) -> Result<Response, Error> {
        let url = self
            .description
            .as_ref()
            .map(|d| d.control_url.clone())
            .unwrap_or_else(|| self.url.request_url.clone());
        let req = self
            .make_request(Method::Setup, &url, false)
            .with_header(names::TRANSPORT, offer.to_string());
        self.expect_ok(req).await
    }

    fn reply_transport(&self, resp: &Response) -> Result<Transport, Error> {
        resp.transport()
            .map_err(|e| Error::protocol(self.addr, Some(Method::Setup), e.to_string()))?
            .ok_or_else(|| {
                Error::protocol(
                    self.addr,
                    Some(Method::Setup),
                    "the SETUP reply has no Transport header".into(),
                )
            })
    }

    fn start_standard_media(
        &mut self,
        resp: &Response,
        transport: MediaTransport,
        announced_ssrc: Option<u32>,
    ) -> Result<(), Error> {
        let session = resp
            .session()
            .map_err(|e| Error::protocol(self.addr, Some(Method::Setup), e.to_string()))?
            .ok_or_else(|| {
                Error::protocol(
                    self.addr,
                    Some(Method::Setup),
                    "the SETUP reply has no Session header".into(),
                )
            })?;
        let reordering = matches!(transport, MediaTransport::Udp { .. });
        self.send_cmd(Cmd::StartMedia(Box::new(MediaSetup {
            config: self.media_config(reordering),
            transport,
            announced_ssrc,
        })))?;
        let url = self.aggregate_url();
        self.send_cmd(Cmd::SetSession {
            session: Some(session.clone()),
            url,
            public: self.public.clone(),
        })?;
        self.session = Some(session);
        Ok(())
    }

    fn aggregate_url(&self) -> String {
        match self.dialect {
            Dialect::Classic => self.url.classic_file().to_owned(),
            Dialect::Standard => self
                .description
                .as_ref()
                .map(|d| d.aggregate_url.clone())
                .unwrap_or_else(|| self.url.request_url.clone()),
        }
    }

    /// PLAY, from `range` when given (`None`: from where a pause or
    /// [`seek`](Self::seek) left it, or from the start). While playing, a
    /// range seeks. With [`TransportPreference::Auto`] over UDP, the first
    /// PLAY waits for the first packet and switches to TCP if none comes in
    /// time.
    pub async fn play(&mut self, range: Option<NptRange>) -> Result<(), Error> {
        if self.state == State::Init {
            return Err(Error::State {
                action: "play",
                state: self.state.name(),
            });
        }
        let range = range.or_else(|| self.pending_start.take().map(NptRange::starting_at));
        self.send_play(range).await?;
        let fallback = self.dialect == Dialect::Standard
            && self.opts.transport == TransportPreference::Auto
            && self.transport == Some(TransportKind::Udp)
            && !self.udp_confirmed;
        if fallback {
            let (tx, rx) = oneshot::channel();
            self.send_cmd(Cmd::WaitFirstPacket(tx))?;
            match tokio::time::timeout(self.opts.udp_fallback_after, rx).await {
                Ok(Ok(())) => self.udp_confirmed = true,
                _ => self.fall_back_to_tcp(range).await?,
            }
        }
        Ok(())
    }

    async fn send_play(&mut self, range: Option<NptRange>) -> Result<(), Error> {
        let url = self.aggregate_url();
        let mut req = self.make_request(Method::Play, &url, true);
        match (self.dialect, range) {
            (Dialect::Standard, Some(r)) => {
                req = req.with_header(names::RANGE, r.to_string());
            }
            (Dialect::Standard, None) if !self.played => {
                req = req.with_header(names::RANGE, "npt=0.000-");
            }
            (Dialect::Classic, Some(r)) if r.start_time().is_some_and(|t| !t.is_zero()) => {
                return Err(Error::Unsupported {
                    addr: self.addr,
                    what: "seeking in the classic dialect".into(),
                });
            }
            _ => {}
        }
        let resp = self.expect_ok(req).await?;
        if self.dialect == Dialect::Classic
            && let Ok(Some(s)) = resp.session()
        {
            self.session = Some(s);
        }
        self.state = State::Playing;
        self.played = true;
        Ok(())
    }

    async fn fall_back_to_tcp(&mut self, range: Option<NptRange>) -> Result<(), Error> {
        tracing::warn!(
            server = %self.addr,
            "no UDP packet within {:?}: tearing down and setting up again over TCP",
            self.opts.udp_fallback_after
        );
        if let Err(e) = self.teardown().await {
            tracing::debug!("TEARDOWN before the TCP fallback: {e}");
        }
        self.reconnect().await?;
        let kind = self.setup_tcp().await?;
        self.transport = Some(kind);
        self.state = State::Ready;
        self.udp_confirmed = true;
        self.send_play(Some(
            range.unwrap_or_else(|| NptRange::starting_at(Duration::ZERO)),
        ))
        .await
    }

    /// PAUSE. Frames already on their way may still arrive.
    pub async fn pause(&mut self) -> Result<(), Error> {
        if self.state != State::Playing {
            return Err(Error::State {
                action: "pause",
                state: self.state.name(),
            });
        }
        let url = self.aggregate_url();
        let req = self.make_request(Method::Pause, &url, true);
        let resp = self.expect_ok(req).await?;
        if self.dialect == Dialect::Classic
            && let Ok(Some(s)) = resp.session()
        {
            self.session = Some(s);
        }
        self.state = State::Ready;
        Ok(())
    }

    /// Moves to media time `position`: at once while playing (a PLAY with
    /// `Range`), else at the next [`play`](Self::play). Not in the classic
    /// dialect.
    pub async fn seek(&mut self, position: Duration) -> Result<(), Error> {
        if self.dialect == Dialect::Classic {
            return Err(Error::Unsupported {
                addr: self.addr,
                what: "seeking in the classic dialect".into(),
            });
        }
        match self.state {
            State::Init => Err(Error::State {
                action: "seek",
                state: self.state.name(),
            }),
            State::Ready => {
                self.pending_start = Some(position);
                Ok(())
            }
            State::Playing => self.play(Some(NptRange::starting_at(position))).await,
        }
    }

    /// TEARDOWN: ends the server's session and stops reading media. The
    /// connection stays open (a new [`setup`](Self::setup) may follow).
    pub async fn teardown(&mut self) -> Result<(), Error> {
        if self.state == State::Init {
            return Ok(());
        }
        let url = self.aggregate_url();
        let req = self.make_request(Method::Teardown, &url, true);
        let result = self.expect_ok(req).await;
        self.send_cmd(Cmd::StopMedia)?;
        self.send_cmd(Cmd::SetSession {
            session: None,
            url: String::new(),
            public: None,
        })?;
        self.state = State::Init;
        self.session = None;
        self.transport = None;
        self.played = false;
        match result {
            Ok(_) | Err(Error::Status { status: 454, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Session {
    /// Best effort: a TEARDOWN is sent (and its reply awaited for a moment)
    /// by the session's task, which then ends.
    fn drop(&mut self) {
        let teardown = (self.state != State::Init).then(|| {
            let url = self.aggregate_url();
            self.make_request(Method::Teardown, &url, true)
        });
        let _ = self.cmds.send(Cmd::Shutdown { teardown });
    }
}

/// The session part of `sdp` with only the chosen media.
fn media_only(sdp: &Sdp, m: &SdpMedia) -> Sdp {
    Sdp {
        media: vec![m.clone()],
        ..sdp.clone()
    }
}

async fn connect_tcp(authority: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let err = |source| Error::Connect {
        addr: authority.to_owned(),
        source,
    };
    let attempt = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(authority)
            .await
            .map_err(err)?
            .collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
        })))
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| {
        err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {timeout:?}"),
        ))
    })?
}

/// `socket` on the tokio runtime, non-blocking, with a receive buffer large
/// enough for bursts of a frame's packets.
fn media_socket(socket: std::net::UdpSocket) -> std::io::Result<UdpSocket> {
    if let Err(e) = crate::net::set_receive_buffer(&socket, 4 * 1024 * 1024) {
        tracing::debug!("SO_RCVBUF: {e}");
    }
    crate::net::into_tokio(socket)
}
