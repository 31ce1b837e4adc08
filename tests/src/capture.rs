//! A packet capture on the loopback interface: the UDP datagrams that
//! really crossed `lo`, read from an `AF_PACKET` socket as a sniffer sees
//! them (this needs root, or `CAP_NET_RAW`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One UDP datagram seen on `lo`.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Source port.
    pub from_port: u16,
    /// Destination port.
    pub to_port: u16,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Captures IPv4 UDP on `lo` until dropped or [`stop`](Self::stop)ped.
pub struct LoopbackCapture {
    seen: Arc<Mutex<Vec<Datagram>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackCapture {
    /// Starts capturing; fails without the privilege to sniff.
    pub fn start() -> io::Result<Self> {
        let proto = (libc::ETH_P_IP as u16).to_be();
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto)) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = c"lo";
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a sockaddr_ll of the size given.
        let bound = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if bound < 0 {
            return Err(io::Error::last_os_error());
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: a timeval of the size given.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || read_loop(&fd, &seen, &stop))
        };
        Ok(Self {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and returns what was seen.
    pub fn stop(mut self) -> Vec<Datagram> {
        self.halt();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LoopbackCapture {
    fn drop(&mut self) {
        self.halt();
    }
}

fn read_loop(fd: &OwnedFd, seen: &Mutex<Vec<Datagram>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    // A bound: the capture never outlives a test by long.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: `buf` and `from` are valid for the sizes given.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &mut len,
            )
        };
        // On `lo` each packet is seen going out and coming in: keep one.
        if n <= 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        if let Some(d) = udp_of(&buf[..n as usize]) {
            seen.lock().unwrap().push(d);
        }
    }
}

/// The UDP datagram in IPv4 packet `ip`, if it is one.
fn udp_of(ip: &[u8]) -> Option<Datagram> {
    let ihl = usize::from(ip.first()? & 0x0F) * 4;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let udp = ip.get(ihl..)?;
    let port = |at: usize| Some(u16::from_be_bytes([*udp.get(at)?, *udp.get(at + 1)?]));
    let len = usize::from(port(4)?);
    Some(Datagram {
        from_port: port(0)?,
        to_port: port(2)?,
        payload: udp.get(8..len)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_udp_out_of_ipv4() {
        let mut ip = vec![
            0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 12, 0, 0, 1, 2, 3, 4]);
        let d = udp_of(&ip).unwrap();
        assert_eq!(
            (d.from_port, d.to_port, d.payload),
            (5000, 5001, vec![1, 2, 3, 4])
        );
        ip[9] = 6;
        assert!(udp_of(&ip).is_none(), "TCP");
        assert!(udp_of(&ip[..10]).is_none());
    }
}
