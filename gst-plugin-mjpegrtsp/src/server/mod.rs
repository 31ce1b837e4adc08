//! The RTSP/1.0 server: serves every `.Mjpeg` under a media root to classic
//! (seed) clients and to standard clients (ffmpeg, GStreamer `rtspsrc`, VLC).
//!
//! Control runs on tokio: one task per TCP connection parses requests in both
//! dialects ([`crate::rtsp`]) and drives a small state machine per session
//! (READY ⇄ PLAYING). Media runs on one engine thread ([`engine`]) that paces
//! every playing session, packetises each frame once and sends with UDP GSO.
//! A session costs a few hundred bytes of state; no per-session pipeline or
//! thread exists.
//!
//! Standard clients get RFC 2435 JPEG (payload type 26) over UDP or TCP
//! interleaved; classic clients get the seed's whole-frame packets (12-byte
//! header, sequence number = frame number) on the UDP port they name.

pub mod engine;
pub mod live;
pub mod media;
pub mod udp;

use crate::rtsp::{
    self, Dialect, Incomplete, Item, LowerTransport, Method, NptRange, NptTime, Parsed, Parser,
    PortPair, Request, Response, RtpInfo, SessionHeader, StatusCode, Transport, names,
};
use crate::timing::FrameRate;
use engine::{Command, Counters, Engine, Route, Source, Stream, Wire};
use live::{LIVE_MOUNT, LiveSource};
use media::{Library, MediaError, MediaFile};
use rand::Rng;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes queued for one connection (replies and interleaved media) before
/// media for it is dropped: a slow reader never stalls anyone else.
const CONNECTION_QUEUE: usize = 256;
/// A request that never completes is dropped after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_NAME: &str = concat!("mjpegrtsp/", env!("CARGO_PKG_VERSION"));

/// What a server serves and how.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: IpAddr,
    /// RTSP port (0: any free port; see [`Server::local_addr`]).
    pub port: u16,
    pub media_dir: PathBuf,
    /// Frame rate files are played at, as numerator/denominator.
    pub fps: (i32, i32),
    pub looping: bool,
    /// A live GStreamer source to serve at `/live`: a gst-launch-1.0
    /// description producing `image/jpeg`, shared by its viewers.
    pub pipeline: Option<String>,
    pub max_sessions: usize,
    pub session_timeout: Duration,
    /// Largest RTP packet over UDP, header included.
    pub mtu: usize,
}

impl ServerConfig {
    /// Defaults for serving `media_dir` on loopback at an ephemeral port.
    pub fn new(media_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            media_dir: media_dir.into(),
            fps: (24, 1),
            looping: false,
            pipeline: None,
            max_sessions: 1000,
            session_timeout: Duration::from_secs(60),
            mtu: 1400,
        }
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub struct StartError(String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

struct Shared {
    config: ServerConfig,
    library: Library,
    live: Option<Arc<LiveSource>>,
    engine: Engine,
    /// Server RTP and RTCP ports, for the Transport reply.
    server_ports: PortPair,
    rtcp_socket: Arc<UdpSocket>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    next_engine_id: AtomicU64,
    next_connection: AtomicU64,
    stopping: AtomicBool,
}

/// One RTSP session: a client's stream of one file.
struct Session {
    id: String,
    engine_id: u64,
    connection: u64,
    dialect: Dialect,
    counters: Arc<Counters>,
    state: Mutex<SessionState>,
}

struct SessionState {
    playing: bool,
    last_activity: Instant,
    /// The connection that owns the session is still open.
    connected: bool,
    stream: Stream,
    /// Where the client's RTCP comes from (UDP), to count it as activity.
    rtcp_from: Option<SocketAddr>,
}

impl Server {
    /// Binds the RTSP port and the server's RTP/RTCP ports and starts the
    /// media engine.
    pub async fn bind(config: ServerConfig) -> Result<Server, StartError> {
        let (num, den) = config.fps;
        let rate = FrameRate::new(num, den)
            .ok_or_else(|| StartError(format!("invalid frame rate {num}/{den}")))?;
        let library = Library::new(&config.media_dir, rate).map_err(|e| {
            StartError(format!(
                "cannot serve media directory {}: {e}",
                config.media_dir.display()
            ))
        })?;
        let listener = TcpListener::bind((config.bind, config.port))
            .await
            .map_err(|e| {
                StartError(format!(
                    "cannot listen on {}:{}: {e}",
                    config.bind, config.port
                ))
            })?;
        let (rtp, rtcp) = bind_port_pair(config.bind)
            .map_err(|e| StartError(format!("cannot bind RTP/RTCP ports: {e}")))?;
        let server_ports = PortPair::new(
            rtp.local_addr()
                .map_err(|e| StartError(e.to_string()))?
                .port(),
            rtcp.local_addr()
                .map_err(|e| StartError(e.to_string()))?
                .port(),
        );
        let rtcp_socket = Arc::new(rtcp.try_clone().map_err(|e| StartError(e.to_string()))?);
        let engine = Engine::start(
            udp::PacketSocket::new(rtp).map_err(|e| StartError(e.to_string()))?,
            udp::PacketSocket::new(rtcp).map_err(|e| StartError(e.to_string()))?,
            config.mtu,
        )
        .map_err(|e| StartError(format!("cannot start the media engine: {e}")))?;
        let live = match &config.pipeline {
            Some(launch) => {
                Some(LiveSource::start(launch, 1, engine.sender()).map_err(StartError)?)
            }
            None => None,
        };
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                config,
                library,
                live,
                engine,
                server_ports,
                rtcp_socket,
                sessions: Mutex::new(HashMap::new()),
                next_engine_id: AtomicU64::new(1),
                next_connection: AtomicU64::new(1),
                stopping: AtomicBool::new(false),
            }),
        })
    }

    /// The address the RTSP port is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn media_root(&self) -> &Path {
        self.shared.library.root()
    }

    /// The `rtsp://` URL of every file served.
    pub fn urls(&self) -> Vec<String> {
        let addr = self.local_addr();
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
            ip if ip.is_unspecified() => "[::1]".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let live = self.shared.live.as_ref().map(|_| LIVE_MOUNT.to_string());
        self.shared
            .library
            .list()
            .into_iter()
            .chain(live)
            .map(|m| format!("rtsp://{host}:{}/{}", addr.port(), encode_path(&m)))
            .collect()
    }

    /// Number of sessions alive.
    pub fn session_count(&self) -> usize {
        self.shared.sessions.lock().unwrap().len()
    }

    /// A function that tells the number of sessions alive, usable after
    /// [`run`](Server::run) took the server (0 once it has stopped).
    pub fn session_counter(&self) -> Arc<dyn Fn() -> usize + Send + Sync> {
        let shared = Arc::downgrade(&self.shared);
        Arc::new(move || {
            shared
                .upgrade()
                .map_or(0, |s| s.sessions.lock().unwrap().len())
        })
    }

    /// Serves until `shutdown` resolves, then ends every session.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let shared = self.shared.clone();
        let reaper = tokio::spawn(reap_sessions(shared.clone()));
        let rtcp = tokio::task::spawn_blocking({
            let shared = shared.clone();
            move || receive_rtcp(&shared)
        });
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let shared = shared.clone();
                        tokio::spawn(async move { serve_connection(shared, stream, peer).await });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        reaper.abort();
        let ids: Vec<String> = shared.sessions.lock().unwrap().keys().cloned().collect();
        for id in ids {
            shared.remove_session(&id, "server shutting down");
        }
        shared.stopping.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(1), rtcp).await;
    }
}

/// Binds an even RTP port and the odd RTCP port after it (RFC 3550 §11).
fn bind_port_pair(ip: IpAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let mut last_err = None;
    for _ in 0..64 {
        let rtp = UdpSocket::bind((ip, 0))?;
        let port = rtp.local_addr()?.port();
        let (rtp, even) = if port % 2 == 0 {
            (rtp, port)
        } else {
            match UdpSocket::bind((ip, port.wrapping_add(1))) {
                Ok(s) if port < u16::MAX => (s, port + 1),
                Ok(_) => continue,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            }
        };
        match UdpSocket::bind((ip, even + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port pair")))
}

fn encode_path(mount: &str) -> String {
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
    fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions.lock().unwrap().get(id).cloned()
    }

    fn remove_session(&self, id: &str, why: &str) {
        let Some(session) = self.sessions.lock().unwrap().remove(id) else {
            return;
        };
        self.engine.send(Command::Stop {
            id: session.engine_id,
            done: None,
        });
        tracing::info!(session = %id, "session ended: {why}");
    }

    fn timeout_secs(&self) -> u32 {
        self.config
            .session_timeout
            .as_secs()
            .clamp(1, u64::from(u32::MAX)) as u32
    }
}

/// Ends sessions whose timeout passed without a request or RTCP. Classic
/// clients send neither: their session lives as long as their connection.
async fn reap_sessions(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let timeout = shared.config.session_timeout;
        let expired: Vec<String> = shared
            .sessions
            .lock()
            .unwrap()
            .values()
            .filter(|s| {
                let st = s.state.lock().unwrap();
                let classic_alive = s.dialect == Dialect::Classic && st.connected;
                !classic_alive && st.last_activity.elapsed() > timeout
            })
            .map(|s| s.id.clone())
            .collect();
        for id in expired {
            shared.remove_session(&id, "timed out");
        }
    }
}

/// Counts RTCP from clients as activity (RFC 2326 §12.37 lets it keep a
/// session alive). Runs on its own thread until the server stops.
fn receive_rtcp(shared: &Arc<Shared>) {
    use std::os::fd::AsRawFd;
    let socket = &shared.rtcp_socket;
    let mut buf = [0u8; 2048];
    while !shared.stopping.load(Ordering::Relaxed) {
        // The socket is non-blocking (it is shared with the engine's sender):
        // wait for it with poll(2), waking up now and then to check for stop.
        let mut fds = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut fds, 1, 200) };
        if ready <= 0 {
            continue;
        }
        while let Ok((_, from)) = socket.recv_from(&mut buf) {
            let sessions = shared.sessions.lock().unwrap();
            for s in sessions.values() {
                let mut st = s.state.lock().unwrap();
                if st.rtcp_from == Some(from) {
                    st.last_activity = Instant::now();
                }
            }
        }
    }
}

/// Reads requests from one connection and answers them.
async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let connection = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%peer, connection, "connected");
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(CONNECTION_QUEUE);
    let writer_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut conn = Connection {
        shared: shared.clone(),
        id: connection,
        peer,
        tx: tx.clone(),
    };
    let parser = Parser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        // Handle every whole item in the buffer.
        let mut at_rest = false;
        loop {
            match parser.parse(&buf, at_rest) {
                Parsed::Complete(item, used) => {
                    let reply = match item {
                        Item::Request(request) => Some(conn.handle(request)),
                        // Interleaved RTCP from the client: activity.
                        Item::Interleaved(_) => {
                            conn.touch_sessions();
                            None
                        }
                        Item::Response(_) => None,
                    };
                    buf.drain(..used);
                    at_rest = false;
                    if let Some(reply) = reply
                        && tx.send(reply.to_bytes()).await.is_err()
                    {
                        break 'read;
                    }
                }
                Parsed::Incomplete(Incomplete::CompleteIfIdle) if !at_rest => {
                    // A classic request has no terminator: it is whole when
                    // nothing more arrives for a moment.
                    match tokio::time::timeout(rtsp::CLASSIC_IDLE_DELAY, reader.read(&mut chunk))
                        .await
                    {
                        Err(_) => at_rest = true,
                        Ok(Ok(0)) | Ok(Err(_)) => at_rest = true,
                        Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                Parsed::Incomplete(_) => break,
                Parsed::Error(e) => {
                    tracing::debug!(%peer, "bad request: {e}");
                    let reply = Response::new(e.status())
                        .with_header(names::SERVER, SERVER_NAME)
                        .with_dialect(guess_dialect(&buf));
                    let _ = tx.send(reply.to_bytes()).await;
                    break 'read;
                }
            }
        }
        let timeout = if buf.is_empty() {
            None
        } else {
            Some(REQUEST_TIMEOUT)
        };
        let read = match timeout {
            Some(t) => match tokio::time::timeout(t, reader.read(&mut chunk)).await {
                Ok(r) => r,
                Err(_) => break,
            },
            None => reader.read(&mut chunk).await,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    tracing::debug!(%peer, connection, "disconnected");
    conn.closed();
    drop(conn);
    drop(tx);
    let _ = writer_task.await;
}

fn guess_dialect(buf: &[u8]) -> Dialect {
    match buf.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && buf[i - 1] == b'\r' => Dialect::Standard,
        Some(_) => Dialect::Classic,
        None => Dialect::Standard,
    }
}

struct Connection {
    shared: Arc<Shared>,
    id: u64,
    peer: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
}

/// An error answer: the status and why, for the log.
struct Refusal(StatusCode, String);

impl Connection {
    fn handle(&mut self, request: Request) -> Response {
        tracing::debug!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "request");
        let result = match &request.method {
            Method::Options => self.options(&request),
            Method::Describe => self.describe(&request),
            Method::Setup => self.setup(&request),
            Method::Play => self.play(&request),
            Method::Pause => self.pause(&request),
            Method::Teardown => self.teardown(&request),
            Method::GetParameter | Method::SetParameter => self.keep_alive(&request),
            Method::Announce | Method::Record | Method::Redirect => Err(Refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "this server only plays".into(),
            )),
            Method::Other(m) => Err(Refusal(
                StatusCode::NOT_IMPLEMENTED,
                format!("unknown method {m}"),
            )),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(Refusal(status, why)) => {
                tracing::info!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "{} {}: {why}", status.as_u16(), status.reason_phrase());
                let mut r = Response::reply_to(&request, status);
                if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_IMPLEMENTED
                {
                    r = r.with_header(names::PUBLIC, PUBLIC);
                }
                if request.dialect == Dialect::Standard {
                    // Why, for the person at the client (a classic client
                    // reads one short reply: nothing more for it).
                    r = r.with_body("text/plain; charset=utf-8", format!("{why}\r\n"));
                }
                r
            }
        };
        if request.dialect == Dialect::Standard {
            response = response.with_header(names::SERVER, SERVER_NAME);
        }
        response
    }

    fn options(&self, request: &Request) -> Result<Response, Refusal> {
        if let Some(s) = self.request_session(request)? {
            self.touch(&s);
        }
        Ok(Response::reply_to(request, StatusCode::OK).with_header(names::PUBLIC, PUBLIC))
    }

    fn keep_alive(&self, request: &Request) -> Result<Response, Refusal> {
        let mut r = Response::reply_to(request, StatusCode::OK);
        if let Some(s) = self.request_session(request)? {
            self.touch(&s);
            r = r.with_session(&self.session_header(&s));
        }
        Ok(r)
    }

    fn describe(&self, request: &Request) -> Result<Response, Refusal> {
        let source = self.media(request)?;
        let url = request.uri.trim_end_matches('/');
        let host = self.shared.config.bind;
        standard_playable(&source)?;
        let sdp = match &source {
            Source::File(media) => describe_sdp(media, host),
            Source::Live(live) => describe_live_sdp(live, host),
        };
        Ok(Response::reply_to(request, StatusCode::OK)
            .with_header(names::CONTENT_BASE, format!("{url}/"))
            .with_body("application/sdp", sdp))
    }

    fn setup(&mut self, request: &Request) -> Result<Response, Refusal> {
        let media = self.media(request)?;
        let header = request
            .headers
            .get(names::TRANSPORT)
            .ok_or_else(|| Refusal(StatusCode::BAD_REQUEST, "SETUP without Transport".into()))?;
        let offer = rtsp::negotiate_transport(header)
            .map_err(|e| Refusal(e.status(), format!("transport {header:?}: {e}")))?;
        if let Some(existing) = self.request_session(request)? {
            // One stream per session: a second SETUP may only change nothing.
            self.touch(&existing);
            return Err(Refusal(
                StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED,
                "this session already has its stream".into(),
            ));
        }
        let classic = request.dialect == Dialect::Classic || offer.classic;
        if !classic {
            standard_playable(&media)?;
        }
        let mut rng = rand::rng();
        let ssrc = if classic { 0 } else { rng.random() };
        let (route, rtcp_from, reply_transport) = match offer.lower {
            LowerTransport::Udp => {
                let ports = offer.client_port.ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        "UDP without client_port".into(),
                    )
                })?;
                let ip = self.peer.ip();
                let rtcp = (!classic && ports.rtcp.is_some())
                    .then(|| SocketAddr::new(ip, ports.rtcp.unwrap_or(ports.rtp + 1)));
                let reply = offer
                    .reply()
                    .with_server_port(self.shared.server_ports)
                    .with_ssrc(ssrc);
                (
                    Route::Udp {
                        rtp: SocketAddr::new(ip, ports.rtp),
                        rtcp,
                    },
                    rtcp,
                    reply,
                )
            }
            LowerTransport::Tcp => {
                let channels = offer.interleaved.unwrap_or(rtsp::ChannelPair::new(0, 1));
                let reply = Transport::tcp_interleaved(channels).with_ssrc(ssrc);
                (
                    Route::Tcp {
                        tx: self.tx.clone(),
                        rtp_channel: channels.rtp,
                    },
                    None,
                    reply,
                )
            }
        };
        let id = {
            let sessions = self.shared.sessions.lock().unwrap();
            if sessions.len() >= self.shared.config.max_sessions {
                return Err(Refusal(
                    StatusCode::NOT_ENOUGH_BANDWIDTH,
                    format!("{} sessions already (--max-sessions)", sessions.len()),
                ));
            }
            loop {
                // 64 random bits, as bare decimal digits (the classic client
                // reads the id with int()).
                let id = rng.random::<u64>().to_string();
                if !sessions.contains_key(&id) {
                    break id;
                }
            }
        };
        let counters = Arc::new(Counters::default());
        counters.next_seq.store(
            if classic {
                1
            } else {
                u32::from(rng.random::<u16>())
            },
            Ordering::Relaxed,
        );
        let stream = Stream {
            source: media,
            wire: if classic {
                Wire::Classic
            } else {
                Wire::Rfc2435
            },
            route,
            ssrc,
            payload_type: 26,
            timestamp_base: rng.random(),
            looping: self.shared.config.looping,
            counters: counters.clone(),
        };
        let session = Arc::new(Session {
            id: id.clone(),
            engine_id: self.shared.next_engine_id.fetch_add(1, Ordering::Relaxed),
            connection: self.id,
            dialect: if classic {
                Dialect::Classic
            } else {
                Dialect::Standard
            },
            counters,
            state: Mutex::new(SessionState {
                playing: false,
                last_activity: Instant::now(),
                connected: true,
                stream,
                rtcp_from,
            }),
        });
        {
            let mut sessions = self.shared.sessions.lock().unwrap();
            if sessions.len() >= self.shared.config.max_sessions {
                return Err(Refusal(
                    StatusCode::NOT_ENOUGH_BANDWIDTH,
                    "session limit reached".into(),
                ));
            }
            sessions.insert(id.clone(), session.clone());
        }
        tracing::info!(peer = %self.peer, session = %id, "SETUP {} ({})", request.uri, reply_transport);
        let mut response = Response::reply_to(request, StatusCode::OK)
            .with_session(&self.session_header(&session));
        if !classic {
            response = response.with_header(names::TRANSPORT, reply_transport.to_string());
        }
        Ok(response)
    }

    fn play(&self, request: &Request) -> Result<Response, Refusal> {
        let session = self.required_session(request)?;
        let range = request
            .range()
            .map_err(|e| Refusal(e.status(), format!("Range: {e}")))?;
        let mut st = session.state.lock().unwrap();
        st.last_activity = Instant::now();
        let start = match (range.and_then(|r| r.start), &st.stream.source) {
            (Some(NptTime::Time(t)), Source::File(media)) => {
                let frame = media
                    .rate
                    .frame_at_ns(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
                if !st.stream.looping && frame >= media.frames() && media.frames() > 0 {
                    return Err(Refusal(
                        StatusCode::INVALID_RANGE,
                        format!(
                            "start {:.3}s is past the end ({:.3}s)",
                            t.as_secs_f64(),
                            media.duration_secs()
                        ),
                    ));
                }
                Some(frame)
            }
            // A live source plays from now, whatever the Range says.
            _ => None,
        };
        if st.playing {
            if start.is_none() {
                // Already playing: nothing changes.
                return Ok(self.play_reply(request, &session, &st));
            }
            self.shared.engine.stop_and_wait(session.engine_id);
            st.playing = false;
        }
        let counters = &session.counters;
        if let Some(frame) = start {
            counters.next_frame.store(frame, Ordering::Relaxed);
        } else if counters.ended.load(Ordering::Relaxed) && !st.stream.looping {
            // PLAY after the end starts again from the beginning.
            counters.next_frame.store(0, Ordering::Relaxed);
        }
        let reply = self.play_reply(request, &session, &st);
        self.shared.engine.send(Command::Play {
            id: session.engine_id,
            stream: st.stream.clone(),
        });
        st.playing = true;
        Ok(reply)
    }

    fn play_reply(&self, request: &Request, session: &Session, st: &SessionState) -> Response {
        let mut r =
            Response::reply_to(request, StatusCode::OK).with_session(&self.session_header(session));
        if session.dialect == Dialect::Classic {
            return r;
        }
        let frame = session.counters.next_frame.load(Ordering::Relaxed);
        let range = match &st.stream.source {
            Source::Live(_) => NptRange::live(),
            Source::File(media) => {
                let start =
                    Duration::from_nanos(media.rate.frame_start_ns(frame % media.frames().max(1)));
                if st.stream.looping {
                    NptRange::starting_at(start)
                } else {
                    NptRange::between(start, Duration::from_secs_f64(media.duration_secs()))
                }
            }
        };
        let info = RtpInfo {
            url: format!("{}/stream=0", request.uri.trim_end_matches('/')),
            seq: Some(session.counters.next_seq.load(Ordering::Relaxed) as u16),
            rtptime: Some(engine::rtp_time(&st.stream, frame)),
        };
        r = r
            .with_header(names::RANGE, range.to_string())
            .with_header(names::RTP_INFO, rtsp::format_rtp_info(&[info]));
        r
    }

    fn pause(&self, request: &Request) -> Result<Response, Refusal> {
        let session = self.required_session(request)?;
        let mut st = session.state.lock().unwrap();
        st.last_activity = Instant::now();
        if st.playing {
            self.shared.engine.stop_and_wait(session.engine_id);
            st.playing = false;
        }
        Ok(
            Response::reply_to(request, StatusCode::OK)
                .with_session(&self.session_header(&session)),
        )
    }

    fn teardown(&self, request: &Request) -> Result<Response, Refusal> {
        let session = self.required_session(request)?;
        self.shared.remove_session(&session.id, "TEARDOWN");
        Ok(
            Response::reply_to(request, StatusCode::OK)
                .with_session(&self.session_header(&session)),
        )
    }

    /// The file a request names; 404 for anything else.
    fn media(&self, request: &Request) -> Result<Source, Refusal> {
        let uri = request
            .url()
            .map_err(|e| Refusal(StatusCode::NOT_FOUND, format!("URL {:?}: {e}", request.uri)))?;
        let path = uri.media_path();
        if let Some(live) = &self.shared.live
            && path.trim_matches('/') == LIVE_MOUNT
        {
            return Ok(Source::Live(live.clone()));
        }
        self.shared
            .library
            .open(&path)
            .map(Source::File)
            .map_err(|e| match e {
                MediaError::NotFound(_) => Refusal(StatusCode::NOT_FOUND, e.to_string()),
                MediaError::Unplayable(_) => {
                    Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string())
                }
                MediaError::Io(_) => Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            })
    }

    /// The session the request names, if it names one; 454 if unknown.
    fn request_session(&self, request: &Request) -> Result<Option<Arc<Session>>, Refusal> {
        let header = request
            .session()
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, e.to_string()))?;
        match header {
            None => Ok(None),
            Some(h) => self.shared.session(&h.id).map(Some).ok_or_else(|| {
                Refusal(
                    StatusCode::SESSION_NOT_FOUND,
                    format!("no session {}", h.id),
                )
            }),
        }
    }

    fn required_session(&self, request: &Request) -> Result<Arc<Session>, Refusal> {
        match self.request_session(request)? {
            Some(s) => Ok(s),
            None if request.dialect == Dialect::Classic => {
                self.only_session_of_connection().ok_or_else(|| {
                    Refusal(
                        StatusCode::SESSION_NOT_FOUND,
                        "no Session header and no session on this connection".into(),
                    )
                })
            }
            None => Err(Refusal(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                format!("{} needs a session: SETUP first", request.method.as_str()),
            )),
        }
    }

    /// Classic clients that lost their session id still own one session.
    fn only_session_of_connection(&self) -> Option<Arc<Session>> {
        let sessions = self.shared.sessions.lock().unwrap();
        let mut mine = sessions.values().filter(|s| s.connection == self.id);
        let first = mine.next()?.clone();
        mine.next().is_none().then_some(first)
    }

    fn session_header(&self, session: &Session) -> SessionHeader {
        let h = SessionHeader::new(session.id.clone());
        if session.dialect == Dialect::Classic {
            h
        } else {
            h.with_timeout(self.shared.timeout_secs())
        }
    }

    fn touch(&self, session: &Session) {
        session.state.lock().unwrap().last_activity = Instant::now();
    }

    fn touch_sessions(&self) {
        let sessions = self.shared.sessions.lock().unwrap();
        for s in sessions.values().filter(|s| s.connection == self.id) {
            s.state.lock().unwrap().last_activity = Instant::now();
        }
    }

    /// The control connection closed: its sessions end with it.
    fn closed(&self) {
        let mine: Vec<String> = {
            let sessions = self.shared.sessions.lock().unwrap();
            sessions
                .values()
                .filter(|s| s.connection == self.id)
                .map(|s| s.id.clone())
                .collect()
        };
        for id in mine {
            if let Some(s) = self.shared.session(&id) {
                s.state.lock().unwrap().connected = false;
            }
            self.shared.remove_session(&id, "control connection closed");
        }
    }
}

/// Standard clients decode JPEG over RTP only as RFC 2435: 415, with how to
/// re-encode, for a source whose JPEG it cannot carry.
fn standard_playable(source: &Source) -> Result<(), Refusal> {
    let refuse = |why: String| Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, why);
    match source {
        Source::File(media) => media.rfc2435.clone().map_err(|why| {
            refuse(format!(
                "{} cannot be sent as RFC 2435 JPEG ({why}); re-encode it as baseline 4:2:0, e.g. \
                 gst-launch-1.0 lengthmjpegsrc location=IN ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! jpegenc ! lengthmjpegmux ! filesink location=OUT",
                media.mount
            ))
        }),
        Source::Live(live) => match live.rfc2435_problem() {
            Some(why) => Err(refuse(format!(
                "{LIVE_MOUNT} cannot be sent as RFC 2435 JPEG ({why}); encode the live source as \
                 baseline 4:2:0: --pipeline '… ! video/x-raw,format=I420 ! jpegenc'"
            ))),
            None => Ok(()),
        },
    }
}

const PUBLIC: &str =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// The SDP for one file served as RFC 2435 JPEG.
fn describe_sdp(media: &MediaFile, host: IpAddr) -> String {
    let origin = if host.is_ipv6() {
        "IP6 ::1"
    } else {
        "IP4 127.0.0.1"
    };
    let framerate = format_rate(media.rate.num(), media.rate.den());
    format!(
        "v=0\r\no=- {} 1 IN {origin}\r\ns={}\r\nt=0 0\r\na=tool:mjpegrtsp\r\na=type:broadcast\r\na=control:*\r\n\
         a=range:npt=0-{:.3}\r\nm=video 0 RTP/AVP 26\r\nc=IN {origin}\r\nb=AS:{}\r\na=rtpmap:26 JPEG/90000\r\n\
         a=framerate:{framerate}\r\na=x-dimensions:{},{}\r\na=control:stream=0\r\n",
        media.id,
        media.mount,
        media.duration_secs(),
        bitrate_kbps(media),
        media.info.width,
        media.info.height,
    )
    .replace("IN IP4 127.0.0.1\r\nb", "IN IP4 0.0.0.0\r\nb")
    .replace("IN IP6 ::1\r\nb", "IN IP6 ::\r\nb")
}

/// The SDP for the live source.
fn describe_live_sdp(live: &LiveSource, host: IpAddr) -> String {
    let ip = if host.is_ipv6() {
        "IP6 ::"
    } else {
        "IP4 0.0.0.0"
    };
    let origin = if host.is_ipv6() {
        "IP6 ::1"
    } else {
        "IP4 127.0.0.1"
    };
    let mut sdp = format!(
        "v=0\r\no=- {} 1 IN {origin}\r\ns=live\r\nt=0 0\r\na=tool:mjpegrtsp\r\na=type:broadcast\r\na=control:*\r\n\
         a=range:npt=now-\r\nm=video 0 RTP/AVP 26\r\nc=IN {ip}\r\na=rtpmap:26 JPEG/90000\r\n",
        live.id
    );
    if let Some(info) = live.info() {
        if let Some((num, den)) = info.fps {
            sdp.push_str(&format!("a=framerate:{}\r\n", format_rate(num, den)));
        }
        sdp.push_str(&format!(
            "a=x-dimensions:{},{}\r\n",
            info.width, info.height
        ));
    }
    sdp.push_str("a=control:stream=0\r\n");
    sdp
}

/// `24` for 24/1, `29.970` for 30000/1001.
fn format_rate(num: i32, den: i32) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{:.3}", f64::from(num) / f64::from(den))
    }
}

/// Average bitrate of a file at its frame rate, in kbit/s.
fn bitrate_kbps(media: &MediaFile) -> u64 {
    let secs = media.duration_secs();
    if secs <= 0.0 {
        return 0;
    }
    (media.index.size() as f64 * 8.0 / secs / 1000.0).ceil() as u64
}
