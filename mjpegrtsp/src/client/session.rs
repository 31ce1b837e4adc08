//! [`Session`]: the handle an application drives (DESCRIBE, SETUP, PLAY,
//! PAUSE, TEARDOWN) while the [driver](super::driver) task owns the sockets.

mod setup;

use super::stream::Connector;
use super::*;

/// A client session with one presentation. See the [module docs](super).
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
        let connector = if url.secure {
            Connector::tls(&url.host, &opts.tls).map_err(|reason| Error::InvalidUrl {
                url: url.request_url.clone(),
                reason,
            })?
        } else {
            Connector::plain()
        };
        let tcp = connect_tcp(&authority, opts.timeout).await?;
        let connect_error = |source| Error::Connect {
            addr: authority.clone(),
            source,
        };
        let addr = tcp.peer_addr().map_err(connect_error)?;
        let local_ip = tcp
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let stream = tokio::time::timeout(opts.timeout, connector.connect(tcp))
            .await
            .map_err(|_| {
                connect_error(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no TLS handshake within the timeout",
                ))
            })?
            .map_err(connect_error)?;
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
                stall_after: opts.stall_after,
                observer: opts.observer.clone(),
                connector,
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
                    srtp: None,
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
        for m in sdp.media.iter().filter(|m| m.kind == "video") {
            match m.jpeg_format() {
                Ok(f) => {
                    chosen = Some((m, f));
                    break;
                }
                Err(others) => offered.extend(others),
            }
        }
        let Some((m, found)) = chosen else {
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
        let (pt, clock_rate) = (found.payload_type, found.clock_rate);
        let format = PayloadFormat::from(found.encoding);
        let srtp = m.srtp_key();
        if m.is_secure() && srtp.is_none() {
            return Err(Error::Unsupported {
                addr: self.addr,
                what: "SRTP keyed other than AES_CM_128_HMAC_SHA1_80 by SDES (a=crypto) or MIKEY (a=key-mgmt)".into(),
            });
        }
        Ok(Description {
            srtp,
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
        if self.description.as_ref().is_some_and(|d| d.srtp.is_some()) {
            // An SRTP key belongs to the connection that described it.
            self.describe().await?;
        }
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

/// The session part of `sdp` with only the chosen media, without its SRTP
/// key lines (`a=crypto`, `a=key-mgmt`): the key is kept in
/// [`Description::srtp`], whose `Debug` never shows it.
fn media_only(sdp: &Sdp, m: &SdpMedia) -> Sdp {
    let mut m = m.clone();
    m.attributes.retain(|(name, _)| {
        !["crypto", "key-mgmt"]
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k))
    });
    Sdp {
        media: vec![m],
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
