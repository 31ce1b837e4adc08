//! One session: set up (either dialect), play, and tear down.

use super::*;
use std::os::fd::AsRawFd;

#[derive(Default)]
pub(crate) struct SessionResult {
    pub(crate) failure: Option<String>,
    pub(crate) teardown_failure: Option<String>,
    pub(crate) setup: Option<Duration>,
    pub(crate) first_frame: Option<Duration>,
    pub(crate) played: Duration,
    pub(crate) expected_frames: f64,
    pub(crate) frames_complete: u64,
    pub(crate) frames_incomplete: u64,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) lost: u64,
    pub(crate) late: u64,
    pub(crate) invalid: u64,
    pub(crate) jitter_ms: Option<f64>,
}

pub(crate) struct Media {
    pub(crate) control_url: String,
    pub(crate) play_url: String,
    pub(crate) fps: f64,
    pub(crate) range_end: Option<f64>,
    pub(crate) clock_rate: u32,
}

pub(crate) struct Udp {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
    /// Whether `rtp` takes a segmented send as one datagram
    /// ([`sys::enable_gro`]).
    pub(crate) gro: bool,
    pub(crate) server_rtcp: Option<SocketAddr>,
}

/// `s` on the runtime, non-blocking, asking for a receive buffer of `rcvbuf`.
pub(crate) fn tokio_udp(s: std::net::UdpSocket, rcvbuf: usize) -> io::Result<UdpSocket> {
    // A deeper receive buffer rides out short stalls of this one thread (capped by
    // net.core.rmem_max; failure only leaves the default).
    let _ = net::set_receive_buffer(&s, rcvbuf);
    net::into_tokio(s)
}

pub(crate) async fn run_session(
    args: Rc<Args>,
    peer: Peer,
    shared: Rc<Shared>,
    start_at: Instant,
    mut stop: watch::Receiver<bool>,
) -> SessionResult {
    let mut res = SessionResult::default();
    sleep_until(start_at).await;
    let mut stats = RtpStats {
        clock_rate: 90_000.0,
        ..RtpStats::default()
    };

    let (setup, took) = shared
        .setting_up(
            args.sessions,
            setup_session(&args, peer, &shared, &mut stats),
        )
        .await;
    res.setup = Some(took);
    let (mut conn, media, udp) = match setup {
        Ok(s) => s,
        Err(e) => {
            res.failure = Some(e);
            res.setup = None;
            return res;
        }
    };
    let played_from = Instant::now();
    stats.clock_rate = media.clock_rate as f64;
    let play_result = play(
        &args,
        &shared,
        &mut conn,
        udp.as_ref(),
        &mut stats,
        &mut stop,
    )
    .await;
    res.played = played_from.elapsed();
    stats.counting = false;

    // TEARDOWN (interleaved packets still arriving are parsed and dropped).
    if !conn.closed {
        let deadline = Instant::now() + args.timeout;
        let mut drop_packets = |_: u8, _: &[u8]| {};
        if let Err(e) = conn
            .request(
                "TEARDOWN",
                &media.play_url,
                &[],
                deadline,
                &shared,
                &mut drop_packets,
            )
            .await
        {
            res.teardown_failure = Some(e);
        }
    }

    // Frames are due at 0, 1/fps, 2/fps ... of the play time, up to the
    // range's end, unless more came than the range holds: the server loops.
    let due = |secs: f64| (secs * media.fps).floor() + 1.0;
    let played = res.played.as_secs_f64();
    res.expected_frames = match media.range_end {
        Some(end) if end < played && stats.frames_complete as f64 <= due(end) => due(end),
        _ => due(played),
    };
    res.first_frame = stats
        .first_frame
        .map(|t| t.saturating_duration_since(played_from));
    res.frames_complete = stats.frames_complete;
    res.frames_incomplete = stats.frames_incomplete;
    res.packets = stats.packets;
    res.bytes = stats.bytes;
    res.lost = stats.lost();
    res.late = stats.late;
    res.invalid = stats.invalid;
    if stats.packets > 1 && !stats.classic {
        res.jitter_ms = Some(stats.jitter / stats.clock_rate * 1000.0);
    }
    res.failure = match play_result {
        Err(e) => Some(e),
        Ok(()) if stats.packets == 0 => Some("no RTP received".into()),
        Ok(()) if stats.frames_complete == 0 => Some("no whole frame received".into()),
        Ok(()) => None,
    };
    res
}

pub(crate) async fn setup_session(
    args: &Args,
    peer: Peer,
    shared: &Shared,
    stats: &mut RtpStats,
) -> Result<(Conn, Media, Option<Udp>), String> {
    let deadline = Instant::now() + args.timeout;
    let stream = match timeout_at(deadline, connect_from(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect: {}", io_reason(&e))),
        Err(_) => return Err("connect: timed out".into()),
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        pending: Vec::new(),
        responses: VecDeque::new(),
        cseq: 0,
        session: None,
        session_timeout: Duration::from_secs(60),
        closed: false,
        classic: args.classic,
    };
    let mut on_packet = |_: u8, _: &[u8]| {};
    let url = args.url.as_str();
    if args.classic {
        return classic_setup(args, peer, shared, stats, conn).await;
    }

    let deadline = Instant::now() + args.timeout;
    conn.request("OPTIONS", url, &[], deadline, shared, &mut on_packet)
        .await?;

    let deadline = Instant::now() + args.timeout;
    let desc = conn
        .request(
            "DESCRIBE",
            url,
            &[("Accept", "application/sdp")],
            deadline,
            shared,
            &mut on_packet,
        )
        .await?;
    let base = desc
        .headers
        .get("Content-Base")
        .or_else(|| desc.headers.get("Content-Location"))
        .unwrap_or(url)
        .to_string();
    // The core's SDP parser: the first video stream (or the first stream).
    let sdp = rtsp::Sdp::parse_bytes(&desc.body).map_err(|e| format!("DESCRIBE: {e}"))?;
    let stream = sdp
        .media
        .iter()
        .find(|m| m.kind == "video")
        .or(sdp.media.first())
        .ok_or("DESCRIBE: no media in the SDP")?;
    let range = stream.range().or(sdp.range());
    let media = Media {
        control_url: stream.control_url(&base),
        play_url: sdp.aggregate_url(&base),
        fps: args
            .fps
            .or(stream.framerate().map(|r| r.fps()))
            .unwrap_or(24.0),
        range_end: range
            .and_then(|r| r.end_time())
            .map(|d| d.as_secs_f64())
            .filter(|e| *e > 0.0),
        clock_rate: stream
            .rtpmaps()
            .first()
            .map(|m| m.clock_rate)
            .filter(|c| *c > 0)
            .unwrap_or(90_000),
    };

    let (transport, udp) = if args.tcp {
        ("RTP/AVP/TCP;unicast;interleaved=0-1".to_string(), None)
    } else {
        let (rtp, rtcp) =
            net::bind_rtp_pair(peer.local).map_err(|e| format!("bind UDP: {}", io_reason(&e)))?;
        let port = rtp.local_addr().map_err(|e| e.to_string())?.port();
        let gro = args.gro && sys::enable_gro(&rtp);
        let rtp = tokio_udp(rtp, 1 << 20).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?;
        let rtcp =
            tokio_udp(rtcp, 1 << 16).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?;
        (
            format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1),
            Some(Udp {
                rtp,
                rtcp,
                gro,
                server_rtcp: None,
            }),
        )
    };
    let deadline = Instant::now() + args.timeout;
    let reply = conn
        .setup(
            &media.control_url,
            &transport,
            deadline,
            shared,
            &mut on_packet,
        )
        .await?;
    let reply_transport = reply
        .headers
        .get("Transport")
        .unwrap_or_default()
        .to_string();
    let udp = udp.map(|mut u| {
        u.server_rtcp = rtsp::Transport::parse(&reply_transport)
            .ok()
            .and_then(|t| t.server_port)
            .and_then(|p| p.rtcp_port())
            .map(|rtcp| SocketAddr::new(peer.server.ip(), rtcp));
        u
    });

    // From the PLAY reply on, RTP counts (interleaved packets may follow it at once).
    stats.counting = true;
    let deadline = Instant::now() + args.timeout;
    let tcp = args.tcp;
    let mut count = |channel: u8, pkt: &[u8]| {
        if tcp && channel == 0 {
            stats.on_packet(pkt, Instant::now(), shared);
        }
    };
    conn.request(
        "PLAY",
        &media.play_url,
        &[("Range", "npt=0.000-")],
        deadline,
        shared,
        &mut count,
    )
    .await?;
    Ok((conn, media, udp))
}

/// The seed client's SETUP and PLAY: the file name alone as the URI, one
/// UDP port, no DESCRIBE (the frame rate is `--fps`, else 24).
pub(crate) async fn classic_setup(
    args: &Args,
    peer: Peer,
    shared: &Shared,
    stats: &mut RtpStats,
    mut conn: Conn,
) -> Result<(Conn, Media, Option<Udp>), String> {
    let mut on_packet = |_: u8, _: &[u8]| {};
    let after_host = args.url.splitn(4, '/').nth(3).unwrap_or_default();
    let (rtp, rtcp) =
        net::bind_rtp_pair(peer.local).map_err(|e| format!("bind UDP: {}", io_reason(&e)))?;
    let port = rtp.local_addr().map_err(|e| e.to_string())?.port();
    let udp = Udp {
        rtp: tokio_udp(rtp, 1 << 20).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?,
        rtcp: tokio_udp(rtcp, 1 << 16).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?,
        // The classic dialect sends a frame as one datagram: nothing to
        // coalesce.
        gro: false,
        server_rtcp: None,
    };
    let transport = format!("RTP/UDP; client_port= {port}");
    let deadline = Instant::now() + args.timeout;
    conn.setup(after_host, &transport, deadline, shared, &mut on_packet)
        .await?;
    stats.counting = true;
    stats.classic = true;
    let deadline = Instant::now() + args.timeout;
    conn.request("PLAY", after_host, &[], deadline, shared, &mut on_packet)
        .await?;
    let media = Media {
        control_url: after_host.to_string(),
        play_url: after_host.to_string(),
        fps: args.fps.unwrap_or(24.0),
        range_end: None,
        clock_rate: 1,
    };
    Ok((conn, media, Some(udp)))
}

/// Receives until the window ends (`stop`), keeping the session alive.
pub(crate) async fn play(
    args: &Args,
    shared: &Shared,
    conn: &mut Conn,
    udp: Option<&Udp>,
    stats: &mut RtpStats,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let keepalive_every = (conn.session_timeout / 2).max(Duration::from_secs(1));
    let mut next_keepalive = Instant::now() + keepalive_every;
    let mut next_rr = Instant::now() + Duration::from_millis(500);
    let own_ssrc: u32 = rand_u32();
    let mut rr_prev = (0u64, 0u64);
    let mut lsr: Option<(u32, Instant)> = None;
    // A bound on the loop whatever happens to `stop`.
    let hard_end = Instant::now()
        + Duration::from_secs_f64(args.seconds)
        + args.timeout * 4
        + Duration::from_secs_f64(args.sessions as f64 / args.rate.max(1.0));
    let interleaved = udp.is_none();
    // What is read of each datagram: of an RTP packet its header (what is
    // counted), several packets per system call; a frame's packets
    // coalesced into one datagram (UDP GRO), and the classic dialect's
    // datagrams (each a frame, checked to be a whole JPEG), whole.
    let slot = if stats.classic || udp.is_some_and(|u| u.gro) {
        DATAGRAM
    } else {
        RTP_HEAD
    };
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            _ = sleep_until(hard_end) => return Ok(()),
            r = async { udp.unwrap().rtp.readable().await }, if !interleaved => {
                r.map_err(|e| format!("RTP socket: {}", io_reason(&e)))?;
                let u = udp.unwrap();
                let mut scratch = shared.scratch.borrow_mut();
                // Up to 64 datagrams a turn, as many at a time as fit.
                let mut taken = 0;
                while taken < 64 {
                    let got = u.rtp.try_io(tokio::io::Interest::READABLE, || {
                        let now = Instant::now();
                        sys::recv_many(u.rtp.as_raw_fd(), &mut scratch[..], slot, |head, len| {
                            stats.on_datagram(head, len, now, shared)
                        })
                    });
                    match got {
                        Ok(n) => taken += n,
                        // WouldBlock: all taken. ICMP errors surface here
                        // on Linux: not fatal.
                        Err(_) => break,
                    }
                }
            }
            r = conn.stream.readable() => {
                r.map_err(|e| format!("RTSP connection: {}", io_reason(&e)))?;
                let mut on_packet = |channel: u8, pkt: &[u8]| match channel {
                    0 => stats.on_packet(pkt, Instant::now(), shared),
                    1 => {
                        if let Some(mid) = sender_report_lsr(pkt) {
                            lsr = Some((mid, Instant::now()));
                        }
                    }
                    _ => {}
                };
                conn.read_ready(shared, &mut on_packet)
                    .map_err(|e| format!("RTSP connection: {}", io_reason(&e)))?;
                // Replies to keep-alives: nothing to do with them.
                conn.responses.clear();
                if conn.closed {
                    return Err("server closed the RTSP connection while playing".into());
                }
            }
            r = async { udp.unwrap().rtcp.readable().await }, if !interleaved => {
                r.map_err(|e| format!("RTCP socket: {}", io_reason(&e)))?;
                let u = udp.unwrap();
                let mut scratch = shared.scratch.borrow_mut();
                for _ in 0..16 {
                    match u.rtcp.try_recv(&mut scratch[..]) {
                        Ok(n) => {
                            if let Some(mid) = sender_report_lsr(&scratch[..n]) {
                                lsr = Some((mid, Instant::now()));
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            _ = sleep_until(next_keepalive), if !conn.classic => {
                next_keepalive += keepalive_every;
                let url = args.url.clone();
                match timeout_at(Instant::now() + args.timeout, conn.send("OPTIONS", &url, &[])).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(format!("keep-alive: {}", io_reason(&e))),
                    Err(_) => return Err("keep-alive: send timed out".into()),
                }
            }
            _ = sleep_until(next_rr), if args.rtcp => {
                next_rr += RR_INTERVAL;
                let now = Instant::now();
                let rr = receiver_report(own_ssrc, stats, &mut rr_prev, lsr, now);
                match udp {
                    Some(u) => {
                        if let Some(dest) = u.server_rtcp {
                            let _ = u.rtcp.try_send_to(&rr, dest);
                        }
                    }
                    None => {
                        let mut framed = Vec::with_capacity(rr.len() + 4);
                        mjpegrtsp::rtsp::encode_interleaved(1, &rr, &mut framed)
                            .map_err(|e| format!("RTCP over TCP: {e}"))?;
                        if timeout_at(now + args.timeout, conn.stream.write_all(&framed)).await.is_err() {
                            return Err("RTCP over TCP: send timed out".into());
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}
