//! The parts of one transport specification: profile, lower transport,
//! delivery, mode, and the port and channel pairs.

use std::fmt;

/// The RTP profile of a transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `AVP` (RFC 3551); also the classic `RTP/UDP`.
    Avp,
    /// `SAVP` (SRTP).
    Savp,
    /// `AVPF`.
    Avpf,
    /// `SAVPF`.
    Savpf,
    /// Anything else, in upper case.
    Other(String),
}

impl Profile {
    pub(super) fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "AVP" => Self::Avp,
            "SAVP" => Self::Savp,
            "AVPF" => Self::Avpf,
            "SAVPF" => Self::Savpf,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The profile as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Avp => "AVP",
            Self::Savp => "SAVP",
            Self::Avpf => "AVPF",
            Self::Savpf => "SAVPF",
            Self::Other(s) => s,
        }
    }
}

/// The lower transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LowerTransport {
    /// UDP, the default.
    #[default]
    Udp,
    /// TCP: `$`-framed packets on the RTSP connection.
    Tcp,
}

/// `unicast` or `multicast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// `unicast`
    Unicast,
    /// `multicast`
    Multicast,
}

/// The `mode` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `PLAY`, the default.
    Play,
    /// `RECORD`
    Record,
    /// Anything else, as written.
    Other(String),
}

impl Mode {
    pub(super) fn parse(s: &str) -> Self {
        let s = s.trim().trim_matches('"').trim();
        if s.eq_ignore_ascii_case("PLAY") {
            Self::Play
        } else if s.eq_ignore_ascii_case("RECORD") {
            Self::Record
        } else {
            Self::Other(s.to_owned())
        }
    }

    pub(super) fn as_str(&self) -> &str {
        match self {
            Self::Play => "PLAY",
            Self::Record => "RECORD",
            Self::Other(s) => s,
        }
    }
}

/// A UDP port pair `rtp[-rtcp]`; the classic client names a single port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortPair {
    /// The RTP port.
    pub rtp: u16,
    /// The RTCP port, usually `rtp + 1`.
    pub rtcp: Option<u16>,
}

impl PortPair {
    /// `rtp-rtcp`.
    pub fn new(rtp: u16, rtcp: u16) -> Self {
        Self {
            rtp,
            rtcp: Some(rtcp),
        }
    }

    /// The RTCP port: the one named, else `rtp + 1` (none after 65535).
    pub fn rtcp_port(&self) -> Option<u16> {
        self.rtcp.or_else(|| self.rtp.checked_add(1))
    }

    /// Whether packets can be sent to these ports: neither is 0 (the kernel
    /// refuses it) and RTP and RTCP are two different ports.
    pub fn is_usable(&self) -> bool {
        self.rtp != 0 && self.rtcp.is_none_or(|rtcp| rtcp != 0 && rtcp != self.rtp)
    }
}

impl fmt::Display for PortPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rtp)?;
        if let Some(rtcp) = self.rtcp {
            write!(f, "-{rtcp}")?;
        }
        Ok(())
    }
}

/// An interleaved channel pair `rtp[-rtcp]` (RFC 2326 §10.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelPair {
    /// The channel of RTP.
    pub rtp: u8,
    /// The channel of RTCP, usually `rtp + 1`.
    pub rtcp: Option<u8>,
}

impl ChannelPair {
    /// `rtp-rtcp`.
    pub fn new(rtp: u8, rtcp: u8) -> Self {
        Self {
            rtp,
            rtcp: Some(rtcp),
        }
    }

    /// The RTCP channel: the one named, else `rtp + 1` (none after 255).
    pub fn rtcp_channel(&self) -> Option<u8> {
        self.rtcp.or_else(|| self.rtp.checked_add(1))
    }

    /// Both channels, when they are two different ones.
    pub fn resolved(&self) -> Option<(u8, u8)> {
        let rtcp = self.rtcp_channel()?;
        (rtcp != self.rtp).then_some((self.rtp, rtcp))
    }
}

impl fmt::Display for ChannelPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rtp)?;
        if let Some(rtcp) = self.rtcp {
            write!(f, "-{rtcp}")?;
        }
        Ok(())
    }
}
