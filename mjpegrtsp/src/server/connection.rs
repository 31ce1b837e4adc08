//! One RTSP control connection: reads requests in either dialect, answers
//! them, and drives the READY ⇄ PLAYING state machine of the sessions it set
//! up. Replies and TCP-interleaved media share one outgoing queue, bounded
//! in bytes ([`queue`](super::queue)).

use super::engine::{Command, Source};
use super::media::MediaError;
use super::queue::{self, Outgoing};
use super::stats::Port;
use super::{ConnectionSlot, SERVER_NAME, Session, SessionState, Shared, describe};
use crate::rtp::srtp::MasterKey;
use crate::rtsp::{
    self, Dialect, Incomplete, Item, Method, NptRange, NptTime, Parsed, Parser, Request, Response,
    RtpInfo, SdesCrypto, SessionHeader, StatusCode, Version, mikey, names,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// SRTP keys one connection keeps (one per source it described; a client
/// that describes more loses the older keys).
const MAX_SRTP_KEYS: usize = 32;
/// The latest Range start a PLAY may ask for: beyond it, a looping file's
/// media time would no longer fit in 64-bit nanoseconds as it plays on.
const MAX_RANGE_START: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Reads requests from one connection and answers them. The connection
/// counts against the server's maximums until this returns (`_slot`).
/// `secure`: over TLS (the stream is already decrypted).
pub(super) async fn serve_connection<S>(
    shared: Arc<Shared>,
    stream: S,
    (local, peer): (IpAddr, SocketAddr),
    secure: bool,
    _slot: ConnectionSlot,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let connection = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%peer, connection, secure, "connected");
    let _open = shared.stats.connection_opened(Port::rtsp(secure));
    let (mut reader, writer) = tokio::io::split(stream);
    let (tx, rx) = queue::queue();
    let writer_task = queue::spawn_writer(writer, rx);
    let mut conn = Connection {
        shared: shared.clone(),
        id: connection,
        peer,
        local,
        secure,
        tx: tx.clone(),
        sessions: Vec::new(),
        after_reply: None,
        srtp_keys: HashMap::new(),
        publisher: None,
    };
    let parser = Parser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    // When the request in the buffer began, and when the last one ended.
    let mut request_began: Option<Instant> = None;
    let mut last_request = Instant::now();
    // With trusted proxies configured, a PROXY header from anyone else
    // (who could claim any address) closes the connection.
    let mut proxy_header_checked = shared.config.trusted_proxies.is_empty();
    'read: loop {
        if !proxy_header_checked && !buf.is_empty() {
            let maybe = crate::proxy_protocol::looks_like_header(&buf);
            if maybe && buf.len() >= 12 {
                tracing::info!(%peer, connection, "closed: a PROXY header from an address not among the trusted proxies");
                break 'read;
            }
            proxy_header_checked = !maybe;
        }
        // Handle every whole item in the buffer.
        let mut at_rest = false;
        loop {
            if !proxy_header_checked {
                break; // wait for the bytes that tell
            }
            match parser.parse(&buf, at_rest) {
                Parsed::Complete(item, used) => {
                    let reply = match item {
                        Item::Request(request) => {
                            if let Some(id) = conn.play_needs_room(&request) {
                                // No room on its media thread: wait a moment
                                // for some before the PLAY is judged.
                                shared.engine.until_room(id).await;
                            }
                            Some(conn.handle(request))
                        }
                        // Interleaved RTCP from the client: activity.
                        Item::Interleaved(frame) => {
                            conn.touch_sessions();
                            conn.interleaved(&frame);
                            None
                        }
                        Item::Response(_) => None,
                    };
                    buf.drain(..used);
                    at_rest = false;
                    last_request = Instant::now();
                    request_began = None;
                    if let Some(reply) = reply
                        && !tx.send_reply(reply.to_bytes()).await
                    {
                        break 'read;
                    }
                    // Media starts after its PLAY reply is on its way.
                    if let Some(command) = conn.after_reply.take() {
                        shared.engine.send(command);
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
                    tx.send_reply(reply.to_bytes()).await;
                    break 'read;
                }
            }
        }
        let deadline = shared
            .config
            .read_deadline(&buf, &mut request_began, last_request);
        match tokio::time::timeout_at(deadline.into(), reader.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) if request_began.is_some() => {
                tracing::info!(%peer, connection, "closed: a request not whole after {:?} (--request-timeout)", shared.config.request_timeout);
                break;
            }
            Err(_) => {
                conn.prune_sessions();
                if conn.sessions.is_empty() && !conn.publishes() {
                    tracing::info!(%peer, connection, "closed: no session and silent for {:?} (--idle-timeout)", shared.config.idle_timeout);
                    break;
                }
                // Its sessions keep it open; look again later.
                last_request = Instant::now();
            }
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

pub(super) struct Connection {
    pub(super) shared: Arc<Shared>,
    pub(super) id: u64,
    pub(super) peer: SocketAddr,
    /// This server's address as the client reached it (SDP's `o=`).
    pub(super) local: IpAddr,
    /// The connection is TLS (RTSPS).
    pub(super) secure: bool,
    pub(super) tx: Outgoing,
    /// The sessions this connection set up that are still alive (pruned as
    /// they end): its interleaved RTCP touches them, its close ends them.
    pub(super) sessions: Vec<Arc<Session>>,
    /// What the engine is told once the reply to the current request is
    /// queued, so that no media reaches a client before its PLAY reply.
    after_reply: Option<Command>,
    /// The SRTP keys this connection's DESCRIBEs offered, by source id,
    /// with the SSRC announced beside them: the next SETUP of that source
    /// over this connection uses them, once.
    pub(super) srtp_keys: HashMap<u64, (MasterKey, u32)>,
    /// The stream this connection publishes (`--publish`), if any.
    pub(super) publisher: Option<super::publish::Publisher>,
}

/// An error answer: the status and why, for the log.
pub(super) struct Refusal(pub(super) StatusCode, pub(super) String);

impl Connection {
    fn handle(&mut self, request: Request) -> Response {
        tracing::debug!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "request");
        self.prune_sessions();
        let response = match self.gate(&request) {
            Some(refused) => refused,
            None => self.answer(&request),
        };
        self.shared.stats.request(
            Port::rtsp(self.secure),
            request.method.as_str(),
            response.status.as_u16(),
        );
        response
    }

    /// The answer to a request the gate let through.
    fn answer(&mut self, request: &Request) -> Response {
        let result = self.dispatch(request);
        let mut response = match result {
            Ok(r) => r,
            Err(Refusal(status, why)) => {
                // What the server cannot serve is for its owner to fix.
                if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    tracing::warn!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "{} {}: {why}", status.as_u16(), status.reason_phrase());
                } else {
                    tracing::info!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "{} {}: {why}", status.as_u16(), status.reason_phrase());
                }
                let mut r = Response::reply_to(request, status);
                if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_IMPLEMENTED
                {
                    r = r.with_header(names::PUBLIC, self.public());
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

    /// The answer to a request that passed the gate.
    fn dispatch(&mut self, request: &Request) -> Result<Response, Refusal> {
        if request.version.protocol == rtsp::Protocol::Http {
            return Err(Refusal(
                StatusCode::RTSP_VERSION_NOT_SUPPORTED,
                match self.shared.http_port() {
                    Some(port) => format!(
                        "{}: this is the RTSP port; the HTTP side is on port {port}",
                        request.version
                    ),
                    None => format!("{}: this is the RTSP port", request.version),
                },
            ));
        }
        if request.version != Version::RTSP_1_0 {
            return Err(Refusal(
                StatusCode::RTSP_VERSION_NOT_SUPPORTED,
                format!("{}: this server speaks RTSP/1.0", request.version),
            ));
        }
        if let Some(result) = self.publish_request(request) {
            return result;
        }
        match &request.method {
            Method::Options => self.options(request),
            Method::Describe => self.describe(request),
            Method::Setup => self.setup(request),
            Method::Play => self.play(request),
            Method::Pause => self.pause(request),
            Method::Teardown => self.teardown(request),
            Method::GetParameter | Method::SetParameter => self.keep_alive(request),
            Method::Announce | Method::Record | Method::Redirect => Err(Refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("this server does not take {}", request.method.as_str()),
            )),
            Method::Other(m) => Err(Refusal(
                StatusCode::NOT_IMPLEMENTED,
                format!("unknown method {m}"),
            )),
        }
    }

    /// With a users file: the reply refusing `request` when it may not pass
    /// (no or wrong credentials, a mount not the user's, a classic client
    /// on a mount that is not public).
    fn gate(&self, request: &Request) -> Option<Response> {
        let gate = self.shared.gate.as_ref()?;
        let mount = request.url().ok().map(|u| u.media_path());
        let mount = mount.as_deref().filter(|m| !m.is_empty());
        if request.dialect == Dialect::Classic && !mount.is_some_and(|m| gate.is_public(m)) {
            tracing::info!(peer = %self.peer, uri = %request.uri, "401: classic clients cannot authenticate; the mount is not public");
            return Some(Response::reply_to(request, StatusCode::UNAUTHORIZED));
        }
        // A publisher's requests need leave to publish, not to play.
        let publish = super::publish::is_publishing(request) || self.names_recording(request);
        let denied = gate
            .check(
                request,
                mount,
                self.peer.ip(),
                self.secure,
                publish,
                Instant::now(),
            )
            .err()?;
        tracing::info!(peer = %self.peer, method = %request.method.as_str(), uri = %request.uri, "{} {}: {}", denied.status.as_u16(), denied.status.reason_phrase(), denied.why);
        self.shared.stats.refused(denied.refusal());
        Some(
            denied
                .response(request)
                .with_header(names::SERVER, SERVER_NAME),
        )
    }

    fn options(&self, request: &Request) -> Result<Response, Refusal> {
        if let Some(s) = self.request_session(request)? {
            self.touch(&s);
        }
        Ok(Response::reply_to(request, StatusCode::OK).with_header(names::PUBLIC, self.public()))
    }

    /// The methods this server takes (`Public`).
    fn public(&self) -> &'static str {
        if self.shared.config.publish {
            concat!(
                "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER",
                ", ANNOUNCE, RECORD"
            )
        } else {
            "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
        }
    }

    fn keep_alive(&self, request: &Request) -> Result<Response, Refusal> {
        let mut r = Response::reply_to(request, StatusCode::OK);
        if let Some(s) = self.request_session(request)? {
            self.touch(&s);
            r = r.with_session(&self.session_header(&s));
        }
        Ok(r)
    }

    fn describe(&mut self, request: &Request) -> Result<Response, Refusal> {
        let source = self.media(request)?;
        let url = request.uri.trim_end_matches('/');
        describe::standard_playable(&source)?;
        let keys = self.offers_srtp().then(|| {
            let (key, ssrc) = (MasterKey::random(), rand::random());
            if self.srtp_keys.len() >= MAX_SRTP_KEYS {
                self.srtp_keys.clear();
            }
            self.srtp_keys.insert(source.id(), (key.clone(), ssrc));
            describe::SrtpOffer {
                mikey: mikey::offer(&key, ssrc),
                sdes: SdesCrypto::new(key),
            }
        });
        let sdp = match &source {
            Source::File(media) => describe::file_sdp(media, self.local, keys),
            Source::Live(live) => describe::live_sdp(live, self.local, keys),
        };
        Ok(Response::reply_to(request, StatusCode::OK)
            .with_header(names::CONTENT_BASE, format!("{url}/"))
            .with_body("application/sdp", sdp))
    }

    fn play(&mut self, request: &Request) -> Result<Response, Refusal> {
        let session = self.required_session(request)?;
        let range = request
            .range()
            .map_err(|e| Refusal(e.status(), format!("Range: {e}")))?;
        let mut st = session.state.lock().unwrap();
        st.last_activity = Instant::now();
        let start = match (range.and_then(|r| r.start), &st.stream.source) {
            (Some(NptTime::Time(t)), Source::File(_)) if t > MAX_RANGE_START => {
                return Err(Refusal(
                    StatusCode::INVALID_RANGE,
                    format!(
                        "start {}s is beyond the latest this server plays from ({}s)",
                        t.as_secs(),
                        MAX_RANGE_START.as_secs()
                    ),
                ));
            }
            (Some(NptTime::Time(t)), Source::File(media)) => {
                // Under MAX_RANGE_START, so within u64 nanoseconds.
                let frame = media
                    .rate
                    .frame_at_ns(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
                // Only an exact count can say so: while the file is being
                // indexed, a start past the end ends the stream once known.
                let past_end = media.exact_frames().is_some_and(|n| n > 0 && frame >= n);
                if !st.stream.looping && past_end {
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
        let counters = &session.counters;
        let ended = counters.ended.load(Ordering::Relaxed);
        if st.playing && ended {
            // A file that did not loop reached its end: the engine already
            // let the session go.
            st.playing = false;
        }
        if !st.playing {
            // A session about to start sending: only if its media thread
            // keeps pace with those it has.
            self.shared
                .admit_play(session.engine_id)
                .map_err(|why| Refusal(StatusCode::NOT_ENOUGH_BANDWIDTH, why))?;
        }
        if st.playing {
            if start.is_none() {
                // Already playing: nothing changes.
                return Ok(self.play_reply(request, &session, &st));
            }
            self.shared.engine.stop_and_wait(session.engine_id);
            st.playing = false;
        }
        if let Some(frame) = start {
            counters.next_frame.store(frame, Ordering::Relaxed);
        } else if ended && !st.stream.looping {
            // PLAY after the end starts again from the beginning.
            counters.next_frame.store(0, Ordering::Relaxed);
        }
        let reply = self.play_reply(request, &session, &st);
        self.after_reply = Some(Command::Play {
            id: session.engine_id,
            stream: st.stream.clone(),
        });
        st.playing = true;
        st.ever_played = true;
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
                let in_file = media.exact_frames().map_or(frame, |n| frame % n.max(1));
                let start = Duration::from_nanos(media.rate.frame_start_ns(in_file));
                if st.stream.looping {
                    NptRange::starting_at(start)
                } else {
                    // The end is an estimate while the file is being indexed.
                    let end = Duration::from_secs_f64(media.duration_secs()).max(start);
                    NptRange::between(start, end)
                }
            }
        };
        let info = RtpInfo {
            url: format!("{}/stream=0", request.uri.trim_end_matches('/')),
            seq: Some(session.counters.next_seq.load(Ordering::Relaxed) as u16),
            rtptime: Some(super::engine::rtp_time(&st.stream, frame)),
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
        self.shared.remove_session(&session.id, "TEARDOWN", false);
        Ok(
            Response::reply_to(request, StatusCode::OK)
                .with_session(&self.session_header(&session)),
        )
    }

    /// Whether this connection's media is SRTP: over TLS, unless the
    /// server was told not to.
    pub(super) fn offers_srtp(&self) -> bool {
        self.secure && self.shared.config.tls.as_ref().is_some_and(|t| t.srtp)
    }

    /// The file or live source a request names; 404 for anything else.
    pub(super) fn media(&self, request: &Request) -> Result<Source, Refusal> {
        let uri = request
            .url()
            .map_err(|e| Refusal(StatusCode::NOT_FOUND, format!("URL {:?}: {e}", request.uri)))?;
        self.shared.source(&uri.media_path()).map_err(|e| match e {
            MediaError::NotFound(_) => Refusal(StatusCode::NOT_FOUND, e.to_string()),
            MediaError::Unplayable(_) => Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()),
            MediaError::Io(_) => Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        })
    }

    /// The session the request names, if it names one; 454 if unknown.
    pub(super) fn request_session(
        &self,
        request: &Request,
    ) -> Result<Option<Arc<Session>>, Refusal> {
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

    /// The engine id of the session a PLAY would start sending (a session
    /// that is not playing, or whose file ended), which its media thread
    /// must have room for; `None` for any other request.
    fn play_needs_room(&self, request: &Request) -> Option<u64> {
        if request.method != Method::Play {
            return None;
        }
        let session = self.required_session(request).ok()?;
        let playing = session.state.lock().unwrap().playing;
        let ended = session.counters.ended.load(Ordering::Relaxed);
        (!playing || ended).then_some(session.engine_id)
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
        match self.sessions.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }

    /// Forgets sessions that ended (TEARDOWN, timeout) since the last request.
    fn prune_sessions(&mut self) {
        self.sessions.retain(|s| !s.removed.load(Ordering::Relaxed));
    }

    pub(super) fn session_header(&self, session: &Session) -> SessionHeader {
        let h = SessionHeader::new(session.id.clone());
        if session.dialect == Dialect::Classic {
            h
        } else {
            h.with_timeout(self.shared.timeout_secs())
        }
    }

    pub(super) fn touch(&self, session: &Session) {
        session.state.lock().unwrap().last_activity = Instant::now();
    }

    /// Interleaved RTCP came: the sessions of this connection are alive.
    fn touch_sessions(&self) {
        for s in &self.sessions {
            self.touch(s);
        }
    }

    /// The control connection closed: its sessions end with it.
    fn closed(&self) {
        for s in &self.sessions {
            s.state.lock().unwrap().connected = false;
            self.shared
                .remove_session(&s.id, "control connection closed", false);
        }
    }
}
