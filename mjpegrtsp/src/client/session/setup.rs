//! SETUP: the transport, the media sockets or channels, and the driver's
//! media path, for each dialect.

use super::*;

impl Session {
    /// SETUP of the stream (DESCRIBE first if it was not done), over the
    /// transport the options ask for.
    pub async fn setup(&mut self) -> Result<TransportKind, Error> {
        if self.state != State::Init {
            return Err(Error::State {
                action: "set up",
                state: self.state.name(),
            });
        }
        if self.description.is_none() {
            self.describe().await?;
        }
        let kind = match (self.dialect, self.opts.transport) {
            (Dialect::Classic, TransportPreference::Tcp) => {
                return Err(Error::Unsupported {
                    addr: self.addr,
                    what: "TCP transport in the classic dialect (it only has UDP)".into(),
                });
            }
            (Dialect::Classic, _) => self.setup_classic().await?,
            (Dialect::Standard, TransportPreference::Udp) => self.setup_udp().await?,
            (Dialect::Standard, TransportPreference::Tcp) => self.setup_tcp().await?,
            (Dialect::Standard, TransportPreference::Auto) => match self.setup_udp().await {
                Err(Error::Status { status: 461, .. }) => {
                    tracing::info!(server = %self.addr, "UDP refused (461): using TCP");
                    self.setup_tcp().await?
                }
                other => other?,
            },
        };
        self.transport = Some(kind);
        self.state = State::Ready;
        Ok(kind)
    }

    /// How the stream is read; `reordering` says whether packets can arrive
    /// out of order (UDP) and so need the reorder buffer's latency.
    fn media_config(&self, reordering: bool) -> MediaConfig {
        let d = self.description.as_ref();
        let format = d.map_or(PayloadFormat::Classic, |d| d.format);
        let framerate = match d.and_then(|d| d.framerate) {
            Some(rate) if format != PayloadFormat::Classic => rate,
            _ => self.opts.classic_framerate,
        };
        MediaConfig {
            format,
            payload_type: d.map(|d| d.payload_type),
            clock_rate: d.map_or(1, |d| d.clock_rate),
            latency: if reordering {
                self.opts.latency
            } else {
                Duration::ZERO
            },
            framerate,
            dimensions: d.and_then(|d| d.dimensions),
        }
    }

    async fn setup_classic(&mut self) -> Result<TransportKind, Error> {
        let file = self.url.classic_file().to_owned();
        if file.is_empty() {
            return Err(Error::InvalidUrl {
                url: self.url.request_url.clone(),
                reason: "the classic dialect needs a file name in the path".into(),
            });
        }
        let rtp = std::net::UdpSocket::bind((self.local_ip, 0))
            .and_then(media_socket)
            .map_err(|source| self.io_error("binding the RTP port", source))?;
        let port = rtp
            .local_addr()
            .map_err(|source| self.io_error("binding the RTP port", source))?
            .port();
        // The seed client's bytes: `SETUP <file> RTSP/1.0\nCSeq: N\nTransport: RTP/UDP; client_port= P\n`.
        let req = self
            .make_request(Method::Setup, &file, false)
            .with_header(names::TRANSPORT, format!("RTP/UDP; client_port= {port}"));
        let resp = self.expect_ok(req).await?;
        // The seed server leaves Session out of its SETUP reply.
        self.session = resp.session().ok().flatten();
        // The seed server sends from a port it does not name: only the
        // address is checked.
        self.send_cmd(Cmd::StartMedia(Box::new(MediaSetup {
            config: self.media_config(true),
            transport: MediaTransport::Udp {
                rtp,
                rtcp: None,
                server_rtcp: None,
                peer: PeerFilter::new(self.addr.ip(), None, None),
            },
            announced_ssrc: None,
            srtp: None,
        })))?;
        Ok(TransportKind::Udp)
    }

    fn io_error(&self, context: &str, source: std::io::Error) -> Error {
        Error::Io {
            addr: self.addr,
            context: context.to_owned(),
            source,
        }
    }

    async fn setup_udp(&mut self) -> Result<TransportKind, Error> {
        let (rtp, rtcp) = crate::net::bind_rtp_pair(self.local_ip)
            .and_then(|(rtp, rtcp)| Ok((media_socket(rtp)?, media_socket(rtcp)?)))
            .map_err(|source| self.io_error("binding RTP/RTCP ports", source))?;
        let rtp_port = rtp
            .local_addr()
            .map_err(|source| self.io_error("binding RTP/RTCP ports", source))?
            .port();
        let offer = Transport::udp_unicast(PortPair::new(rtp_port, rtp_port + 1));
        let resp = self.send_setup(self.secured(offer)).await?;
        let chosen = self.reply_transport(&resp)?;
        if chosen.lower != LowerTransport::Udp {
            return Err(Error::protocol(
                self.addr,
                Some(Method::Setup),
                format!("asked for UDP, the server chose {chosen}"),
            ));
        }
        let server_rtcp = chosen
            .server_port
            .and_then(|p| p.rtcp)
            .map(|port| SocketAddr::new(self.addr.ip(), port));
        // Media comes from `source=` when the server names one, else from
        // the server itself (its ports, when it says them).
        let source = chosen
            .source
            .as_deref()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
            .unwrap_or(self.addr.ip());
        let peer = PeerFilter::new(
            source,
            chosen.server_port.map(|p| p.rtp),
            chosen.server_port.and_then(|p| p.rtcp),
        );
        self.start_standard_media(
            &resp,
            MediaTransport::Udp {
                rtp,
                rtcp: Some(rtcp),
                server_rtcp,
                peer,
            },
            chosen.ssrc,
        )?;
        Ok(TransportKind::Udp)
    }

    pub(super) async fn setup_tcp(&mut self) -> Result<TransportKind, Error> {
        let offer = Transport::tcp_interleaved(ChannelPair::new(0, 1));
        let resp = self.send_setup(self.secured(offer)).await?;
        let chosen = self.reply_transport(&resp)?;
        if chosen.lower != LowerTransport::Tcp {
            return Err(Error::protocol(
                self.addr,
                Some(Method::Setup),
                format!("asked for TCP, the server chose {chosen}"),
            ));
        }
        let channels = chosen.interleaved.unwrap_or(ChannelPair::new(0, 1));
        let rtp_channel = channels.rtp;
        let rtcp_channel = channels.rtcp.unwrap_or(rtp_channel.wrapping_add(1));
        self.start_standard_media(
            &resp,
            MediaTransport::Tcp {
                rtp_channel,
                rtcp_channel,
            },
            chosen.ssrc,
        )?;
        Ok(TransportKind::Tcp)
    }

    /// `offer` as `RTP/SAVP` when the description gave an SRTP key.
    fn secured(&self, mut offer: Transport) -> Transport {
        if self.description.as_ref().is_some_and(|d| d.srtp.is_some()) {
            offer.profile = crate::rtsp::Profile::Savp;
        }
        offer
    }

    async fn send_setup(&mut self, offer: Transport) -> Result<Response, Error> {
        let url = self
            .description
            .as_ref()
            .map(|d| d.control_url.clone())
            .unwrap_or_else(|| self.url.request_url.clone());
        let req = self
            .make_request(Method::Setup, &url, false)
            .with_header(names::TRANSPORT, offer.to_string());
        self.expect_ok(req).await
    }

    fn reply_transport(&self, resp: &Response) -> Result<Transport, Error> {
        resp.transport()
            .map_err(|e| Error::protocol(self.addr, Some(Method::Setup), e.to_string()))?
            .ok_or_else(|| {
                Error::protocol(
                    self.addr,
                    Some(Method::Setup),
                    "the SETUP reply has no Transport header".into(),
                )
            })
    }

    fn start_standard_media(
        &mut self,
        resp: &Response,
        transport: MediaTransport,
        announced_ssrc: Option<u32>,
    ) -> Result<(), Error> {
        let session = resp
            .session()
            .map_err(|e| Error::protocol(self.addr, Some(Method::Setup), e.to_string()))?
            .ok_or_else(|| {
                Error::protocol(
                    self.addr,
                    Some(Method::Setup),
                    "the SETUP reply has no Session header".into(),
                )
            })?;
        let reordering = matches!(transport, MediaTransport::Udp { .. });
        self.send_cmd(Cmd::StartMedia(Box::new(MediaSetup {
            config: self.media_config(reordering),
            transport,
            announced_ssrc,
            srtp: self.description.as_ref().and_then(|d| d.srtp.clone()),
        })))?;
        let url = self.aggregate_url();
        self.send_cmd(Cmd::SetSession {
            session: Some(session.clone()),
            url,
            public: self.public.clone(),
        })?;
        self.session = Some(session);
        Ok(())
    }

    pub(super) fn aggregate_url(&self) -> String {
        match self.dialect {
            Dialect::Classic => self.url.classic_file().to_owned(),
            Dialect::Standard => self
                .description
                .as_ref()
                .map(|d| d.aggregate_url.clone())
                .unwrap_or_else(|| self.url.request_url.clone()),
        }
    }
}
