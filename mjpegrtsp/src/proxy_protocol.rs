//! The PROXY protocol (HAProxy's specification, versions 1 and 2): the
//! header a TCP proxy or load balancer sends first on each connection it
//! opens to a server, saying which client it carries. Read by the server
//! (`ServerConfig::proxy_protocol`) from trusted proxies; written by tests.
//!
//! Version 1 is one text line, at most 107 bytes:
//! `PROXY TCP4 192.0.2.1 198.51.100.1 56324 8554\r\n` (or `TCP6`, or
//! `UNKNOWN`). Version 2 is binary: a 12-byte signature, version and
//! command, family and protocol, a length, then the addresses (and TLVs,
//! skipped).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The version 2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 line, CRLF included.
pub const V1_MAX: usize = 107;
/// The longest version 2 header this reader takes (16 + addresses + TLVs).
pub const V2_MAX: usize = 16 + 1024;

/// What a header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A client's connection: where it comes from and the address it reached.
    Proxied {
        /// The client.
        source: SocketAddr,
        /// The address the client connected to (the proxy's front).
        destination: SocketAddr,
    },
    /// The proxy's own connection (v2 `LOCAL`, e.g. a health check), or a
    /// client the proxy cannot describe (v1 `UNKNOWN`, v2 `UNSPEC`): the
    /// connection's own addresses stand.
    Local,
}

/// The result of reading the start of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header, and the bytes it took.
    Complete(ProxyHeader, usize),
    /// More bytes are needed; at least this many in all.
    Incomplete(usize),
    /// Not a valid header; why.
    Invalid(&'static str),
}

/// Whether `bytes` (the first ones of a connection) begin a PROXY header,
/// as far as they go.
pub fn looks_like_header(bytes: &[u8]) -> bool {
    let n = bytes.len().min(12);
    n > 0 && (b"PROXY "[..n.min(6)] == bytes[..n.min(6)] || V2_SIGNATURE[..n] == bytes[..n])
}

/// Reads the header at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Parsed {
    if bytes.first() == Some(&b'P') {
        parse_v1(bytes)
    } else {
        parse_v2(bytes)
    }
}

fn parse_v1(bytes: &[u8]) -> Parsed {
    let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") else {
        return if bytes.len() >= V1_MAX {
            Parsed::Invalid("a v1 line longer than 107 bytes")
        } else {
            Parsed::Incomplete(bytes.len() + 1)
        };
    };
    if end + 2 > V1_MAX {
        return Parsed::Invalid("a v1 line longer than 107 bytes");
    }
    let Ok(line) = std::str::from_utf8(&bytes[..end]) else {
        return Parsed::Invalid("a v1 line that is not ASCII");
    };
    let words: Vec<&str> = line.split(' ').collect();
    let header = match words.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::Local,
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Option<IpAddr> {
                match *family {
                    "TCP4" => s.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
                    _ => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
                }
            };
            let port = |s: &str| -> Option<u16> {
                (!s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse().ok())
                    .flatten()
            };
            match (ip(src), ip(dst), port(sport), port(dport)) {
                (Some(s), Some(d), Some(sp), Some(dp)) => ProxyHeader::Proxied {
                    source: SocketAddr::new(s, sp),
                    destination: SocketAddr::new(d, dp),
                },
                _ => return Parsed::Invalid("a v1 line with bad addresses or ports"),
            }
        }
        _ => return Parsed::Invalid("not a v1 PROXY line"),
    };
    Parsed::Complete(header, end + 2)
}

fn parse_v2(bytes: &[u8]) -> Parsed {
    let have = bytes.len().min(12);
    if bytes[..have] != V2_SIGNATURE[..have] {
        return Parsed::Invalid("neither a v1 line nor the v2 signature");
    }
    if bytes.len() < 16 {
        return Parsed::Incomplete(16);
    }
    let (version, command) = (bytes[12] >> 4, bytes[12] & 0x0F);
    if version != 2 {
        return Parsed::Invalid("a v2 header of another version");
    }
    let len = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let total = 16 + len;
    if total > V2_MAX {
        return Parsed::Invalid("a v2 header longer than this reader takes");
    }
    if bytes.len() < total {
        return Parsed::Incomplete(total);
    }
    let body = &bytes[16..total];
    let header = match command {
        0 => ProxyHeader::Local,
        1 => match (bytes[13] >> 4, bytes[13] & 0x0F) {
            // AF_INET or AF_INET6 over STREAM.
            (1, 1) if len >= 12 => {
                let ip =
                    |at: usize| IpAddr::from([body[at], body[at + 1], body[at + 2], body[at + 3]]);
                let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(8)),
                    destination: SocketAddr::new(ip(4), port(10)),
                }
            }
            (2, 1) if len >= 36 => {
                let ip = |at: usize| {
                    let octets: [u8; 16] = body[at..at + 16].try_into().unwrap_or([0; 16]);
                    IpAddr::from(octets)
                };
                let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(32)),
                    destination: SocketAddr::new(ip(16), port(34)),
                }
            }
            // UNSPEC: the proxy cannot say (the spec: take the connection's own).
            (0, _) => ProxyHeader::Local,
            (1 | 2, 1) => return Parsed::Invalid("a v2 address block too short"),
            _ => return Parsed::Invalid("a v2 header for other than TCP over IPv4 or IPv6"),
        },
        _ => return Parsed::Invalid("a v2 header with an unknown command"),
    };
    Parsed::Complete(header, total)
}

/// The v1 line for `source` → `destination` (both of one family).
pub fn encode_v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}

/// The v2 header (command PROXY, TCP) for `source` → `destination` (both
/// of one family).
pub fn encode_v2(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    let mut body = Vec::new();
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x21);
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            body.extend_from_slice(&v6(s).octets());
            body.extend_from_slice(&v6(d).octets());
        }
    }
    body.extend_from_slice(&source.port().to_be_bytes());
    body.extend_from_slice(&destination.port().to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_haproxy_examples() {
        let v1 = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(v1),
            Parsed::Complete(
                ProxyHeader::Proxied {
                    source: addr("192.168.0.1:56324"),
                    destination: addr("192.168.0.11:443"),
                },
                47
            )
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"),
            Parsed::Complete(ProxyHeader::Local, 59)
        );
        assert_eq!(
            parse(b"PROXY TCP6 ::1 ::2 1 2\r\n"),
            Parsed::Complete(
                ProxyHeader::Proxied {
                    source: addr("[::1]:1"),
                    destination: addr("[::2]:2"),
                },
                24
            )
        );
        // v2 LOCAL (a health check) with no addresses.
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(parse(&local), Parsed::Complete(ProxyHeader::Local, 16));
        // v2 with a TLV after the addresses: skipped.
        let mut tlv = encode_v2(addr("10.0.0.1:1000"), addr("10.0.0.2:554"));
        tlv[15] += 4;
        tlv.extend_from_slice(&[0x04, 0, 1, 7]);
        assert_eq!(
            parse(&tlv),
            Parsed::Complete(
                ProxyHeader::Proxied {
                    source: addr("10.0.0.1:1000"),
                    destination: addr("10.0.0.2:554"),
                },
                32
            )
        );
    }

    #[test]
    fn refuses_and_waits_as_it_should() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
            b"PROXY TCP4 ::1 ::2 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 1\r\n",
            b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 1\r\n",
            b"OPTIONS * RTSP/1.0\r\n\r\n",
        ] {
            assert!(matches!(parse(bad), Parsed::Invalid(_)), "{bad:?}");
        }
        assert!(matches!(parse(&[b'P'; 200]), Parsed::Invalid(_)));
        assert_eq!(parse(b"PROXY TCP4 1.2"), Parsed::Incomplete(15));
        assert_eq!(parse(&V2_SIGNATURE[..5]), Parsed::Incomplete(16));
        let v2 = encode_v2(addr("1.2.3.4:5"), addr("6.7.8.9:10"));
        assert_eq!(parse(&v2[..20]), Parsed::Incomplete(28));
        let mut v3 = v2.clone();
        v3[12] = 0x31;
        assert!(matches!(parse(&v3), Parsed::Invalid(_)));
        let mut udp = v2.clone();
        udp[13] = 0x12;
        assert!(matches!(parse(&udp), Parsed::Invalid(_)));
        assert!(looks_like_header(b"PRO") && looks_like_header(&v2[..3]));
        assert!(!looks_like_header(b"OPTIONS") && !looks_like_header(b""));
    }

    proptest! {
        #[test]
        fn written_headers_read_back(
            v6 in any::<bool>(),
            a in any::<[u8; 16]>(),
            b in any::<[u8; 16]>(),
            sp in any::<u16>(),
            dp in any::<u16>(),
            tail in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let ip = |o: [u8; 16]| if v6 {
                IpAddr::from(o)
            } else {
                IpAddr::from([o[0], o[1], o[2], o[3]])
            };
            let (s, d) = (SocketAddr::new(ip(a), sp), SocketAddr::new(ip(b), dp));
            let want = ProxyHeader::Proxied { source: s, destination: d };
            for mut h in [encode_v1(s, d), encode_v2(s, d)] {
                let n = h.len();
                h.extend_from_slice(&tail);
                prop_assert_eq!(parse(&h), Parsed::Complete(want, n));
                for cut in 0..n {
                    prop_assert!(matches!(parse(&h[..cut.max(1)]), Parsed::Incomplete(_)) || cut == 0);
                }
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
            let _ = looks_like_header(&bytes);
        }
    }
}
