//! What keeps one client, or a flood of connections, from taking the server
//! from everyone else: a cap on open connections (below the descriptor
//! limit), caps per client address on connections and on sessions, and
//! logs that say how often something was refused without saying it for
//! every refusal.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Descriptors kept free of connections: media files, the RTP/RTCP
/// sockets, the listener, a live pipeline's, the runtime's own.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Connections the server holds at most when nothing else is asked for.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Connections one client address may hold at once.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 100;
/// Sessions one client address may hold at once.
pub const DEFAULT_MAX_SESSIONS_PER_ADDRESS: usize = 100;
/// How long a request may take from its first byte to its last.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection that holds no session may stay silent. Generous:
/// the seed's client connects when it starts and sends SETUP only when its
/// user clicks.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The most connections a process may hold with `descriptors` open files
/// allowed: `asked`, but never so many that the descriptors the server
/// needs besides its connections run out.
pub fn connections_within(asked: usize, descriptors: u64) -> usize {
    let room = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    asked.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Why a connection or a session was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The server holds its maximum in all.
    Total {
        /// The maximum.
        limit: usize,
    },
    /// The client's address holds its maximum.
    Address {
        /// The address.
        ip: IpAddr,
        /// The maximum per address.
        limit: usize,
    },
}

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Total { limit } => write!(f, "the server holds its maximum of {limit}"),
            Self::Address { ip, limit } => write!(f, "{ip} holds its maximum of {limit}"),
        }
    }
}

/// How many of something (connections, sessions) are held, in all and by
/// client address, against their maximums (0 per address: no maximum).
#[derive(Debug, Default)]
pub struct Tally {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Tally {
    /// Counts one more for `ip` if neither maximum is reached.
    pub fn take(
        &mut self,
        ip: IpAddr,
        max_total: usize,
        max_per_address: usize,
    ) -> Result<(), Full> {
        if self.total >= max_total {
            return Err(Full::Total { limit: max_total });
        }
        let held = self.by_address.entry(ip).or_default();
        if max_per_address > 0 && *held >= max_per_address {
            return Err(Full::Address {
                ip,
                limit: max_per_address,
            });
        }
        *held += 1;
        self.total += 1;
        Ok(())
    }

    /// Counts one fewer for `ip`.
    pub fn give_back(&mut self, ip: IpAddr) {
        if let Some(held) = self.by_address.get_mut(&ip) {
            *held -= 1;
            self.total -= 1;
            if *held == 0 {
                self.by_address.remove(&ip);
            }
        }
    }

    /// How many are held in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many `ip` holds.
    pub fn of(&self, ip: IpAddr) -> usize {
        self.by_address.get(&ip).copied().unwrap_or(0)
    }
}

/// A warning said at most once a second, with how many times it happened
/// since it was last said: a flood of refusals or of accept errors fills
/// no log.
#[derive(Debug)]
pub struct RateLimitedLog {
    what: &'static str,
    since: Option<Instant>,
    count: u64,
}

impl RateLimitedLog {
    /// A log of events described as `what` ("accept failed", …).
    pub const fn new(what: &'static str) -> Self {
        Self {
            what,
            since: None,
            count: 0,
        }
    }

    /// One more event; logged if a second has passed since the last line.
    pub fn event(&mut self, detail: &dyn fmt::Display) {
        self.count += 1;
        let now = Instant::now();
        if self.since.is_some_and(|t| now < t + Duration::from_secs(1)) {
            return;
        }
        tracing::warn!(
            "{} ({} times in the last second): {detail}",
            self.what,
            self.count
        );
        self.since = Some(now);
        self.count = 0;
    }
}

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the limit now in force.
pub fn raise_descriptor_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit, which lives for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            tracing::debug!(
                "cannot raise the open-file limit: {}",
                io::Error::last_os_error()
            );
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn one_address_never_takes_everything() {
        let mut t = Tally::default();
        for _ in 0..3 {
            t.take(A, 5, 3).unwrap();
        }
        assert_eq!(t.take(A, 5, 3), Err(Full::Address { ip: A, limit: 3 }));
        t.take(B, 5, 3).unwrap();
        t.take(B, 5, 3).unwrap();
        assert_eq!(t.take(B, 5, 3), Err(Full::Total { limit: 5 }));
        t.give_back(A);
        assert_eq!((t.total(), t.of(A), t.of(B)), (4, 2, 2));
        t.take(B, 5, 3).unwrap();
        // Giving back what was never taken changes nothing.
        t.give_back(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(t.total(), 5);
    }

    #[test]
    fn zero_per_address_means_no_maximum() {
        let mut t = Tally::default();
        for _ in 0..50 {
            t.take(A, 50, 0).unwrap();
        }
        assert_eq!(t.take(A, 50, 0), Err(Full::Total { limit: 50 }));
    }

    #[test]
    fn connections_stay_below_the_descriptor_limit() {
        assert_eq!(connections_within(10_000, 1024), 768);
        assert_eq!(connections_within(10_000, 1 << 20), 10_000);
        assert_eq!(connections_within(10_000, 100), 1);
    }

    #[test]
    fn the_descriptor_limit_can_be_read() {
        let limit = raise_descriptor_limit().unwrap();
        assert!(limit >= 64, "{limit}");
    }
}
