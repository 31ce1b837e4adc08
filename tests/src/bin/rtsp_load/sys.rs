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

/// Takes the datagrams waiting on the non-blocking UDP socket `fd`, as many
/// as fit in `buf` cut into `slot`-byte pieces (at most [`MAX_BATCH`]), in
/// one `recvmmsg`, and hands each to `each`: its first `slot` bytes (all of
/// it, if shorter) and its whole length. Returns how many it took;
/// `WouldBlock` when none was waiting.
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
    // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        // SAFETY: i * slot + slot <= n * slot <= buf.len(): within `buf`.
        iov[i].iov_base = unsafe { base.add(i * slot) }.cast();
        iov[i].iov_len = slot;
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs[..n]` point at `iov[..n]`, which point at disjoint
    // pieces of `buf`, all alive and unaliased for the call. MSG_TRUNC:
    // each `msg_len` is the datagram's whole length (UDP), not what fit.
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
        each(&buf[i * slot..i * slot + len.min(slot)], len);
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn recv_many_takes_waiting_datagrams_in_order_with_their_whole_length() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        // 20 datagrams, the 5th longer than a slot.
        let sent: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![i; if i == 4 { 300 } else { 10 + i as usize }])
            .collect();
        for d in &sent {
            tx.send(d).unwrap();
        }
        let mut buf = vec![0u8; 64 * 256];
        let mut got: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut calls = 0;
        loop {
            match recv_many(rx.as_raw_fd(), &mut buf, 256, |d, len| {
                got.push((d.to_vec(), len))
            }) {
                Ok(n) => {
                    assert!(n <= MAX_BATCH);
                    calls += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                    break;
                }
            }
            assert!(calls < 100, "recv_many never ran dry");
        }
        assert_eq!(calls, 2, "16 at a time, then the other 4");
        assert_eq!(got.len(), sent.len());
        for ((d, len), want) in got.iter().zip(&sent) {
            assert_eq!(*len, want.len(), "the whole length, even when cut");
            assert_eq!(d.as_slice(), &want[..want.len().min(256)]);
        }
    }
}
