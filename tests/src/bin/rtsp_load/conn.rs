//! One RTSP control connection of the load tool, read with the core's parser.

use super::*;

/// Parses whole items from `buf` with the core's RTSP parser, handing
/// interleaved packets to `on_packet` and queueing responses (requests from
/// the server are passed over); returns the bytes used.
/// `at_rest`: the buffer holds all that was read (a classic reply has no
/// blank line: it ends where the read ends).
pub(crate) fn parse_items(
    buf: &[u8],
    at_rest: bool,
    responses: &mut VecDeque<Response>,
    on_packet: &mut dyn FnMut(u8, &[u8]),
) -> usize {
    let parser = rtsp::Parser::new();
    let mut off = 0;
    loop {
        match parser.parse(&buf[off..], at_rest) {
            rtsp::Parsed::Complete(item, used) => {
                match item {
                    rtsp::Item::Interleaved(frame) => on_packet(frame.channel, frame.payload),
                    rtsp::Item::Response(resp) => responses.push_back(resp),
                    rtsp::Item::Request(_) => {}
                }
                off += used;
            }
            rtsp::Parsed::Incomplete(_) => return off,
            // Bytes that start nothing known: skip to the next thing that
            // could start an item.
            rtsp::Parsed::Error(_) => {
                off += buf[off + 1..]
                    .iter()
                    .position(|&b| b == b'$' || b.is_ascii_alphabetic())
                    .map_or(buf.len() - off, |p| p + 1);
            }
        }
    }
}

/// A TCP connection to `peer.server` from `peer.local`.
pub(crate) async fn connect_from(peer: Peer) -> io::Result<TcpStream> {
    let socket = match peer.local {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(peer.local, 0))?;
    socket.connect(peer.server).await
}

/// The RTSP connection of one session.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    /// An unfinished item carried over from the last read (usually < one packet).
    pub(crate) pending: Vec<u8>,
    pub(crate) responses: VecDeque<Response>,
    pub(crate) cseq: u32,
    pub(crate) session: Option<String>,
    /// From `Session: id;timeout=N` (60 s when absent): keep-alives go at half of it.
    pub(crate) session_timeout: Duration,
    pub(crate) closed: bool,
    /// The seed client's dialect (see `--classic`).
    pub(crate) classic: bool,
}

impl Conn {
    /// Takes bytes read from the socket: parses what is whole, keeps the rest.
    pub(crate) fn feed(&mut self, mut data: &[u8], on_packet: &mut dyn FnMut(u8, &[u8])) {
        if !self.pending.is_empty() {
            // Complete a pending interleaved packet with just the bytes it needs.
            if self.pending[0] == b'$' && self.pending.len() >= 4 {
                let want = 4 + u16::from_be_bytes([self.pending[2], self.pending[3]]) as usize;
                let take = (want - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() < want {
                    return;
                }
            } else {
                self.pending.extend_from_slice(data);
                data = &[];
            }
            let pending = std::mem::take(&mut self.pending);
            let used = parse_items(&pending, self.classic, &mut self.responses, on_packet);
            self.pending = pending;
            self.pending.drain(..used);
            if !self.pending.is_empty() {
                self.pending.extend_from_slice(data);
                return;
            }
        }
        let used = parse_items(data, self.classic, &mut self.responses, on_packet);
        self.pending.extend_from_slice(&data[used..]);
        if self.pending.capacity() > 4 * SCRATCH && self.pending.len() < SCRATCH {
            self.pending.shrink_to(SCRATCH);
        }
    }

    /// Reads what the socket has (after waiting for readiness) into the shared buffer.
    pub(crate) async fn fill(
        &mut self,
        shared: &Shared,
        on_packet: &mut dyn FnMut(u8, &[u8]),
    ) -> io::Result<()> {
        self.stream.readable().await?;
        self.read_ready(shared, on_packet)
    }

    pub(crate) fn read_ready(
        &mut self,
        shared: &Shared,
        on_packet: &mut dyn FnMut(u8, &[u8]),
    ) -> io::Result<()> {
        let mut scratch = shared.scratch.borrow_mut();
        for _ in 0..16 {
            match self.stream.try_read(&mut scratch[..]) {
                Ok(0) => {
                    self.closed = true;
                    return Ok(());
                }
                Ok(n) => self.feed(&scratch[..n], on_packet),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    self.closed = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn send(
        &mut self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
    ) -> io::Result<u32> {
        self.cseq += 1;
        if self.classic {
            // As the seed client writes it: one write, bare LF, Session
            // last, no blank line.
            let mut req = format!("{method} {url} RTSP/1.0\nCSeq: {}\n", self.cseq);
            for (k, v) in extra {
                let _ = writeln!(req, "{k}: {v}");
            }
            if let Some(s) = &self.session {
                let _ = writeln!(req, "Session: {s}");
            }
            self.stream.write_all(req.as_bytes()).await?;
            return Ok(self.cseq);
        }
        let mut req = format!(
            "{method} {url} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: rtsp_load (mjpegrtsp-tests)\r\n",
            self.cseq
        );
        for (k, v) in extra {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        if let Some(s) = &self.session {
            let _ = write!(req, "Session: {s}\r\n");
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        Ok(self.cseq)
    }

    /// Sends a request and waits for its response, at most until `deadline`.
    /// SETUP `url` with `transport`; keeps the session id and timeout of
    /// the reply (read with the core's `Session` parser; 60 s when it gives
    /// none).
    pub(crate) async fn setup(
        &mut self,
        url: &str,
        transport: &str,
        deadline: Instant,
        shared: &Shared,
        on_packet: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<Response, String> {
        let reply = self
            .request(
                "SETUP",
                url,
                &[("Transport", transport)],
                deadline,
                shared,
                on_packet,
            )
            .await?;
        let session = reply
            .session()
            .map_err(|e| format!("SETUP: {e}"))?
            .ok_or("SETUP: no Session header in the reply")?;
        self.session = Some(session.id);
        self.session_timeout =
            Duration::from_secs(session.timeout.filter(|t| *t > 0).unwrap_or(60).into());
        Ok(reply)
    }

    pub(crate) async fn request(
        &mut self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
        deadline: Instant,
        shared: &Shared,
        on_packet: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<Response, String> {
        let cseq = match timeout_at(deadline, self.send(method, url, extra)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("{method}: send: {}", io_reason(&e))),
            Err(_) => return Err(format!("{method}: send timed out")),
        };
        for _ in 0..100_000 {
            while let Some(r) = self.responses.pop_front() {
                if r.cseq() == Some(cseq) || r.cseq().is_none() {
                    return if r.status.is_success() {
                        Ok(r)
                    } else {
                        Err(format!("{method}: {} {}", r.status.as_u16(), r.reason))
                    };
                }
            }
            if self.closed {
                return Err(format!("{method}: connection closed"));
            }
            match timeout_at(deadline, self.fill(shared, on_packet)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("{method}: recv: {}", io_reason(&e))),
                Err(_) => return Err(format!("{method}: timed out")),
            }
        }
        Err(format!("{method}: no reply"))
    }
}

pub(crate) fn io_reason(e: &io::Error) -> String {
    // Without the "(os error N)" tail, so that reasons group well.
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

// ---------------------------------------------------------------------------------
// SDP and URLs
