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
use super::media::{Media, MediaConfig, MediaCounters, PlayStart};
use super::peer::PeerFilter;
use super::{EndReason, Event, Frame, Stats, TransportKind};
use crate::rtp::rtcp;
use crate::rtsp::{
    CLASSIC_IDLE_DELAY, Dialect, Incomplete, Item, Method, Parsed, Parser, Request, Response,
    SessionHeader, StatusCode, names,
};

/// Receiver reports go out this often (RFC 3550's 5 s minimum).
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
    pub observer: Option<super::MessageObserver>,
}

/// The task; see the [module docs](self).
pub struct Driver {
    cfg: DriverConfig,
    conn: Option<TcpStream>,
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
    past: MediaCounters,
    frames_dropped: u64,
    /// Datagrams not from the server, and BYEs not for the stream.
    packets_rejected: u64,
    next_stats: Option<Instant>,
    rate_mark: (Instant, u64, u64),
    next_publish: Instant,
    waiters: Vec<oneshot::Sender<()>>,
    packets_since_start: u64,
    closing: Option<Instant>,
}

enum Wake {
    Cmd(Option<Cmd>),
    Tcp(io::Result<usize>),
    Rtp(io::Result<(usize, SocketAddr)>),
    Rtcp(io::Result<(usize, SocketAddr)>),
    Timer,
}

async fn read_opt(conn: Option<&mut TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
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
        conn: TcpStream,
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
            past: MediaCounters::default(),
            frames_dropped: 0,
            packets_rejected: 0,
            next_stats,
            rate_mark: (now, 0, 0),
            next_publish: now,
            waiters: Vec::new(),
            packets_since_start: 0,
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
                self.packets_since_start = 0;
                self.media = Some(ActiveMedia {
                    media: Media::new(setup.config),
                    transport: setup.transport,
                    announced_ssrc: setup.announced_ssrc,
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
            self.past = add_counters(&self.past, &c);
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
        let _ = stream.set_nodelay(true);
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

    /// Parses what the control connection brought.
    async fn drain_input(&mut self, at_rest: bool) {
        let buf = std::mem::take(&mut self.rbuf);
        let mut used_total = 0;
        let now = Instant::now();
        loop {
            match self.parser.parse(&buf[used_total..], at_rest) {
                Parsed::Complete(item, used) => {
                    used_total += used;
                    self.idle_since = None;
                    match item {
                        Item::Interleaved(frame) => {
                            self.on_interleaved(frame.channel, frame.payload, now)
                        }
                        Item::Response(resp) => {
                            if let Some(o) = &self.cfg.observer {
                                o.notify(super::MessageDirection::Received, &resp.to_bytes());
                            }
                            self.on_response(resp).await
                        }
                        Item::Request(req) => {
                            tracing::debug!(method = %req.method, "ignoring a request from the server");
                        }
                    }
                }
                Parsed::Incomplete(Incomplete::CompleteIfIdle) => {
                    self.idle_since.get_or_insert(now);
                    break;
                }
                Parsed::Incomplete(Incomplete::NeedMore) => {
                    self.idle_since = None;
                    break;
                }
                Parsed::Error(e) => {
                    let detail = format!("unreadable bytes from the server: {e}");
                    tracing::warn!(server = %self.cfg.addr, "{detail}");
                    used_total = buf.len();
                    self.conn = None;
                    if let Some(f) = self.in_flight.take() {
                        let method = Some(f.req.method.clone());
                        self.finish(f, Err(Error::protocol(self.cfg.addr, method, detail)));
                    } else {
                        self.control_event(Event::Error(Error::protocol(
                            self.cfg.addr,
                            None,
                            detail,
                        )));
                    }
                    break;
                }
            }
        }
        let mut buf = buf;
        buf.drain(..used_total);
        // Anything read meanwhile (nothing is, but keep the order right).
        buf.extend_from_slice(&self.rbuf);
        self.rbuf = buf;
    }

    async fn on_response(&mut self, resp: Response) {
        let Some(f) = self.in_flight.as_ref() else {
            tracing::debug!(
                status = resp.status.as_u16(),
                "ignoring a reply nobody waits for"
            );
            return;
        };
        if let Some(c) = resp.cseq()
            && c != f.cseq
        {
            tracing::debug!(cseq = c, expected = f.cseq, "ignoring a stale reply");
            return;
        }
        let Some(mut f) = self.in_flight.take() else {
            return;
        };
        tracing::debug!(server = %self.cfg.addr, method = %f.req.method, status = resp.status.as_u16(), "reply");
        if resp.status == StatusCode::UNAUTHORIZED
            && !f.auth_retried
            && let Some(creds) = self.cfg.credentials.as_ref()
        {
            let auth = Authenticator::from_challenges(
                creds,
                resp.headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("WWW-Authenticate"))
                    .map(|(_, v)| v),
            );
            if let Some(auth) = auth {
                tracing::debug!(challenge = ?auth.challenge(), "answering the server's challenge");
                self.auth = Some(auth);
                f.auth_retried = true;
                if let Err((f, e)) = self.send(f).await {
                    self.finish(f, Err(e));
                    self.start_next().await;
                }
                return;
            }
        }
        let ok = resp.status.is_success();
        let now = Instant::now();
        match f.req.method {
            Method::Play if ok => {
                self.playing = true;
                if let Some(m) = self.media.as_mut() {
                    let rtp_info = resp.rtp_info().unwrap_or_default();
                    let info = rtp_info.first();
                    let requested = f.req.range().ok().flatten();
                    let npt = resp
                        .range()
                        .ok()
                        .flatten()
                        .and_then(|r| r.start_time())
                        .or_else(|| requested.and_then(|r| r.start_time()));
                    m.media.on_play(PlayStart {
                        npt,
                        seq: info.and_then(|i| i.seq),
                        rtptime: info.and_then(|i| i.rtptime),
                    });
                    m.bye_at = None;
                }
            }
            Method::Pause | Method::Teardown if ok => self.playing = false,
            Method::GetParameter if f.reply.is_none() => {
                if matches!(resp.status.as_u16(), 405 | 501 | 551) {
                    tracing::debug!("GET_PARAMETER refused: keep-alives use OPTIONS");
                    self.get_parameter_ok = false;
                    if let Some(k) = self.keepalive.as_mut() {
                        k.next = now;
                    }
                }
            }
            _ => {}
        }
        if f.reply.is_none() && resp.status == StatusCode::SESSION_NOT_FOUND {
            self.control_event(Event::Error(Error::from_reply(
                self.cfg.addr,
                f.req.method.clone(),
                &f.req.uri,
                &resp,
            )));
        }
        self.finish(f, Ok(resp));
        self.pump(now);
        self.start_next().await;
    }

    fn on_closed(&mut self, err: Option<io::Error>) {
        let addr = self.cfg.addr;
        match &err {
            Some(e) => tracing::debug!(server = %addr, "control connection failed: {e}"),
            None => tracing::debug!(server = %addr, "server closed the control connection"),
        }
        self.conn = None;
        self.idle_since = None;
        if let Some(f) = self.in_flight.take() {
            let method = Some(f.req.method.clone());
            let e = match err {
                Some(source) => Error::Io {
                    addr,
                    context: format!("waiting for the reply to {}", f.req.method),
                    source,
                },
                None => Error::ConnectionClosed { addr, method },
            };
            self.finish(f, Err(e));
        }
        for f in self.queue.drain(..).collect::<Vec<_>>() {
            let method = Some(f.req.method.clone());
            self.finish(f, Err(Error::ConnectionClosed { addr, method }));
        }
        self.keepalive = None;
        if self.playing && self.closing.is_none() {
            self.playing = false;
            self.publish_stats(Instant::now());
            self.control_event(Event::End(EndReason::ConnectionClosed));
        }
    }

    fn on_interleaved(&mut self, channel: u8, payload: &[u8], now: Instant) {
        let Some(MediaTransport::Tcp {
            rtp_channel,
            rtcp_channel,
        }) = self.media.as_ref().map(|m| &m.transport)
        else {
            return;
        };
        if channel == *rtp_channel {
            self.on_rtp(payload, now);
        } else if channel == *rtcp_channel {
            self.on_rtcp(payload, now);
        }
    }

    fn on_rtp(&mut self, data: &[u8], now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        if m.media.push(data, now) {
            self.packets_since_start += 1;
            for w in self.waiters.drain(..) {
                let _ = w.send(());
            }
        }
        self.pump(now);
    }

    /// Whether a datagram from `from` is the server's, by `accepts` of the
    /// media's [`PeerFilter`].
    fn is_from_server(
        &self,
        from: SocketAddr,
        accepts: fn(&PeerFilter, SocketAddr) -> bool,
    ) -> bool {
        match self.media.as_ref().map(|m| &m.transport) {
            Some(MediaTransport::Udp { peer, .. }) => accepts(peer, from),
            _ => false,
        }
    }

    fn reject(&mut self, from: SocketAddr, what: &str) {
        self.packets_rejected += 1;
        tracing::debug!(server = %self.cfg.addr, %from, "dropping {what} from an address that is not the server's");
    }

    fn on_rtcp(&mut self, data: &[u8], now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        // The source being received; before its first packet, the one the
        // SETUP reply announced.
        let ours = m.media.ssrc().or(m.announced_ssrc);
        // A malformed packet ends the walk; what came before it counts.
        for p in rtcp::packets(data) {
            match p {
                Ok(rtcp::Packet::SenderReport(sr)) => {
                    if ours.is_none_or(|o| o == sr.ssrc) {
                        m.media.on_sender_report(sr.info.ntp_middle(), now)
                    }
                }
                Ok(rtcp::Packet::Bye(rtcp::Bye { ssrcs, .. })) => {
                    if ssrcs.iter().any(|s| Some(*s) == ours) {
                        tracing::debug!(server = %self.cfg.addr, "RTCP BYE: the stream ends");
                        m.bye_at.get_or_insert(now + BYE_GRACE);
                    } else {
                        self.packets_rejected += 1;
                        tracing::debug!(
                            server = %self.cfg.addr,
                            ?ssrcs,
                            ?ours,
                            "ignoring an RTCP BYE that does not name the stream's source"
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(server = %self.cfg.addr, "ignoring the rest of an RTCP packet: {e}");
                }
            }
        }
    }

    /// Hands frames that are ready to the consumer.
    fn pump(&mut self, now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        m.media.pop_frames(now, &mut self.frames);
        for frame in self.frames.drain(..) {
            let len = frame.jpeg.len();
            if !self.budget.try_reserve(len) {
                self.frames_dropped += 1;
                tracing::trace!("consumer is slow: frame dropped (byte budget)");
                continue;
            }
            match self.events.try_send(Event::Frame(frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.budget.release(len);
                    self.frames_dropped += 1;
                    tracing::trace!("consumer is slow: frame dropped");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.budget.release(len),
            }
        }
    }

    /// Queues an event that must not be lost (end, errors).
    fn control_event(&mut self, ev: Event) {
        if self.backlog.len() < MAX_BACKLOG {
            self.backlog.push_back(ev);
        }
        self.flush_backlog();
    }

    fn flush_backlog(&mut self) {
        while let Some(ev) = self.backlog.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        self.flush_backlog();
        if let Some(since) = self.idle_since
            && now >= since + CLASSIC_IDLE_DELAY
        {
            self.drain_input(true).await;
        }
        if let Some(f) = self.in_flight.as_ref()
            && now >= f.deadline
            && let Some(f) = self.in_flight.take()
        {
            let e = Error::Timeout {
                addr: self.cfg.addr,
                method: f.req.method.clone(),
            };
            tracing::debug!("{e}");
            self.finish(f, Err(e));
            self.start_next().await;
        }
        self.pump(now);
        if let Some(m) = self.media.as_mut()
            && m.bye_at.is_some_and(|t| now >= t)
        {
            m.bye_at = None;
            // Whatever waits for missing packets goes out (or is dropped).
            m.media
                .pop_frames(now + Duration::from_secs(3600), &mut self.frames);
            self.pump(now);
            self.playing = false;
            self.publish_stats(now);
            self.control_event(Event::End(EndReason::Bye));
        }
        self.keep_alive(now).await;
        self.receiver_report(now).await;
        if self.next_stats.is_some_and(|t| now >= t) {
            self.next_stats = self.cfg.stats_interval.map(|i| now + i);
            let stats = self.publish_stats(now);
            if self.events.try_send(Event::Stats(stats)).is_err() {
                tracing::trace!("consumer is slow: statistics dropped");
            }
        } else if now >= self.next_publish {
            self.publish_stats(now);
        }
    }

    async fn keep_alive(&mut self, now: Instant) {
        let Some(k) = self.keepalive.as_mut() else {
            return;
        };
        if now < k.next {
            return;
        }
        if self.in_flight.is_some() || !self.queue.is_empty() || self.conn.is_none() {
            k.next = now + Duration::from_secs(1);
            return;
        }
        k.next = now + k.interval;
        let listed = self
            .public
            .as_ref()
            .is_none_or(|p| p.iter().any(|m| m.eq_ignore_ascii_case("GET_PARAMETER")));
        let method = if self.get_parameter_ok && listed {
            Method::GetParameter
        } else {
            Method::Options
        };
        let req = Request::new(method, k.url.clone())
            .with_session(&SessionHeader::new(k.session.id.clone()));
        tracing::debug!(server = %self.cfg.addr, method = %req.method, "keep-alive");
        self.queue.push_back(InFlight {
            cseq: 0,
            req,
            reply: None,
            timeout: Duration::from_secs(10),
            deadline: now,
            auth_retried: false,
        });
        self.start_next().await;
    }

    async fn receiver_report(&mut self, now: Instant) {
        if !self.cfg.receiver_reports {
            return;
        }
        let Some(m) = self.media.as_mut() else {
            return;
        };
        if m.media.format() == super::PayloadFormat::Classic || now < m.next_rr {
            return;
        }
        let Some(block) = m.media.report_block(now) else {
            // Nothing received yet: look again soon.
            m.next_rr = now + Duration::from_secs(1);
            return;
        };
        m.next_rr = now + RR_INTERVAL;
        let packet = rtcp::receiver_report(m.our_ssrc, Some(block), "mjpegrtsp-client");
        match &m.transport {
            MediaTransport::Udp {
                rtcp: Some(sock),
                server_rtcp: Some(dest),
                ..
            } => {
                if let Err(e) = sock.send_to(&packet, dest).await {
                    tracing::debug!("sending RTCP to {dest}: {e}");
                }
            }
            MediaTransport::Udp { .. } => {}
            MediaTransport::Tcp { rtcp_channel, .. } => {
                let ch = *rtcp_channel;
                let mut framed = Vec::with_capacity(packet.len() + 4);
                if let Err(e) = crate::rtsp::encode_interleaved(ch, &packet, &mut framed) {
                    tracing::debug!("interleaved RTCP not sent: {e}");
                } else if let Some(conn) = self.conn.as_mut()
                    && let Err(e) = conn.write_all(&framed).await
                {
                    tracing::debug!("sending interleaved RTCP: {e}");
                }
            }
        }
    }

    fn publish_stats(&mut self, now: Instant) -> Stats {
        self.next_publish = now + PUBLISH_INTERVAL;
        let current = self
            .media
            .as_ref()
            .map(|m| m.media.counters())
            .unwrap_or_default();
        let c = add_counters(&self.past, &current);
        let (mark_at, mark_bytes, mark_frames) = self.rate_mark;
        let secs = now.saturating_duration_since(mark_at).as_secs_f64();
        let mut stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        if secs >= 1.0 {
            stats.bitrate = (c.bytes - mark_bytes.min(c.bytes)) as f64 * 8.0 / secs;
            stats.framerate = (c.frames - mark_frames.min(c.frames)) as f64 / secs;
            self.rate_mark = (now, c.bytes, c.frames);
        }
        stats.frames = c.frames;
        stats.bytes = c.bytes;
        stats.packets_received = c.packets_received;
        stats.packets_lost = c.packets_lost;
        stats.packets_duplicated = c.packets_duplicated;
        stats.packets_reordered = c.packets_reordered;
        stats.packets_late = c.packets_late;
        stats.packets_invalid = c.packets_invalid;
        stats.packets_rejected = self.packets_rejected;
        stats.restarts = c.restarts;
        stats.frames_incomplete = c.frames_incomplete;
        stats.frames_dropped = self.frames_dropped;
        stats.jitter_ms = current.jitter_ms;
        stats.dimensions = current.dimensions.or(stats.dimensions);
        stats.transport = self.media.as_ref().map(|m| match m.transport {
            MediaTransport::Udp { .. } => TransportKind::Udp,
            MediaTransport::Tcp { .. } => TransportKind::Tcp,
        });
        if let Ok(mut s) = self.stats.lock() {
            *s = stats.clone();
        }
        stats
    }
}

fn add_counters(a: &MediaCounters, b: &MediaCounters) -> MediaCounters {
    MediaCounters {
        packets_received: a.packets_received + b.packets_received,
        packets_lost: a.packets_lost + b.packets_lost,
        packets_duplicated: a.packets_duplicated + b.packets_duplicated,
        packets_reordered: a.packets_reordered + b.packets_reordered,
        packets_late: a.packets_late + b.packets_late,
        packets_invalid: a.packets_invalid + b.packets_invalid,
        restarts: a.restarts + b.restarts,
        frames: a.frames + b.frames,
        bytes: a.bytes + b.bytes,
        frames_incomplete: a.frames_incomplete + b.frames_incomplete,
        jitter_ms: b.jitter_ms,
        dimensions: b.dimensions.or(a.dimensions),
    }
}
