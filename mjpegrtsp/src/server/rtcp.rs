//! The server's RTCP: sender reports and BYE on each standard session's
//! RTCP path (written by [`crate::rtp::rtcp`]), and RTCP from clients read
//! as a sign of life.

use super::Shared;
use super::engine::{Route, Stream, Wire};
use super::udp::PacketSocket;
use crate::net;
use crate::rtp::rtcp::{self, SenderInfo};
use crate::rtsp::encode_interleaved;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// The CNAME of the server's sources.
const CNAME: &str = "mjpegrtsp";
/// How often the receive thread looks up from waiting to check for stop.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Sends a sender report + SDES CNAME (RFC 3550 §6.4.1, §6.5) for `stream`,
/// whose media clock reads `rtp_now`.
pub(super) fn send_sender_report(socket: &PacketSocket, stream: &Stream, rtp_now: u32) {
    let c = &stream.counters;
    let info = SenderInfo {
        ntp_timestamp: rtcp::ntp_timestamp(SystemTime::now()),
        rtp_timestamp: rtp_now,
        packet_count: c.packets_sent.load(Ordering::Relaxed) as u32,
        octet_count: c.octets_sent.load(Ordering::Relaxed) as u32,
    };
    send(
        socket,
        stream,
        &rtcp::sender_report(stream.ssrc, info, CNAME),
    );
}

/// Sends a BYE for `stream`'s source: the stream has ended (clients end
/// their stream on it).
pub(super) fn send_bye(socket: &PacketSocket, stream: &Stream) {
    send(socket, stream, &rtcp::bye(stream.ssrc));
}

/// Sends an RTCP packet on a session's RTCP path (standard sessions only),
/// as SRTCP when the session is SRTP.
fn send(socket: &PacketSocket, stream: &Stream, packet: &[u8]) {
    if stream.wire != Wire::Rfc2435 {
        return; // classic clients have no RTCP port, browsers no RTP at all
    }
    let sealed;
    let packet = match &stream.srtp {
        None => packet,
        Some(srtp) => match srtp.lock().unwrap().protect_rtcp(packet) {
            Ok(p) => {
                sealed = p;
                &sealed[..]
            }
            Err(e) => {
                tracing::warn!("cannot protect an RTCP packet: {e}");
                return;
            }
        },
    };
    match &stream.route {
        Route::Udp {
            rtcp: Some(dest), ..
        } => {
            let _ = socket.send_one(*dest, packet);
        }
        Route::Udp { rtcp: None, .. } | Route::Body { .. } => {}
        Route::Tcp {
            out, rtcp_channel, ..
        } => {
            let mut framed = Vec::with_capacity(packet.len() + 4);
            if encode_interleaved(*rtcp_channel, packet, &mut framed).is_ok() {
                out.try_send_media(framed);
            }
        }
    }
}

/// Counts RTCP from clients as activity (RFC 2326 §12.37 lets it keep a
/// session alive). Runs on its own thread until the server stops.
pub(super) fn receive(shared: &Arc<Shared>) {
    let socket = &shared.rtcp_socket;
    let mut buf = [0u8; 2048];
    while !shared.stopping.load(Ordering::Relaxed) {
        // The socket is non-blocking (it is shared with the engine's sender):
        // wait for it, waking up now and then to check for stop.
        if !matches!(net::wait_readable(socket.as_ref(), STOP_POLL), Ok(true)) {
            continue;
        }
        while let Ok((_, from)) = socket.recv_from(&mut buf) {
            let session = shared.sessions.lock().unwrap().by_rtcp.get(&from).cloned();
            if let Some(s) = session {
                s.state.lock().unwrap().last_activity = Instant::now();
            }
        }
    }
}
