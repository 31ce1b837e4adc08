//! Sending a frame's RTP packets to one receiver with as few system calls as
//! possible: UDP generic segmentation offload (`UDP_SEGMENT`) hands the kernel
//! one buffer of equal-sized packets per `sendmsg`; where the kernel refuses
//! it, packets go one `send_to` each.
//!
//! This is the one place that uses GSO. The `sendmsg` with its control
//! message is libc (`socket2` does not build control messages); binding and
//! socket options are [`crate::net`]'s.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Most segments the kernel takes in one GSO send (UDP_MAX_SEGMENTS is 64 on
/// older kernels).
const MAX_GSO_SEGMENTS: usize = 64;
/// A GSO send carries at most one UDP datagram's worth of payload.
const MAX_GSO_BYTES: usize = 65_000;

/// What one send did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub packets: u32,
    pub bytes: u64,
    /// Packets dropped because the socket buffer was full (never blocks).
    pub dropped: u32,
}

/// A non-blocking UDP socket that sends runs of equal-sized packets.
#[derive(Debug)]
pub struct PacketSocket {
    socket: UdpSocket,
    gso: AtomicBool,
    /// Bound to an IPv6 address: IPv4 receivers are reached as `::ffff:a.b.c.d`.
    v6: bool,
}

impl PacketSocket {
    /// Wraps `socket`, makes it non-blocking and gives it a large send buffer.
    pub fn new(socket: UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        // The kernel caps it at net.core.wmem_max; a smaller one still works.
        let _ = crate::net::set_send_buffer(&socket, 4 << 20);
        let v6 = socket.local_addr()?.is_ipv6();
        Ok(Self {
            socket,
            gso: AtomicBool::new(true),
            v6,
        })
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Whether GSO is still in use (it is switched off after the kernel refuses it).
    pub fn uses_gso(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    /// Sends `data` to `dest` as packets of `segment` bytes (the last may be
    /// shorter). A full socket buffer drops the rest and says so; other errors
    /// are returned.
    pub fn send_segments(&self, dest: SocketAddr, data: &[u8], segment: usize) -> io::Result<Sent> {
        let dest = self.reachable(dest);
        let mut sent = Sent::default();
        if data.is_empty() || segment == 0 {
            return Ok(sent);
        }
        let per_send = (MAX_GSO_BYTES / segment).clamp(1, MAX_GSO_SEGMENTS) * segment;
        let mut rest = data;
        while !rest.is_empty() {
            let take = rest.len().min(per_send);
            let (chunk, tail) = rest.split_at(take);
            let result = if chunk.len() > segment && self.uses_gso() {
                match send_gso(&self.socket, dest, chunk, segment) {
                    Err(e) if maybe_gso_unsupported(&e) => {
                        // These errors also come from a destination the
                        // kernel refuses (port 0 gives EINVAL): GSO is to
                        // blame only if plain sends to it then work.
                        let before = sent.packets;
                        let result = self.send_each(dest, chunk, segment, &mut sent);
                        if sent.packets > before {
                            self.gso.store(false, Ordering::Relaxed);
                            tracing::info!(
                                "UDP GSO refused by the kernel ({e}): one send per packet from now on"
                            );
                        }
                        result
                    }
                    Ok(()) => {
                        sent.packets += chunk.len().div_ceil(segment) as u32;
                        sent.bytes += chunk.len() as u64;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            } else {
                self.send_each(dest, chunk, segment, &mut sent)
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sent.dropped += rest.len().div_ceil(segment) as u32;
                    return Ok(sent);
                }
                Err(e) => return Err(e),
            }
            rest = tail;
        }
        Ok(sent)
    }

    fn send_each(
        &self,
        dest: SocketAddr,
        chunk: &[u8],
        segment: usize,
        sent: &mut Sent,
    ) -> io::Result<()> {
        for packet in chunk.chunks(segment) {
            self.socket.send_to(packet, dest)?;
            sent.packets += 1;
            sent.bytes += packet.len() as u64;
        }
        Ok(())
    }

    /// Sends one datagram.
    pub fn send_one(&self, dest: SocketAddr, packet: &[u8]) -> io::Result<Sent> {
        match self.socket.send_to(packet, self.reachable(dest)) {
            Ok(n) => Ok(Sent {
                packets: 1,
                bytes: n as u64,
                dropped: 0,
            }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Sent {
                dropped: 1,
                ..Sent::default()
            }),
            Err(e) => Err(e),
        }
    }
}

impl PacketSocket {
    /// `dest` as this socket's address family can send to it.
    fn reachable(&self, dest: SocketAddr) -> SocketAddr {
        match dest {
            SocketAddr::V4(v4) if self.v6 => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            other => other,
        }
    }
}

/// Errors a GSO send gets where the kernel or device cannot segment.
fn maybe_gso_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EIO | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    )
}

/// One `sendmsg` with a `UDP_SEGMENT` control message.
fn send_gso(socket: &UdpSocket, dest: SocketAddr, data: &[u8], segment: usize) -> io::Result<()> {
    let addr = socket2::SockAddr::from(dest);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one cmsghdr carrying a u16, aligned as the kernel wants.
    let mut control = [0u64; 4];
    // SAFETY: msghdr fields point at live locals for the duration of the call;
    // the control buffer is large enough for CMSG_SPACE(2) and 8-byte aligned.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = addr.as_ptr().cast_mut().cast();
        msg.msg_namelen = addr.len();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = libc::UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment as u16);
        let n = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pair() -> (PacketSocket, UdpSocket) {
        let tx = PacketSocket::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        (tx, rx)
    }

    fn receive(rx: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 65_536];
        (0..n)
            .map(|_| {
                let len = rx.recv(&mut buf).unwrap();
                buf[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn segments_arrive_as_separate_datagrams() {
        let (tx, rx) = pair();
        let data: Vec<u8> = (0..(1400 * 5 + 321)).map(|i| (i % 251) as u8).collect();
        let sent = tx
            .send_segments(rx.local_addr().unwrap(), &data, 1400)
            .unwrap();
        assert_eq!(sent.packets, 6);
        assert_eq!(sent.bytes, data.len() as u64);
        let got = receive(&rx, 6);
        assert!(got[..5].iter().all(|p| p.len() == 1400));
        assert_eq!(got[5].len(), 321);
        assert_eq!(got.concat(), data);
    }

    #[test]
    fn an_ipv6_socket_reaches_ipv4_receivers() {
        let Ok(v6) = UdpSocket::bind("[::]:0") else {
            return; // no IPv6 here
        };
        let tx = PacketSocket::new(v6).unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let data = vec![7u8; 3000];
        tx.send_segments(rx.local_addr().unwrap(), &data, 1000)
            .unwrap();
        assert_eq!(receive(&rx, 3).concat(), data);
    }

    #[test]
    fn a_destination_the_kernel_refuses_leaves_gso_on() {
        let (tx, rx) = pair();
        let data = vec![1u8; 1400 * 4];
        let port0 = SocketAddr::from(([127, 0, 0, 1], 0));
        assert!(tx.send_segments(port0, &data, 1400).is_err());
        assert!(tx.uses_gso(), "port 0 says nothing about GSO");
        let sent = tx
            .send_segments(rx.local_addr().unwrap(), &data, 1400)
            .unwrap();
        assert_eq!(sent.packets, 4);
        assert_eq!(receive(&rx, 4).concat(), data);
    }

    #[test]
    fn more_than_one_gso_send_worth() {
        let (tx, rx) = pair();
        let data: Vec<u8> = (0..100 * 1000).map(|i| (i % 253) as u8).collect();
        let sent = tx
            .send_segments(rx.local_addr().unwrap(), &data, 1000)
            .unwrap();
        assert_eq!(sent.packets, 100);
        assert_eq!(receive(&rx, 100).concat(), data);
    }
}
