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

pub(crate) mod auth;
mod driver;
mod error;
mod events;
mod jitter;
pub(crate) mod media;
mod observer;
mod peer;
mod session;
mod stats;
mod stream;
mod url;

pub use crate::rtsp::auth::{Algorithm, DigestInput, digest_response};
pub use error::Error;
pub use events::Events;
pub use jitter::{JitterBuffer, JitterStats, Pushed, Released};
pub use observer::{MessageDirection, MessageObserver};
pub use session::Session;
pub use stats::Stats;
pub use url::{DEFAULT_PORT, RtspUrl, without_password};

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use crate::rtp::srtp::MasterKey;
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

impl From<crate::rtsp::sdp::JpegEncoding> for PayloadFormat {
    fn from(encoding: crate::rtsp::sdp::JpegEncoding) -> Self {
        match encoding {
            crate::rtsp::sdp::JpegEncoding::Rfc2435 => PayloadFormat::Rfc2435,
            crate::rtsp::sdp::JpegEncoding::WholeJpeg => PayloadFormat::WholeJpeg,
        }
    }
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
    /// While playing, how long without media before [`Event::Stalled`]
    /// (default 2 s; `None`: never).
    pub stall_after: Option<Duration>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Called with the head of each request and reply, credentials redacted
    /// (default none); see [`MessageObserver`].
    pub observer: Option<MessageObserver>,
    /// How `rtsps://` servers are trusted (needs the `tls` feature).
    pub tls: TlsOptions,
}

/// How an `rtsps://` server's certificate is checked.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Check it (default true): against `ca_file`, else the system's roots.
    pub verify: bool,
    /// PEM certificates to trust instead of the system's (e.g. a test CA, or
    /// a self-signed server's own certificate).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            verify: true,
            ca_file: None,
        }
    }
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
            stall_after: Some(Duration::from_secs(2)),
            user_agent: concat!("mjpegrtsp-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: None,
            tls: TlsOptions::default(),
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
    /// No media came for [`ClientOptions::stall_after`] while playing: the
    /// network is interrupted, or the source stopped sending. Sent once;
    /// [`Event::Resumed`] follows if media comes again.
    Stalled {
        /// How long no media has come.
        silent_for: Duration,
    },
    /// Media came again after an [`Event::Stalled`].
    Resumed {
        /// How long none came.
        silent_for: Duration,
    },
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
    /// The SRTP key of `a=crypto` (SDES): the media is SRTP and SRTCP.
    pub srtp: Option<MasterKey>,
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
