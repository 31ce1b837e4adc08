//! The control connection: reading replies and interleaved data, and the
//! connection closing.

use super::*;

impl Driver {
    /// Parses what the control connection brought.
    pub(super) async fn drain_input(&mut self, at_rest: bool) {
        let buf = std::mem::take(&mut self.rbuf);
        let mut used_total = 0;
        let now = Instant::now();
        loop {
            match self.parser.parse(&buf[used_total..], at_rest) {
                Parsed::Complete(item, used) => {
                    used_total += used;
                    self.idle_since = None;
                    match item {
                        Item::Interleaved(frame) => {
                            self.on_interleaved(frame.channel, frame.payload, now)
                        }
                        Item::Response(resp) => {
                            if let Some(o) = &self.cfg.observer {
                                o.notify(
                                    crate::client::MessageDirection::Received,
                                    &resp.to_bytes(),
                                );
                            }
                            self.on_response(resp).await
                        }
                        Item::Request(req) => {
                            tracing::debug!(method = %req.method, "ignoring a request from the server");
                        }
                    }
                }
                Parsed::Incomplete(Incomplete::CompleteIfIdle) => {
                    self.idle_since.get_or_insert(now);
                    break;
                }
                Parsed::Incomplete(Incomplete::NeedMore) => {
                    self.idle_since = None;
                    break;
                }
                Parsed::Error(e) => {
                    let detail = format!("unreadable bytes from the server: {e}");
                    tracing::warn!(server = %self.cfg.addr, "{detail}");
                    used_total = buf.len();
                    self.conn = None;
                    if let Some(f) = self.in_flight.take() {
                        let method = Some(f.req.method.clone());
                        self.finish(f, Err(Error::protocol(self.cfg.addr, method, detail)));
                    } else {
                        self.control_event(Event::Error(Error::protocol(
                            self.cfg.addr,
                            None,
                            detail,
                        )));
                    }
                    break;
                }
            }
        }
        let mut buf = buf;
        buf.drain(..used_total);
        // Anything read meanwhile (nothing is, but keep the order right).
        buf.extend_from_slice(&self.rbuf);
        self.rbuf = buf;
    }

    pub(super) async fn on_response(&mut self, resp: Response) {
        let Some(f) = self.in_flight.as_ref() else {
            tracing::debug!(
                status = resp.status.as_u16(),
                "ignoring a reply nobody waits for"
            );
            return;
        };
        if let Some(c) = resp.cseq()
            && c != f.cseq
        {
            tracing::debug!(cseq = c, expected = f.cseq, "ignoring a stale reply");
            return;
        }
        let Some(mut f) = self.in_flight.take() else {
            return;
        };
        tracing::debug!(server = %self.cfg.addr, method = %f.req.method, status = resp.status.as_u16(), "reply");
        if resp.status == StatusCode::UNAUTHORIZED
            && !f.auth_retried
            && let Some(creds) = self.cfg.credentials.as_ref()
        {
            let auth = Authenticator::from_challenges(
                creds,
                resp.headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("WWW-Authenticate"))
                    .map(|(_, v)| v),
            );
            if let Some(auth) = auth {
                tracing::debug!(challenge = ?auth.challenge(), "answering the server's challenge");
                self.auth = Some(auth);
                f.auth_retried = true;
                if let Err((f, e)) = self.send(f).await {
                    self.finish(f, Err(e));
                    self.start_next().await;
                }
                return;
            }
        }
        let ok = resp.status.is_success();
        let now = Instant::now();
        match f.req.method {
            Method::Play if ok => {
                self.playing = true;
                // A new start: the silence before it is no stall.
                self.stalled = false;
                self.last_media = now;
                if let Some(m) = self.media.as_mut() {
                    let rtp_info = resp.rtp_info().unwrap_or_default();
                    let info = rtp_info.first();
                    let requested = f.req.range().ok().flatten();
                    let npt = resp
                        .range()
                        .ok()
                        .flatten()
                        .and_then(|r| r.start_time())
                        .or_else(|| requested.and_then(|r| r.start_time()));
                    m.media.on_play(PlayStart {
                        npt,
                        seq: info.and_then(|i| i.seq),
                        rtptime: info.and_then(|i| i.rtptime),
                    });
                    m.bye_at = None;
                }
            }
            Method::Pause | Method::Teardown if ok => self.playing = false,
            Method::GetParameter if f.reply.is_none() => {
                if matches!(resp.status.as_u16(), 405 | 501 | 551) {
                    tracing::debug!("GET_PARAMETER refused: keep-alives use OPTIONS");
                    self.get_parameter_ok = false;
                    if let Some(k) = self.keepalive.as_mut() {
                        k.next = now;
                    }
                }
            }
            _ => {}
        }
        if f.reply.is_none() && resp.status == StatusCode::SESSION_NOT_FOUND {
            self.control_event(Event::Error(Error::from_reply(
                self.cfg.addr,
                f.req.method.clone(),
                &f.req.uri,
                &resp,
            )));
        }
        self.finish(f, Ok(resp));
        self.pump(now);
        self.start_next().await;
    }

    pub(super) fn on_closed(&mut self, err: Option<io::Error>) {
        let addr = self.cfg.addr;
        match &err {
            Some(e) => tracing::debug!(server = %addr, "control connection failed: {e}"),
            None => tracing::debug!(server = %addr, "server closed the control connection"),
        }
        self.conn = None;
        self.idle_since = None;
        if let Some(f) = self.in_flight.take() {
            let method = Some(f.req.method.clone());
            let e = match err {
                Some(source) => Error::Io {
                    addr,
                    context: format!("waiting for the reply to {}", f.req.method),
                    source,
                },
                None => Error::ConnectionClosed { addr, method },
            };
            self.finish(f, Err(e));
        }
        for f in self.queue.drain(..).collect::<Vec<_>>() {
            let method = Some(f.req.method.clone());
            self.finish(f, Err(Error::ConnectionClosed { addr, method }));
        }
        self.keepalive = None;
        if self.playing && self.closing.is_none() {
            let now = Instant::now();
            self.read_waiting_rtcp(now);
            if let Some(m) = self.media.as_mut()
                && m.bye_at.is_some()
            {
                // The server said goodbye before it closed: the stream
                // ended. The timers end it as for any BYE, now.
                m.bye_at = Some(now);
                return;
            }
            self.playing = false;
            self.publish_stats(now);
            self.control_event(Event::End(EndReason::ConnectionClosed));
        }
    }
}
