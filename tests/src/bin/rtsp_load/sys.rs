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
