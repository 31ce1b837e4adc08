//! SETUP: the transport a client offers is checked and given its ports or
//! channels, and a session is made for it.

use super::connection::{Connection, Refusal};
use super::describe::standard_playable;
use super::engine::{Counters, Route, Source, Stream, Wire};
use super::limits::Full;
use super::{Session, SessionState};
use crate::rtp::srtp::Protector;
use crate::rtsp::{self, Dialect, LowerTransport, Request, Response, StatusCode, Transport, names};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Sessions one connection may hold at once: a player needs one per stream;
/// more would let one connection take every slot of `--max-sessions`.
pub const MAX_SESSIONS_PER_CONNECTION: usize = 8;

impl Connection {
    pub(super) fn setup(&mut self, request: &Request) -> Result<Response, Refusal> {
        let media = self.media(request)?;
        let header = request
            .headers
            .get(names::TRANSPORT)
            .ok_or_else(|| Refusal(StatusCode::BAD_REQUEST, "SETUP without Transport".into()))?;
        let srtp = self.srtp_for(&media)?;
        let source_id = media.id();
        let negotiate = match srtp {
            Some(_) => rtsp::negotiate_secure_transport,
            None => rtsp::negotiate_transport,
        };
        let offer = negotiate(header)
            .map_err(|e| Refusal(e.status(), format!("transport {header:?}: {e}")))?;
        if let Some(existing) = self.request_session(request)? {
            // One stream per session: a second SETUP may only change nothing.
            self.touch(&existing);
            return Err(Refusal(
                StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED,
                "this session already has its stream".into(),
            ));
        }
        let classic = request.dialect == Dialect::Classic || offer.classic;
        if !classic {
            standard_playable(&media)?;
        }
        if self.sessions.len() >= MAX_SESSIONS_PER_CONNECTION {
            return Err(Refusal(
                StatusCode::NOT_ENOUGH_BANDWIDTH,
                format!(
                    "this connection already holds {} sessions, the most one connection may",
                    self.sessions.len()
                ),
            ));
        }
        let mut rng = rand::rng();
        let ssrc = match &srtp {
            // The SSRC the description's MIKEY announced.
            Some((_, ssrc)) => *ssrc,
            None if classic => 0,
            None => rng.random(),
        };
        let (route, rtcp_from, reply_transport) = match offer.lower {
            LowerTransport::Udp => {
                // negotiate_transport() only offers usable ports.
                let ports = offer.client_port.ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        "UDP without client_port".into(),
                    )
                })?;
                let at = |port| with_port(self.peer, port);
                let rtcp = ports.rtcp.filter(|_| !classic).map(at);
                let reply = offer
                    .reply()
                    .with_server_port(self.shared.server_ports)
                    .with_ssrc(ssrc);
                (
                    Route::Udp {
                        rtp: at(ports.rtp),
                        rtcp,
                    },
                    rtcp,
                    reply,
                )
            }
            LowerTransport::Tcp => {
                let channels = self.interleaved_channels(offer.interleaved)?;
                let mut reply = Transport::tcp_interleaved(channels).with_ssrc(ssrc);
                // The profile asked for: rtspsrc decrypts only when the reply
                // says RTP/SAVP.
                reply.profile = offer.profile.clone();
                self.tx.allow(media.bytes_per_second());
                let (rtp, rtcp) = channels.resolved().ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        format!("interleaved={channels} is not two channels"),
                    )
                })?;
                (
                    Route::Tcp {
                        out: self.tx.clone(),
                        rtp_channel: rtp,
                        rtcp_channel: rtcp,
                    },
                    None,
                    reply,
                )
            }
        };
        let counters = Arc::new(Counters::default());
        counters.next_seq.store(
            if classic {
                1
            } else {
                u32::from(rng.random::<u16>())
            },
            Ordering::Relaxed,
        );
        let stream = Stream {
            source: media,
            wire: if classic {
                Wire::Classic
            } else {
                Wire::Rfc2435
            },
            route,
            ssrc,
            payload_type: 26,
            timestamp_base: rng.random(),
            looping: self.shared.config.looping,
            counters: counters.clone(),
            srtp: srtp.map(|(p, _)| Arc::new(Mutex::new(p))),
        };
        let state = SessionState {
            playing: false,
            ever_played: false,
            last_activity: Instant::now(),
            connected: true,
            stream,
        };
        let client = self.peer.ip().to_canonical();
        let session = self
            .shared
            .add_session(client, |id| Session {
                id,
                client,
                engine_id: self.shared.new_engine_id(),
                dialect: if classic {
                    Dialect::Classic
                } else {
                    Dialect::Standard
                },
                via: super::stats::Port::rtsp(self.secure),
                created: Instant::now(),
                counters,
                rtcp_from,
                removed: AtomicBool::new(false),
                state: Mutex::new(state),
            })
            .map_err(sessions_full)?;
        self.sessions.push(session.clone());
        // One session per key: another SETUP must DESCRIBE again.
        self.srtp_keys.remove(&source_id);
        tracing::info!(peer = %self.peer, connection = self.id, session = %session.id, "SETUP {} ({})", request.uri, reply_transport);
        let mut response = Response::reply_to(request, StatusCode::OK)
            .with_session(&self.session_header(&session));
        if !classic {
            response = response.with_header(names::TRANSPORT, reply_transport.to_string());
        }
        Ok(response)
    }

    /// The SRTP sender of a new session of `media`, and its SSRC: keyed by
    /// what this connection's DESCRIBE of it offered, when the connection is
    /// SRTP. Every session set up from such a description is SRTP, whatever
    /// profile its SETUP names: ffmpeg asks for `RTP/AVP` and decrypts.
    fn srtp_for(&self, media: &Source) -> Result<Option<(Protector, u32)>, Refusal> {
        if !self.offers_srtp() {
            return Ok(None);
        }
        let (key, ssrc) = self.srtp_keys.get(&media.id()).ok_or_else(|| {
            Refusal(
                StatusCode::BAD_REQUEST,
                "DESCRIBE this stream on this connection first: the SRTP key is in its answer \
                 (one session per DESCRIBE)"
                    .into(),
            )
        })?;
        Protector::new(key)
            .map(|p| Some((p, *ssrc)))
            .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    }

    /// The interleaved channels of a new session: those asked for, if no
    /// other session of this connection (nor its publisher) uses them; else
    /// the first free pair.
    pub(super) fn interleaved_channels(
        &self,
        asked: Option<rtsp::ChannelPair>,
    ) -> Result<rtsp::ChannelPair, Refusal> {
        let used: Vec<u8> = self
            .sessions
            .iter()
            .filter_map(|s| match &s.state.lock().unwrap().stream.route {
                Route::Tcp {
                    rtp_channel,
                    rtcp_channel,
                    ..
                } => Some([*rtp_channel, *rtcp_channel]),
                Route::Udp { .. } | Route::Body { .. } => None,
            })
            .flatten()
            .chain(self.publisher_channels())
            .collect();
        match asked {
            Some(pair) => {
                let (rtp, rtcp) = pair.resolved().ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        format!("interleaved={pair} is not two channels"),
                    )
                })?;
                if used.contains(&rtp) || used.contains(&rtcp) {
                    return Err(Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        format!("interleaved={pair}: another session of this connection uses it"),
                    ));
                }
                Ok(rtsp::ChannelPair::new(rtp, rtcp))
            }
            None => (0..=254u8)
                .step_by(2)
                .find(|c| !used.contains(c) && !used.contains(&(c + 1)))
                .map(|c| rtsp::ChannelPair::new(c, c + 1))
                .ok_or_else(|| {
                    Refusal(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        "no free interleaved channels".into(),
                    )
                }),
        }
    }
}

/// The 453 for a session (or a publisher) over the maximums.
pub(super) fn sessions_full(full: Full) -> Refusal {
    let why = match full {
        Full::Total { limit } => format!("{limit} sessions already (--max-sessions)"),
        Full::Address { ip, limit } => {
            format!("{ip} holds {limit} sessions already (--max-sessions-per-address)")
        }
    };
    Refusal(StatusCode::NOT_ENOUGH_BANDWIDTH, why)
}

/// The peer's own address with another port: an IPv6 link-local peer keeps
/// its scope (and flow info), without which sends to it fail.
fn with_port(mut peer: SocketAddr, port: u16) -> SocketAddr {
    peer.set_port(port);
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddrV6};

    #[test]
    fn media_goes_to_the_peer_with_its_scope() {
        let link_local =
            SocketAddrV6::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 7), 40_000, 0, 3);
        match with_port(link_local.into(), 5000) {
            SocketAddr::V6(a) => {
                assert_eq!(
                    (a.port(), a.scope_id(), *a.ip()),
                    (5000, 3, *link_local.ip())
                );
            }
            other => panic!("{other}"),
        }
        let v4: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        assert_eq!(with_port(v4, 5000), "127.0.0.2:5000".parse().unwrap());
    }
}
