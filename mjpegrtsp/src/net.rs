//! UDP socket setup for RTP and RTCP, in one place for the server, the
//! client and the test tools: an even/odd port pair (RFC 3550 §11), socket
//! buffer sizes, non-blocking sockets on the tokio runtime, and waiting for
//! a datagram with a timeout.
//!
//! Socket options go through `socket2`; only [`wait_readable`] calls libc
//! (`poll(2)`, which `socket2` does not wrap). Sending with UDP GSO lives
//! in [`crate::server::udp`].

use std::io;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// `ip` as the host part of a URL a client on this machine can use: an
/// unspecified address (`0.0.0.0`, `::`) as loopback, IPv6 in brackets.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// How many ports [`bind_rtp_pair`] tries before it gives up.
pub const MAX_PAIR_TRIES: usize = 64;

/// Binds an RTP socket on an even port of `ip` and an RTCP socket on the
/// odd port after it (RFC 3550 §11).
///
/// Each try binds a port the system picks and keeps it while it binds its
/// neighbour (the next port after an even one, the one before an odd one),
/// so no other socket can take it between the two binds. After
/// [`MAX_PAIR_TRIES`] tries the last error is returned; a failure to bind
/// `ip` at all is returned at once. The sockets are blocking, as
/// [`UdpSocket::bind`] makes them.
pub fn bind_rtp_pair(ip: IpAddr) -> io::Result<(UdpSocket, UdpSocket)> {
    let mut last = None;
    for _ in 0..MAX_PAIR_TRIES {
        let first = UdpSocket::bind((ip, 0))?;
        let port = first.local_addr()?.port();
        let (neighbour, first_is_rtp) = match port {
            0 | 1 | u16::MAX => continue,
            even if even % 2 == 0 => (even + 1, true),
            odd => (odd - 1, false),
        };
        match UdpSocket::bind((ip, neighbour)) {
            Ok(other) if first_is_rtp => return Ok((first, other)),
            Ok(other) => return Ok((other, first)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free even/odd UDP port pair")))
}

/// Asks for a receive buffer (`SO_RCVBUF`) of `bytes`; the kernel caps it
/// at `net.core.rmem_max`.
pub fn set_receive_buffer(socket: &impl AsFd, bytes: usize) -> io::Result<()> {
    socket2::SockRef::from(socket).set_recv_buffer_size(bytes)
}

/// Asks for a send buffer (`SO_SNDBUF`) of `bytes`; the kernel caps it at
/// `net.core.wmem_max`.
pub fn set_send_buffer(socket: &impl AsFd, bytes: usize) -> io::Result<()> {
    socket2::SockRef::from(socket).set_send_buffer_size(bytes)
}

/// Makes `socket` non-blocking and hands it to the tokio runtime of the
/// calling task (it must be called within one).
pub fn into_tokio(socket: UdpSocket) -> io::Result<tokio::net::UdpSocket> {
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}

/// Waits until `socket` has something to read or `timeout` (rounded up to
/// whole milliseconds) has passed; whether it is readable. For a
/// non-blocking socket shared with a sender, where a read timeout cannot
/// be used (and would be rounded to the kernel's tick anyway).
pub fn wait_readable(socket: &impl AsFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd {
        fd: socket.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, borrowed for the duration of the call.
    match unsafe { libc::poll(&mut fds, 1, ms) } {
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        n => Ok(n > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Instant;

    #[test]
    fn binds_an_even_port_and_the_next() {
        let mut pairs = Vec::new();
        for _ in 0..20 {
            let (rtp, rtcp) = bind_rtp_pair(Ipv4Addr::LOCALHOST.into()).unwrap();
            let (a, b) = (
                rtp.local_addr().unwrap().port(),
                rtcp.local_addr().unwrap().port(),
            );
            assert_eq!(a % 2, 0, "RTP port {a} is even");
            assert_eq!(b, a + 1, "RTCP port follows");
            pairs.push((rtp, rtcp));
        }
    }

    #[test]
    fn an_address_that_cannot_be_bound_is_an_error_at_once() {
        // TEST-NET-1 is not on any local interface.
        let e = bind_rtp_pair(Ipv4Addr::new(192, 0, 2, 1).into()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
    }

    #[test]
    fn sets_buffer_sizes() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_receive_buffer(&s, 256 * 1024).unwrap();
        set_send_buffer(&s, 256 * 1024).unwrap();
        // Linux doubles what it grants, capped by rmem_max/wmem_max.
        let r = socket2::SockRef::from(&s);
        assert!(r.recv_buffer_size().unwrap() >= 4096);
        assert!(r.send_buffer_size().unwrap() >= 4096);
    }

    #[test]
    fn waits_for_a_datagram_or_the_timeout() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let t = Instant::now();
        assert!(!wait_readable(&rx, Duration::from_millis(20)).unwrap());
        assert!(t.elapsed() >= Duration::from_millis(20));
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        assert!(wait_readable(&rx, Duration::from_secs(5)).unwrap());
    }
}

/// A network: an address and a prefix length, `10.0.0.0/8`, `::1/128` or a
/// bare address (the whole length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        // Addresses as the top bits of a u128, so that a prefix masks the
        // same leading bits of either family.
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip.to_canonical() {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((net, width), (other, other_width)) = (bits(self.addr), bits(ip));
        if width != other_width {
            return false;
        }
        let mask = match self.prefix {
            0 => 0,
            p => u128::MAX << (128 - u32::from(p)),
        };
        net & mask == other & mask
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: not an IP address"))?;
        let addr = addr.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{s:?}: a prefix length of 0 to {width}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod ip_net_tests {
    use super::IpNet;
    use std::net::IpAddr;

    #[test]
    fn contains_what_its_prefix_covers() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net.contains(ip("10.1.200.3")) && !net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        assert!(!net.contains(ip("::1")));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::2")));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert_eq!(v6.to_string(), "fd00::/8");
        for bad in ["10.0.0.0/33", "::/129", "host", "1.2.3.4/x", ""] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
