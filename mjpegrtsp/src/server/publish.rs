//! Publishing (`--publish`; RFC 2326 ANNOUNCE and RECORD): a client such as
//! `ffmpeg -f rtsp` or GStreamer's `rtspclientsink` announces an MJPEG
//! stream at a free path, sets it up with `mode=record` over UDP or TCP
//! interleaved, and records into it. Its packets take the client's own
//! packet path ([`Media`]: reordering, loss, RFC 2435 depacketizing, the
//! whole-JPEG check), and each frame goes to a live source at that path,
//! which viewers play like any other live mount. The path is freed, and its
//! viewers' sessions end (with an RTCP BYE), when the publisher leaves:
//! TEARDOWN, its connection closing, or no packet for the session timeout.

use super::Shared;
use super::connection::{Connection, Refusal};
use super::live::{LiveInfo, LiveSource};
use crate::client::PayloadFormat;
use crate::client::media::{Media, MediaConfig};
use crate::rtsp::{
    self, InterleavedFrame, LowerTransport, Method, Mode, PortPair, Request, Response, Sdp,
    SessionHeader, StatusCode, Transport, names,
};
use crate::timing::FrameRate;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a packet after a gap waits for the missing ones.
const REORDER_WAIT: Duration = Duration::from_millis(100);
/// Interleaved packets queued for the receiver at most; more are dropped.
const QUEUE_PACKETS: usize = 1024;
/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_536;

/// Whether `request` publishes: ANNOUNCE, RECORD, or a SETUP asking for
/// `mode=record` (what the users file's `publish=` patterns allow).
pub(super) fn is_publishing(request: &Request) -> bool {
    match request.method {
        Method::Announce | Method::Record => true,
        Method::Setup => request
            .headers
            .get(names::TRANSPORT)
            .and_then(|t| rtsp::parse_transports(t).ok())
            .is_some_and(|ts| ts.iter().any(|t| t.mode == Some(Mode::Record))),
        _ => false,
    }
}

/// The stream a connection publishes: announced, then set up and recorded.
pub(super) struct Publisher {
    claim: Arc<Claim>,
    /// How its packets are read, from its SDP.
    media: MediaConfig,
    /// `a=framerate`, for the viewers' SDP.
    framerate: Option<FrameRate>,
    recording: Option<Recording>,
}

/// A TCP publisher's channels (RTP, RTCP), and where its RTP goes.
type Interleaved = ((u8, u8), mpsc::Sender<Vec<u8>>);

/// A publisher's set-up stream.
struct Recording {
    session: String,
    /// TCP: the RTP and RTCP channels, and where RTP packets go (RTCP
    /// only keeps the connection alive).
    interleaved: Option<Interleaved>,
    /// Interleaved packets dropped because the receiver fell behind.
    dropped: AtomicU64,
    task: tokio::task::AbortHandle,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(r) = &self.recording {
            r.task.abort();
        }
    }
}

/// A path held by a publisher: freed, and its viewers' sessions ended, when
/// the last holder lets go or the receiver gives up.
struct Claim {
    shared: Arc<Shared>,
    source: Arc<LiveSource>,
    /// The publisher's address: a publisher counts as one of its sessions
    /// against the maximums.
    client: IpAddr,
    released: AtomicBool,
}

impl Claim {
    fn release(&self, why: &str) {
        if self.released.swap(true, Ordering::Relaxed) {
            return;
        }
        self.shared.live.release(&self.source);
        self.shared
            .sessions
            .lock()
            .unwrap()
            .tally
            .give_back(self.client);
        self.shared
            .end_sessions_of(self.source.id, "its publisher left");
        tracing::info!(path = %self.source.mount, frames = self.source.frames.load(Ordering::Relaxed), "publishing ended: {why}");
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release("the publisher left");
    }
}

impl Connection {
    /// Answers `request` if it is about publishing: ANNOUNCE, RECORD, a
    /// SETUP with `mode=record`, or a request naming this connection's
    /// recording session.
    pub(super) fn publish_request(
        &mut self,
        request: &Request,
    ) -> Option<Result<Response, Refusal>> {
        let enabled = self.shared.config.publish;
        let ours = self.names_recording(request);
        let record_setup = request.method == Method::Setup && is_publishing(request);
        let refuse = |status, why: &str| Some(Err(Refusal(status, why.to_owned())));
        match request.method {
            Method::Announce | Method::Record if !enabled => refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "this server takes no published streams (start it with --publish)",
            ),
            Method::Setup if record_setup && !enabled => refuse(
                StatusCode::UNSUPPORTED_TRANSPORT,
                "mode=record: this server takes no published streams (start it with --publish)",
            ),
            Method::Announce => Some(self.announce(request)),
            Method::Setup if record_setup => Some(self.setup_record(request)),
            Method::Record => Some(self.record(request)),
            Method::Teardown if ours => {
                let reply = self.recording_reply(request);
                self.publisher = None;
                Some(Ok(reply))
            }
            Method::Play | Method::Pause if ours => refuse(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "this session records: it cannot play",
            ),
            Method::Options | Method::GetParameter | Method::SetParameter if ours => {
                Some(Ok(self.recording_reply(request)))
            }
            _ => None,
        }
    }

    /// The interleaved channel pair this connection publishes on, if any:
    /// taken, for the sessions it plays.
    pub(super) fn publisher_channels(&self) -> Vec<u8> {
        self.publisher
            .as_ref()
            .and_then(|p| p.recording.as_ref())
            .and_then(|r| r.interleaved.as_ref())
            .map(|((rtp, rtcp), _)| vec![*rtp, *rtcp])
            .unwrap_or_default()
    }

    /// An interleaved packet from the client: the publisher's RTP goes to
    /// its receiver.
    pub(super) fn interleaved(&self, frame: &InterleavedFrame<'_>) {
        let Some(r) = self.publisher.as_ref().and_then(|p| p.recording.as_ref()) else {
            return;
        };
        if let Some(((rtp, _), to)) = &r.interleaved
            && frame.channel == *rtp
            && to.try_send(frame.payload.to_vec()).is_err()
            && r.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(peer = %self.peer, "published packets dropped: the receiver falls behind");
        }
    }

    /// Whether this connection holds a publisher (which keeps it open).
    pub(super) fn publishes(&self) -> bool {
        self.publisher.is_some()
    }

    /// Whether `request` names this connection's recording session.
    pub(super) fn names_recording(&self, request: &Request) -> bool {
        self.recording_session(request).is_some()
    }

    fn recording_session(&self, request: &Request) -> Option<&Recording> {
        let recording = self.publisher.as_ref()?.recording.as_ref()?;
        let header = request.session().ok()??;
        (header.id == recording.session).then_some(recording)
    }

    fn recording_reply(&self, request: &Request) -> Response {
        let mut r = Response::reply_to(request, StatusCode::OK);
        if let Some(recording) = self.recording_session(request) {
            r = r.with_session(
                &SessionHeader::new(recording.session.clone())
                    .with_timeout(self.shared.timeout_secs()),
            );
        }
        r
    }

    fn announce(&mut self, request: &Request) -> Result<Response, Refusal> {
        if let Some(p) = &self.publisher {
            return Err(Refusal(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                format!(
                    "this connection publishes /{} already",
                    p.claim.source.mount
                ),
            ));
        }
        let path = announced_path(request)?;
        let is_sdp = request
            .headers
            .get(names::CONTENT_TYPE)
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
        if !is_sdp {
            return Err(Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "ANNOUNCE needs an application/sdp body".into(),
            ));
        }
        let sdp = Sdp::parse_bytes(&request.body)
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("SDP: {e}")))?;
        let unsupported = |why: String| Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, why);
        let [media] = sdp.media.as_slice() else {
            let kinds: Vec<&str> = sdp.media.iter().map(|m| m.kind.as_str()).collect();
            return Err(unsupported(format!(
                "one MJPEG video stream may be published; this SDP has {kinds:?}"
            )));
        };
        let not_jpeg = |offered: String| {
            unsupported(format!(
                "only MJPEG video (RFC 2435, JPEG/90000) can be published, not {} {offered}",
                media.kind
            ))
        };
        let format = match media.jpeg_format() {
            Ok(f) if media.kind == "video" => f,
            Ok(_) => return Err(not_jpeg("JPEG".into())),
            Err(offered) => return Err(not_jpeg(offered.join(", "))),
        };
        if media.is_secure() {
            return Err(unsupported("SRTP cannot be published here".into()));
        }
        if self.shared.library.open(&path).is_ok() {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                format!("/{path} is a file this server serves"),
            ));
        }
        let client = self.peer.ip().to_canonical();
        let config = &self.shared.config;
        self.shared
            .sessions
            .lock()
            .unwrap()
            .tally
            .take(client, config.max_sessions, config.max_sessions_per_address)
            .map_err(super::setup::sessions_full)?;
        let source =
            match self
                .shared
                .live
                .claim(&path, self.peer.ip(), &self.shared.engine.sender())
            {
                Ok(source) => source,
                Err(why) => {
                    self.shared.sessions.lock().unwrap().tally.give_back(client);
                    return Err(Refusal(StatusCode::FORBIDDEN, why));
                }
            };
        tracing::info!(peer = %self.peer, connection = self.id, "ANNOUNCE /{path}: payload type {}, {}", format.payload_type, format.clock_rate);
        self.publisher = Some(Publisher {
            claim: Arc::new(Claim {
                shared: self.shared.clone(),
                source,
                client,
                released: AtomicBool::new(false),
            }),
            media: MediaConfig {
                format: PayloadFormat::from(format.encoding),
                payload_type: Some(format.payload_type),
                clock_rate: format.clock_rate,
                latency: REORDER_WAIT,
                // Used only for timestamps counted in frames, which RTP has not.
                framerate: media.framerate().unwrap_or(self.shared.config.fps),
                dimensions: media.dimensions(),
            },
            framerate: media.framerate(),
            recording: None,
        });
        Ok(Response::reply_to(request, StatusCode::OK))
    }

    fn setup_record(&mut self, request: &Request) -> Result<Response, Refusal> {
        let path = announced_path(request)?;
        let publisher = self.publisher.as_ref().ok_or_else(|| {
            Refusal(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "mode=record: ANNOUNCE the stream on this connection first".into(),
            )
        })?;
        let source = publisher.claim.source.clone();
        if path != source.mount {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                format!("this connection announced /{}, not /{path}", source.mount),
            ));
        }
        if publisher.recording.is_some() {
            return Err(Refusal(
                StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED,
                "the announced stream is set up already".into(),
            ));
        }
        let header = request
            .headers
            .get(names::TRANSPORT)
            .ok_or_else(|| Refusal(StatusCode::BAD_REQUEST, "SETUP without Transport".into()))?;
        let offer = rtsp::negotiate_record_transport(header)
            .map_err(|e| Refusal(e.status(), format!("transport {header:?}: {e}")))?;
        let (input, interleaved, reply) = match offer.lower {
            LowerTransport::Udp => {
                let failed = |e: std::io::Error| {
                    Refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("no UDP ports to receive on: {e}"),
                    )
                };
                let (rtp, rtcp) = crate::net::bind_rtp_pair(self.local).map_err(failed)?;
                let ports = PortPair::new(
                    rtp.local_addr().map_err(failed)?.port(),
                    rtcp.local_addr().map_err(failed)?.port(),
                );
                crate::net::set_receive_buffer(&rtp, 4 << 20).ok();
                let input = Input::Udp {
                    rtp: crate::net::into_tokio(rtp).map_err(failed)?,
                    rtcp: crate::net::into_tokio(rtcp).map_err(failed)?,
                    from: self.peer.ip().to_canonical(),
                    rtcp_buf: vec![0; 2048],
                };
                let reply = offer.reply().with_server_port(ports);
                (input, None, reply)
            }
            LowerTransport::Tcp => {
                let channels = self.interleaved_channels(offer.interleaved)?;
                let pair = channels.resolved().ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        format!("interleaved={channels} is not two channels"),
                    )
                })?;
                let (tx, rx) = mpsc::channel(QUEUE_PACKETS);
                let mut reply = Transport::tcp_interleaved(channels);
                reply.profile = offer.profile.clone();
                (Input::Tcp(rx), Some((pair, tx)), reply)
            }
        };
        let media = Media::new(publisher.media.clone());
        let task = tokio::spawn(receive(
            publisher.claim.clone(),
            media,
            input,
            self.shared.config.session_timeout,
            publisher.framerate,
        ));
        let session = rtsp::generate_session_id();
        tracing::info!(peer = %self.peer, connection = self.id, %session, "SETUP /{path} to publish ({offer})");
        let reply_transport = reply.with_mode(Mode::Record);
        if let Some(p) = self.publisher.as_mut() {
            p.recording = Some(Recording {
                session: session.clone(),
                interleaved,
                dropped: AtomicU64::new(0),
                task: task.abort_handle(),
            });
        }
        Ok(Response::reply_to(request, StatusCode::OK)
            .with_session(&SessionHeader::new(session).with_timeout(self.shared.timeout_secs()))
            .with_header(names::TRANSPORT, reply_transport.to_string()))
    }

    fn record(&mut self, request: &Request) -> Result<Response, Refusal> {
        if self.recording_session(request).is_none() {
            let why = match self.publisher.as_ref().map(|p| p.recording.is_some()) {
                None => "RECORD: ANNOUNCE and SETUP first",
                Some(false) => "RECORD: SETUP the announced stream first",
                Some(true) => "RECORD: not the session this connection set up",
            };
            return Err(Refusal(StatusCode::SESSION_NOT_FOUND, why.into()));
        }
        if let Some(p) = &self.publisher {
            tracing::info!(peer = %self.peer, connection = self.id, "RECORD: publishing /{}", p.claim.source.mount);
        }
        Ok(self.recording_reply(request))
    }
}

/// The path a publishing request names (no slashes around); 400 for one
/// that is empty or climbs with `.` or `..`.
fn announced_path(request: &Request) -> Result<String, Refusal> {
    let bad = |why: String| Refusal(StatusCode::BAD_REQUEST, why);
    let url = request
        .url()
        .map_err(|e| bad(format!("URL {:?}: {e}", request.uri)))?;
    let path = url.media_path();
    let path = path.trim_matches('/');
    if path.is_empty()
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad(format!(
            "{}: publish at a path such as rtsp://host/cam1",
            request.uri
        )));
    }
    Ok(path.to_owned())
}

/// Where a publisher's packets come from.
enum Input {
    /// The server's own port pair; only packets from the publisher's
    /// address count.
    Udp {
        rtp: tokio::net::UdpSocket,
        rtcp: tokio::net::UdpSocket,
        from: IpAddr,
        /// RTCP is read into it, and only its sender looked at.
        rtcp_buf: Vec<u8>,
    },
    /// Interleaved RTP, handed on by the connection.
    Tcp(mpsc::Receiver<Vec<u8>>),
}

/// What came in.
enum Incoming {
    Rtp(Vec<u8>),
    /// RTCP, or anything else that shows the publisher is there.
    Alive,
    /// A datagram from another address: ignored.
    Stranger,
    /// The connection went away.
    Closed,
}

impl Input {
    async fn next(&mut self, buf: &mut [u8]) -> Incoming {
        match self {
            Input::Tcp(rx) => rx.recv().await.map_or(Incoming::Closed, Incoming::Rtp),
            Input::Udp {
                rtp,
                rtcp,
                from,
                rtcp_buf,
            } => {
                let (got, is_rtp) = tokio::select! {
                    r = rtp.recv_from(buf) => (r, true),
                    r = rtcp.recv_from(rtcp_buf) => (r, false),
                };
                match got {
                    Ok((_, addr)) if addr.ip().to_canonical() != *from => Incoming::Stranger,
                    Ok((n, _)) if is_rtp => Incoming::Rtp(buf[..n].to_vec()),
                    // ICMP port unreachable and the like: nothing came.
                    Ok(_) | Err(_) => Incoming::Alive,
                }
            }
        }
    }
}

/// Frames from a publisher's packets into its live source, until the
/// packets stop for `timeout` or the connection goes (the task is then
/// aborted or its queue closes).
async fn receive(
    claim: Arc<Claim>,
    mut media: Media,
    mut input: Input,
    timeout: Duration,
    fps: Option<FrameRate>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut frames = Vec::new();
    let mut heard = Instant::now();
    let mut strangers = 0u64;
    loop {
        let give_up = heard + timeout;
        let wake = media.deadline().map_or(give_up, |d| d.min(give_up));
        tokio::select! {
            incoming = input.next(&mut buf) => match incoming {
                Incoming::Rtp(packet) => {
                    heard = Instant::now();
                    media.push(&packet, heard);
                }
                Incoming::Alive => heard = Instant::now(),
                Incoming::Stranger => {
                    strangers += 1;
                    if strangers == 1 {
                        tracing::info!(path = %claim.source.mount, "ignoring datagrams from an address that is not the publisher's");
                    }
                }
                Incoming::Closed => return,
            },
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        if heard.elapsed() >= timeout {
            claim.release(&format!("no media for {timeout:?}"));
            return;
        }
        media.pop_frames(Instant::now(), &mut frames);
        for frame in frames.drain(..) {
            let info = LiveInfo::of_jpeg(&frame.jpeg, fps);
            let pts = u64::try_from(frame.pts.as_nanos()).unwrap_or(u64::MAX);
            claim.source.push_frame(frame.jpeg, pts, info);
        }
    }
}
