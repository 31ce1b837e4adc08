//! The session's network task: it owns the control connection and the media
//! sockets, so that replies, interleaved media, UDP media, RTCP, keep-alives
//! and timers are all handled in one place, and the [`Session`] handle only
//! sends it commands.
//!
//! * Requests are sent one at a time, in order; the driver numbers them
//!   (`CSeq`), adds `User-Agent` and `Authorization` (standard dialect), and
//!   answers a 401 once by itself when it has credentials.
//! * Media packets go through [`Media`]; frames are offered to the consumer's
//!   bounded channel with `try_send`, within its byte budget, so a slow
//!   consumer costs frames (counted), never the network task's progress nor
//!   unbounded memory.
//! * UDP datagrams are taken only from the server ([`PeerFilter`]), and an
//!   RTCP BYE ends the stream only when it names the stream's source; what
//!   is refused is counted in [`Stats::packets_rejected`].
//! * While a PLAY is on its way, packets are held back until its reply says
//!   (with `RTP-Info`) which of them belong to the new position.
//!
//! [`Session`]: super::Session

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use super::auth::{Authenticator, Credentials};
use super::error::Error;
use super::events::FrameBudget;
use super::media::{Media, MediaConfig, PlayStart};
use super::peer::PeerFilter;
use super::stream::{Connector, Stream};
use super::{EndReason, Event, Frame, Stats, TransportKind};
use crate::rtp::rtcp;
use crate::rtp::srtp::{MasterKey, Unprotector};
use crate::rtsp::{
    CLASSIC_IDLE_DELAY, Dialect, Incomplete, Item, Method, Parsed, Parser, Request, Response,
    SessionHeader, StatusCode, names,
};

/// Receiver reports go out this often (RFC 3550's 5 s minimum).
mod control;
mod media_path;
mod timers;

const RR_INTERVAL: Duration = Duration::from_secs(5);
/// After a BYE, packets still in flight get this long to arrive.
const BYE_GRACE: Duration = Duration::from_millis(100);
/// How long a TEARDOWN sent on the way out may wait for its reply.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);
/// Control events (end, errors) kept while the consumer's channel is full.
const MAX_BACKLOG: usize = 16;
/// The snapshot behind [`Session::stats`](super::Session::stats) is at most
/// this old while packets flow.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// Reads from the control connection and datagrams are at most this large.
const READ_CHUNK: usize = 64 * 1024;

/// A reply to a request sent through the driver.
pub type Reply = oneshot::Sender<Result<Response, Error>>;

/// What the [`Session`](super::Session) handle asks of the driver.
pub enum Cmd {
    /// Send a request and answer with its reply.
    Request {
        req: Request,
        timeout: Duration,
        reply: Reply,
    },
    /// Drop the control connection and open a new one.
    Reconnect {
        timeout: Duration,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// The session (for keep-alives): its header, the URL keep-alives go to,
    /// and the methods the server listed in `Public`.
    SetSession {
        session: Option<SessionHeader>,
        url: String,
        public: Option<Vec<String>>,
    },
    /// Start reading a stream's media.
    StartMedia(Box<MediaSetup>),
    /// Stop reading media (after TEARDOWN).
    StopMedia,
    /// Answer once a media packet arrived since the last `StartMedia`.
    WaitFirstPacket(oneshot::Sender<()>),
    /// Send this TEARDOWN (if any), wait briefly for its reply, and stop.
    Shutdown { teardown: Option<Request> },
}

/// A stream to read, and where its packets arrive.
pub struct MediaSetup {
    pub config: MediaConfig,
    pub transport: MediaTransport,
    /// The `ssrc=` of the SETUP reply's `Transport`, if it gave one.
    pub announced_ssrc: Option<u32>,
    /// The SRTP key, when the media is SRTP/SRTCP.
    pub srtp: Option<MasterKey>,
}

/// Where media arrives.
pub enum MediaTransport {
    /// On UDP sockets of our own; RTCP is sent to the server's RTCP port,
    /// and datagrams are taken only from where `peer` says.
    Udp {
        rtp: UdpSocket,
        rtcp: Option<UdpSocket>,
        server_rtcp: Option<SocketAddr>,
        peer: PeerFilter,
    },
    /// Interleaved in the control connection.
    Tcp { rtp_channel: u8, rtcp_channel: u8 },
}

struct ActiveMedia {
    media: Media,
    transport: MediaTransport,
    announced_ssrc: Option<u32>,
    /// Checks and decrypts SRTP/SRTCP, when the media is.
    srtp: Option<Unprotector>,
    our_ssrc: u32,
    next_rr: Instant,
    bye_at: Option<Instant>,
}

struct InFlight {
    cseq: u32,
    req: Request,
    /// `None` for the driver's own requests (keep-alives, the last TEARDOWN).
    reply: Option<Reply>,
    timeout: Duration,
    deadline: Instant,
    auth_retried: bool,
}

struct KeepAlive {
    session: SessionHeader,
    url: String,
    interval: Duration,
    next: Instant,
}

/// Settings the driver starts with.
pub struct DriverConfig {
    pub addr: SocketAddr,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    pub stats_interval: Option<Duration>,
    pub receiver_reports: bool,
    /// See [`ClientOptions::stall_after`](super::ClientOptions::stall_after).
    pub stall_after: Option<Duration>,
    pub observer: Option<super::MessageObserver>,
    /// Makes the control connection again (plain or TLS) on a reconnect.
    pub connector: Connector,
}

/// The task; see the [module docs](self).
pub struct Driver {
    cfg: DriverConfig,
    conn: Option<Stream>,
    rbuf: Vec<u8>,
    chunk: Vec<u8>,
    idle_since: Option<Instant>,
    parser: Parser,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    queue: VecDeque<InFlight>,
    in_flight: Option<InFlight>,
    cseq: u32,
    auth: Option<Authenticator>,
    keepalive: Option<KeepAlive>,
    public: Option<Vec<String>>,
    get_parameter_ok: bool,
    media: Option<ActiveMedia>,
    rtp_buf: Vec<u8>,
    rtcp_buf: Vec<u8>,
    frames: Vec<Frame>,
    playing: bool,
    events: mpsc::Sender<Event>,
    /// Bytes of the frames waiting in `events`.
    budget: FrameBudget,
    backlog: VecDeque<Event>,
    stats: Arc<Mutex<Stats>>,
    /// Counters of media read before the current one (a fallback to TCP
    /// starts a new one).
    past: Stats,
    frames_dropped: u64,
    /// Datagrams not from the server, and BYEs not for the stream.
    packets_rejected: u64,
    next_stats: Option<Instant>,
    rate_mark: (Instant, u64, u64),
    next_publish: Instant,
    waiters: Vec<oneshot::Sender<()>>,
    packets_since_start: u64,
    /// When the last media packet was taken (or the last PLAY answered).
    last_media: Instant,
    /// An [`Event::Stalled`] went out and no media came since.
    stalled: bool,
    closing: Option<Instant>,
}

enum Wake {
    Cmd(Option<Cmd>),
    Tcp(io::Result<usize>),
    Rtp(io::Result<(usize, SocketAddr)>),
    Rtcp(io::Result<(usize, SocketAddr)>),
    Timer,
}

async fn read_opt(conn: Option<&mut Stream>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(c) => c.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn recv_from_opt(
    sock: Option<&UdpSocket>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    pub fn new(
        cfg: DriverConfig,
        conn: Stream,
        cmds: mpsc::UnboundedReceiver<Cmd>,
        (events, budget): (mpsc::Sender<Event>, FrameBudget),
        stats: Arc<Mutex<Stats>>,
    ) -> Self {
        let now = Instant::now();
        let next_stats = cfg.stats_interval.map(|i| now + i);
        Self {
            cfg,
            conn: Some(conn),
            rbuf: Vec::with_capacity(READ_CHUNK),
            chunk: vec![0; READ_CHUNK],
            idle_since: None,
            parser: Parser::new(),
            cmds,
            queue: VecDeque::new(),
            in_flight: None,
            cseq: 0,
            auth: None,
            keepalive: None,
            public: None,
            get_parameter_ok: true,
            media: None,
            rtp_buf: vec![0; READ_CHUNK + 1],
            rtcp_buf: vec![0; 2048],
            frames: Vec::new(),
            playing: false,
            events,
            budget,
            backlog: VecDeque::new(),
            stats,
            past: Stats::default(),
            frames_dropped: 0,
            packets_rejected: 0,
            next_stats,
            rate_mark: (now, 0, 0),
            next_publish: now,
            waiters: Vec::new(),
            packets_since_start: 0,
            last_media: now,
            stalled: false,
            closing: None,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.cfg.addr
    }

    /// Runs until the handle is gone (or asked to shut down).
    pub async fn run(mut self) {
        loop {
            if let Some(until) = self.closing
                && (self.in_flight.is_none() || Instant::now() >= until || self.conn.is_none())
            {
                break;
            }
            let wake_at = self.next_wake();
            let (rtp_sock, rtcp_sock) = match self.media.as_ref().map(|m| &m.transport) {
                Some(MediaTransport::Udp { rtp, rtcp, .. }) => (Some(rtp), rtcp.as_ref()),
                _ => (None, None),
            };
            // Unbiased: a busy media socket must not starve commands or the
            // control connection (a BYE overtaking media is covered by
            // BYE_GRACE).
            let wake = tokio::select! {
                r = recv_from_opt(rtp_sock, &mut self.rtp_buf) => Wake::Rtp(r),
                r = read_opt(self.conn.as_mut(), &mut self.chunk) => Wake::Tcp(r),
                r = recv_from_opt(rtcp_sock, &mut self.rtcp_buf) => Wake::Rtcp(r),
                cmd = self.cmds.recv(), if self.closing.is_none() => Wake::Cmd(cmd),
                _ = tokio::time::sleep_until(wake_at.into()) => Wake::Timer,
            };
            let now = Instant::now();
            match wake {
                Wake::Cmd(None) => break,
                Wake::Cmd(Some(cmd)) => self.on_command(cmd).await,
                Wake::Tcp(Ok(0)) => self.on_closed(None),
                Wake::Tcp(Ok(n)) => {
                    self.rbuf.extend_from_slice(&self.chunk[..n]);
                    self.drain_input(false).await;
                }
                Wake::Tcp(Err(e)) => self.on_closed(Some(e)),
                Wake::Rtp(Ok((n, from))) => {
                    if n > READ_CHUNK {
                        tracing::debug!("dropping an RTP datagram over {READ_CHUNK} bytes");
                    } else if !self.is_from_server(from, PeerFilter::accepts_rtp) {
                        self.reject(from, "RTP");
                    } else {
                        let data = std::mem::take(&mut self.rtp_buf);
                        self.on_rtp(&data[..n], now);
                        self.rtp_buf = data;
                    }
                }
                Wake::Rtp(Err(e)) => {
                    // ICMP port unreachable and the like: not fatal for UDP.
                    tracing::debug!("RTP socket: {e}");
                }
                Wake::Rtcp(Ok((n, from))) => {
                    if self.is_from_server(from, PeerFilter::accepts_rtcp) {
                        let data = std::mem::take(&mut self.rtcp_buf);
                        self.on_rtcp(&data[..n], now);
                        self.rtcp_buf = data;
                    } else {
                        self.reject(from, "RTCP");
                    }
                }
                Wake::Rtcp(Err(e)) => tracing::debug!("RTCP socket: {e}"),
                Wake::Timer => {}
            }
            self.on_timers().await;
        }
        // Whatever still waits gets an answer.
        let addr = self.addr();
        for f in self
            .in_flight
            .take()
            .into_iter()
            .chain(self.queue.drain(..))
        {
            if let Some(reply) = f.reply {
                let _ = reply.send(Err(Error::ConnectionClosed {
                    addr,
                    method: Some(f.req.method.clone()),
                }));
            }
        }
        self.publish_stats(Instant::now());
        tracing::debug!(server = %addr, "session task ends");
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut at = now + Duration::from_secs(3600);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t
                && t < at
            {
                at = t;
            }
        };
        consider(self.in_flight.as_ref().map(|f| f.deadline));
        consider(self.idle_since.map(|t| t + CLASSIC_IDLE_DELAY));
        consider(self.keepalive.as_ref().map(|k| k.next));
        consider(self.next_stats);
        consider(self.closing);
        consider(self.stall_deadline());
        if let Some(m) = &self.media {
            consider(m.media.deadline());
            consider(m.bye_at);
            if self.cfg.receiver_reports && m.media.format() != super::PayloadFormat::Classic {
                consider(Some(m.next_rr));
            }
        }
        if !self.backlog.is_empty() {
            consider(Some(now + Duration::from_millis(20)));
        }
        at.max(now)
    }

    async fn on_command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Request {
                req,
                timeout,
                reply,
            } => {
                let f = InFlight {
                    cseq: 0,
                    req,
                    reply: Some(reply),
                    timeout,
                    deadline: Instant::now() + timeout,
                    auth_retried: false,
                };
                self.queue.push_back(f);
                self.start_next().await;
            }
            Cmd::Reconnect { timeout, reply } => {
                let r = self.reconnect(timeout).await;
                let _ = reply.send(r);
            }
            Cmd::SetSession {
                session,
                url,
                public,
            } => {
                if public.is_some() {
                    self.public = public;
                }
                self.keepalive = session.map(|session| {
                    let secs = u64::from(session.timeout.unwrap_or(60).max(2));
                    let interval = Duration::from_millis(secs * 1000 / 2);
                    KeepAlive {
                        session,
                        url,
                        interval,
                        next: Instant::now() + interval,
                    }
                });
            }
            Cmd::StartMedia(setup) => {
                self.stop_media();
                let now = Instant::now();
                let srtp = match setup.srtp.as_ref().map(Unprotector::new) {
                    None => None,
                    Some(Ok(u)) => Some(u),
                    Some(Err(e)) => {
                        tracing::warn!(server = %self.cfg.addr, "{e}");
                        None
                    }
                };
                self.packets_since_start = 0;
                self.media = Some(ActiveMedia {
                    media: Media::new(setup.config),
                    transport: setup.transport,
                    announced_ssrc: setup.announced_ssrc,
                    srtp,
                    our_ssrc: rand::random(),
                    next_rr: now + Duration::from_secs(1),
                    bye_at: None,
                });
            }
            Cmd::StopMedia => self.stop_media(),
            Cmd::WaitFirstPacket(tx) => {
                if self.packets_since_start > 0 {
                    let _ = tx.send(());
                } else {
                    self.waiters.push(tx);
                }
            }
            Cmd::Shutdown { teardown } => {
                self.closing = Some(Instant::now() + SHUTDOWN_WAIT);
                for f in self.queue.drain(..) {
                    if let Some(reply) = f.reply {
                        let _ = reply.send(Err(Error::ConnectionClosed {
                            addr: self.cfg.addr,
                            method: Some(f.req.method.clone()),
                        }));
                    }
                }
                if let Some(req) = teardown
                    && self.conn.is_some()
                {
                    self.queue.push_back(InFlight {
                        cseq: 0,
                        req,
                        reply: None,
                        timeout: SHUTDOWN_WAIT,
                        deadline: Instant::now() + SHUTDOWN_WAIT,
                        auth_retried: false,
                    });
                    self.start_next().await;
                }
            }
        }
    }

    fn stop_media(&mut self) {
        if let Some(m) = self.media.take() {
            let c = m.media.counters();
            self.past = self.past.followed_by(&c);
        }
        self.playing = false;
    }

    async fn reconnect(&mut self, timeout: Duration) -> Result<(), Error> {
        self.conn = None;
        self.rbuf.clear();
        self.idle_since = None;
        let addr = self.cfg.addr;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Connect {
                addr: addr.to_string(),
                source: io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
            })?
            .map_err(|source| Error::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let stream = self
            .cfg
            .connector
            .connect(stream)
            .await
            .map_err(|source| Error::Connect {
                addr: addr.to_string(),
                source,
            })?;
        tracing::debug!(server = %addr, "reconnected");
        self.conn = Some(stream);
        Ok(())
    }

    /// Sends queued requests until one is in flight (or none is left).
    async fn start_next(&mut self) {
        while self.in_flight.is_none() {
            let Some(f) = self.queue.pop_front() else {
                return;
            };
            if let Err((f, e)) = self.send(f).await {
                self.finish(f, Err(e));
            }
        }
    }

    /// Numbers, completes and writes a request; on success it is in flight.
    async fn send(&mut self, mut f: InFlight) -> Result<(), (InFlight, Error)> {
        self.cseq = self.cseq.wrapping_add(1);
        f.cseq = self.cseq;
        f.req.headers.insert(names::CSEQ, f.cseq.to_string());
        if f.req.dialect == Dialect::Standard {
            if !f.req.headers.contains(names::USER_AGENT) {
                f.req
                    .headers
                    .insert(names::USER_AGENT, self.cfg.user_agent.clone());
            }
            if let Some(auth) = self.auth.as_mut() {
                let value = auth.authorization(f.req.method.as_str(), &f.req.uri);
                f.req.headers.insert("Authorization", value);
            }
        }
        let bytes = f.req.to_bytes();
        if let Some(o) = &self.cfg.observer {
            o.notify(super::MessageDirection::Sent, &bytes);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err((
                f,
                Error::ConnectionClosed {
                    addr: self.cfg.addr,
                    method: None,
                },
            ));
        };
        tracing::debug!(server = %self.cfg.addr, method = %f.req.method, uri = %f.req.uri, cseq = f.cseq, "request");
        if f.req.method == Method::Play
            && let Some(m) = self.media.as_mut()
        {
            m.media.set_hold(true);
        }
        if let Err(source) = conn.write_all(&bytes).await {
            if let Some(m) = self.media.as_mut() {
                m.media.set_hold(false);
            }
            let e = Error::Io {
                addr: self.cfg.addr,
                context: format!("sending {}", f.req.method),
                source,
            };
            return Err((f, e));
        }
        if let Some(k) = self.keepalive.as_mut() {
            k.next = Instant::now() + k.interval;
        }
        f.deadline = Instant::now() + f.timeout;
        self.in_flight = Some(f);
        Ok(())
    }

    fn finish(&mut self, f: InFlight, result: Result<Response, Error>) {
        if f.req.method == Method::Play
            && let Some(m) = self.media.as_mut()
        {
            m.media.set_hold(false);
        }
        match f.reply {
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => match result {
                Ok(r) => {
                    tracing::debug!(method = %f.req.method, status = r.status.as_u16(), "reply to our own request")
                }
                Err(e) => tracing::debug!(method = %f.req.method, "own request failed: {e}"),
            },
        }
    }
}
