//! SDP (RFC 4566) as far as RTSP needs it: a writer for the description of
//! one JPEG video stream, and a parser good enough for a client to find the
//! media, their RTP maps, control URLs, range and frame rate.

use std::fmt;
use std::net::IpAddr;

use super::auth::{base64, base64_decode};
use super::mikey::MikeyKey;
use super::range::NptRange;
use super::uri::resolve_control;
use crate::rtp::ENCODING_NAME;
use crate::rtp::srtp::{self, MasterKey};
use crate::timing::FrameRate;

/// A session description: the lines RTSP uses, in order. Lines of other
/// types (`i=`, session-level `b=`, `k=`, …) are dropped by the parser; `t=`
/// is always written as `t=0 0`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdp {
    /// The `o=` value, e.g. `- 1234 1 IN IP4 127.0.0.1`.
    pub origin: Option<String>,
    /// The `s=` value.
    pub session_name: Option<String>,
    /// The session-level `c=` value, e.g. `IN IP4 0.0.0.0`.
    pub connection: Option<String>,
    /// Session-level `a=` lines: name and value (`None` for a flag).
    pub attributes: Vec<(String, Option<String>)>,
    /// The media sections.
    pub media: Vec<Media>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `video`, `audio`, …
    pub kind: String,
    /// The port (0 in RTSP: the transport is negotiated by SETUP).
    pub port: u16,
    /// `RTP/AVP`, …
    pub proto: String,
    /// The formats: payload type numbers for RTP.
    pub formats: Vec<String>,
    /// The media-level `c=` value.
    pub connection: Option<String>,
    /// The media-level `b=` value, e.g. `AS:6180` (kbit/s).
    pub bandwidth: Option<String>,
    /// Media-level `a=` lines.
    pub attributes: Vec<(String, Option<String>)>,
}

/// An `a=rtpmap:` attribute: `<pt> <encoding>/<clock rate>[/<params>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// The payload type.
    pub payload_type: u8,
    /// The encoding name, e.g. `JPEG`, `X-WHOLE-JPEG`.
    pub encoding_name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// Encoding parameters (channels for audio).
    pub params: Option<String>,
}

impl RtpMap {
    /// Parses the value after `rtpmap:`.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.trim().split_once([' ', '\t'])?;
        let mut parts = rest.trim().splitn(3, '/');
        let encoding_name = parts.next()?.trim().to_owned();
        let clock_rate = parts.next()?.trim().parse().ok()?;
        let params = parts.next().map(|p| p.trim().to_owned());
        let payload_type = pt.trim().parse().ok().filter(|&pt: &u8| pt <= 127)?;
        (!encoding_name.is_empty()).then_some(Self {
            payload_type,
            encoding_name,
            clock_rate,
            params,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(p) = &self.params {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

/// A line the parser cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// The description is not UTF-8.
    NotUtf8,
    /// A line is not `<letter>=<value>` (`line` counts from 1).
    BadLine {
        /// Which line.
        line: usize,
    },
    /// An `m=` line is not `<media> <port> <proto> <fmt>…`.
    BadMedia {
        /// Which line.
        line: usize,
    },
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("SDP is not UTF-8"),
            Self::BadLine { line } => write!(f, "SDP line {line} is not <type>=<value>"),
            Self::BadMedia { line } => write!(f, "SDP line {line} is not a valid m= line"),
        }
    }
}

impl std::error::Error for SdpError {}

fn find_attr<'a>(attrs: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

impl Sdp {
    /// Parses a description (CRLF or LF line ends).
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let mut sdp = Sdp::default();
        for (i, line) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_alphabetic() {
                return Err(SdpError::BadLine { line: line_no });
            }
            let value = &line[2..];
            match (bytes[0], sdp.media.last_mut()) {
                (b'm', _) => sdp.media.push(parse_media(value, line_no)?),
                (b'a', Some(m)) => m.attributes.push(parse_attribute(value)),
                (b'a', None) => sdp.attributes.push(parse_attribute(value)),
                (b'c', Some(m)) => m.connection = Some(value.trim().to_owned()),
                (b'b', Some(m)) => m.bandwidth = Some(value.trim().to_owned()),
                (b'c', None) => sdp.connection = Some(value.trim().to_owned()),
                (b'o', None) => sdp.origin = Some(value.trim().to_owned()),
                (b's', None) => sdp.session_name = Some(value.to_owned()),
                _ => {}
            }
        }
        Ok(sdp)
    }

    /// Parses a DESCRIBE body.
    pub fn parse_bytes(body: &[u8]) -> Result<Self, SdpError> {
        Self::parse(std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?)
    }

    /// The first session-level attribute called `name`: its value, or `""`
    /// for a flag.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attr(&self.attributes, name)
    }

    /// The session-level `a=control:`.
    pub fn control(&self) -> Option<&str> {
        self.attribute("control")
    }

    /// The session-level `a=range:`, when there is one that parses.
    pub fn range(&self) -> Option<NptRange> {
        NptRange::parse(self.attribute("range")?).ok()
    }

    /// The URL of the whole presentation (for PLAY, PAUSE, TEARDOWN): the
    /// session-level control resolved against `base` (see
    /// [`resolve_control`]), or `base` itself.
    pub fn aggregate_url(&self, base: &str) -> String {
        resolve_control(base, self.control().unwrap_or("*"))
    }
}

impl fmt::Display for Sdp {
    /// The description with CRLF line ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn attrs(f: &mut fmt::Formatter<'_>, attrs: &[(String, Option<String>)]) -> fmt::Result {
            for (name, value) in attrs {
                match value {
                    Some(v) => write!(f, "a={name}:{v}\r\n")?,
                    None => write!(f, "a={name}\r\n")?,
                }
            }
            Ok(())
        }
        f.write_str("v=0\r\n")?;
        write!(
            f,
            "o={}\r\n",
            self.origin.as_deref().unwrap_or("- 0 0 IN IP4 127.0.0.1")
        )?;
        write!(f, "s={}\r\n", self.session_name.as_deref().unwrap_or("-"))?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        f.write_str("t=0 0\r\n")?;
        attrs(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {} {}", m.kind, m.port, m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            f.write_str("\r\n")?;
            if let Some(c) = &m.connection {
                write!(f, "c={c}\r\n")?;
            }
            if let Some(b) = &m.bandwidth {
                write!(f, "b={b}\r\n")?;
            }
            attrs(f, &m.attributes)?;
        }
        Ok(())
    }
}

/// An SDES `a=crypto:` attribute (RFC 4568 §9.1) with the SRTP suite this
/// project speaks: `1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>`.
/// Written without a lifetime or MKI, which ffmpeg cannot read; read
/// with a lifetime, and refused with an MKI (RFC 4568 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesCrypto {
    /// The tag, which tells several offers apart.
    pub tag: u32,
    /// The master key and salt.
    pub key: MasterKey,
}

impl SdesCrypto {
    /// The offer of `key`, tag 1.
    pub fn new(key: MasterKey) -> Self {
        Self { tag: 1, key }
    }

    /// Reads an `a=crypto` value; `None` if it is malformed, of another
    /// suite, or has an MKI or a key of the wrong size.
    pub fn parse(value: &str) -> Option<Self> {
        let mut words = value.split_ascii_whitespace();
        let tag = words.next()?.parse().ok()?;
        if !words.next()?.eq_ignore_ascii_case(srtp::SUITE) {
            return None;
        }
        let params = words.next()?;
        // One key (several are `;`-separated), `inline:key[|lifetime][|mki:len]`.
        let inline = params.split(';').next()?.strip_prefix("inline:")?;
        let mut parts = inline.split('|');
        let key = MasterKey::from_bytes(&base64_decode(parts.next()?)?)?;
        if parts.nth(1).is_some() {
            return None;
        }
        Some(Self { tag, key })
    }
}

impl fmt::Display for SdesCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = base64(self.key.as_bytes());
        write!(f, "{} {} inline:{key}", self.tag, srtp::SUITE)
    }
}

/// How a media section carries JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JpegEncoding {
    /// RFC 2435 (`JPEG`, or static payload type 26 without an rtpmap).
    Rfc2435,
    /// The project's whole-JPEG scheme ([`ENCODING_NAME`]).
    WholeJpeg,
}

/// The JPEG format a media section offers: what is needed to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegFormat {
    /// Its RTP payload type.
    pub payload_type: u8,
    /// How the JPEG is carried.
    pub encoding: JpegEncoding,
    /// The RTP clock rate.
    pub clock_rate: u32,
}

impl Media {
    /// The first of its formats that is JPEG. When none is, what it offers
    /// instead, for an error message: `"H264 (96)"`, `"payload type 97"`.
    pub fn jpeg_format(&self) -> Result<JpegFormat, Vec<String>> {
        let mut offered = Vec::new();
        for pt in self.payload_types() {
            let found = |encoding, clock_rate| JpegFormat {
                payload_type: pt,
                encoding,
                clock_rate,
            };
            match self.rtpmap(pt) {
                Some(map) if map.encoding_name.eq_ignore_ascii_case("JPEG") => {
                    return Ok(found(JpegEncoding::Rfc2435, map.clock_rate));
                }
                Some(map) if map.encoding_name.eq_ignore_ascii_case(ENCODING_NAME) => {
                    return Ok(found(JpegEncoding::WholeJpeg, map.clock_rate));
                }
                None if pt == crate::rtp::rfc2435::PAYLOAD_TYPE => {
                    return Ok(found(
                        JpegEncoding::Rfc2435,
                        crate::rtp::rfc2435::CLOCK_RATE,
                    ));
                }
                Some(map) => offered.push(format!("{} ({pt})", map.encoding_name)),
                None => offered.push(format!("payload type {pt}")),
            }
        }
        Err(offered)
    }

    /// The first `a=crypto:` with the suite this project speaks.
    pub fn crypto(&self) -> Option<SdesCrypto> {
        self.attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("crypto"))
            .find_map(|(_, v)| SdesCrypto::parse(v.as_deref()?))
    }

    /// The key of the first `a=key-mgmt:mikey` (RFC 4567) that
    /// [`super::mikey::parse`] reads.
    pub fn key_mgmt(&self) -> Option<MikeyKey> {
        self.attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("key-mgmt"))
            .filter_map(|(_, v)| {
                let (protocol, data) = v.as_deref()?.trim().split_once(' ')?;
                protocol.eq_ignore_ascii_case("mikey").then_some(data)?;
                super::mikey::parse(&base64_decode(data.trim())?).ok()
            })
            .next()
    }

    /// The SRTP key offered, by SDES (`a=crypto`) or else MIKEY
    /// (`a=key-mgmt`).
    pub fn srtp_key(&self) -> Option<MasterKey> {
        self.crypto()
            .map(|c| c.key)
            .or_else(|| self.key_mgmt().map(|m| m.key))
    }

    /// Whether the profile is secure RTP (`RTP/SAVP`, `RTP/SAVPF`).
    pub fn is_secure(&self) -> bool {
        self.proto.to_ascii_uppercase().contains("/SAVP")
    }

    /// The first attribute called `name`: its value, or `""` for a flag.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attr(&self.attributes, name)
    }

    /// The `a=control:` of this stream.
    pub fn control(&self) -> Option<&str> {
        self.attribute("control")
    }

    /// The URL to SETUP this stream with: its control resolved against
    /// `base`, which is the `Content-Base` of the DESCRIBE reply (else its
    /// `Content-Location`, else the URL described). Without a control, the
    /// base itself.
    pub fn control_url(&self, base: &str) -> String {
        resolve_control(base, self.control().unwrap_or("*"))
    }

    /// The formats as payload types (those that are numbers ≤ 127).
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats
            .iter()
            .filter_map(|f| f.parse().ok())
            .filter(|&pt: &u8| pt <= 127)
            .collect()
    }

    /// Every `a=rtpmap:` that parses.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("rtpmap"))
            .filter_map(|(_, v)| RtpMap::parse(v.as_deref()?))
            .collect()
    }

    /// The `a=rtpmap:` of payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().into_iter().find(|m| m.payload_type == pt)
    }

    /// The `a=fmtp:` parameters of payload type `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("fmtp"))
            .filter_map(|(_, v)| v.as_deref())
            .find_map(|v| {
                let (p, params) = v.trim().split_once([' ', '\t'])?;
                (p.parse() == Ok(pt)).then(|| params.trim())
            })
    }

    /// `a=framerate:` (`24` → 24/1, `29.97` → 30000/1001).
    pub fn framerate(&self) -> Option<FrameRate> {
        FrameRate::parse(self.attribute("framerate")?)
    }

    /// `a=x-dimensions:width,height`.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        let (w, h) = self.attribute("x-dimensions")?.split_once(',')?;
        Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
    }

    /// The stream's own `a=range:`, when there is one that parses.
    pub fn range(&self) -> Option<NptRange> {
        NptRange::parse(self.attribute("range")?).ok()
    }
}

fn parse_media(value: &str, line: usize) -> Result<Media, SdpError> {
    let bad = SdpError::BadMedia { line };
    let mut words = value.split_ascii_whitespace();
    let kind = words.next().ok_or(bad.clone())?;
    let port = words.next().ok_or(bad.clone())?;
    let port = port
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(bad.clone())?;
    let proto = words.next().ok_or(bad)?;
    Ok(Media {
        kind: kind.to_owned(),
        port,
        proto: proto.to_owned(),
        formats: words.map(str::to_owned).collect(),
        connection: None,
        bandwidth: None,
        attributes: Vec::new(),
    })
}

fn parse_attribute(value: &str) -> (String, Option<String>) {
    match value.split_once(':') {
        Some((n, v)) => (n.trim().to_owned(), Some(v.trim().to_owned())),
        None => (value.trim().to_owned(), None),
    }
}

/// The description of one JPEG video stream, as a server writes it in a
/// DESCRIBE reply. [`JpegVideoSdp::to_sdp`] gives the [`Sdp`]; its
/// `to_string()` is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegVideoSdp {
    /// The `o=` session id (a random number, usually).
    pub session_id: u64,
    /// The server's address for `o=`.
    pub address: IpAddr,
    /// The `s=` session name.
    pub session_name: String,
    /// `a=tool:` naming the server software.
    pub tool: Option<String>,
    /// `a=type:broadcast`: every client sees the same stream.
    pub broadcast: bool,
    /// `a=range:` at session level: `npt=0-<duration>` for a file,
    /// [`NptRange::live`] for a live source, or none.
    pub range: Option<NptRange>,
    /// The RTP payload type.
    pub payload_type: u8,
    /// The `a=rtpmap:` encoding name.
    pub encoding_name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// `a=framerate:`.
    pub framerate: Option<FrameRate>,
    /// The stream's `a=control:`.
    pub control: String,
    /// `a=x-dimensions:width,height`.
    pub dimensions: Option<(u32, u32)>,
    /// `b=AS:` at media level: the average bitrate in kbit/s.
    pub bandwidth_kbps: Option<u64>,
    /// The SRTP key offered (SDES): the profile becomes `RTP/SAVP` and the
    /// media section carries `a=crypto:`.
    pub crypto: Option<SdesCrypto>,
    /// The same key as a MIKEY message ([`super::mikey`]), for clients that
    /// read `a=key-mgmt:mikey` (GStreamer's `rtspsrc`).
    pub key_mgmt: Option<Vec<u8>>,
}

impl JpegVideoSdp {
    /// RFC 2435 JPEG: PT 26, `JPEG/90000`, what ffmpeg and GStreamer's
    /// `rtpjpegdepay` decode. Control `stream=0`, no range, frame rate or
    /// dimensions yet.
    pub fn rfc2435(session_id: u64, address: IpAddr) -> Self {
        Self {
            session_id,
            address,
            session_name: "mjpegrtsp".to_owned(),
            tool: None,
            broadcast: false,
            range: None,
            payload_type: 26,
            encoding_name: "JPEG".to_owned(),
            clock_rate: 90_000,
            framerate: None,
            control: "stream=0".to_owned(),
            dimensions: None,
            bandwidth_kbps: None,
            crypto: None,
            key_mgmt: None,
        }
    }

    /// The project's whole-JPEG scheme: `X-WHOLE-JPEG` with the given payload
    /// type and clock rate (see [`crate::rtp`]).
    pub fn whole_jpeg(session_id: u64, address: IpAddr, payload_type: u8, clock_rate: u32) -> Self {
        Self {
            payload_type,
            encoding_name: ENCODING_NAME.to_owned(),
            clock_rate,
            ..Self::rfc2435(session_id, address)
        }
    }

    /// The description:
    ///
    /// ```text
    /// v=0
    /// o=- <session_id> 1 IN IP4 <address>
    /// s=<session_name>
    /// t=0 0
    /// a=tool:mjpegrtsp
    /// a=type:broadcast
    /// a=control:*
    /// a=range:npt=0-298.792
    /// m=video 0 RTP/AVP 26
    /// c=IN IP4 0.0.0.0
    /// b=AS:6180
    /// a=rtpmap:26 JPEG/90000
    /// a=framerate:24
    /// a=x-dimensions:640,480
    /// a=control:stream=0
    /// ```
    ///
    /// (`a=tool`, `a=type`, `b=AS`, `a=range`, `a=framerate` and
    /// `a=x-dimensions` only when set; with an SRTP key, `RTP/SAVP` and
    /// `a=crypto:` after the `a=rtpmap:`.)
    pub fn to_sdp(&self) -> Sdp {
        let (family, any) = match self.address {
            IpAddr::V4(_) => ("IP4", "0.0.0.0"),
            IpAddr::V6(_) => ("IP6", "::"),
        };
        let mut session_attrs = Vec::new();
        if let Some(tool) = &self.tool {
            session_attrs.push(("tool".to_owned(), Some(tool.clone())));
        }
        if self.broadcast {
            session_attrs.push(("type".to_owned(), Some("broadcast".to_owned())));
        }
        session_attrs.push(("control".to_owned(), Some("*".to_owned())));
        if let Some(r) = self.range {
            session_attrs.push(("range".to_owned(), Some(r.to_string())));
        }
        let rtpmap = RtpMap {
            payload_type: self.payload_type,
            encoding_name: self.encoding_name.clone(),
            clock_rate: self.clock_rate,
            params: None,
        };
        let mut attrs = vec![("rtpmap".to_owned(), Some(rtpmap.to_string()))];
        if let Some(crypto) = &self.crypto {
            attrs.push(("crypto".to_owned(), Some(crypto.to_string())));
        }
        if let Some(mikey) = &self.key_mgmt {
            attrs.push((
                "key-mgmt".to_owned(),
                Some(format!("mikey {}", base64(mikey))),
            ));
        }
        if let Some(rate) = self.framerate {
            attrs.push(("framerate".to_owned(), Some(rate.to_string())));
        }
        if let Some((w, h)) = self.dimensions {
            attrs.push(("x-dimensions".to_owned(), Some(format!("{w},{h}"))));
        }
        attrs.push(("control".to_owned(), Some(self.control.clone())));
        Sdp {
            origin: Some(format!(
                "- {} 1 IN {family} {}",
                self.session_id, self.address
            )),
            session_name: Some(self.session_name.clone()),
            connection: None,
            attributes: session_attrs,
            media: vec![Media {
                kind: "video".to_owned(),
                port: 0,
                proto: if self.crypto.is_some() {
                    "RTP/SAVP"
                } else {
                    "RTP/AVP"
                }
                .to_owned(),
                formats: vec![self.payload_type.to_string()],
                connection: Some(format!("IN {family} {any}")),
                bandwidth: self.bandwidth_kbps.map(|kbps| format!("AS:{kbps}")),
                attributes: attrs,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    #[test]
    fn writes_a_jpeg_description() {
        let mut d = JpegVideoSdp::rfc2435(42, IpAddr::V4(Ipv4Addr::LOCALHOST));
        d.range = Some(NptRange::between(
            Duration::ZERO,
            Duration::from_millis(298_792),
        ));
        d.framerate = FrameRate::new(24, 1);
        d.dimensions = Some((640, 480));
        assert_eq!(
            d.to_sdp().to_string(),
            "v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=mjpegrtsp\r\nt=0 0\r\na=control:*\r\n\
             a=range:npt=0-298.792\r\nm=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\n\
             a=rtpmap:26 JPEG/90000\r\na=framerate:24\r\na=x-dimensions:640,480\r\n\
             a=control:stream=0\r\n"
        );
        let mut d = JpegVideoSdp::whole_jpeg(7, IpAddr::V6(Ipv6Addr::LOCALHOST), 96, 90_000);
        d.range = Some(NptRange::live());
        assert_eq!(
            d.to_sdp().to_string(),
            "v=0\r\no=- 7 1 IN IP6 ::1\r\ns=mjpegrtsp\r\nt=0 0\r\na=control:*\r\n\
             a=range:npt=now-\r\nm=video 0 RTP/AVP 96\r\nc=IN IP6 ::\r\n\
             a=rtpmap:96 X-WHOLE-JPEG/90000\r\na=control:stream=0\r\n"
        );
    }

    #[test]
    fn round_trips_through_the_parser() {
        let mut d = JpegVideoSdp::whole_jpeg(1, IpAddr::V4(Ipv4Addr::LOCALHOST), 96, 90_000);
        d.framerate = FrameRate::new(30_000, 1001);
        d.dimensions = Some((1920, 1080));
        d.range = Some(NptRange::between(Duration::ZERO, Duration::from_secs(10)));
        let sdp = d.to_sdp();
        let parsed = Sdp::parse(&sdp.to_string()).unwrap();
        assert_eq!(parsed, sdp);
        let m = &parsed.media[0];
        assert_eq!(m.framerate(), FrameRate::new(30_000, 1001));
        assert_eq!(m.dimensions(), Some((1920, 1080)));
        assert_eq!(m.rtpmap(96).unwrap().encoding_name, ENCODING_NAME);
        assert_eq!(parsed.range(), d.range);
    }

    #[test]
    fn offers_and_reads_an_srtp_key() {
        let key = MasterKey::random();
        let mut d = JpegVideoSdp::rfc2435(3, IpAddr::V4(Ipv4Addr::LOCALHOST));
        d.crypto = Some(SdesCrypto::new(key.clone()));
        let text = d.to_sdp().to_string();
        assert!(text.contains("m=video 0 RTP/SAVP 26\r\n"), "{text}");
        let line = text.lines().find(|l| l.starts_with("a=crypto:")).unwrap();
        assert_eq!(
            line.len(),
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:".len() + 40
        );
        let media = &Sdp::parse(&text).unwrap().media[0];
        assert!(media.is_secure());
        assert_eq!(media.crypto().unwrap().key, key);
        assert_eq!(media.key_mgmt(), None);
        // MIKEY beside it, or alone.
        d.key_mgmt = Some(crate::rtsp::mikey::offer(&key, 5));
        d.crypto = None;
        let text = d.to_sdp().to_string();
        assert!(text.contains("a=key-mgmt:mikey AQAF"), "{text}");
        let media = &Sdp::parse(&text).unwrap().media[0];
        assert_eq!(media.key_mgmt().unwrap().sessions, vec![(5, 0)]);
        assert_eq!(media.srtp_key(), Some(key.clone()));
        // Written by others: a lifetime is read, an MKI or another suite is not.
        let b64 = base64(key.as_bytes());
        let read = |v: &str| SdesCrypto::parse(v).map(|c| (c.tag, c.key));
        assert_eq!(
            read(&format!("7 aes_cm_128_hmac_sha1_80 inline:{b64}|2^31")),
            Some((7, key.clone()))
        );
        assert_eq!(
            read(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|2^20|1:4")),
            None
        );
        assert_eq!(
            read(&format!("1 AES_CM_128_HMAC_SHA1_32 inline:{b64}")),
            None
        );
        assert_eq!(read("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ="), None);
        assert_eq!(
            read(&format!("x AES_CM_128_HMAC_SHA1_80 inline:{b64}")),
            None
        );
        assert_eq!(read("1 AES_CM_128_HMAC_SHA1_80"), None);
    }

    #[test]
    fn parses_odd_descriptions() {
        let text = "v=0\no=x\ns= \nb=AS:5\na=recvonly\nm=audio 5004/2 RTP/AVP 0 97\n\
                    a=rtpmap:97 L16/44100/2\na=fmtp:97 foo=bar; baz=1\na=control:rtsp://other/x\n\
                    m=application 0 TCP/RTP/AVP\n";
        let sdp = Sdp::parse(text).unwrap();
        assert_eq!(sdp.attribute("recvonly"), Some(""));
        assert_eq!(sdp.aggregate_url("rtsp://h/a"), "rtsp://h/a");
        let a = &sdp.media[0];
        assert_eq!((a.port, a.payload_types()), (5004, vec![0, 97]));
        assert_eq!(
            a.rtpmap(97),
            Some(RtpMap {
                payload_type: 97,
                encoding_name: "L16".into(),
                clock_rate: 44_100,
                params: Some("2".into())
            })
        );
        assert_eq!(a.rtpmap(0), None);
        assert_eq!(a.fmtp(97), Some("foo=bar; baz=1"));
        assert_eq!(a.control_url("rtsp://h/a/"), "rtsp://other/x");
        assert!(sdp.media[1].formats.is_empty());
        assert_eq!(Sdp::parse("v=0\nbad\n"), Err(SdpError::BadLine { line: 2 }));
        assert_eq!(
            Sdp::parse("m=video x RTP/AVP 26"),
            Err(SdpError::BadMedia { line: 1 })
        );
        assert_eq!(Sdp::parse("m=video 0"), Err(SdpError::BadMedia { line: 1 }));
        assert_eq!(Sdp::parse_bytes(b"v=\xff"), Err(SdpError::NotUtf8));
        assert_eq!(RtpMap::parse("200 JPEG/90000"), None);
        assert_eq!(RtpMap::parse("26 JPEG"), None);
    }
}
