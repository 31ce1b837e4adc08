//! What the driver does on time: keep-alives, receiver reports and the
//! statistics it publishes.

use super::*;

impl Driver {
    pub(super) async fn on_timers(&mut self) {
        let now = Instant::now();
        self.flush_backlog();
        if let Some(since) = self.idle_since
            && now >= since + CLASSIC_IDLE_DELAY
        {
            self.drain_input(true).await;
        }
        if let Some(f) = self.in_flight.as_ref()
            && now >= f.deadline
            && let Some(f) = self.in_flight.take()
        {
            let e = Error::Timeout {
                addr: self.cfg.addr,
                method: f.req.method.clone(),
            };
            tracing::debug!("{e}");
            self.finish(f, Err(e));
            self.start_next().await;
        }
        self.pump(now);
        if let Some(m) = self.media.as_mut()
            && m.bye_at.is_some_and(|t| now >= t)
        {
            m.bye_at = None;
            // Whatever waits for missing packets goes out (or is dropped).
            m.media
                .pop_frames(now + Duration::from_secs(3600), &mut self.frames);
            self.pump(now);
            self.playing = false;
            self.publish_stats(now);
            self.control_event(Event::End(EndReason::Bye));
        }
        if self.stall_deadline().is_some_and(|t| now >= t) {
            self.stalled = true;
            let silent_for = now.saturating_duration_since(self.last_media);
            tracing::debug!(server = %self.cfg.addr, ?silent_for, "no media: stalled");
            self.control_event(Event::Stalled { silent_for });
        }
        self.keep_alive(now).await;
        self.receiver_report(now).await;
        if self.next_stats.is_some_and(|t| now >= t) {
            self.next_stats = self.cfg.stats_interval.map(|i| now + i);
            let stats = self.publish_stats(now);
            if self.events.try_send(Event::Stats(stats)).is_err() {
                tracing::trace!("consumer is slow: statistics dropped");
            }
        } else if now >= self.next_publish {
            self.publish_stats(now);
        }
    }

    /// When, with no media until then, the stream counts as stalled (none
    /// while not playing or already stalled).
    pub(super) fn stall_deadline(&self) -> Option<Instant> {
        let after = self.cfg.stall_after?;
        (self.playing && self.media.is_some() && !self.stalled).then(|| self.last_media + after)
    }

    /// Media came at `now`: a stall, if any, is over.
    pub(super) fn media_came(&mut self, now: Instant) {
        if self.stalled {
            self.stalled = false;
            let silent_for = now.saturating_duration_since(self.last_media);
            tracing::debug!(server = %self.cfg.addr, ?silent_for, "media again: resumed");
            self.control_event(Event::Resumed { silent_for });
        }
        self.last_media = now;
    }

    pub(super) async fn keep_alive(&mut self, now: Instant) {
        let Some(k) = self.keepalive.as_mut() else {
            return;
        };
        if now < k.next {
            return;
        }
        if self.in_flight.is_some() || !self.queue.is_empty() || self.conn.is_none() {
            k.next = now + Duration::from_secs(1);
            return;
        }
        k.next = now + k.interval;
        let listed = self
            .public
            .as_ref()
            .is_none_or(|p| p.iter().any(|m| m.eq_ignore_ascii_case("GET_PARAMETER")));
        let method = if self.get_parameter_ok && listed {
            Method::GetParameter
        } else {
            Method::Options
        };
        let req = Request::new(method, k.url.clone())
            .with_session(&SessionHeader::new(k.session.id.clone()));
        tracing::debug!(server = %self.cfg.addr, method = %req.method, "keep-alive");
        self.queue.push_back(InFlight {
            cseq: 0,
            req,
            reply: None,
            timeout: Duration::from_secs(10),
            deadline: now,
            auth_retried: false,
        });
        self.start_next().await;
    }

    pub(super) async fn receiver_report(&mut self, now: Instant) {
        if !self.cfg.receiver_reports {
            return;
        }
        let Some(m) = self.media.as_mut() else {
            return;
        };
        if m.media.format() == crate::client::PayloadFormat::Classic || now < m.next_rr {
            return;
        }
        let Some(block) = m.media.report_block(now) else {
            // Nothing received yet: look again soon.
            m.next_rr = now + Duration::from_secs(1);
            return;
        };
        m.next_rr = now + RR_INTERVAL;
        let packet = rtcp::receiver_report(m.our_ssrc, Some(block), "mjpegrtsp-client");
        match &m.transport {
            MediaTransport::Udp {
                rtcp: Some(sock),
                server_rtcp: Some(dest),
                ..
            } => {
                if let Err(e) = sock.send_to(&packet, dest).await {
                    tracing::debug!("sending RTCP to {dest}: {e}");
                }
            }
            MediaTransport::Udp { .. } => {}
            MediaTransport::Tcp { rtcp_channel, .. } => {
                let ch = *rtcp_channel;
                let mut framed = Vec::with_capacity(packet.len() + 4);
                if let Err(e) = crate::rtsp::encode_interleaved(ch, &packet, &mut framed) {
                    tracing::debug!("interleaved RTCP not sent: {e}");
                } else if let Some(conn) = self.conn.as_mut()
                    && let Err(e) = conn.write_all(&framed).await
                {
                    tracing::debug!("sending interleaved RTCP: {e}");
                }
            }
        }
    }

    pub(super) fn publish_stats(&mut self, now: Instant) -> Stats {
        self.next_publish = now + PUBLISH_INTERVAL;
        let current = self
            .media
            .as_ref()
            .map(|m| m.media.counters())
            .unwrap_or_default();
        let previous = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let mut stats = self.past.followed_by(&current);
        let (mark_at, mark_bytes, mark_frames) = self.rate_mark;
        let secs = now.saturating_duration_since(mark_at).as_secs_f64();
        if secs >= 1.0 {
            stats.bitrate = (stats.bytes - mark_bytes.min(stats.bytes)) as f64 * 8.0 / secs;
            stats.framerate = (stats.frames - mark_frames.min(stats.frames)) as f64 / secs;
            self.rate_mark = (now, stats.bytes, stats.frames);
        } else {
            stats.bitrate = previous.bitrate;
            stats.framerate = previous.framerate;
        }
        stats.packets_rejected = self.packets_rejected;
        stats.frames_dropped = self.frames_dropped;
        stats.dimensions = stats.dimensions.or(previous.dimensions);
        stats.transport = self.media.as_ref().map(|m| match m.transport {
            MediaTransport::Udp { .. } => TransportKind::Udp,
            MediaTransport::Tcp { .. } => TransportKind::Tcp,
        });
        if let Ok(mut s) = self.stats.lock() {
            *s = stats.clone();
        }
        stats
    }
}
