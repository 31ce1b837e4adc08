//! A loopback RTSP + RTP proxy for tests and benchmarks: it relays the
//! control connection (rewriting the ports in `Transport`) and the media,
//! and hands every RTP packet to an [`RtpFilter`].

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The RTP header fields the relays look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpFields {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
}

/// The fields of an RTP version 2 packet (`None` for anything else).
pub fn rtp_fields(packet: &[u8]) -> Option<RtpFields> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    Some(RtpFields {
        seq: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        marker: packet[1] & 0x80 != 0,
    })
}

/// What an [`RtspProxy`] does with the server's RTP packets on their way to
/// the client. Runs on the proxy's RTP thread.
pub trait RtpFilter: Send + 'static {
    /// A packet from the server: push what the client is to get now, in order.
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>);
    /// No packet came for [`RELAY_IDLE`]: push whatever is still held.
    fn on_idle(&mut self, _out: &mut Vec<Vec<u8>>) {}
    /// When [`on_tick`](Self::on_tick) must run next, if the filter holds
    /// something.
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }
    /// Runs after every packet and every wait: push what is due at `now`.
    fn on_tick(&mut self, _now: std::time::Instant, _out: &mut Vec<Vec<u8>>) {}
    /// `packet` went to the client; `at` was read just before the send.
    fn on_sent(&mut self, _packet: &[u8], _at: std::time::Instant) {}
}

/// How long the RTP path must be quiet before [`RtpFilter::on_idle`].
pub const RELAY_IDLE: Duration = Duration::from_millis(100);
/// How long the proxy's threads block in a read before checking for stop.
const RELAY_POLL: Duration = Duration::from_millis(5);

/// What the proxy relayed besides the filtered RTP.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    /// SETUP requests whose `client_port` was rewritten.
    pub setups: u64,
    /// RTCP datagrams from the server to the client, untouched.
    pub rtcp_to_client: u64,
    /// RTCP datagrams from the client to the server, untouched.
    pub rtcp_to_server: u64,
    /// Datagrams the client sent to the server's RTP port (NAT "punching"),
    /// passed on.
    pub rtp_to_server: u64,
    /// Server packets that came before any SETUP named the client: dropped.
    pub rtp_unrouted: u64,
    /// Sends that failed.
    pub send_errors: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Routes {
    client_rtp: Option<std::net::SocketAddr>,
    client_rtcp: Option<std::net::SocketAddr>,
    server_rtp: Option<std::net::SocketAddr>,
    server_rtcp: Option<std::net::SocketAddr>,
}

struct ProxyShared {
    backend: std::net::SocketAddr,
    rtp_port: u16,
    rtcp_port: u16,
    stop: std::sync::atomic::AtomicBool,
    routes: Mutex<Routes>,
    counts: Mutex<RelayCounts>,
    /// Clones of every relayed TCP stream, shut down when the proxy stops.
    streams: Mutex<Vec<std::net::TcpStream>>,
}

impl ProxyShared {
    fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, f: impl FnOnce(&mut RelayCounts)) {
        f(&mut self.counts.lock().unwrap());
    }
}

/// An RTSP proxy on 127.0.0.1 in front of one server, which also puts itself
/// in the RTP path: the client's `SETUP … client_port=a-b` reaches the server
/// as the proxy's own UDP port pair (and the reply goes back with the client's
/// ports, and `server_port` naming the proxy's pair). The server's RTP goes
/// through an [`RtpFilter`] to the client's RTP port; RTCP is relayed
/// untouched both ways. Everything else on the RTSP connection (requests,
/// replies, interleaved data) passes as it is. Made for one client at a time;
/// stopped when dropped.
pub struct RtspProxy {
    /// The RTSP address to give clients.
    pub addr: std::net::SocketAddr,
    shared: Arc<ProxyShared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RtspProxy {
    pub fn start(backend: std::net::SocketAddr, filter: impl RtpFilter) -> RtspProxy {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (rtp, rtcp) = bind_udp_pair();
        let shared = Arc::new(ProxyShared {
            backend,
            rtp_port: rtp.local_addr().unwrap().port(),
            rtcp_port: rtcp.local_addr().unwrap().port(),
            stop: Default::default(),
            routes: Default::default(),
            counts: Default::default(),
            streams: Default::default(),
        });
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || {
                while !shared.stopping() {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let shared = shared.clone();
                            std::thread::spawn(move || proxy_connection(client, shared));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }));
        }
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || relay_rtp(rtp, filter, &shared)));
        }
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || relay_rtcp(rtcp, &shared)));
        }
        RtspProxy {
            addr,
            shared,
            threads,
        }
    }

    /// `rtsp://<proxy>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }

    /// The proxy's RTP and RTCP ports (what the server sends to).
    pub fn udp_ports(&self) -> (u16, u16) {
        (self.shared.rtp_port, self.shared.rtcp_port)
    }

    pub fn counts(&self) -> RelayCounts {
        *self.shared.counts.lock().unwrap()
    }
}

impl Drop for RtspProxy {
    fn drop(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A UDP socket pair on 127.0.0.1 (even RTP port, RTCP the next one), with a
/// 4 MiB receive buffer and a read timeout of [`RELAY_POLL`].
fn bind_udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
    use mjpegrtsp::net;
    let (a, b) = net::bind_rtp_pair(std::net::Ipv4Addr::LOCALHOST.into())
        .expect("an even/odd UDP port pair on 127.0.0.1");
    for s in [&a, &b] {
        s.set_read_timeout(Some(RELAY_POLL)).unwrap();
        // The kernel may grant less; the relay still works.
        let _ = net::set_receive_buffer(s, 4 * 1024 * 1024);
    }
    (a, b)
}

fn relay_rtp(socket: std::net::UdpSocket, mut filter: impl RtpFilter, shared: &ProxyShared) {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    let mut last_packet = std::time::Instant::now();
    let mut quiet = true;
    let send_all = |out: &mut Vec<Vec<u8>>, filter: &mut dyn RtpFilter, to| {
        for p in out.drain(..) {
            let at = std::time::Instant::now();
            match socket.send_to(&p, to) {
                Ok(_) => filter.on_sent(&p, at),
                Err(_) => shared.count(|c| c.send_errors += 1),
            }
        }
    };
    // poll(2) rather than a socket read timeout: the latter rounds up to
    // the kernel's tick (up to 10 ms), too coarse for a held packet.
    socket.set_nonblocking(true).unwrap();
    while !shared.stopping() {
        let wait = filter.deadline().map_or(RELAY_POLL, |d| {
            d.saturating_duration_since(std::time::Instant::now())
                .min(RELAY_POLL)
        });
        let _ = mjpegrtsp::net::wait_readable(&socket, wait);
        let received = socket.recv_from(&mut buf);
        let routes = *shared.routes.lock().unwrap();
        let to_client = routes.client_rtp;
        match received {
            Ok((n, from)) if Some(from) == routes.client_rtp => {
                if let Some(to) = routes.server_rtp
                    && socket.send_to(&buf[..n], to).is_ok()
                {
                    shared.count(|c| c.rtp_to_server += 1);
                }
            }
            Ok((n, _)) => match to_client {
                Some(to) => {
                    filter.on_packet(buf[..n].to_vec(), &mut out);
                    send_all(&mut out, &mut filter, to);
                    last_packet = std::time::Instant::now();
                    quiet = false;
                }
                None => shared.count(|c| c.rtp_unrouted += 1),
            },
            Err(_) => {
                // Timeout (or an ICMP error from an earlier send).
                if !quiet && last_packet.elapsed() >= RELAY_IDLE {
                    quiet = true;
                    if let Some(to) = to_client {
                        filter.on_idle(&mut out);
                        send_all(&mut out, &mut filter, to);
                    }
                }
            }
        }
        if let Some(to) = to_client {
            filter.on_tick(std::time::Instant::now(), &mut out);
            send_all(&mut out, &mut filter, to);
        }
    }
}

fn relay_rtcp(socket: std::net::UdpSocket, shared: &ProxyShared) {
    let mut buf = vec![0u8; 65536];
    while !shared.stopping() {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let routes = *shared.routes.lock().unwrap();
        let to_server = Some(from) == routes.client_rtcp;
        let to = if to_server {
            routes.server_rtcp
        } else {
            routes.client_rtcp
        };
        let Some(to) = to else { continue };
        if socket.send_to(&buf[..n], to).is_ok() {
            shared.count(|c| {
                if to_server {
                    c.rtcp_to_server += 1;
                } else {
                    c.rtcp_to_client += 1;
                }
            });
        }
    }
}

/// The `key=a[-b]` parameter of a Transport header value (the first one).
pub fn transport_ports(value: &str, key: &str) -> Option<(u16, Option<u16>)> {
    let needle = format!("{key}=");
    let at = value.find(&needle)? + needle.len();
    let rest = &value[at..];
    let end = rest.find([';', ',']).unwrap_or(rest.len());
    let (a, b) = match rest[..end].split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (&rest[..end], None),
    };
    let a = a.trim().parse().ok()?;
    let b = match b {
        Some(b) => Some(b.trim().parse().ok()?),
        None => None,
    };
    Some((a, b))
}

/// `value` with every `key=…` parameter replaced by `key=rtp-rtcp`.
pub fn replace_transport_ports(value: &str, key: &str, rtp: u16, rtcp: u16) -> String {
    let needle = format!("{key}=");
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(&needle) {
        out.push_str(&rest[..at]);
        out.push_str(&format!("{needle}{rtp}-{rtcp}"));
        let after = &rest[at + needle.len()..];
        let end = after.find([';', ',']).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn proxy_connection(client: std::net::TcpStream, shared: Arc<ProxyShared>) {
    use mjpegrtsp::rtsp::{Item, Method};
    use std::net::SocketAddr;
    let Ok(server) = std::net::TcpStream::connect(shared.backend) else {
        return;
    };
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let client_ip = client.peer_addr().map(|a| a.ip()).unwrap();
    {
        let mut streams = shared.streams.lock().unwrap();
        streams.push(client.try_clone().unwrap());
        streams.push(server.try_clone().unwrap());
    }
    if shared.stopping() {
        return;
    }
    let (proxy_rtp, proxy_rtcp) = (shared.rtp_port, shared.rtcp_port);
    // Server to client: the SETUP reply gets the client's ports back and the
    // proxy's as server_port.
    let back = {
        let shared = shared.clone();
        let from = server.try_clone().unwrap();
        let to = client.try_clone().unwrap();
        std::thread::spawn(move || {
            relay_rtsp_items(from, to, |item| {
                let Item::Response(resp) = item else {
                    return None;
                };
                let t = resp.headers.get("Transport")?.to_owned();
                let mut routes = shared.routes.lock().unwrap();
                let (crtp, crtcp) = (routes.client_rtp?, routes.client_rtcp?);
                let mut value = t.clone();
                if transport_ports(&t, "client_port").is_some() {
                    value =
                        replace_transport_ports(&value, "client_port", crtp.port(), crtcp.port());
                }
                if let Some((srtp, srtcp)) = transport_ports(&t, "server_port") {
                    let ip = shared.backend.ip();
                    routes.server_rtp = Some(SocketAddr::new(ip, srtp));
                    routes.server_rtcp = Some(SocketAddr::new(ip, srtcp.unwrap_or(srtp + 1)));
                    value = replace_transport_ports(&value, "server_port", proxy_rtp, proxy_rtcp);
                }
                let mut resp = resp.clone();
                resp.headers.insert("Transport", value);
                Some(resp.to_bytes())
            })
        })
    };
    // Client to server: SETUP asks for the proxy's ports.
    relay_rtsp_items(client, server, |item| {
        let Item::Request(req) = item else {
            return None;
        };
        if req.method != Method::Setup {
            return None;
        }
        let t = req.headers.get("Transport")?.to_owned();
        let (rtp, rtcp) = transport_ports(&t, "client_port")?;
        {
            let mut routes = shared.routes.lock().unwrap();
            routes.client_rtp = Some(SocketAddr::new(client_ip, rtp));
            routes.client_rtcp = Some(SocketAddr::new(client_ip, rtcp.unwrap_or(rtp + 1)));
        }
        shared.count(|c| c.setups += 1);
        let mut req = req.clone();
        req.headers.insert(
            "Transport",
            replace_transport_ports(&t, "client_port", proxy_rtp, proxy_rtcp),
        );
        Some(req.to_bytes())
    });
    let _ = back.join();
}

/// Copies an RTSP byte stream item by item (requests, replies, interleaved
/// frames); `rewrite` may replace an item's bytes. Bytes that do not parse
/// are passed on as they are. Ends when either side closes.
fn relay_rtsp_items(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    mut rewrite: impl FnMut(&mjpegrtsp::rtsp::Item<'_>) -> Option<Vec<u8>>,
) {
    use mjpegrtsp::rtsp::{Parsed, Parser};
    use std::io::Read;
    let parser = Parser::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let mut transparent = false;
    'read: while let Ok(n) = from.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if transparent {
                if to.write_all(&buf).is_err() {
                    break 'read;
                }
                buf.clear();
                break;
            }
            let (bytes, used) = match parser.parse(&buf, true) {
                Parsed::Complete(item, used) => (rewrite(&item), used),
                Parsed::Incomplete(_) => break,
                Parsed::Error(_) => {
                    transparent = true;
                    continue;
                }
            };
            let ok = match bytes {
                Some(b) => to.write_all(&b).is_ok(),
                None => to.write_all(&buf[..used]).is_ok(),
            };
            buf.drain(..used);
            if !ok {
                break 'read;
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}
