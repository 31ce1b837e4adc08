//! The one loopback RTSP proxy of the tests and benchmarks. In front of one
//! server, it relays each client connection item by item (requests, replies,
//! interleaved frames), and can:
//!
//! * pass every request through a [`RequestHook`] that rewrites it or answers
//!   it itself (a server that demands credentials, forgets a session, …);
//! * put itself in the UDP path ([`RtpFilter`]): the client's `SETUP …
//!   client_port=a-b` reaches the server as the proxy's own port pair, and
//!   the server's RTP goes through the filter (loss, reordering, time
//!   stamps) while RTCP passes untouched;
//! * [`interrupt`](RtspProxy::interrupt) the network and
//!   [`restore`](RtspProxy::restore) it: TCP bytes wait (as they would in
//!   the kernel's buffers), UDP datagrams are lost.
//!
//! Made for one client at a time; stopped when dropped.

mod transport;
mod udp;

pub use transport::{replace_transport_ports, transport_ports};
pub use udp::{PassThrough, RELAY_IDLE, RtpFields, RtpFilter, rtp_fields};

use mjpegrtsp::rtsp::{Item, Method, Parsed, Parser, Request, Response};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an [`RtspProxy`] does with each request: change it in place, or
/// answer it itself (`Some`): the server then never sees it.
pub type RequestHook = Arc<dyn Fn(&mut Request) -> Option<Response> + Send + Sync>;

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
    /// Datagrams lost while the proxy was interrupted.
    pub dropped_interrupted: u64,
    /// Sends that failed.
    pub send_errors: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Routes {
    client_rtp: Option<SocketAddr>,
    client_rtcp: Option<SocketAddr>,
    server_rtp: Option<SocketAddr>,
    server_rtcp: Option<SocketAddr>,
}

struct ProxyShared {
    backend: SocketAddr,
    /// The proxy's RTP and RTCP ports, when it is in the UDP path.
    udp_ports: Option<(u16, u16)>,
    hook: Option<RequestHook>,
    stop: AtomicBool,
    interrupted: AtomicBool,
    routes: Mutex<Routes>,
    counts: Mutex<RelayCounts>,
    /// Clones of every relayed TCP stream, shut down when the proxy stops.
    streams: Mutex<Vec<TcpStream>>,
}

impl ProxyShared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    /// Waits while the network is interrupted; false once stopping.
    fn wait_restored(&self) -> bool {
        while self.interrupted() && !self.stopping() {
            std::thread::sleep(Duration::from_millis(5));
        }
        !self.stopping()
    }

    fn count(&self, f: impl FnOnce(&mut RelayCounts)) {
        f(&mut self.counts.lock().unwrap());
    }
}

/// How an [`RtspProxy`] is made: [`RtspProxy::builder`].
pub struct ProxyBuilder {
    backend: SocketAddr,
    hook: Option<RequestHook>,
    filter: Option<Box<dyn RtpFilter>>,
}

impl ProxyBuilder {
    /// Passes every request through `hook`.
    pub fn on_request(mut self, hook: RequestHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Puts the proxy in the UDP path, the server's RTP going through
    /// `filter`.
    pub fn rtp_through(mut self, filter: impl RtpFilter) -> Self {
        self.filter = Some(Box::new(filter));
        self
    }

    /// Listens on 127.0.0.1 at a free port.
    pub fn start(self) -> RtspProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let udp = self.filter.map(|f| (udp::bind_udp_pair(), f));
        let shared = Arc::new(ProxyShared {
            backend: self.backend,
            udp_ports: udp.as_ref().map(|((rtp, rtcp), _)| {
                (
                    rtp.local_addr().unwrap().port(),
                    rtcp.local_addr().unwrap().port(),
                )
            }),
            hook: self.hook,
            stop: Default::default(),
            interrupted: Default::default(),
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
        if let Some(((rtp, rtcp), mut filter)) = udp {
            let s = shared.clone();
            threads.push(std::thread::spawn(move || {
                udp::relay_rtp(rtp, filter.as_mut(), &s)
            }));
            let s = shared.clone();
            threads.push(std::thread::spawn(move || udp::relay_rtcp(rtcp, &s)));
        }
        RtspProxy {
            addr,
            shared,
            threads,
        }
    }
}

/// A loopback RTSP proxy in front of one server; see the [module
/// docs](self).
pub struct RtspProxy {
    /// The RTSP address to give clients.
    pub addr: SocketAddr,
    shared: Arc<ProxyShared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RtspProxy {
    /// A proxy in front of `backend` that only relays, until told more.
    pub fn builder(backend: SocketAddr) -> ProxyBuilder {
        ProxyBuilder {
            backend,
            hook: None,
            filter: None,
        }
    }

    /// A proxy in the UDP path, the server's RTP going through `filter`.
    pub fn start(backend: SocketAddr, filter: impl RtpFilter) -> RtspProxy {
        Self::builder(backend).rtp_through(filter).start()
    }

    /// A proxy that passes every request through `hook` (UDP media goes
    /// straight between server and client).
    pub fn with_hook(backend: SocketAddr, hook: RequestHook) -> RtspProxy {
        Self::builder(backend).on_request(hook).start()
    }

    /// `rtsp://<proxy>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }

    /// The proxy's RTP and RTCP ports (what the server sends to), when it
    /// is in the UDP path.
    pub fn udp_ports(&self) -> Option<(u16, u16)> {
        self.shared.udp_ports
    }

    pub fn counts(&self) -> RelayCounts {
        *self.shared.counts.lock().unwrap()
    }

    /// Cuts the network: nothing more crosses the proxy (TCP waits, UDP is
    /// lost) until [`restore`](Self::restore).
    pub fn interrupt(&self) {
        self.shared.interrupted.store(true, Ordering::Relaxed);
    }

    /// Lets traffic through again after [`interrupt`](Self::interrupt).
    pub fn restore(&self) {
        self.shared.interrupted.store(false, Ordering::Relaxed);
    }
}

impl Drop for RtspProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What a relay does with one item.
enum Relay {
    /// Pass its bytes on as they are.
    Pass,
    /// Pass these bytes on instead.
    Replace(Vec<u8>),
    /// Send these bytes back where the item came from, and nothing on.
    Answer(Vec<u8>),
}

fn proxy_connection(client: TcpStream, shared: Arc<ProxyShared>) {
    let Ok(server) = TcpStream::connect(shared.backend) else {
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
    // Written whole items at a time by both relays (a hook's answer never
    // lands inside an interleaved frame).
    let to_client = Arc::new(Mutex::new(client.try_clone().unwrap()));
    let to_server = Arc::new(Mutex::new(server.try_clone().unwrap()));
    let back = {
        let shared = shared.clone();
        let to_client = to_client.clone();
        let to_server = to_server.clone();
        std::thread::spawn(move || {
            relay_items(server, &to_client, &to_server, &shared, |item| {
                match item {
                    Item::Response(resp) => reply_transport(resp, &shared),
                    _ => None,
                }
                .map_or(Relay::Pass, Relay::Replace)
            })
        })
    };
    relay_items(client, &to_server, &to_client, &shared.clone(), |item| {
        let Item::Request(req) = item else {
            return Relay::Pass;
        };
        let mut req = req.clone();
        if let Some(hook) = &shared.hook {
            if let Some(resp) = hook(&mut req) {
                return Relay::Answer(resp.to_bytes());
            }
            setup_transport(&mut req, client_ip, &shared);
            return Relay::Replace(req.to_bytes());
        }
        if setup_transport(&mut req, client_ip, &shared) {
            Relay::Replace(req.to_bytes())
        } else {
            Relay::Pass
        }
    });
    let _ = back.join();
}

/// A SETUP asks the server for the proxy's UDP ports when the proxy is in
/// the UDP path (and remembers the client's); true when it was rewritten.
fn setup_transport(req: &mut Request, client_ip: std::net::IpAddr, shared: &ProxyShared) -> bool {
    let Some((proxy_rtp, proxy_rtcp)) = shared.udp_ports else {
        return false;
    };
    if req.method != Method::Setup {
        return false;
    }
    let Some(t) = req.headers.get("Transport").map(str::to_owned) else {
        return false;
    };
    let Some((rtp, rtcp)) = transport_ports(&t, "client_port") else {
        return false;
    };
    {
        let mut routes = shared.routes.lock().unwrap();
        routes.client_rtp = Some(SocketAddr::new(client_ip, rtp));
        routes.client_rtcp = Some(SocketAddr::new(client_ip, rtcp.unwrap_or(rtp + 1)));
    }
    shared.count(|c| c.setups += 1);
    req.headers.insert(
        "Transport",
        replace_transport_ports(&t, "client_port", proxy_rtp, proxy_rtcp),
    );
    true
}

/// A SETUP reply gets the client's ports back, and the proxy's as
/// `server_port`, when the proxy is in the UDP path: its new bytes.
fn reply_transport(resp: &Response, shared: &ProxyShared) -> Option<Vec<u8>> {
    let (proxy_rtp, proxy_rtcp) = shared.udp_ports?;
    let t = resp.headers.get("Transport")?.to_owned();
    let mut routes = shared.routes.lock().unwrap();
    let (crtp, crtcp) = (routes.client_rtp?, routes.client_rtcp?);
    let mut value = t.clone();
    if transport_ports(&t, "client_port").is_some() {
        value = replace_transport_ports(&value, "client_port", crtp.port(), crtcp.port());
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
}

/// Copies an RTSP byte stream item by item (requests, replies, interleaved
/// frames) from `from` to `to`, as `relay` says; bytes that do not parse are
/// passed on as they are. Holds what it read while the proxy is
/// interrupted. Ends when either side closes.
fn relay_items(
    mut from: TcpStream,
    to: &Mutex<TcpStream>,
    back: &Mutex<TcpStream>,
    shared: &ProxyShared,
    mut relay: impl FnMut(&Item<'_>) -> Relay,
) {
    let parser = Parser::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let mut transparent = false;
    'read: while let Ok(n) = from.read(&mut chunk) {
        if n == 0 || !shared.wait_restored() {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if transparent {
                if to.lock().unwrap().write_all(&buf).is_err() {
                    break 'read;
                }
                buf.clear();
                break;
            }
            let (what, used) = match parser.parse(&buf, true) {
                Parsed::Complete(item, used) => (relay(&item), used),
                Parsed::Incomplete(_) => break,
                Parsed::Error(_) => {
                    transparent = true;
                    continue;
                }
            };
            let ok = match what {
                Relay::Pass => to.lock().unwrap().write_all(&buf[..used]).is_ok(),
                Relay::Replace(b) => to.lock().unwrap().write_all(&b).is_ok(),
                Relay::Answer(b) => back.lock().unwrap().write_all(&b).is_ok(),
            };
            buf.drain(..used);
            if !ok {
                break 'read;
            }
        }
    }
    let _ = to.lock().unwrap().shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
