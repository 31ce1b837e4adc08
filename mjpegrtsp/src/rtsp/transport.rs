//! The `Transport` header (RFC 2326 §12.39): the client's offers in a SETUP,
//! the one the server picks, and the server's reply.
//!
//! Offers seen in the wild:
//!
//! * `RTP/AVP;unicast;client_port=39040-39041` (GStreamer `rtspsrc`)
//! * `RTP/AVP/UDP;unicast;client_port=19170-19171` (ffmpeg)
//! * `RTP/AVP/TCP;unicast;interleaved=0-1` (both, over TCP)
//! * `RTP/UDP; client_port= 25000` (the classic client: no `unicast`, a space
//!   after `=`, one port)
//!
//! A value may hold several comma-separated alternatives, most preferred
//! first.

use std::fmt;

use super::message::StatusCode;

mod fields;

pub use fields::{ChannelPair, Delivery, LowerTransport, Mode, PortPair, Profile};

/// One transport specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// The profile.
    pub profile: Profile,
    /// UDP or TCP.
    pub lower: LowerTransport,
    /// Spelled `RTP/UDP`, the classic client's way (profile AVP over UDP).
    /// Written back the classic way: `RTP/UDP; client_port= 25000`.
    pub classic: bool,
    /// `unicast`/`multicast`; `None` when not stated.
    pub delivery: Option<Delivery>,
    /// `destination=`
    pub destination: Option<String>,
    /// `source=`
    pub source: Option<String>,
    /// `interleaved=`
    pub interleaved: Option<ChannelPair>,
    /// `append`
    pub append: bool,
    /// `ttl=`
    pub ttl: Option<u8>,
    /// `port=` (multicast).
    pub port: Option<PortPair>,
    /// `client_port=`
    pub client_port: Option<PortPair>,
    /// `server_port=`
    pub server_port: Option<PortPair>,
    /// `ssrc=` (8 hex digits).
    pub ssrc: Option<u32>,
    /// `mode=` (quotes removed).
    pub mode: Option<Mode>,
    /// Other parameters, in order, names as written.
    pub extra: Vec<(String, Option<String>)>,
}

impl Default for Transport {
    /// `RTP/AVP` over UDP with no parameters.
    fn default() -> Self {
        Self {
            profile: Profile::Avp,
            lower: LowerTransport::Udp,
            classic: false,
            delivery: None,
            destination: None,
            source: None,
            interleaved: None,
            append: false,
            ttl: None,
            port: None,
            client_port: None,
            server_port: None,
            ssrc: None,
            mode: None,
            extra: Vec::new(),
        }
    }
}

/// Why no transport can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The request has no `Transport` header.
    Missing,
    /// An alternative does not follow the grammar (the text says where).
    Malformed(String),
    /// Every alternative asks for something this server does not do.
    Unsupported(Unsupported),
}

impl TransportError {
    /// The status a server answers with: 461 Unsupported transport.
    pub fn status(&self) -> StatusCode {
        StatusCode::UNSUPPORTED_TRANSPORT
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no Transport header"),
            Self::Malformed(why) => write!(f, "malformed Transport: {why}"),
            Self::Unsupported(u) => write!(f, "unsupported transport: {u}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// What a transport asks for that playing from this server cannot give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Not RTP (the protocol name as written).
    Protocol(String),
    /// A profile other than AVP, e.g. SRTP's `SAVP`.
    Profile(Profile),
    /// `multicast`.
    Multicast,
    /// A mode other than PLAY, e.g. RECORD.
    Mode(Mode),
    /// UDP without `client_port`: nowhere to send to.
    NoClientPort,
    /// A `client_port` nothing can be sent to: port 0, or RTP and RTCP on
    /// one port.
    ClientPort(PortPair),
    /// An `interleaved` pair that is not two channels (`4-4`, or `255`
    /// whose RTCP channel would be 256).
    Channels(ChannelPair),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(p) => write!(f, "protocol {p}"),
            Self::Profile(p) => write!(f, "profile {}", p.as_str()),
            Self::Multicast => f.write_str("multicast"),
            Self::Mode(m) => write!(f, "mode {}", m.as_str()),
            Self::NoClientPort => f.write_str("UDP without client_port"),
            Self::ClientPort(p) => {
                write!(f, "client_port={p}: RTP and RTCP need two ports of 1-65535")
            }
            Self::Channels(c) => write!(
                f,
                "interleaved={c}: RTP and RTCP need two channels of 0-255"
            ),
        }
    }
}

impl Transport {
    /// `RTP/AVP;unicast;client_port=…`: a UDP reply's starting point.
    pub fn udp_unicast(client_port: PortPair) -> Self {
        Self {
            delivery: Some(Delivery::Unicast),
            client_port: Some(client_port),
            ..Self::default()
        }
    }

    /// `RTP/AVP/TCP;unicast;interleaved=…`.
    pub fn tcp_interleaved(channels: ChannelPair) -> Self {
        Self {
            lower: LowerTransport::Tcp,
            delivery: Some(Delivery::Unicast),
            interleaved: Some(channels),
            ..Self::default()
        }
    }

    /// The start of a server's reply to this offer: the same profile, lower
    /// transport and spelling, `unicast`, the client's ports or channels,
    /// `mode="PLAY"`. The server adds `server_port`, `ssrc` and, over TCP,
    /// the channels if the client named none.
    pub fn reply(&self) -> Self {
        Self {
            profile: self.profile.clone(),
            lower: self.lower,
            classic: self.classic,
            delivery: Some(Delivery::Unicast),
            client_port: self.client_port,
            interleaved: self.interleaved,
            mode: Some(Mode::Play),
            ..Self::default()
        }
    }

    /// Sets `server_port`.
    pub fn with_server_port(mut self, ports: PortPair) -> Self {
        self.server_port = Some(ports);
        self
    }

    /// Sets `ssrc`.
    pub fn with_ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = Some(ssrc);
        self
    }

    /// Sets `mode`.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Whether a server that only plays unicast RTP/AVP can use this offer.
    /// An offer that does not say `unicast` is taken as unicast (the classic
    /// client never says it); UDP needs `client_port`, TCP may leave the
    /// channels to the server.
    pub fn check_playable(&self) -> Result<(), Unsupported> {
        self.check(false)
    }

    /// [`check_playable`](Self::check_playable) for a server that also
    /// speaks SRTP: `RTP/SAVP` is usable too.
    pub fn check_playable_secure(&self) -> Result<(), Unsupported> {
        self.check(true)
    }

    /// Whether a server that takes published (RECORD) unicast RTP/AVP can
    /// use this offer: `mode=record`; over UDP `client_port` may be left
    /// out (the media comes from the client; nothing is sent to it).
    pub fn check_recordable(&self) -> Result<(), Unsupported> {
        self.check_for(false, Mode::Record)
    }

    fn check(&self, savp_too: bool) -> Result<(), Unsupported> {
        self.check_for(savp_too, Mode::Play)
    }

    fn check_for(&self, savp_too: bool, wanted: Mode) -> Result<(), Unsupported> {
        if self.profile != Profile::Avp && !(savp_too && self.profile == Profile::Savp) {
            return Err(Unsupported::Profile(self.profile.clone()));
        }
        if self.delivery == Some(Delivery::Multicast) {
            return Err(Unsupported::Multicast);
        }
        let record = wanted == Mode::Record;
        match &self.mode {
            None if !record => {}
            Some(m) if *m == wanted => {}
            Some(m) => return Err(Unsupported::Mode(m.clone())),
            None => return Err(Unsupported::Mode(Mode::Play)),
        }
        match (self.lower, self.client_port, self.interleaved) {
            (LowerTransport::Udp, None, _) if !record => return Err(Unsupported::NoClientPort),
            (LowerTransport::Udp, Some(p), _) if !p.is_usable() => {
                return Err(Unsupported::ClientPort(p));
            }
            (LowerTransport::Tcp, _, Some(c)) if c.resolved().is_none() => {
                return Err(Unsupported::Channels(c));
            }
            _ => {}
        }
        Ok(())
    }

    /// Parses one transport specification (no commas between alternatives).
    pub fn parse(spec: &str) -> Result<Self, TransportError> {
        let malformed = |why: &str| TransportError::Malformed(format!("{why} in {spec:?}"));
        if spec.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
            return Err(malformed("an unterminated quote"));
        }
        let mut params = split_outside_quotes(spec, b';').into_iter().map(str::trim);
        let id = params.next().unwrap_or_default();
        let mut parts = id.split('/').map(str::trim);
        let protocol = parts.next().unwrap_or_default();
        if !protocol.eq_ignore_ascii_case("RTP") {
            return Err(TransportError::Unsupported(Unsupported::Protocol(
                protocol.to_owned(),
            )));
        }
        let profile = parts.next().ok_or_else(|| malformed("no profile"))?;
        let lower = parts.next();
        if parts.next().is_some() {
            return Err(malformed("too many '/'"));
        }
        let mut t = Self::default();
        if profile.eq_ignore_ascii_case("UDP") && lower.is_none() {
            t.classic = true;
        } else {
            t.profile = Profile::parse(profile);
            t.lower = match lower {
                None => LowerTransport::Udp,
                Some(l) if l.eq_ignore_ascii_case("UDP") => LowerTransport::Udp,
                Some(l) if l.eq_ignore_ascii_case("TCP") => LowerTransport::Tcp,
                Some(_) => return Err(malformed("unknown lower transport")),
            };
        }
        for param in params.filter(|p| !p.is_empty()) {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (param, None),
            };
            let need =
                |what: &str| value.ok_or_else(|| malformed(&format!("{what} without value")));
            match name.to_ascii_lowercase().as_str() {
                "unicast" => t.delivery = Some(Delivery::Unicast),
                "multicast" => t.delivery = Some(Delivery::Multicast),
                "append" => t.append = true,
                "destination" => t.destination = value.map(str::to_owned),
                "source" => t.source = value.map(str::to_owned),
                "interleaved" => {
                    t.interleaved = Some(
                        parse_pair(need("interleaved")?)
                            .map(|(rtp, rtcp)| ChannelPair { rtp, rtcp })
                            .ok_or_else(|| malformed("bad interleaved"))?,
                    );
                }
                "ttl" => t.ttl = Some(need("ttl")?.parse().map_err(|_| malformed("bad ttl"))?),
                "port" => {
                    t.port = Some(port_pair(need("port")?).ok_or_else(|| malformed("bad port"))?)
                }
                "client_port" => {
                    t.client_port = Some(
                        port_pair(need("client_port")?)
                            .ok_or_else(|| malformed("bad client_port"))?,
                    );
                }
                "server_port" => {
                    t.server_port = Some(
                        port_pair(need("server_port")?)
                            .ok_or_else(|| malformed("bad server_port"))?,
                    );
                }
                "ssrc" => {
                    let v = need("ssrc")?;
                    if v.is_empty() || v.len() > 8 {
                        return Err(malformed("bad ssrc"));
                    }
                    t.ssrc = Some(u32::from_str_radix(v, 16).map_err(|_| malformed("bad ssrc"))?);
                }
                "mode" => {
                    let v = need("mode")?.trim();
                    let inner = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    if inner.contains('"') {
                        return Err(malformed("a quote inside mode"));
                    }
                    t.mode = Some(Mode::parse(inner));
                }
                _ => t.extra.push((name.to_owned(), value.map(str::to_owned))),
            }
        }
        Ok(t)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The classic server splits the line at spaces and reads the port
        // from the fourth word: `Transport: RTP/UDP; client_port= 25000`.
        let sep = if self.classic { "; " } else { ";" };
        if self.classic {
            f.write_str("RTP/UDP")?;
        } else {
            write!(f, "RTP/{}", self.profile.as_str())?;
            match self.lower {
                LowerTransport::Tcp => f.write_str("/TCP")?,
                // `RTP/UDP` alone is the classic client's spelling: a
                // standard transport whose profile reads `UDP` keeps its
                // lower transport.
                LowerTransport::Udp if self.profile.as_str().eq_ignore_ascii_case("UDP") => {
                    f.write_str("/UDP")?
                }
                LowerTransport::Udp => {}
            }
        }
        match self.delivery {
            Some(Delivery::Unicast) => write!(f, "{sep}unicast")?,
            Some(Delivery::Multicast) => write!(f, "{sep}multicast")?,
            None => {}
        }
        if let Some(d) = &self.destination {
            write!(f, "{sep}destination={d}")?;
        }
        if let Some(s) = &self.source {
            write!(f, "{sep}source={s}")?;
        }
        if let Some(i) = self.interleaved {
            write!(f, "{sep}interleaved={i}")?;
        }
        if self.append {
            write!(f, "{sep}append")?;
        }
        if let Some(ttl) = self.ttl {
            write!(f, "{sep}ttl={ttl}")?;
        }
        if let Some(p) = self.port {
            write!(f, "{sep}port={p}")?;
        }
        if let Some(p) = self.client_port {
            if self.classic {
                write!(f, "{sep}client_port= {}", p.rtp)?;
            } else {
                write!(f, "{sep}client_port={p}")?;
            }
        }
        if let Some(p) = self.server_port {
            write!(f, "{sep}server_port={p}")?;
        }
        if let Some(ssrc) = self.ssrc {
            write!(f, "{sep}ssrc={ssrc:08X}")?;
        }
        if let Some(m) = &self.mode {
            write!(f, "{sep}mode=\"{}\"", m.as_str())?;
        }
        for (name, value) in &self.extra {
            match value {
                Some(v) => write!(f, "{sep}{name}={v}")?,
                None => write!(f, "{sep}{name}")?,
            }
        }
        Ok(())
    }
}

/// Parses every comma-separated alternative of a `Transport` value. Fails
/// on the first alternative that does not parse.
pub fn parse_transports(value: &str) -> Result<Vec<Transport>, TransportError> {
    split_outside_quotes(value, b',')
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(Transport::parse)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err(TransportError::Malformed("empty Transport".into()))
            } else {
                Ok(v)
            }
        })
}

/// The first alternative of a `Transport` value that a play-only unicast
/// RTP/AVP server can use (see [`Transport::check_playable`]). Alternatives
/// that do not parse are passed over; when none is usable, the error of the
/// first alternative is returned.
pub fn negotiate_transport(value: &str) -> Result<Transport, TransportError> {
    negotiate(value, false)
}

/// The first alternative of a `Transport` value that a server taking a
/// published stream can use (see [`Transport::check_recordable`]), or the
/// first alternative's error.
pub fn negotiate_record_transport(value: &str) -> Result<Transport, TransportError> {
    first_usable(value, Transport::check_recordable)
}

/// [`negotiate_transport`] for a server that also speaks SRTP: the first
/// alternative that is `RTP/AVP` or `RTP/SAVP` and otherwise usable.
pub fn negotiate_secure_transport(value: &str) -> Result<Transport, TransportError> {
    negotiate(value, true)
}

fn negotiate(value: &str, savp_too: bool) -> Result<Transport, TransportError> {
    first_usable(value, |t| t.check(savp_too))
}

fn first_usable(
    value: &str,
    usable: impl Fn(&Transport) -> Result<(), Unsupported>,
) -> Result<Transport, TransportError> {
    let mut first_error = None;
    for spec in split_outside_quotes(value, b',') {
        if spec.trim().is_empty() {
            continue;
        }
        let err = match Transport::parse(spec) {
            Ok(t) => match usable(&t) {
                Ok(()) => return Ok(t),
                Err(u) => TransportError::Unsupported(u),
            },
            Err(e) => e,
        };
        first_error.get_or_insert(err);
    }
    Err(first_error.unwrap_or_else(|| TransportError::Malformed("empty Transport".into())))
}

/// Splits at `sep` bytes that are not inside double quotes.
fn split_outside_quotes(s: &str, sep: u8) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_pair<T: std::str::FromStr>(s: &str) -> Option<(T, Option<T>)> {
    let num = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match s.split_once('-') {
        Some((a, b)) => Some((num(a)?, Some(num(b)?))),
        None => Some((num(s)?, None)),
    }
}

fn port_pair(s: &str) -> Option<PortPair> {
    parse_pair(s).map(|(rtp, rtcp)| PortPair { rtp, rtcp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_from_the_captures() {
        let t = Transport::parse("RTP/AVP;unicast;client_port=39040-39041").unwrap();
        assert_eq!(t, Transport::udp_unicast(PortPair::new(39040, 39041)));
        let t = Transport::parse("RTP/AVP/UDP;unicast;client_port=19170-19171").unwrap();
        assert_eq!(t, Transport::udp_unicast(PortPair::new(19170, 19171)));
        let t = Transport::parse("RTP/AVP/TCP;unicast;interleaved=0-1").unwrap();
        assert_eq!(t, Transport::tcp_interleaved(ChannelPair::new(0, 1)));
        let t = Transport::parse("RTP/UDP; client_port= 25000").unwrap();
        assert!(t.classic);
        assert_eq!(
            (t.profile.clone(), t.lower),
            (Profile::Avp, LowerTransport::Udp)
        );
        assert_eq!(t.delivery, None);
        assert_eq!(
            t.client_port,
            Some(PortPair {
                rtp: 25000,
                rtcp: None
            })
        );
        assert_eq!(t.check_playable(), Ok(()));
        assert_eq!(t.to_string(), "RTP/UDP; client_port= 25000");
    }

    #[test]
    fn replies_match_gstreamer_byte_for_byte() {
        let offer = Transport::parse("RTP/AVP/UDP;unicast;client_port=19170-19171").unwrap();
        let reply = offer
            .reply()
            .with_server_port(PortPair::new(54586, 54587))
            .with_ssrc(0x47E1_2FB3);
        assert_eq!(
            reply.to_string(),
            "RTP/AVP;unicast;client_port=19170-19171;server_port=54586-54587;ssrc=47E12FB3;mode=\"PLAY\""
        );
        let offer = Transport::parse("RTP/AVP/TCP;unicast;interleaved=0-1").unwrap();
        assert_eq!(
            offer.reply().with_ssrc(0x22EF_7F87).to_string(),
            "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=22EF7F87;mode=\"PLAY\""
        );
        assert_eq!(
            Transport::parse(
                "RTP/AVP;unicast;client_port=1-2;server_port=3-4;ssrc=5505192B;mode=\"PLAY\""
            )
            .unwrap()
            .ssrc,
            Some(0x5505_192B)
        );
    }

    #[test]
    fn alternatives_and_parameters() {
        let v = "RTP/SAVP;unicast;client_port=5000-5001,RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457,RTP/AVP/TCP;interleaved=2-3;mode=\"PLAY,RECORD\";x-foo=bar;x-flag";
        let ts = parse_transports(v).unwrap();
        assert_eq!(ts.len(), 3);
        assert_eq!(ts[0].profile, Profile::Savp);
        assert_eq!(ts[1].destination.as_deref(), Some("224.2.0.1"));
        assert_eq!(
            (ts[1].ttl, ts[1].port),
            (Some(16), Some(PortPair::new(3456, 3457)))
        );
        assert_eq!(ts[2].mode, Some(Mode::Other("PLAY,RECORD".into())));
        assert_eq!(
            ts[2].extra,
            [
                ("x-foo".to_owned(), Some("bar".to_owned())),
                ("x-flag".to_owned(), None)
            ]
        );
        // The first two are unusable; the third is chosen… unless its mode
        // rules it out, as here.
        assert_eq!(
            negotiate_transport(v),
            Err(TransportError::Unsupported(Unsupported::Profile(
                Profile::Savp
            )))
        );
        let t = negotiate_secure_transport(
            "RTP/AVPF;unicast;client_port=2-3, RTP/SAVP;unicast;client_port=4-5",
        )
        .unwrap();
        assert_eq!(t.to_string(), "RTP/SAVP;unicast;client_port=4-5");
        assert!(negotiate_transport("RTP/SAVP;unicast;client_port=4-5").is_err());
        let t = negotiate_transport("RTP/AVP;multicast, RTP/AVP/TCP;unicast").unwrap();
        assert_eq!((t.lower, t.interleaved), (LowerTransport::Tcp, None));
        assert_eq!(t.to_string(), "RTP/AVP/TCP;unicast");
    }

    #[test]
    fn implied_rtcp_port_and_channel_never_overflow() {
        let single = |rtp| PortPair { rtp, rtcp: None };
        assert_eq!(single(65_534).rtcp_port(), Some(65_535));
        assert_eq!(single(65_535).rtcp_port(), None);
        assert!(single(65_535).is_usable(), "RTP only, no RTCP");
        assert_eq!(PortPair::new(5000, 7000).rtcp_port(), Some(7000));
        assert!(PortPair::new(5001, 5000).is_usable(), "any two ports");
        let channel = |rtp| ChannelPair { rtp, rtcp: None };
        assert_eq!(channel(4).resolved(), Some((4, 5)));
        assert_eq!(channel(255).resolved(), None);
        assert_eq!(ChannelPair::new(4, 9).resolved(), Some((4, 9)));
        assert_eq!(ChannelPair::new(9, 4).resolved(), Some((9, 4)));
    }

    #[test]
    fn record_offers_as_ffmpeg_and_rtspclientsink_send_them() {
        let udp =
            negotiate_record_transport("RTP/AVP/UDP;unicast;client_port=20000-20001;mode=record")
                .unwrap();
        assert_eq!(udp.lower, LowerTransport::Udp);
        assert_eq!(udp.client_port, Some(PortPair::new(20000, 20001)));
        let tcp =
            negotiate_record_transport("RTP/AVP/TCP;unicast;interleaved=0-1;mode=RECORD").unwrap();
        assert_eq!(tcp.interleaved, Some(ChannelPair::new(0, 1)));
        // rtspclientsink offers several; the first usable one wins.
        let t = negotiate_record_transport(
            "RTP/SAVP;unicast;client_port=1-2;mode=record,RTP/AVP;unicast;client_port=3-4;mode=\"RECORD\"",
        )
        .unwrap();
        assert_eq!(t.client_port, Some(PortPair::new(3, 4)));
        // Playing offers are not publishing ones, nor the other way round.
        for play in [
            "RTP/AVP;unicast;client_port=1-2",
            "RTP/AVP;unicast;client_port=1-2;mode=play",
        ] {
            assert!(matches!(
                negotiate_record_transport(play),
                Err(TransportError::Unsupported(Unsupported::Mode(_)))
            ));
        }
        assert!(negotiate_transport("RTP/AVP;unicast;client_port=1-2;mode=record").is_err());
        assert!(negotiate_record_transport("RTP/AVP;multicast;mode=record").is_err());
    }

    #[test]
    fn unsupported_offers_map_to_461() {
        for (v, why) in [
            ("RTP/AVP;multicast;client_port=1-2", Unsupported::Multicast),
            (
                "RTP/AVP;unicast;client_port=1-2;mode=record",
                Unsupported::Mode(Mode::Record),
            ),
            (
                "RTP/SAVP;unicast;client_port=1-2",
                Unsupported::Profile(Profile::Savp),
            ),
            ("RTP/AVP;unicast", Unsupported::NoClientPort),
            ("RAW/RAW/UDP;unicast", Unsupported::Protocol("RAW".into())),
            (
                "RTP/AVP;unicast;client_port=0-1",
                Unsupported::ClientPort(PortPair::new(0, 1)),
            ),
            (
                "RTP/AVP;unicast;client_port=5000-0",
                Unsupported::ClientPort(PortPair::new(5000, 0)),
            ),
            (
                "RTP/AVP;unicast;client_port=5000-5000",
                Unsupported::ClientPort(PortPair::new(5000, 5000)),
            ),
            (
                "RTP/UDP; client_port= 0",
                Unsupported::ClientPort(PortPair { rtp: 0, rtcp: None }),
            ),
            (
                "RTP/AVP/TCP;unicast;interleaved=255",
                Unsupported::Channels(ChannelPair {
                    rtp: 255,
                    rtcp: None,
                }),
            ),
            (
                "RTP/AVP/TCP;unicast;interleaved=4-4",
                Unsupported::Channels(ChannelPair::new(4, 4)),
            ),
        ] {
            let err = negotiate_transport(v).unwrap_err();
            assert_eq!(err, TransportError::Unsupported(why), "{v}");
            assert_eq!(err.status(), StatusCode::UNSUPPORTED_TRANSPORT);
        }
        for v in [
            "",
            "RTP",
            "RTP/AVP/SCTP",
            "RTP/AVP;client_port=abc",
            "RTP/AVP;client_port=1-70000",
            "RTP/AVP;interleaved=300",
            "RTP/AVP;ssrc=123456789",
            "RTP/AVP;ssrc",
            "RTP/AVP/TCP/X",
        ] {
            assert!(
                matches!(negotiate_transport(v), Err(TransportError::Malformed(_))),
                "{v}"
            );
        }
    }

    /// Found by fuzzing: an unterminated quote was accepted, and the value
    /// written back out (with the quote closed) read differently.
    #[test]
    fn an_unterminated_quote_is_malformed() {
        assert!(matches!(
            Transport::parse("RTP/AVP;unicast;mode=\"PLAY;client_port=1-2"),
            Err(TransportError::Malformed(_))
        ));
        assert!(parse_transports("RTP/AVP;mode=\"PLAY\",RTP/AVP;x=\"").is_err());
        // A quote inside the mode, with the quotes balanced.
        assert!(Transport::parse("RTP/AVP;mode=\"PLAY\"x\"\"").is_err());
        assert!(Transport::parse("RTP/AVP;mode=\"PLAY\"").is_ok());
    }

    /// Found by fuzzing: a standard transport with the profile `UDP` was
    /// written `RTP/UDP`, which reads back as the classic client's.
    #[test]
    fn a_standard_udp_profile_is_not_written_as_classic() {
        let t = Transport::parse("RTP/UDP/UDP;unicast;client_port=5000-5001").unwrap();
        assert!(!t.classic);
        let written = t.to_string();
        assert_eq!(written, "RTP/UDP/UDP;unicast;client_port=5000-5001");
        assert_eq!(Transport::parse(&written).unwrap(), t);
    }
}
