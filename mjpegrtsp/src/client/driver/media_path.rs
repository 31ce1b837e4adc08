//! Media on its way in: interleaved and UDP packets (only from the server),
//! RTCP, and frames handed to the consumer.

use super::*;

impl Driver {
    pub(super) fn on_interleaved(&mut self, channel: u8, payload: &[u8], now: Instant) {
        let Some(MediaTransport::Tcp {
            rtp_channel,
            rtcp_channel,
        }) = self.media.as_ref().map(|m| &m.transport)
        else {
            return;
        };
        if channel == *rtp_channel {
            self.on_rtp(payload, now);
        } else if channel == *rtcp_channel {
            self.on_rtcp(payload, now);
        }
    }

    pub(super) fn on_rtp(&mut self, data: &[u8], now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let plain;
        let data = match &mut m.srtp {
            None => data,
            Some(srtp) => {
                // Only the announced source is worth a tag check: forged
                // packets of other sources cost nothing and keep no state.
                let ssrc = data
                    .get(8..12)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let unprotected = match (ssrc, m.announced_ssrc) {
                    (Some(s), Some(a)) if s != a => None,
                    (None, _) => None,
                    _ => srtp.unprotect_rtp(data).ok(),
                };
                match unprotected {
                    Some(p) => {
                        plain = p;
                        &plain[..]
                    }
                    None => {
                        self.packets_rejected += 1;
                        tracing::debug!(server = %self.cfg.addr, "dropping an SRTP packet that fails its check");
                        return;
                    }
                }
            }
        };
        if m.media.push(data, now) {
            self.packets_since_start += 1;
            self.media_came(now);
            for w in self.waiters.drain(..) {
                let _ = w.send(());
            }
        }
        self.pump(now);
    }

    /// Whether a datagram from `from` is the server's, by `accepts` of the
    /// media's [`PeerFilter`].
    pub(super) fn is_from_server(
        &self,
        from: SocketAddr,
        accepts: fn(&PeerFilter, SocketAddr) -> bool,
    ) -> bool {
        match self.media.as_ref().map(|m| &m.transport) {
            Some(MediaTransport::Udp { peer, .. }) => accepts(peer, from),
            _ => false,
        }
    }

    pub(super) fn reject(&mut self, from: SocketAddr, what: &str) {
        self.packets_rejected += 1;
        tracing::debug!(server = %self.cfg.addr, %from, "dropping {what} from an address that is not the server's");
    }

    /// Takes the RTCP datagrams already waiting on the UDP RTCP socket,
    /// without waiting: a BYE the server sent just before it closed the
    /// control connection may be there still unread.
    pub(super) fn read_waiting_rtcp(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.rtcp_buf);
        while let Some(MediaTransport::Udp {
            rtcp: Some(sock), ..
        }) = self.media.as_ref().map(|m| &m.transport)
        {
            let Ok((n, from)) = sock.try_recv_from(&mut buf) else {
                break;
            };
            if self.is_from_server(from, PeerFilter::accepts_rtcp) {
                self.on_rtcp(&buf[..n], now);
            } else {
                self.reject(from, "RTCP");
            }
        }
        self.rtcp_buf = buf;
    }

    pub(super) fn on_rtcp(&mut self, data: &[u8], now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let plain;
        let data = match &mut m.srtp {
            None => data,
            Some(srtp) => match srtp.unprotect_rtcp(data) {
                Ok(p) => {
                    plain = p;
                    &plain[..]
                }
                Err(e) => {
                    self.packets_rejected += 1;
                    tracing::debug!(server = %self.cfg.addr, "dropping SRTCP: {e}");
                    return;
                }
            },
        };
        // The source being received; before its first packet, the one the
        // SETUP reply announced.
        let ours = m.media.ssrc().or(m.announced_ssrc);
        // A malformed packet ends the walk; what came before it counts.
        for p in rtcp::packets(data) {
            match p {
                Ok(rtcp::Packet::SenderReport(sr)) => {
                    if ours.is_none_or(|o| o == sr.ssrc) {
                        m.media.on_sender_report(sr.info.ntp_middle(), now)
                    }
                }
                Ok(rtcp::Packet::Bye(rtcp::Bye { ssrcs, .. })) => {
                    if ssrcs.iter().any(|s| Some(*s) == ours) {
                        tracing::debug!(server = %self.cfg.addr, "RTCP BYE: the stream ends");
                        m.bye_at.get_or_insert(now + BYE_GRACE);
                    } else {
                        self.packets_rejected += 1;
                        tracing::debug!(
                            server = %self.cfg.addr,
                            ?ssrcs,
                            ?ours,
                            "ignoring an RTCP BYE that does not name the stream's source"
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(server = %self.cfg.addr, "ignoring the rest of an RTCP packet: {e}");
                }
            }
        }
    }

    /// Hands frames that are ready to the consumer.
    pub(super) fn pump(&mut self, now: Instant) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        m.media.pop_frames(now, &mut self.frames);
        for frame in self.frames.drain(..) {
            let len = frame.jpeg.len();
            if !self.budget.try_reserve(len) {
                self.frames_dropped += 1;
                tracing::trace!("consumer is slow: frame dropped (byte budget)");
                continue;
            }
            match self.events.try_send(Event::Frame(frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.budget.release(len);
                    self.frames_dropped += 1;
                    tracing::trace!("consumer is slow: frame dropped");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.budget.release(len),
            }
        }
    }

    /// Queues an event that must not be lost (end, errors).
    pub(super) fn control_event(&mut self, ev: Event) {
        if self.backlog.len() < MAX_BACKLOG {
            self.backlog.push_back(ev);
        }
        self.flush_backlog();
    }

    pub(super) fn flush_backlog(&mut self) {
        while let Some(ev) = self.backlog.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }
}
