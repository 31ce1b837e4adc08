//! The proxy's UDP path: the server's RTP through an [`RtpFilter`] to the
//! client, RTCP relayed untouched both ways, nothing at all while the proxy
//! is interrupted.

use std::time::{Duration, Instant};

use super::ProxyShared;

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

/// What an [`RtspProxy`](super::RtspProxy) does with the server's RTP packets on their way to
/// the client. Runs on the proxy's RTP thread.
pub trait RtpFilter: Send + 'static {
    /// A packet from the server: push what the client is to get now, in order.
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>);
    /// No packet came for [`RELAY_IDLE`]: push whatever is still held.
    fn on_idle(&mut self, _out: &mut Vec<Vec<u8>>) {}
    /// When [`on_tick`](Self::on_tick) must run next, if the filter holds
    /// something.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Runs after every packet and every wait: push what is due at `now`.
    fn on_tick(&mut self, _now: Instant, _out: &mut Vec<Vec<u8>>) {}
    /// `packet` went to the client; `at` was read just before the send.
    fn on_sent(&mut self, _packet: &[u8], _at: Instant) {}
}

/// How long the RTP path must be quiet before [`RtpFilter::on_idle`].
pub const RELAY_IDLE: Duration = Duration::from_millis(100);
/// How long the proxy's threads block in a read before checking for stop.
const RELAY_POLL: Duration = Duration::from_millis(5);

/// An [`RtpFilter`] that passes every packet on at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough;

impl RtpFilter for PassThrough {
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        out.push(packet);
    }
}

/// A UDP socket pair on 127.0.0.1 (even RTP port, RTCP the next one), with a
/// 4 MiB receive buffer and a read timeout of [`RELAY_POLL`].
pub(super) fn bind_udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
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

pub(super) fn relay_rtp(
    socket: std::net::UdpSocket,
    filter: &mut dyn RtpFilter,
    shared: &ProxyShared,
) {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    let mut last_packet = Instant::now();
    let mut quiet = true;
    let send_all = |out: &mut Vec<Vec<u8>>, filter: &mut dyn RtpFilter, to| {
        for p in out.drain(..) {
            let at = Instant::now();
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
            d.saturating_duration_since(Instant::now()).min(RELAY_POLL)
        });
        let _ = mjpegrtsp::net::wait_readable(&socket, wait);
        let received = socket.recv_from(&mut buf);
        let routes = *shared.routes.lock().unwrap();
        let to_client = routes.client_rtp;
        match received {
            Ok(_) if shared.interrupted() => shared.count(|c| c.dropped_interrupted += 1),
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
                    send_all(&mut out, filter, to);
                    last_packet = Instant::now();
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
                        send_all(&mut out, filter, to);
                    }
                }
            }
        }
        if let Some(to) = to_client {
            filter.on_tick(Instant::now(), &mut out);
            send_all(&mut out, filter, to);
        }
    }
}

pub(super) fn relay_rtcp(socket: std::net::UdpSocket, shared: &ProxyShared) {
    let mut buf = vec![0u8; 65536];
    while !shared.stopping() {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if shared.interrupted() {
            shared.count(|c| c.dropped_interrupted += 1);
            continue;
        }
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
