//! This process and the server in /proc: UDP drops, the open-file limit.

/// Datagrams the kernel dropped on this process's own UDP sockets (full receive
/// buffer): the `drops` column of /proc/net/udp{,6} for the socket inodes among
/// /proc/self/fd. Sockets already closed are not counted.
pub(crate) fn own_udp_drops() -> Option<u64> {
    let mut inodes = std::collections::HashSet::new();
    for e in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        if let Ok(target) = std::fs::read_link(e.path())
            && let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
        {
            inodes.insert(inode);
        }
    }
    let mut drops = 0;
    for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        for f in text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
        {
            if f.len() >= 13 && f[9].parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                drops += f[12].parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(drops)
}

/// Raises the soft open-file limit (to the hard limit, or above it when allowed).
pub(crate) fn raise_nofile(want: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_max < want {
            let up = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                return want;
            }
        }
        if r.rlim_cur < r.rlim_max {
            let up = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                return r.rlim_max;
            }
        }
        r.rlim_cur
    }
}

/// Most datagrams one [`recv_many`] takes.
const MAX_BATCH: usize = 16;

/// Asks the kernel to hand the UDP socket `s` a sender's segmented send
/// (UDP GSO, as server-cli sends a frame) as one datagram with its segment
/// size (`UDP_GRO`), instead of one datagram per packet. On loopback the
/// split, the queueing and the wake-up for each packet are otherwise done in
/// the *sender's* system call and charged to the server being measured —
/// work that over a real network falls on the receivers' machines. False
/// where the kernel does not offer it (then packets come one by one).
pub(crate) fn enable_gro(s: &std::net::UdpSocket) -> bool {
    set_udp_option(s, libc::UDP_GRO, 1)
}

/// Sets the UDP-level (`SOL_UDP`) socket option `name` of `s` to `value`;
/// false if the kernel refuses.
fn set_udp_option(s: &std::net::UdpSocket, name: libc::c_int, value: libc::c_int) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt with a pointer to a c_int of the given size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_UDP,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// Room for one `UDP_GRO` control message (an int), aligned for `cmsghdr`.
type Control = [u64; 4];

/// The segment size of a coalesced datagram: its `UDP_GRO` control message.
fn gro_segment(m: &libc::msghdr) -> Option<usize> {
    // SAFETY: `m` was filled in by recvmmsg; CMSG_FIRSTHDR/NXTHDR walk its
    // control buffer within `msg_controllen`, and the data of a
    // SOL_UDP/UDP_GRO message is one int.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(m);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(size).ok().filter(|&n| n > 0);
            }
            c = libc::CMSG_NXTHDR(m, c);
        }
    }
    None
}

/// Takes the datagrams waiting on the non-blocking UDP socket `fd`, as many
/// as fit in `buf` cut into `slot`-byte pieces (at most [`MAX_BATCH`]), in
/// one `recvmmsg`, and hands each packet to `each`: its first `slot` bytes
/// (all of it, if shorter) and its whole length. A coalesced datagram
/// ([`enable_gro`]) is handed over packet by packet, split at its segment
/// size (`slot` must hold it whole: 64 KiB). Returns how many datagrams it
/// took; `WouldBlock` when none was waiting.
///
/// One system call for a frame's worth of packets instead of one each, and
/// with a small `slot` only the headers copied out of the kernel: on a
/// small machine the server being measured has that CPU time for itself.
pub(crate) fn recv_many(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
    slot: usize,
    mut each: impl FnMut(&[u8], usize),
) -> std::io::Result<usize> {
    let slot = slot.clamp(1, buf.len().max(1));
    let n = (buf.len() / slot).clamp(1, MAX_BATCH);
    let base = buf.as_mut_ptr();
    let mut iov: [libc::iovec; MAX_BATCH] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_BATCH];
    let mut control: [Control; MAX_BATCH] = [[0; 4]; MAX_BATCH];
    // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        // SAFETY: i * slot + slot <= n * slot <= buf.len(): within `buf`.
        iov[i].iov_base = unsafe { base.add(i * slot) }.cast();
        iov[i].iov_len = slot;
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
        msgs[i].msg_hdr.msg_controllen = std::mem::size_of::<Control>() as _;
    }
    // SAFETY: `msgs[..n]` point at `iov[..n]`, which point at disjoint
    // pieces of `buf`, and at `control[..n]`, all alive and unaliased for
    // the call. MSG_TRUNC: each `msg_len` is the datagram's whole length
    // (UDP), not what fit.
    let got = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let got = got as usize;
    for (i, m) in msgs[..got].iter().enumerate() {
        let len = m.msg_len as usize;
        let data = &buf[i * slot..i * slot + len.min(slot)];
        match gro_segment(&m.msg_hdr) {
            Some(segment) if data.len() == len => {
                for packet in data.chunks(segment) {
                    each(packet, packet.len());
                }
            }
            _ => each(data, len),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn receiver() -> std::net::UdpSocket {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        rx
    }

    /// Everything `recv_many` hands over until the socket runs dry, and how
    /// many calls that took.
    fn drain(rx: &std::net::UdpSocket, slot: usize) -> (Vec<(Vec<u8>, usize)>, usize) {
        let mut buf = vec![0u8; 16 * 65536];
        let mut got = Vec::new();
        let mut calls = 0;
        loop {
            match recv_many(rx.as_raw_fd(), &mut buf, slot, |d, len| {
                got.push((d.to_vec(), len))
            }) {
                Ok(n) => {
                    assert!(n <= MAX_BATCH);
                    calls += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                    return (got, calls);
                }
            }
            assert!(calls < 100, "recv_many never ran dry");
        }
    }

    #[test]
    fn recv_many_takes_waiting_datagrams_in_order_with_their_whole_length() {
        let rx = receiver();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        // 20 datagrams, the 5th longer than a slot.
        let sent: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![i; if i == 4 { 300 } else { 10 + i as usize }])
            .collect();
        for d in &sent {
            tx.send(d).unwrap();
        }
        let (got, calls) = drain(&rx, 256);
        assert_eq!(calls, 2, "16 at a time, then the other 4");
        assert_eq!(got.len(), sent.len());
        for ((d, len), want) in got.iter().zip(&sent) {
            assert_eq!(*len, want.len(), "the whole length, even when cut");
            assert_eq!(d.as_slice(), &want[..want.len().min(256)]);
        }
    }

    #[test]
    fn a_segmented_send_comes_whole_and_is_handed_over_packet_by_packet() {
        let rx = receiver();
        assert!(enable_gro(&rx), "UDP_GRO refused");
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        // One send the kernel cuts into 1,000-byte packets (UDP GSO), as
        // server-cli sends a frame: 3,500 bytes, so 4 packets, the last short.
        assert!(
            set_udp_option(&tx, libc::UDP_SEGMENT, 1000),
            "UDP_SEGMENT refused"
        );
        let frame: Vec<u8> = (0..3500u32).map(|i| (i / 1000) as u8 + 1).collect();
        tx.send(&frame).unwrap();
        let (got, calls) = drain(&rx, 65536);
        assert_eq!(calls, 1, "one datagram, one call");
        let lens: Vec<usize> = got.iter().map(|(_, len)| *len).collect();
        assert_eq!(lens, [1000, 1000, 1000, 500]);
        for (i, (d, _)) in got.iter().enumerate() {
            assert!(
                d.iter().all(|&b| b == i as u8 + 1),
                "packet {i} out of place"
            );
        }
    }
}
