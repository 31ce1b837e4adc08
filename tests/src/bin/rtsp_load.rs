//! Load tool for RTSP servers (standard dialect): opens many sessions from one
//! event loop and reports how well the server kept up.
//!
//! ```text
//! cargo run --release -p mjpegrtsp-tests --bin rtsp_load -- rtsp://127.0.0.1:8554/movie.Mjpeg \
//!     --sessions 200 --seconds 10 [--rate 50] [--tcp] [--server-pid PID] [--json]
//! ```
//!
//! Each session runs OPTIONS, DESCRIBE, SETUP (UDP with its own RTP/RTCP socket pair,
//! or RTP/AVP/TCP interleaved) and PLAY, then receives until the end of the measuring
//! window, then TEARDOWN. All sessions are tasks on one current-thread tokio runtime;
//! datagrams are read into one shared buffer. See `REPORTED` (and `--help`)
//! for what is measured.

use clap::Parser;
use mjpegrtsp::net;
use mjpegrtsp::rtp::rtcp;
use mjpegrtsp::rtsp::{self, Response};
use mjpegrtsp_tests::procfs::{ProcSample, cpu_percent, proc_sample};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::{Instant, sleep_until, timeout_at};

const REPORTED: &str = "\
Each session: OPTIONS, DESCRIBE, SETUP, PLAY; receive; TEARDOWN. It plays from its
PLAY reply to the end of the window, which starts once all sessions are set up (or
failed) and lasts T seconds. Reported:
  sessions ok/failed   ok = PLAY answered 200, at least one whole frame received and
                       no error while playing; failures are grouped by reason
  frames               whole frames (a marker packet whose frame has every sequence
                       number from its first packet) against the frames due at 0,
                       1/fps, 2/fps ... of the play time (capped by the SDP's a=range
                       when the media is finite)
  packets lost         gaps in the sequence numbers (late/duplicate counted apart)
  gap                  time between marker packets of a session, in the window
  setup                TCP connect to the PLAY reply
  first frame          PLAY reply to the first whole frame
  server CPU, RSS      from /proc/PID: CPU as % of one core over the window; RSS
                       before any session, at the start and end of the window, and
                       the growth per playing session
  load tool CPU        the same for this process (it shares the machine)
";

const RR_INTERVAL: Duration = Duration::from_secs(5);
const SCRATCH: usize = 65536;
const GAP_BUCKET_US: u64 = 100;
const GAP_BUCKETS: usize = 100_000; // 10 s in 100 µs buckets, then one overflow bucket

// ---------------------------------------------------------------------------------
// Arguments

/// rtsp_load: many RTSP sessions against one server, from one event loop.
#[derive(Debug, Parser)]
#[command(name = "rtsp_load", after_help = REPORTED)]
struct Args {
    /// The stream: rtsp://127.0.0.1:PORT/path (loopback only).
    #[arg(value_parser = rtsp_url)]
    url: String,
    /// Sessions to open.
    #[arg(long, default_value_t = 50, value_parser = count_in(1, 100_000))]
    sessions: usize,
    /// Length of the measuring window in seconds, once every session is set up.
    #[arg(long, default_value_t = 10.0, value_parser = positive_up_to(86_400.0))]
    seconds: f64,
    /// Sessions started per second (0: all at once, at most --concurrency
    /// setting up at a time).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    rate: f64,
    /// Sessions in OPTIONS..PLAY at the same time.
    #[arg(long, default_value_t = 64, value_parser = count_in(1, 100_000))]
    concurrency: usize,
    /// RTP/AVP/TCP interleaved instead of UDP.
    #[arg(long, conflicts_with = "classic")]
    tcp: bool,
    /// Speak the seed client's classic dialect: no OPTIONS or DESCRIBE,
    /// bare-LF requests without a blank line (`SETUP movie.Mjpeg RTSP/1.0`,
    /// `Transport: RTP/UDP; client_port= P`), no keep-alives; one whole-JPEG
    /// packet per frame over UDP.
    #[arg(long, conflicts_with = "rtcp")]
    classic: bool,
    /// Send RTCP receiver reports every 5 s.
    #[arg(long)]
    rtcp: bool,
    /// Expected frame rate (default: the SDP's a=framerate, else 24).
    #[arg(long, value_parser = positive_up_to(1000.0))]
    fps: Option<f64>,
    /// Timeout of each RTSP step, in seconds.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_up_to(600.0))]
    timeout_secs: f64,
    /// Sample this server process's CPU and memory in /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as one JSON line on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// The timeout of each RTSP step (from --timeout).
    #[arg(skip = Duration::ZERO)]
    timeout: Duration,
}

/// An rtsp:// URL.
fn rtsp_url(s: &str) -> Result<String, String> {
    if s.starts_with("rtsp://") {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an rtsp:// URL"))
    }
}

/// A whole number from `low` to `high`.
fn count_in(low: usize, high: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s: &str| match s.parse::<usize>() {
        Ok(v) if (low..=high).contains(&v) => Ok(v),
        _ => Err(format!("must be a whole number from {low} to {high}")),
    }
}

/// A number above 0 and at most `high`.
fn positive_up_to(high: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s: &str| match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= high => Ok(v),
        _ => Err(format!("must be a number above 0 and at most {high}")),
    }
}

/// A finite number, 0 or more.
fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a number, 0 or more".into()),
    }
}

/// The server's address from an rtsp:// URL; refuses anything but loopback.
fn url_addr(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or("URL must start with rtsp://")?;
    let hostport = rest.split('/').next().unwrap_or_default();
    if hostport.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or("bad [IPv6] host")?;
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
        None => 554,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("host {host:?}: give an IP address"))?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "{ip} is not a loopback address: this tool only talks to loopback"
        ));
    }
    Ok(SocketAddr::new(ip, port))
}

// ---------------------------------------------------------------------------------
// RTSP messages

/// Parses whole items from `buf` with the core's RTSP parser, handing
/// interleaved packets to `on_packet` and queueing responses (requests from
/// the server are passed over); returns the bytes used.
/// `at_rest`: the buffer holds all that was read (a classic reply has no
/// blank line: it ends where the read ends).
fn parse_items(
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

/// The RTSP connection of one session.
struct Conn {
    stream: TcpStream,
    /// An unfinished item carried over from the last read (usually < one packet).
    pending: Vec<u8>,
    responses: VecDeque<Response>,
    cseq: u32,
    session: Option<String>,
    /// From `Session: id;timeout=N` (60 s when absent): keep-alives go at half of it.
    session_timeout: Duration,
    closed: bool,
    /// The seed client's dialect (see `--classic`).
    classic: bool,
}

impl Conn {
    /// Takes bytes read from the socket: parses what is whole, keeps the rest.
    fn feed(&mut self, mut data: &[u8], on_packet: &mut dyn FnMut(u8, &[u8])) {
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
    async fn fill(
        &mut self,
        shared: &Shared,
        on_packet: &mut dyn FnMut(u8, &[u8]),
    ) -> io::Result<()> {
        self.stream.readable().await?;
        self.read_ready(shared, on_packet)
    }

    fn read_ready(
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

    async fn send(&mut self, method: &str, url: &str, extra: &[(&str, &str)]) -> io::Result<u32> {
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
    async fn request(
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

fn io_reason(e: &io::Error) -> String {
    // Without the "(os error N)" tail, so that reasons group well.
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

// ---------------------------------------------------------------------------------
// SDP and URLs

// ---------------------------------------------------------------------------------
// Shared state and statistics

/// Counts of values in 100 µs buckets, for percentiles over very many values.
struct Histogram {
    buckets: Vec<u32>,
    count: u64,
    max_us: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: vec![0; GAP_BUCKETS + 1],
            count: 0,
            max_us: 0,
        }
    }
    fn add(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = ((us / GAP_BUCKET_US) as usize).min(GAP_BUCKETS);
        self.buckets[i] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }
    /// The value (ms, bucket middle) at quantile q.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                if i == GAP_BUCKETS {
                    return Some(self.max_us as f64 / 1000.0);
                }
                return Some(
                    ((i as u64 * GAP_BUCKET_US) as f64 + GAP_BUCKET_US as f64 / 2.0) / 1000.0,
                );
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }
}

struct Shared {
    scratch: RefCell<Vec<u8>>,
    /// True while the measuring window runs.
    window: Cell<bool>,
    gaps: RefCell<Histogram>,
    set_up: Cell<usize>,
    all_set_up: Notify,
    setup_slots: Semaphore,
}

/// What one session saw of its RTP stream. A few hundred bytes.
#[derive(Default)]
struct RtpStats {
    packets: u64,
    bytes: u64,
    late: u64,
    invalid: u64,
    base_ext: Option<u64>,
    max_ext: u64,
    frame_ts: Option<u32>,
    frame_ok: bool,
    frame_open: bool,
    prev_marker: bool,
    frames_complete: u64,
    frames_incomplete: u64,
    last_marker: Option<Instant>,
    first_frame: Option<Instant>,
    clock_rate: f64,
    jitter: f64,
    last_transit: Option<f64>,
    ssrc: Option<u32>,
    epoch: Option<Instant>,
    counting: bool,
    /// Classic packets: each one a whole frame (no marker bit, timestamps in
    /// whole seconds).
    classic: bool,
}

impl RtpStats {
    fn on_packet(&mut self, pkt: &[u8], now: Instant, shared: &Shared) {
        if !self.counting {
            return;
        }
        if pkt.len() < 12 || pkt[0] >> 6 != 2 {
            self.invalid += 1;
            return;
        }
        let marker = pkt[1] & 0x80 != 0;
        let pt = pkt[1] & 0x7f;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        self.ssrc = Some(u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]));
        self.bytes += pkt.len() as u64;

        // Interarrival jitter (RFC 3550 §6.4.1), in timestamp units.
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.duration_since(epoch).as_secs_f64() * self.clock_rate;
        let transit = arrival - ts as f64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            if d < self.clock_rate * 10.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);

        let gap = match self.base_ext {
            None => {
                self.base_ext = Some(seq as u64 + 65536);
                self.max_ext = seq as u64 + 65536;
                // A frame's first packet? For RFC 2435 JPEG its fragment offset is 0.
                let head = pt == 26 && pkt.len() >= 16 && pkt[13..16] == [0, 0, 0];
                self.prev_marker = head;
                0
            }
            Some(_) => {
                let delta = seq.wrapping_sub(self.max_ext as u16) as i16;
                if delta <= 0 {
                    self.late += 1;
                    return;
                }
                self.max_ext += delta as u64;
                delta as u64 - 1
            }
        };
        self.packets += 1;

        if self.classic {
            let payload = &pkt[12..];
            if gap == 0 && mjpegrtsp::container::is_whole_jpeg(payload) {
                self.frames_complete += 1;
                self.first_frame.get_or_insert(now);
            } else {
                self.frames_incomplete += 1;
            }
            if let Some(last) = self.last_marker
                && shared.window.get()
            {
                shared.gaps.borrow_mut().add(now - last);
            }
            self.last_marker = Some(now);
            return;
        }

        let new_frame = self.frame_ts != Some(ts) || self.prev_marker;
        if new_frame {
            if self.frame_open {
                self.frames_incomplete += 1; // its marker packet never came
            }
            self.frame_ts = Some(ts);
            self.frame_ok = gap == 0 && self.prev_marker;
            self.frame_open = true;
        } else if gap > 0 {
            self.frame_ok = false;
        }
        self.prev_marker = marker;
        if marker {
            if self.frame_ok {
                self.frames_complete += 1;
                self.first_frame.get_or_insert(now);
            } else {
                self.frames_incomplete += 1;
            }
            self.frame_open = false;
            if let Some(last) = self.last_marker
                && shared.window.get()
            {
                shared.gaps.borrow_mut().add(now - last);
            }
            self.last_marker = Some(now);
        }
    }

    fn lost(&self) -> u64 {
        match self.base_ext {
            Some(base) => (self.max_ext - base + 1).saturating_sub(self.packets),
            None => 0,
        }
    }

    /// Highest extended sequence number and fraction/cumulative loss, for an RR.
    fn report_block(&self, prev: &mut (u64, u64)) -> (u8, i32, u32) {
        let Some(base) = self.base_ext else {
            return (0, 0, 0);
        };
        let expected = self.max_ext - base + 1;
        let lost = expected.saturating_sub(self.packets);
        let exp_int = expected - prev.0;
        let rec_int = self.packets - prev.1;
        *prev = (expected, self.packets);
        let lost_int = exp_int.saturating_sub(rec_int);
        let fraction = (lost_int << 8)
            .checked_div(exp_int)
            .map_or(0, |f| f.min(255) as u8);
        (
            fraction,
            lost.min(0x7f_ffff) as i32,
            (self.max_ext - 65536) as u32,
        )
    }
}

/// An RTCP receiver report plus SDES CNAME (RFC 3550 §6.4.2, §6.5).
fn receiver_report(
    own_ssrc: u32,
    stats: &RtpStats,
    prev: &mut (u64, u64),
    lsr: Option<(u32, Instant)>,
    now: Instant,
) -> Vec<u8> {
    let block = stats.ssrc.map(|ssrc| {
        let (fraction_lost, cumulative_lost, highest_seq) = stats.report_block(prev);
        let (lsr, dlsr) = match lsr {
            Some((mid, at)) => (mid, ((now - at).as_secs_f64() * 65536.0) as u32),
            None => (0, 0),
        };
        rtcp::ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq,
            jitter: stats.jitter as u32,
            lsr,
            dlsr,
        }
    });
    rtcp::receiver_report(own_ssrc, block, "rtsp_load@127.0.0.1")
}

/// The middle 32 bits of the NTP time of a sender report in a compound packet.
fn sender_report_lsr(pkt: &[u8]) -> Option<u32> {
    rtcp::packets(pkt)
        .map_while(Result::ok)
        .find_map(|p| match p {
            rtcp::Packet::SenderReport(sr) => Some(sr.info.ntp_middle()),
            _ => None,
        })
}

// ---------------------------------------------------------------------------------
// One session

#[derive(Default)]
struct SessionResult {
    failure: Option<String>,
    teardown_failure: Option<String>,
    setup: Option<Duration>,
    first_frame: Option<Duration>,
    played: Duration,
    expected_frames: f64,
    frames_complete: u64,
    frames_incomplete: u64,
    packets: u64,
    bytes: u64,
    lost: u64,
    late: u64,
    invalid: u64,
    jitter_ms: Option<f64>,
}

struct Media {
    control_url: String,
    play_url: String,
    fps: f64,
    range_end: Option<f64>,
    clock_rate: u32,
}

struct Udp {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    server_rtcp: Option<SocketAddr>,
}

/// `s` on the runtime, non-blocking, asking for a receive buffer of `rcvbuf`.
fn tokio_udp(s: std::net::UdpSocket, rcvbuf: usize) -> io::Result<UdpSocket> {
    // A deeper receive buffer rides out short stalls of this one thread (capped by
    // net.core.rmem_max; failure only leaves the default).
    let _ = net::set_receive_buffer(&s, rcvbuf);
    net::into_tokio(s)
}

async fn run_session(
    args: Rc<Args>,
    addr: SocketAddr,
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

    // Set up, holding one of the --concurrency slots.
    let setup = {
        let _slot = shared.setup_slots.acquire().await;
        let t0 = Instant::now();
        let r = setup_session(&args, addr, &shared, &mut stats).await;
        res.setup = Some(t0.elapsed());
        r
    };
    shared.set_up.set(shared.set_up.get() + 1);
    if shared.set_up.get() == args.sessions {
        shared.all_set_up.notify_one();
    }
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

    let mut secs = res.played.as_secs_f64();
    if let Some(end) = media.range_end {
        secs = secs.min(end);
    }
    // Frames are due at 0, 1/fps, 2/fps ... of the play time.
    res.expected_frames = (secs * media.fps).floor() + 1.0;
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

async fn setup_session(
    args: &Args,
    addr: SocketAddr,
    shared: &Shared,
    stats: &mut RtpStats,
) -> Result<(Conn, Media, Option<Udp>), String> {
    let deadline = Instant::now() + args.timeout;
    let stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
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
        return classic_setup(args, addr, shared, stats, conn).await;
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
            net::bind_rtp_pair(addr.ip()).map_err(|e| format!("bind UDP: {}", io_reason(&e)))?;
        let port = rtp.local_addr().map_err(|e| e.to_string())?.port();
        let rtp = tokio_udp(rtp, 1 << 20).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?;
        let rtcp =
            tokio_udp(rtcp, 1 << 16).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?;
        (
            format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1),
            Some(Udp {
                rtp,
                rtcp,
                server_rtcp: None,
            }),
        )
    };
    let deadline = Instant::now() + args.timeout;
    let reply = conn
        .request(
            "SETUP",
            &media.control_url,
            &[("Transport", &transport)],
            deadline,
            shared,
            &mut on_packet,
        )
        .await?;
    let session = reply
        .headers
        .get("Session")
        .ok_or("SETUP: no Session header in the reply")?;
    let mut parts = session.split(';');
    conn.session = Some(parts.next().unwrap_or_default().trim().to_string());
    conn.session_timeout = parts
        .find_map(|p| {
            p.trim()
                .strip_prefix("timeout=")?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .filter(|t| *t > 0)
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(60));
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
            .map(|rtcp| SocketAddr::new(addr.ip(), rtcp));
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
async fn classic_setup(
    args: &Args,
    addr: SocketAddr,
    shared: &Shared,
    stats: &mut RtpStats,
    mut conn: Conn,
) -> Result<(Conn, Media, Option<Udp>), String> {
    let mut on_packet = |_: u8, _: &[u8]| {};
    let after_host = args.url.splitn(4, '/').nth(3).unwrap_or_default();
    let (rtp, rtcp) =
        net::bind_rtp_pair(addr.ip()).map_err(|e| format!("bind UDP: {}", io_reason(&e)))?;
    let port = rtp.local_addr().map_err(|e| e.to_string())?.port();
    let udp = Udp {
        rtp: tokio_udp(rtp, 1 << 20).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?,
        rtcp: tokio_udp(rtcp, 1 << 16).map_err(|e| format!("UDP socket: {}", io_reason(&e)))?,
        server_rtcp: None,
    };
    let transport = format!("RTP/UDP; client_port= {port}");
    let deadline = Instant::now() + args.timeout;
    let reply = conn
        .request(
            "SETUP",
            after_host,
            &[("Transport", &transport)],
            deadline,
            shared,
            &mut on_packet,
        )
        .await?;
    let session = reply
        .headers
        .get("Session")
        .ok_or("SETUP: no Session header in the reply")?;
    conn.session = Some(session.trim().to_string());
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
async fn play(
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
                for _ in 0..64 {
                    match u.rtp.try_recv(&mut scratch[..]) {
                        Ok(n) => stats.on_packet(&scratch[..n], Instant::now(), shared),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors surface here on Linux: not fatal.
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

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}

// ---------------------------------------------------------------------------------
// /proc sampling

/// Datagrams the kernel dropped on this process's own UDP sockets (full receive
/// buffer): the `drops` column of /proc/net/udp{,6} for the socket inodes among
/// /proc/self/fd. Sockets already closed are not counted.
fn own_udp_drops() -> Option<u64> {
    let mut inodes = std::collections::HashSet::new();
    for e in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        if let Ok(target) = std::fs::read_link(e.path())
            && let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
        {
            inodes.insert(inode);
        }
    }
    let mut drops = 0;
    for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        for f in text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
        {
            if f.len() >= 13 && f[9].parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                drops += f[12].parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(drops)
}

/// Raises the soft open-file limit (to the hard limit, or above it when allowed).
fn raise_nofile(want: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_max < want {
            let up = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                return want;
            }
        }
        if r.rlim_cur < r.rlim_max {
            let up = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                return r.rlim_max;
            }
        }
        r.rlim_cur
    }
}

// ---------------------------------------------------------------------------------
// Report

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ms_of(v: &mut [f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    v.sort_by(f64::total_cmp);
    (quantile(v, 0.5), quantile(v, 0.99), v.last().copied())
}

fn jnum(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.3}", x),
        _ => "null".into(),
    }
}

fn jstr(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

struct ServerWindow {
    pid: u32,
    idle: Option<ProcSample>,
    start: Option<ProcSample>,
    end: Option<ProcSample>,
}

/// What the run knows besides the sessions' own results.
struct RunInfo<'a> {
    window: Duration,
    all_set_up: bool,
    server: Option<&'a ServerWindow>,
    own: (Option<ProcSample>, Option<ProcSample>),
    nofile: u64,
    elapsed: Duration,
    /// Datagrams the kernel dropped on this tool's sockets for full receive buffers
    /// (counted at the end of the window): losses on the receiving side, not the
    /// server's.
    udp_drops: Option<u64>,
}

fn report(
    args: &Args,
    results: &[SessionResult],
    shared: &Shared,
    info: &RunInfo,
) -> (String, String) {
    let RunInfo {
        window,
        all_set_up,
        server,
        own,
        nofile,
        elapsed,
        udp_drops,
    } = *info;
    let ok: Vec<&SessionResult> = results.iter().filter(|r| r.failure.is_none()).collect();
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        if let Some(f) = &r.failure {
            *failures.entry(f.as_str()).or_default() += 1;
        }
    }
    let teardown_failed = results
        .iter()
        .filter(|r| r.teardown_failure.is_some())
        .count();
    let played: Vec<&SessionResult> = results.iter().filter(|r| !r.played.is_zero()).collect();
    let frames: u64 = played.iter().map(|r| r.frames_complete).sum();
    let expected: f64 = played.iter().map(|r| r.expected_frames).sum();
    let incomplete: u64 = played.iter().map(|r| r.frames_incomplete).sum();
    let packets: u64 = played.iter().map(|r| r.packets).sum();
    let bytes: u64 = played.iter().map(|r| r.bytes).sum();
    let lost: u64 = played.iter().map(|r| r.lost).sum();
    let late: u64 = played.iter().map(|r| r.late).sum();
    let invalid: u64 = played.iter().map(|r| r.invalid).sum();
    let frames_pct = if expected > 0.0 {
        Some(frames as f64 / expected * 100.0)
    } else {
        None
    };
    let lost_pct = if packets + lost > 0 {
        Some(lost as f64 / (packets + lost) as f64 * 100.0)
    } else {
        None
    };
    let mut setup: Vec<f64> = results
        .iter()
        .filter_map(|r| r.setup)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let mut first: Vec<f64> = results
        .iter()
        .filter_map(|r| r.first_frame)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let mut jitter: Vec<f64> = results.iter().filter_map(|r| r.jitter_ms).collect();
    let (s50, s99, smax) = ms_of(&mut setup);
    let (f50, f99, fmax) = ms_of(&mut first);
    let (j50, j99, jmax) = ms_of(&mut jitter);
    let gaps = shared.gaps.borrow();
    let (g50, g99, gmax) = (
        gaps.quantile_ms(0.5),
        gaps.quantile_ms(0.99),
        (gaps.count > 0).then(|| gaps.max_us as f64 / 1000.0),
    );
    let playing = ok.len().max(1) as f64;
    let own_cpu = match own {
        (Some(a), Some(b)) => Some(cpu_percent(&a, &b)),
        _ => None,
    };
    let own_rss = own.1.map(|s| s.rss_kb);
    let srv = server.map(|s| {
        let cpu = match (&s.start, &s.end) {
            (Some(a), Some(b)) => Some(cpu_percent(a, b)),
            _ => None,
        };
        let per = match (&s.idle, &s.end) {
            (Some(i), Some(e)) => Some((e.rss_kb as f64 - i.rss_kb as f64) / playing),
            _ => None,
        };
        (s, cpu, per)
    });
    let mode = if args.tcp { "TCP interleaved" } else { "UDP" };

    let mut t = String::new();
    let _ = writeln!(
        t,
        "rtsp_load {}  {mode}, {} sessions{}, window {:.1} s{}",
        args.url,
        args.sessions,
        if args.rate > 0.0 {
            format!(" at {}/s", args.rate)
        } else {
            String::new()
        },
        window.as_secs_f64(),
        if all_set_up {
            ""
        } else {
            " (started before every session was set up: setup timed out)"
        }
    );
    let _ = writeln!(
        t,
        "  sessions      ok {}   failed {}   teardown failed {teardown_failed}",
        ok.len(),
        results.len() - ok.len()
    );
    for (reason, n) in &failures {
        let _ = writeln!(t, "    {n:>5} x {reason}");
    }
    let _ = writeln!(
        t,
        "  frames        {frames} whole / {:.0} expected ({})   incomplete {incomplete}",
        expected,
        frames_pct.map_or("-".into(), |p| format!("{p:.1}%"))
    );
    let _ = writeln!(
        t,
        "  packets       {packets} received ({:.1} MB)   lost {lost} ({})   late/dup {late}   invalid {invalid}",
        bytes as f64 / 1e6,
        lost_pct.map_or("-".into(), |p| format!("{p:.2}%"))
    );
    let _ = writeln!(
        t,
        "  frame gap ms  p50 {}   p99 {}   max {}   ({} gaps in the window)",
        fmt_ms(g50),
        fmt_ms(g99),
        fmt_ms(gmax),
        gaps.count
    );
    let _ = writeln!(
        t,
        "  setup ms      p50 {}   p99 {}   max {}   (connect to PLAY reply)",
        fmt_ms(s50),
        fmt_ms(s99),
        fmt_ms(smax)
    );
    let _ = writeln!(
        t,
        "  first frame   p50 {}   p99 {}   max {}   ms after the PLAY reply",
        fmt_ms(f50),
        fmt_ms(f99),
        fmt_ms(fmax)
    );
    let _ = writeln!(
        t,
        "  jitter ms     p50 {}   p99 {}   max {}   (RFC 3550, per session)",
        fmt_ms(j50),
        fmt_ms(j99),
        fmt_ms(jmax)
    );
    match &srv {
        Some((s, cpu, per)) => {
            let mb = |x: Option<&ProcSample>| {
                x.map_or("-".into(), |x| format!("{:.1}", x.rss_kb as f64 / 1024.0))
            };
            let _ = writeln!(
                t,
                "  server {:<6} CPU {} of a core   RSS MB idle {} -> start {} -> end {} ({} KB per playing session)   threads {}",
                s.pid,
                cpu.map_or("-".into(), |c| format!("{c:.1}%")),
                mb(s.idle.as_ref()),
                mb(s.start.as_ref()),
                mb(s.end.as_ref()),
                per.map_or("-".into(), |p| format!("{p:.0}")),
                s.end.map_or("-".into(), |e| e.threads.to_string()),
            );
        }
        None => {
            let _ = writeln!(t, "  server        (no --server-pid: not sampled)");
        }
    }
    let _ = writeln!(
        t,
        "  load tool     CPU {} of a core   RSS {} MB   open-file limit {nofile}   ran {:.1} s",
        own_cpu.map_or("-".into(), |c| format!("{c:.1}%")),
        own_rss.map_or("-".into(), |r| format!("{:.1}", r as f64 / 1024.0)),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "  UDP drops     {} datagrams dropped by this tool's full socket buffers \
         (part of 'lost': the receiver's fault, not the server's)",
        udp_drops.map_or("-".into(), |d| d.to_string())
    );

    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"url\":{},\"transport\":\"{}\",\"sessions\":{},\"ok\":{},\"failed\":{},\"failures\":{{",
        jstr(&args.url),
        if args.tcp { "tcp" } else { "udp" },
        args.sessions,
        ok.len(),
        results.len() - ok.len()
    );
    for (i, (reason, n)) in failures.iter().enumerate() {
        let _ = write!(j, "{}{}:{n}", if i > 0 { "," } else { "" }, jstr(reason));
    }
    let _ = write!(
        j,
        "}},\"teardown_failed\":{teardown_failed},\"all_set_up\":{all_set_up},\"window_s\":{:.3},\
         \"frames\":{frames},\"frames_expected\":{expected:.0},\"frames_pct\":{},\"frames_incomplete\":{incomplete},\
         \"packets\":{packets},\"bytes\":{bytes},\"packets_lost\":{lost},\"packets_late\":{late},\"packets_invalid\":{invalid},\
         \"gap_ms\":{{\"p50\":{},\"p99\":{},\"max\":{},\"n\":{}}},\
         \"setup_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"first_frame_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\
         \"jitter_ms\":{{\"p50\":{},\"p99\":{},\"max\":{}}},",
        window.as_secs_f64(),
        jnum(frames_pct),
        jnum(g50),
        jnum(g99),
        jnum(gmax),
        gaps.count,
        jnum(s50),
        jnum(s99),
        jnum(smax),
        jnum(f50),
        jnum(f99),
        jnum(fmax),
        jnum(j50),
        jnum(j99),
        jnum(jmax),
    );
    match &srv {
        Some((s, cpu, per)) => {
            let kb = |x: Option<&ProcSample>| x.map_or("null".into(), |x| x.rss_kb.to_string());
            let _ = write!(
                j,
                "\"server\":{{\"pid\":{},\"cpu_pct\":{},\"rss_idle_kb\":{},\"rss_start_kb\":{},\"rss_end_kb\":{},\"rss_per_session_kb\":{},\"threads\":{}}},",
                s.pid,
                jnum(*cpu),
                kb(s.idle.as_ref()),
                kb(s.start.as_ref()),
                kb(s.end.as_ref()),
                jnum(*per),
                s.end.map_or("null".into(), |e| e.threads.to_string()),
            );
        }
        None => j.push_str("\"server\":null,"),
    }
    let _ = write!(
        j,
        "\"load_cpu_pct\":{},\"load_rss_kb\":{},\"udp_rcvbuf_drops\":{}}}",
        jnum(own_cpu),
        own_rss.map_or("null".into(), |r| r.to_string()),
        udp_drops.map_or("null".into(), |d| d.to_string())
    );
    (t, j)
}

// ---------------------------------------------------------------------------------

async fn run(args: Args, nofile: u64) -> ExitCode {
    let started = Instant::now();
    let addr = match url_addr(&args.url) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rtsp_load: {e}");
            return ExitCode::from(2);
        }
    };
    let args = Rc::new(args);
    let shared = Rc::new(Shared {
        scratch: RefCell::new(vec![0u8; SCRATCH]),
        window: Cell::new(false),
        gaps: RefCell::new(Histogram::new()),
        set_up: Cell::new(0),
        all_set_up: Notify::new(),
        setup_slots: Semaphore::new(args.concurrency),
    });
    let pid_s = args.server_pid.map(|p| p.to_string());
    let mut server = args.server_pid.map(|pid| ServerWindow {
        pid,
        idle: proc_sample(&pid.to_string()),
        start: None,
        end: None,
    });
    if let Some(s) = &server
        && s.idle.is_none()
    {
        eprintln!(
            "rtsp_load: warning: cannot read /proc/{}: server not sampled",
            s.pid
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let ramp = if args.rate > 0.0 {
        args.sessions as f64 / args.rate
    } else {
        0.0
    };
    let mut handles = Vec::with_capacity(args.sessions);
    for i in 0..args.sessions {
        let at = if args.rate > 0.0 {
            t0 + Duration::from_secs_f64(i as f64 / args.rate)
        } else {
            t0
        };
        handles.push(tokio::task::spawn_local(run_session(
            args.clone(),
            addr,
            shared.clone(),
            at,
            stop_rx.clone(),
        )));
    }

    let progress =
        tokio::task::spawn_local(show_progress(shared.clone(), args.sessions, args.seconds));

    // Every setup ends by its timeouts (5 steps); queueing behind --concurrency adds
    // rounds of them.
    let rounds = (args.sessions as f64 / args.concurrency as f64).ceil();
    let setup_bound = Duration::from_secs_f64(ramp)
        + args.timeout * 5 * (rounds.min(20.0) as u32).max(1)
        + Duration::from_secs(5);
    let all_set_up = if shared.set_up.get() == args.sessions {
        true
    } else {
        timeout_at(t0 + setup_bound, shared.all_set_up.notified())
            .await
            .is_ok()
            || shared.set_up.get() == args.sessions
    };

    // The measuring window.
    let own_start = proc_sample("self");
    if let (Some(s), Some(p)) = (server.as_mut(), pid_s.as_deref()) {
        s.start = proc_sample(p);
    }
    shared.window.set(true);
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let window = w0.elapsed();
    shared.window.set(false);
    if let (Some(s), Some(p)) = (server.as_mut(), pid_s.as_deref()) {
        s.end = proc_sample(p);
    }
    let own_end = proc_sample("self");
    progress.abort();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    let udp_drops = if args.tcp { None } else { own_udp_drops() };
    let _ = stop_tx.send(true);

    let mut results = Vec::with_capacity(handles.len());
    let join_deadline = Instant::now() + args.timeout + Duration::from_secs(5);
    for h in handles {
        let abort = h.abort_handle();
        match timeout_at(join_deadline, h).await {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => results.push(SessionResult {
                failure: Some(format!("task failed: {e}")),
                ..SessionResult::default()
            }),
            Err(_) => {
                abort.abort();
                results.push(SessionResult {
                    failure: Some("did not finish (teardown timed out)".into()),
                    ..SessionResult::default()
                });
            }
        }
    }

    let info = RunInfo {
        window,
        all_set_up,
        server: server.as_ref(),
        own: (own_start, own_end),
        nofile,
        elapsed: started.elapsed(),
        udp_drops,
    };
    let (table, json) = report(&args, &results, &shared, &info);
    if args.json {
        eprint!("{table}");
        println!("{json}");
    } else {
        print!("{table}");
    }
    if results.iter().all(|r| r.failure.is_some()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Says on stderr how far the run is, about every second: sessions set up,
/// then how much of the measuring window has passed. On a terminal the line
/// is rewritten in place.
async fn show_progress(shared: Rc<Shared>, sessions: usize, seconds: f64) {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut window_start = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let line = if shared.window.get() {
            let w0 = *window_start.get_or_insert_with(Instant::now);
            format!(
                "rtsp_load: measuring {:.0}/{seconds:.0} s with {} sessions set up",
                w0.elapsed().as_secs_f64(),
                shared.set_up.get()
            )
        } else {
            format!(
                "rtsp_load: setting up {}/{sessions} sessions ({:.0} s)",
                shared.set_up.get(),
                start.elapsed().as_secs_f64()
            )
        };
        if terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    args.timeout = Duration::from_secs_f64(args.timeout_secs);
    // Three descriptors per session (RTSP, RTP, RTCP) and some to spare.
    let want = args.sessions as u64 * 3 + 64;
    let nofile = raise_nofile(want);
    if nofile < want {
        eprintln!(
            "rtsp_load: warning: open-file limit {nofile} < {want} needed for {} sessions",
            args.sessions
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtsp_load: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args, nofile))
}
