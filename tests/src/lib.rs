//! Helpers for the end-to-end tests and benchmarks: plugin registration,
//! synthetic and encoded `.Mjpeg` media, and running a pipeline into an appsink.

use gst::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

pub mod rtsp_text;

/// Runs `f` to completion on a fresh two-thread tokio runtime (for tests of
/// the async client library).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().expect("register plugin");
    });
}

/// A JPEG-shaped frame: SOI, a SOF0 segment for `w`×`h`, filler bytes that
/// identify frame `n`, EOI. Not decodable, but what the container needs.
pub fn synthetic_jpeg(w: u16, h: u16, n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8];
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(&n.to_be_bytes());
    let len = len.max(v.len() + 2);
    v.resize(len - 2, (n % 200) as u8);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// The container bytes for `frames`.
pub fn container(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = mjpegrtsp::container::FrameWriter::new(Vec::new());
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.into_inner()
}

/// `count` synthetic 320×240 frames of varying sizes.
pub fn synthetic_frames(count: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| synthetic_jpeg(320, 240, n, 100 + (n as usize * 37) % 400))
        .collect()
}

pub fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".Mjpeg")
        .tempfile()
        .unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// The project's sample clip ([`gstmjpegrtsp::sample`]): 240 frames of
/// 640×480 at 24 fps, each different, like the seed system's reference file.
/// Made once per test process, in a temporary directory.
pub fn sample_movie() -> &'static Path {
    static SAMPLE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = SAMPLE.get_or_init(|| {
        init();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("sample.Mjpeg");
        gstmjpegrtsp::sample::write_sample(&path).expect("the sample clip is made");
        (dir, path)
    });
    path
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub pts: Option<gst::ClockTime>,
    pub duration: Option<gst::ClockTime>,
    pub offset: u64,
    pub discont: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub frames: Vec<Frame>,
    pub caps: Option<gst::Caps>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub eos: bool,
}

/// Runs `launch` (which must contain an `appsink name=sink`) to EOS or error.
/// `before_play` runs in PAUSED after preroll (for seeks and queries).
pub fn run(launch: &str, before_play: impl FnOnce(&gst::Pipeline)) -> Outcome {
    let (pipeline, sink) = launch_with_appsink(launch);
    run_with(&pipeline, &sink, before_play)
}

/// Parses `launch`, which must contain an `appsink name=sink`.
pub fn launch_with_appsink(launch: &str) -> (gst::Pipeline, gst_app::AppSink) {
    init();
    let pipeline = gst::parse::launch(launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

/// Like [`run`], for a pipeline built in code with `sink` somewhere inside.
pub fn run_with(
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    before_play: impl FnOnce(&gst::Pipeline),
) -> Outcome {
    sink.set_property("sync", false);
    let frames = Arc::new(Mutex::new(Vec::new()));
    let caps = Arc::new(Mutex::new(None));
    {
        let frames = frames.clone();
        let caps = caps.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    *caps.lock().unwrap() = sample.caps_owned();
                    let b = sample.buffer().unwrap();
                    frames.lock().unwrap().push(Frame {
                        pts: b.pts(),
                        duration: b.duration(),
                        offset: b.offset(),
                        discont: b.flags().contains(gst::BufferFlags::DISCONT),
                        data: b.map_readable().unwrap().to_vec(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    let bus = pipeline.bus().unwrap();
    let mut out = Outcome::default();
    let paused = pipeline.set_state(gst::State::Paused);
    if paused.is_ok() {
        let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(10));
        if res.is_ok() {
            before_play(pipeline);
            let _ = pipeline.set_state(gst::State::Playing);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                out.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                out.error = Some(format!("{} | {:?}", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => out.warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    // Collect warnings posted before the error or EOS was popped.
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Warning(w) = msg.view() {
            out.warnings.push(w.error().to_string());
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out.frames = std::mem::take(&mut frames.lock().unwrap());
    out.caps = caps.lock().unwrap().clone();
    out
}

/// Flushing, accurate seek in time.
pub fn seek(
    pipeline: &gst::Pipeline,
    rate: f64,
    start: gst::ClockTime,
    stop: Option<gst::ClockTime>,
) {
    let stop_type = if stop.is_some() {
        gst::SeekType::Set
    } else {
        gst::SeekType::None
    };
    pipeline
        .seek(
            rate,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            start,
            stop_type,
            stop,
        )
        .expect("seek accepted");
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(10));
    res.expect("preroll after seek");
}

/// Every error message a pipeline posts when it fails to start (PAUSED is
/// refused): a source that cannot start should post exactly one, saying why.
pub fn start_errors(launch: &str) -> Vec<String> {
    init();
    let pipeline = gst::parse::launch(launch).expect("the description parses");
    assert!(
        pipeline.set_state(gst::State::Paused).is_err(),
        "{launch} should not start"
    );
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut errors = Vec::new();
    while let Some(msg) = bus.timed_pop_filtered(
        gst::ClockTime::from_mseconds(300),
        &[gst::MessageType::Error],
    ) {
        if let gst::MessageView::Error(e) = msg.view() {
            errors.push(e.error().to_string());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    errors
}

/// A temporary directory holding `movie.Mjpeg`, made by [`encoded_movie`]
/// with these arguments: what a test server serves.
pub fn movie_dir(frames: u32, w: u32, h: u32, quality: u32, pattern: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("movie.Mjpeg"),
        encoded_movie(frames, w, h, quality, pattern),
    )
    .expect("write movie.Mjpeg");
    dir
}

/// Encodes `frames` frames of `videotestsrc` (pattern `pattern`, moving ball
/// by default) at `w`×`h` with `jpegenc quality=q`, as `.Mjpeg` bytes made by
/// `lengthmjpegmux`. Real, decodable JPEGs.
pub fn encoded_movie(frames: u32, w: u32, h: u32, quality: u32, pattern: &str) -> Vec<u8> {
    init();
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,format=I420,width={w},height={h},framerate=24/1 \
         ! jpegenc quality={quality} ! lengthmjpegmux ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        out.extend_from_slice(&sample.buffer().unwrap().map_readable().unwrap());
    }
    let bus = pipeline.bus().unwrap();
    let ended = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    match ended.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => out,
        other => panic!("encoding failed: {other:?}"),
    }
}

/// Splits container bytes into its frames (panics on damage: for test media).
pub fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let index = mjpegrtsp::container::Index::build(bytes).unwrap();
    assert!(index.anomalies().is_empty(), "{:?}", index.anomalies());
    index
        .frames()
        .iter()
        .map(|e| e.read(bytes).unwrap())
        .collect()
}

/// A server of this project's, in this process, on 127.0.0.1 at a free port,
/// serving `media_dir`; stopped when dropped.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    sessions: Arc<dyn Fn() -> usize + Send + Sync>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(media_dir: &Path, looping: bool) -> TestServer {
        let mut config = mjpegrtsp::server::ServerConfig::new(media_dir);
        config.looping = looping;
        Self::start_with(config)
    }

    pub fn start_with(config: mjpegrtsp::server::ServerConfig) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = mjpegrtsp::server::Server::bind(config)
                    .await
                    .expect("server starts");
                let counter = server.session_counter();
                ready_tx.send((server.local_addr(), counter)).unwrap();
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let (addr, counter) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server ready");
        TestServer {
            addr,
            sessions: counter,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Sessions alive now.
    pub fn sessions(&self) -> usize {
        (self.sessions)()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// JPEG scan data, and a loopback RTSP + RTP proxy for tests and benchmarks.

/// The entropy-coded data of a JPEG: what follows its SOS segment, up to (not
/// including) the final EOI. RFC 2435 carries it unchanged while the receiver
/// rebuilds the headers, so it identifies a frame across the trip.
pub fn jpeg_scan_data(jpeg: &[u8]) -> Option<&[u8]> {
    mjpegrtsp::container::jpeg::scan_data(jpeg)
}

/// xorshift64* (Marsaglia's xorshift with a multiplying output step): a
/// small, seeded, deterministic generator for impairments.
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0; the bias is below 2^-32 for small `n`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

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

/// What an [`RtspProxy`] does with the server's RTP packets on their way to
/// the client. Runs on the proxy's RTP thread.
pub trait RtpFilter: Send + 'static {
    /// A packet from the server: push what the client is to get now, in order.
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>);
    /// No packet came for [`RELAY_IDLE`]: push whatever is still held.
    fn on_idle(&mut self, _out: &mut Vec<Vec<u8>>) {}
    /// When [`on_tick`](Self::on_tick) must run next, if the filter holds
    /// something.
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }
    /// Runs after every packet and every wait: push what is due at `now`.
    fn on_tick(&mut self, _now: std::time::Instant, _out: &mut Vec<Vec<u8>>) {}
    /// `packet` went to the client; `at` was read just before the send.
    fn on_sent(&mut self, _packet: &[u8], _at: std::time::Instant) {}
}

/// How long the RTP path must be quiet before [`RtpFilter::on_idle`].
pub const RELAY_IDLE: Duration = Duration::from_millis(100);
/// How long the proxy's threads block in a read before checking for stop.
const RELAY_POLL: Duration = Duration::from_millis(5);

/// What the proxy relayed besides the filtered RTP.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    /// SETUP requests whose `client_port` was rewritten.
    pub setups: u64,
    /// RTCP datagrams from the server to the client, untouched.
    pub rtcp_to_client: u64,
    /// RTCP datagrams from the client to the server, untouched.
    pub rtcp_to_server: u64,
    /// Datagrams the client sent to the server's RTP port (NAT "punching"),
    /// passed on.
    pub rtp_to_server: u64,
    /// Server packets that came before any SETUP named the client: dropped.
    pub rtp_unrouted: u64,
    /// Sends that failed.
    pub send_errors: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Routes {
    client_rtp: Option<std::net::SocketAddr>,
    client_rtcp: Option<std::net::SocketAddr>,
    server_rtp: Option<std::net::SocketAddr>,
    server_rtcp: Option<std::net::SocketAddr>,
}

struct ProxyShared {
    backend: std::net::SocketAddr,
    rtp_port: u16,
    rtcp_port: u16,
    stop: std::sync::atomic::AtomicBool,
    routes: Mutex<Routes>,
    counts: Mutex<RelayCounts>,
    /// Clones of every relayed TCP stream, shut down when the proxy stops.
    streams: Mutex<Vec<std::net::TcpStream>>,
}

impl ProxyShared {
    fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, f: impl FnOnce(&mut RelayCounts)) {
        f(&mut self.counts.lock().unwrap());
    }
}

/// An RTSP proxy on 127.0.0.1 in front of one server, which also puts itself
/// in the RTP path: the client's `SETUP … client_port=a-b` reaches the server
/// as the proxy's own UDP port pair (and the reply goes back with the client's
/// ports, and `server_port` naming the proxy's pair). The server's RTP goes
/// through an [`RtpFilter`] to the client's RTP port; RTCP is relayed
/// untouched both ways. Everything else on the RTSP connection (requests,
/// replies, interleaved data) passes as it is. Made for one client at a time;
/// stopped when dropped.
pub struct RtspProxy {
    /// The RTSP address to give clients.
    pub addr: std::net::SocketAddr,
    shared: Arc<ProxyShared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RtspProxy {
    pub fn start(backend: std::net::SocketAddr, filter: impl RtpFilter) -> RtspProxy {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (rtp, rtcp) = bind_udp_pair();
        let shared = Arc::new(ProxyShared {
            backend,
            rtp_port: rtp.local_addr().unwrap().port(),
            rtcp_port: rtcp.local_addr().unwrap().port(),
            stop: Default::default(),
            routes: Default::default(),
            counts: Default::default(),
            streams: Default::default(),
        });
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || {
                while !shared.stopping() {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let shared = shared.clone();
                            std::thread::spawn(move || proxy_connection(client, shared));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }));
        }
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || relay_rtp(rtp, filter, &shared)));
        }
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || relay_rtcp(rtcp, &shared)));
        }
        RtspProxy {
            addr,
            shared,
            threads,
        }
    }

    /// `rtsp://<proxy>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }

    /// The proxy's RTP and RTCP ports (what the server sends to).
    pub fn udp_ports(&self) -> (u16, u16) {
        (self.shared.rtp_port, self.shared.rtcp_port)
    }

    pub fn counts(&self) -> RelayCounts {
        *self.shared.counts.lock().unwrap()
    }
}

impl Drop for RtspProxy {
    fn drop(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A UDP socket pair on 127.0.0.1 (even RTP port, RTCP the next one), with a
/// 4 MiB receive buffer and a read timeout of [`RELAY_POLL`].
fn bind_udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
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

fn relay_rtp(socket: std::net::UdpSocket, mut filter: impl RtpFilter, shared: &ProxyShared) {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    let mut last_packet = std::time::Instant::now();
    let mut quiet = true;
    let send_all = |out: &mut Vec<Vec<u8>>, filter: &mut dyn RtpFilter, to| {
        for p in out.drain(..) {
            let at = std::time::Instant::now();
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
            d.saturating_duration_since(std::time::Instant::now())
                .min(RELAY_POLL)
        });
        let _ = mjpegrtsp::net::wait_readable(&socket, wait);
        let received = socket.recv_from(&mut buf);
        let routes = *shared.routes.lock().unwrap();
        let to_client = routes.client_rtp;
        match received {
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
                    send_all(&mut out, &mut filter, to);
                    last_packet = std::time::Instant::now();
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
                        send_all(&mut out, &mut filter, to);
                    }
                }
            }
        }
        if let Some(to) = to_client {
            filter.on_tick(std::time::Instant::now(), &mut out);
            send_all(&mut out, &mut filter, to);
        }
    }
}

fn relay_rtcp(socket: std::net::UdpSocket, shared: &ProxyShared) {
    let mut buf = vec![0u8; 65536];
    while !shared.stopping() {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
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

/// The `key=a[-b]` parameter of a Transport header value (the first one).
pub fn transport_ports(value: &str, key: &str) -> Option<(u16, Option<u16>)> {
    let needle = format!("{key}=");
    let at = value.find(&needle)? + needle.len();
    let rest = &value[at..];
    let end = rest.find([';', ',']).unwrap_or(rest.len());
    let (a, b) = match rest[..end].split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (&rest[..end], None),
    };
    let a = a.trim().parse().ok()?;
    let b = match b {
        Some(b) => Some(b.trim().parse().ok()?),
        None => None,
    };
    Some((a, b))
}

/// `value` with every `key=…` parameter replaced by `key=rtp-rtcp`.
pub fn replace_transport_ports(value: &str, key: &str, rtp: u16, rtcp: u16) -> String {
    let needle = format!("{key}=");
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(&needle) {
        out.push_str(&rest[..at]);
        out.push_str(&format!("{needle}{rtp}-{rtcp}"));
        let after = &rest[at + needle.len()..];
        let end = after.find([';', ',']).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn proxy_connection(client: std::net::TcpStream, shared: Arc<ProxyShared>) {
    use mjpegrtsp::rtsp::{Item, Method};
    use std::net::SocketAddr;
    let Ok(server) = std::net::TcpStream::connect(shared.backend) else {
        return;
    };
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let client_ip = client.peer_addr().map(|a| a.ip()).unwrap();
    {
        let mut streams = shared.streams.lock().unwrap();
        streams.push(client.try_clone().unwrap());
        streams.push(server.try_clone().unwrap());
    }
    if shared.stopping() {
        return;
    }
    let (proxy_rtp, proxy_rtcp) = (shared.rtp_port, shared.rtcp_port);
    // Server to client: the SETUP reply gets the client's ports back and the
    // proxy's as server_port.
    let back = {
        let shared = shared.clone();
        let from = server.try_clone().unwrap();
        let to = client.try_clone().unwrap();
        std::thread::spawn(move || {
            relay_rtsp_items(from, to, |item| {
                let Item::Response(resp) = item else {
                    return None;
                };
                let t = resp.headers.get("Transport")?.to_owned();
                let mut routes = shared.routes.lock().unwrap();
                let (crtp, crtcp) = (routes.client_rtp?, routes.client_rtcp?);
                let mut value = t.clone();
                if transport_ports(&t, "client_port").is_some() {
                    value =
                        replace_transport_ports(&value, "client_port", crtp.port(), crtcp.port());
                }
                if let Some((srtp, srtcp)) = transport_ports(&t, "server_port") {
                    let ip = shared.backend.ip();
                    routes.server_rtp = Some(SocketAddr::new(ip, srtp));
                    routes.server_rtcp = Some(SocketAddr::new(ip, srtcp.unwrap_or(srtp + 1)));
                    value = replace_transport_ports(&value, "server_port", proxy_rtp, proxy_rtcp);
                }
                let mut resp = resp.clone();
                resp.headers.insert("Transport", value);
                Some(resp.to_bytes())
            })
        })
    };
    // Client to server: SETUP asks for the proxy's ports.
    relay_rtsp_items(client, server, |item| {
        let Item::Request(req) = item else {
            return None;
        };
        if req.method != Method::Setup {
            return None;
        }
        let t = req.headers.get("Transport")?.to_owned();
        let (rtp, rtcp) = transport_ports(&t, "client_port")?;
        {
            let mut routes = shared.routes.lock().unwrap();
            routes.client_rtp = Some(SocketAddr::new(client_ip, rtp));
            routes.client_rtcp = Some(SocketAddr::new(client_ip, rtcp.unwrap_or(rtp + 1)));
        }
        shared.count(|c| c.setups += 1);
        let mut req = req.clone();
        req.headers.insert(
            "Transport",
            replace_transport_ports(&t, "client_port", proxy_rtp, proxy_rtcp),
        );
        Some(req.to_bytes())
    });
    let _ = back.join();
}

/// Copies an RTSP byte stream item by item (requests, replies, interleaved
/// frames); `rewrite` may replace an item's bytes. Bytes that do not parse
/// are passed on as they are. Ends when either side closes.
fn relay_rtsp_items(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    mut rewrite: impl FnMut(&mjpegrtsp::rtsp::Item<'_>) -> Option<Vec<u8>>,
) {
    use mjpegrtsp::rtsp::{Parsed, Parser};
    use std::io::Read;
    let parser = Parser::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let mut transparent = false;
    'read: while let Ok(n) = from.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if transparent {
                if to.write_all(&buf).is_err() {
                    break 'read;
                }
                buf.clear();
                break;
            }
            let (bytes, used) = match parser.parse(&buf, true) {
                Parsed::Complete(item, used) => (rewrite(&item), used),
                Parsed::Incomplete(_) => break,
                Parsed::Error(_) => {
                    transparent = true;
                    continue;
                }
            };
            let ok = match bytes {
                Some(b) => to.write_all(&b).is_ok(),
                None => to.write_all(&buf[..used]).is_ok(),
            };
            buf.drain(..used);
            if !ok {
                break 'read;
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

/// What an [`Impairer`] did with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Forwarded once, in its place.
    Passed,
    /// Not forwarded.
    Dropped,
    /// Forwarded twice, back to back.
    Duplicated,
    /// Held, and forwarded after the next `after` forwarded packets (1 or 2;
    /// 1 when the second did not come within
    /// [`Impairments::reorder_max_hold`] of the first).
    Reordered { after: u8 },
    /// Past [`Impairments::forward_frames`]: not forwarded (not a drop: the
    /// stream simply stops there for the client).
    Gated,
}

/// One packet the server sent through an [`Impairer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// Frame number from the first packet seen (0), by timestamp changes.
    pub frame: u64,
    pub fate: Fate,
}

/// Everything an [`Impairer`] did.
#[derive(Debug, Default, Clone)]
pub struct ImpairLog {
    /// Every packet from the server, in arrival order.
    pub packets: Vec<PacketRecord>,
    /// Datagrams sent to the client (a duplicated packet counts twice).
    pub datagrams_sent: u64,
    /// Held packets that had to be let go in order because nothing followed
    /// (logged as passed: not reordered after all).
    pub released_in_order: u64,
    /// The longest a reordered packet came after the first packet that
    /// overtook it: how long a receiver waits for it.
    pub max_reorder_delay: Duration,
    /// Sequence numbers missing from what the server sent the proxy: loss on
    /// the way in, which the client would count but the proxy did not cause.
    pub input_gaps: u64,
}

/// Which impairments, where. Rates are per 1000 packets, drawn once per
/// packet (so a packet gets at most one).
#[derive(Debug, Clone)]
pub struct Impairments {
    pub seed: u64,
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
    pub reorder_per_mille: u64,
    /// Frames (numbered as in [`PacketRecord::frame`]) whose packets may be
    /// impaired.
    pub frames: std::ops::Range<u64>,
    /// Frames from this one on are not forwarded at all.
    pub forward_frames: Option<u64>,
    /// A held packet goes at the latest this long after the first packet
    /// that overtook it, so that a receiver's reorder window (30 ms by
    /// default) covers it even when the next packet is the next frame's,
    /// a frame interval later.
    pub reorder_max_hold: Duration,
}

/// An [`RtpFilter`] that drops, duplicates and reorders packets, driven by
/// a seeded [`XorShift64`], and logs exactly what it did.
pub struct Impairer {
    cfg: Impairments,
    rng: XorShift64,
    log: Arc<Mutex<ImpairLog>>,
    frame: Option<(u32, u64)>,
    last_seq: Option<u16>,
    held: Option<Held>,
}

/// A packet waiting to be sent late.
struct Held {
    packet: Vec<u8>,
    /// Its index in [`ImpairLog::packets`].
    record: usize,
    /// Packets to forward before it.
    after: u8,
    /// Packets forwarded since it was held, and when the first went.
    forwarded: u8,
    first_later: Option<std::time::Instant>,
}

impl Impairer {
    pub fn new(cfg: Impairments) -> (Impairer, Arc<Mutex<ImpairLog>>) {
        let log = Arc::new(Mutex::new(ImpairLog::default()));
        let imp = Impairer {
            rng: XorShift64::new(cfg.seed),
            cfg,
            log: log.clone(),
            frame: None,
            last_seq: None,
            held: None,
        };
        (imp, log)
    }

    fn draw(&mut self) -> Fate {
        let c = &self.cfg;
        let r = self.rng.below(1000);
        let after = 1 + self.rng.below(2) as u8;
        if r < c.drop_per_mille {
            Fate::Dropped
        } else if r < c.drop_per_mille + c.duplicate_per_mille {
            Fate::Duplicated
        } else if r < c.drop_per_mille + c.duplicate_per_mille + c.reorder_per_mille
            && self.held.is_none()
        {
            Fate::Reordered { after }
        } else {
            Fate::Passed
        }
    }

    /// Sends `packet` (`copies` times) and lets the held packet go when its
    /// turn came.
    fn forward(&mut self, packet: Vec<u8>, copies: usize, out: &mut Vec<Vec<u8>>) {
        for _ in 1..copies {
            out.push(packet.clone());
        }
        out.push(packet);
        if let Some(h) = self.held.as_mut() {
            h.forwarded += 1;
            let now = std::time::Instant::now();
            h.first_later.get_or_insert(now);
            if h.forwarded >= h.after {
                self.release(now, out);
            }
        }
    }

    /// Sends the held packet now, logging what really happened to it.
    fn release(&mut self, now: std::time::Instant, out: &mut Vec<Vec<u8>>) {
        let Some(h) = self.held.take() else { return };
        let mut log = self.log.lock().unwrap();
        match h.first_later {
            Some(first) => {
                log.packets[h.record].fate = Fate::Reordered { after: h.forwarded };
                let delay = now.saturating_duration_since(first);
                log.max_reorder_delay = log.max_reorder_delay.max(delay);
            }
            None => {
                log.packets[h.record].fate = Fate::Passed;
                log.released_in_order += 1;
            }
        }
        out.push(h.packet);
    }
}

impl RtpFilter for Impairer {
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        let Some(f) = rtp_fields(&packet) else {
            out.push(packet);
            return;
        };
        let frame = match self.frame {
            None => 0,
            Some((ts, n)) if ts == f.timestamp => n,
            Some((_, n)) => n + 1,
        };
        self.frame = Some((f.timestamp, frame));
        let gap = self.last_seq.map_or(0, |last| {
            u64::from(f.seq.wrapping_sub(last).wrapping_sub(1))
        });
        self.last_seq = Some(f.seq);
        let fate = if self.cfg.forward_frames.is_some_and(|end| frame >= end) {
            Fate::Gated
        } else if self.cfg.frames.contains(&frame) {
            self.draw()
        } else {
            Fate::Passed
        };
        let record = {
            let mut log = self.log.lock().unwrap();
            if gap < 0x8000 {
                log.input_gaps += gap;
            }
            log.packets.push(PacketRecord {
                seq: f.seq,
                timestamp: f.timestamp,
                marker: f.marker,
                frame,
                fate,
            });
            log.packets.len() - 1
        };
        match fate {
            Fate::Passed => self.forward(packet, 1, out),
            Fate::Duplicated => self.forward(packet, 2, out),
            Fate::Reordered { after } => {
                self.held = Some(Held {
                    packet,
                    record,
                    after,
                    forwarded: 0,
                    first_later: None,
                })
            }
            Fate::Dropped | Fate::Gated => {}
        }
    }

    fn on_idle(&mut self, out: &mut Vec<Vec<u8>>) {
        self.release(std::time::Instant::now(), out);
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        let h = self.held.as_ref()?;
        Some(h.first_later? + self.cfg.reorder_max_hold)
    }

    fn on_tick(&mut self, now: std::time::Instant, out: &mut Vec<Vec<u8>>) {
        if self.deadline().is_some_and(|d| now >= d) {
            self.release(now, out);
        }
    }

    fn on_sent(&mut self, _packet: &[u8], _at: std::time::Instant) {
        self.log.lock().unwrap().datagrams_sent += 1;
    }
}

/// What a [`Stamper`] saw.
#[derive(Debug, Default, Clone)]
pub struct StampLog {
    /// RTP timestamp and send time of every marker packet (a frame's last),
    /// in order.
    pub markers: Vec<(u32, std::time::Instant)>,
    /// Packets forwarded.
    pub packets: u64,
    /// Sequence numbers missing from what the server sent the proxy.
    pub input_gaps: u64,
}

/// An [`RtpFilter`] that forwards every packet unchanged and records when
/// each frame's last packet (the marker) was sent on to the client.
#[derive(Default)]
pub struct Stamper {
    log: Arc<Mutex<StampLog>>,
    last_seq: Option<u16>,
}

impl Stamper {
    pub fn new() -> (Stamper, Arc<Mutex<StampLog>>) {
        let s = Stamper::default();
        let log = s.log.clone();
        (s, log)
    }
}

impl RtpFilter for Stamper {
    fn on_packet(&mut self, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if let Some(f) = rtp_fields(&packet) {
            if let Some(last) = self.last_seq {
                let gap = u64::from(f.seq.wrapping_sub(last).wrapping_sub(1));
                if gap < 0x8000 {
                    self.log.lock().unwrap().input_gaps += gap;
                }
            }
            self.last_seq = Some(f.seq);
        }
        out.push(packet);
    }

    fn on_sent(&mut self, packet: &[u8], at: std::time::Instant) {
        let mut log = self.log.lock().unwrap();
        log.packets += 1;
        if let Some(f) = rtp_fields(packet)
            && f.marker
        {
            log.markers.push((f.timestamp, at));
        }
    }
}

/// Options as given: each name with its value (`None` for a flag).
pub type BenchOptions = Vec<(String, Option<String>)>;

/// The command-line options of the benchmark binaries: `--name value`,
/// `--name=value` or a bare flag. `None` for `-h`/`--help`; an error for an
/// unknown option or a missing value.
pub fn bench_options(
    args: impl IntoIterator<Item = String>,
    with_value: &[&str],
    flags: &[&str],
) -> Result<Option<BenchOptions>, String> {
    let mut out = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        if with_value.contains(&name.as_str()) {
            let value = inline
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))?;
            out.push((name, Some(value)));
        } else if flags.contains(&name.as_str()) && inline.is_none() {
            out.push((name, None));
        } else {
            return Err(format!("unknown argument '{arg}' (try --help)"));
        }
    }
    Ok(Some(out))
}

/// A benchmark option's number, within `range`.
pub fn bench_number<T>(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    value
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{name}: '{value}' is not a number in {}..={}",
                range.start(),
                range.end()
            )
        })
}
