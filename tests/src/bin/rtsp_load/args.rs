//! The command line: what to run against which server.

use super::*;

/// rtsp_load: many RTSP sessions against one server, from a few event loops.
#[derive(Debug, Clone, Parser)]
#[command(name = "rtsp_load", after_help = REPORTED)]
pub(crate) struct Args {
    /// The stream: rtsp://127.0.0.1:PORT/path, or
    /// http://127.0.0.1:PORT/stream/path for MJPEG over HTTP (loopback only).
    #[arg(value_parser = rtsp_url)]
    pub(crate) url: String,
    /// Sessions to open.
    #[arg(long, default_value_t = 50, value_parser = count_in(1, 100_000))]
    pub(crate) sessions: usize,
    /// Length of the measuring window in seconds, once every session is set up.
    #[arg(long, default_value_t = 10.0, value_parser = positive_up_to(86_400.0))]
    pub(crate) seconds: f64,
    /// Sessions started per second (0: all at once, at most --concurrency
    /// setting up at a time).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) rate: f64,
    /// Sessions in OPTIONS..PLAY at the same time.
    #[arg(long, default_value_t = 64, value_parser = count_in(1, 100_000))]
    pub(crate) concurrency: usize,
    /// RTP/AVP/TCP interleaved instead of UDP.
    #[arg(long, conflicts_with = "classic")]
    pub(crate) tcp: bool,
    /// Speak the seed client's classic dialect: no OPTIONS or DESCRIBE,
    /// bare-LF requests without a blank line (`SETUP movie.Mjpeg RTSP/1.0`,
    /// `Transport: RTP/UDP; client_port= P`), no keep-alives; one whole-JPEG
    /// packet per frame over UDP.
    #[arg(long, conflicts_with = "rtcp")]
    pub(crate) classic: bool,
    /// Send RTCP receiver reports every 5 s.
    #[arg(long)]
    pub(crate) rtcp: bool,
    /// Take a server's segmented send (UDP GSO, one frame) as one datagram
    /// (UDP_GRO) and split it here. On loopback the per-packet split,
    /// queueing and wake-up are otherwise done in the server's system call
    /// and charged to it, though over a network they fall on the receivers.
    /// Off by default, so that a server that sends packet by packet and one
    /// that segments are measured alike.
    #[arg(long, conflicts_with_all = ["tcp", "classic"])]
    pub(crate) gro: bool,
    /// Expected frame rate (default: the SDP's a=framerate, else 24).
    #[arg(long, value_parser = positive_up_to(1000.0))]
    pub(crate) fps: Option<f64>,
    /// Timeout of each RTSP step, in seconds.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_up_to(600.0))]
    pub(crate) timeout_secs: f64,
    /// Sample this server process's CPU and memory in /proc.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Threads to run the sessions on, each its own event loop (0: one per
    /// 1,000 sessions, at most one per core).
    #[arg(long, default_value_t = 0, value_parser = count_in(0, 1024))]
    pub(crate) threads: usize,
    /// Sessions from one client address. Beyond this many, sessions come
    /// from the next loopback addresses (the server's, then 127.0.0.2, …
    /// when it is 127.0.0.1): a UDP session takes two ports, and an address
    /// has about 28,000 ephemeral ones. IPv6 has one loopback address (::1).
    #[arg(long, default_value_t = 5000, value_parser = count_in(1, 14_000))]
    pub(crate) sessions_per_address: usize,
    /// Print the report as one JSON line on stdout (the table goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
    /// The timeout of each RTSP step (from --timeout).
    #[arg(skip = Duration::ZERO)]
    pub(crate) timeout: Duration,
}

/// An rtsp:// or http:// URL.
pub(crate) fn rtsp_url(s: &str) -> Result<String, String> {
    if s.starts_with("rtsp://") || s.starts_with("http://") {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an rtsp:// or http:// URL"))
    }
}

/// A whole number from `low` to `high`.
pub(crate) fn count_in(low: usize, high: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s: &str| match s.parse::<usize>() {
        Ok(v) if (low..=high).contains(&v) => Ok(v),
        _ => Err(format!("must be a whole number from {low} to {high}")),
    }
}

/// A number above 0 and at most `high`.
pub(crate) fn positive_up_to(high: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s: &str| match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= high => Ok(v),
        _ => Err(format!("must be a number above 0 and at most {high}")),
    }
}

/// A finite number, 0 or more.
pub(crate) fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a number, 0 or more".into()),
    }
}

/// The server's address from an rtsp:// or http:// URL; refuses anything
/// but loopback.
pub(crate) fn url_addr(url: &str) -> Result<SocketAddr, String> {
    let (rest, default_port) = match (url.strip_prefix("rtsp://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, 554),
        (None, Some(rest)) => (rest, 80),
        (None, None) => return Err("URL must start with rtsp:// or http://".into()),
    };
    let hostport = rest.split('/').next().unwrap_or_default();
    if hostport.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or("bad [IPv6] host")?;
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
        None => default_port,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("host {host:?}: give an IP address"))?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "{ip} is not a loopback address: this tool only talks to loopback"
        ));
    }
    Ok(SocketAddr::new(ip, port))
}

/// Where one session connects from and to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    /// The server's RTSP (or HTTP) address.
    pub(crate) server: SocketAddr,
    /// The loopback address the session's sockets are bound to.
    pub(crate) local: IpAddr,
}

/// The client address of session `index` against `server`, `per` sessions
/// to an address: the server's own address, then the ones after it in
/// 127.0.0.0/8; `None` past the end of loopback (or past ::1 for IPv6).
pub(crate) fn client_ip(server: IpAddr, index: usize, per: usize) -> Option<IpAddr> {
    let k = u32::try_from(index / per).ok()?;
    match server {
        IpAddr::V4(v4) => {
            let ip = Ipv4Addr::from(u32::from(v4).checked_add(k)?);
            (ip.is_loopback() && ip.octets()[3] != 255 || k == 0).then_some(IpAddr::V4(ip))
        }
        IpAddr::V6(_) => (k == 0).then_some(server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_loopback_addresses() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(v4, 0, 5000), Some(v4));
        assert_eq!(client_ip(v4, 4999, 5000), Some(v4));
        assert_eq!(client_ip(v4, 5000, 5000), "127.0.0.2".parse().ok());
        assert_eq!(client_ip(v4, 99_999, 5000), "127.0.0.20".parse().ok());
        // Never outside 127.0.0.0/8.
        let last: IpAddr = "127.255.255.254".parse().unwrap();
        assert_eq!(client_ip(last, 0, 1), Some(last));
        assert_eq!(client_ip(last, 1, 1), None);
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(client_ip(v6, 4999, 5000), Some(v6));
        assert_eq!(client_ip(v6, 5000, 5000), None);
    }
}
