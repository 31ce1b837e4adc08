//! Which datagrams on the media sockets come from the server.
//!
//! A UDP port takes datagrams from anyone. RTP and RTCP are taken only from
//! the server's address — the `source=` of the SETUP reply's `Transport`
//! when it names one, else the address of the control connection — and, when
//! the reply gave `server_port=`, only from those ports. The classic dialect
//! names no server port (the seed server sends from a port of its own
//! choosing), so there only the address is checked.

use std::net::{IpAddr, SocketAddr};

/// Where the server's media comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFilter {
    ip: IpAddr,
    rtp_port: Option<u16>,
    rtcp_port: Option<u16>,
}

impl PeerFilter {
    /// Media from `ip`, from the given ports when known.
    pub fn new(ip: IpAddr, rtp_port: Option<u16>, rtcp_port: Option<u16>) -> Self {
        Self {
            ip: ip.to_canonical(),
            rtp_port,
            rtcp_port,
        }
    }

    /// Whether an RTP datagram from `from` is the server's.
    pub fn accepts_rtp(&self, from: SocketAddr) -> bool {
        self.accepts(from, self.rtp_port)
    }

    /// Whether an RTCP datagram from `from` is the server's.
    pub fn accepts_rtcp(&self, from: SocketAddr) -> bool {
        self.accepts(from, self.rtcp_port)
    }

    fn accepts(&self, from: SocketAddr, port: Option<u16>) -> bool {
        from.ip().to_canonical() == self.ip && port.is_none_or(|p| p == from.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_and_known_ports_must_match() {
        let f = PeerFilter::new("127.0.0.1".parse().unwrap(), Some(5000), Some(5001));
        assert!(f.accepts_rtp(at("127.0.0.1:5000")));
        assert!(f.accepts_rtcp(at("127.0.0.1:5001")));
        assert!(!f.accepts_rtcp(at("127.0.0.1:5000")));
        assert!(!f.accepts_rtp(at("127.0.0.1:40000")));
        assert!(!f.accepts_rtcp(at("127.0.0.2:5001")));
        // An IPv4-mapped IPv6 address is the same host.
        assert!(f.accepts_rtp(at("[::ffff:127.0.0.1]:5000")));
    }

    #[test]
    fn without_ports_any_port_of_the_address() {
        // The classic server sends from a port it does not name.
        let f = PeerFilter::new("10.0.0.7".parse().unwrap(), None, None);
        assert!(f.accepts_rtp(at("10.0.0.7:49152")));
        assert!(f.accepts_rtcp(at("10.0.0.7:1")));
        assert!(!f.accepts_rtp(at("10.0.0.8:49152")));
    }
}
