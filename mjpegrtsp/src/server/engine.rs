//! The media engine: one thread that paces and sends every playing session's
//! frames. Each session is a few hundred bytes of state in a schedule; frames
//! are read and packetised once and shared by the sessions that send them at
//! about the same time; a frame's packets to one receiver go out in one
//! `sendmsg` (UDP GSO). Control (the RTSP connections) talks to it through a
//! channel and reads per-session counters from atomics.

use super::live::LiveSource;
use super::media::MediaFile;
use super::queue::{MAX_QUEUE_BYTES, Outgoing};
use super::rtcp;
use super::udp::PacketSocket;
use crate::http::multipart;
use crate::rtp::srtp::{self, Protector};
use crate::rtp::{HEADER_LEN, RtpHeader, rfc2435};
use crate::rtsp::encode_interleaved;
use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a session's frames are put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// The classic dialect: one whole JPEG per packet behind the 12-byte
    /// header, sequence number = frame number, timestamp in wall-clock seconds,
    /// marker 0, SSRC 0.
    Classic,
    /// RFC 2435 JPEG at 90 kHz, for standard clients.
    Rfc2435,
    /// Whole JPEGs as the parts of an HTTP `multipart/x-mixed-replace`
    /// body ([`crate::http::multipart`]), for browsers: no RTP.
    Multipart,
}

/// Where a session's packets go.
#[derive(Debug, Clone)]
pub enum Route {
    Udp {
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
    },
    /// Interleaved in the RTSP connection: `$`, channel, length, packet, on
    /// the channels the SETUP negotiated.
    Tcp {
        out: Outgoing,
        rtp_channel: u8,
        rtcp_channel: u8,
    },
    /// As they are, in the connection: an HTTP response's body.
    Body { out: Outgoing },
}

impl Route {
    /// `udp` or `tcp` (interleaved, or an HTTP body).
    pub fn lower_transport(&self) -> &'static str {
        match self {
            Route::Udp { .. } => "udp",
            Route::Tcp { .. } | Route::Body { .. } => "tcp",
        }
    }
}

/// Counters a session shares with its control connection.
#[derive(Debug, Default)]
pub struct Counters {
    /// Next RTP sequence number to send.
    pub next_seq: AtomicU32,
    /// Next play frame (counting across loops).
    pub next_frame: AtomicU64,
    pub frames_sent: AtomicU64,
    pub packets_sent: AtomicU64,
    pub octets_sent: AtomicU64,
    /// Frames not sent: socket or connection queue full, or unsendable JPEG.
    pub frames_dropped: AtomicU64,
    /// Set when the stream reached the end of a non-looping file.
    pub ended: AtomicBool,
}

/// What a session plays.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file, paced by the engine from the session's own position.
    File(Arc<MediaFile>),
    /// The live source: frames are sent as they come, to every viewer.
    Live(Arc<LiveSource>),
}

impl Source {
    /// The file's or live source's id.
    pub fn id(&self) -> u64 {
        match self {
            Source::File(media) => media.id,
            Source::Live(live) => live.id,
        }
    }

    /// Where it is served (no slashes around).
    pub fn mount(&self) -> &str {
        match self {
            Source::File(media) => &media.mount,
            Source::Live(live) => &live.mount,
        }
    }

    /// About one second of this source's media, in bytes: what a connection
    /// may queue for a slow reader ([`Outgoing::allow`]).
    pub fn bytes_per_second(&self) -> usize {
        match self {
            // Float to int saturates; the queue clamps it anyway.
            Source::File(media) => media.bytes_per_second().ceil() as usize,
            // Unknown ahead of time: the most a connection may hold.
            Source::Live(_) => MAX_QUEUE_BYTES,
        }
    }
}

/// A session's stream, as the engine plays it.
#[derive(Debug, Clone)]
pub struct Stream {
    pub source: Source,
    pub wire: Wire,
    pub route: Route,
    pub ssrc: u32,
    pub payload_type: u8,
    /// RTP timestamp of media time 0 (RFC 2435 path).
    pub timestamp_base: u32,
    pub looping: bool,
    pub counters: Arc<Counters>,
    /// SRTP: the session's sending context, kept across PAUSE and PLAY
    /// (its rollover counter goes on with the sequence numbers).
    pub srtp: Option<Arc<Mutex<Protector>>>,
}

impl Stream {
    /// The largest RTP packet to build: the MTU less what SRTP adds.
    fn packet_mtu(&self, mtu: usize) -> usize {
        match self.srtp {
            Some(_) => mtu.saturating_sub(srtp::RTP_OVERHEAD),
            None => mtu,
        }
    }
}

pub enum Command {
    /// Start (or restart at `counters.next_frame`) sending session `id`.
    Play {
        id: u64,
        stream: Stream,
    },
    /// Stop sending session `id` (pause or teardown). `done` is told once the
    /// engine has stopped, so counters are settled.
    Stop {
        id: u64,
        done: Option<std::sync::mpsc::SyncSender<()>>,
        /// Say goodbye first: an RTCP BYE, so that the client knows the
        /// stream ended (the server is shutting down).
        bye: bool,
    },
    /// Tell `done` once every command sent before this one is handled.
    Flush {
        done: std::sync::mpsc::SyncSender<()>,
    },
    /// A frame from live source `source`, at running time `pts_ns`.
    LiveFrame {
        source: u64,
        jpeg: Arc<Vec<u8>>,
        pts_ns: u64,
    },
    Shutdown,
}

/// Engine-wide counters, over every session since the engine started.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Frames sent.
    pub frames_sent: AtomicU64,
    /// Packets sent (RTP packets; one per frame for HTTP viewers).
    pub packets_sent: AtomicU64,
    /// Bytes sent: RTP payloads, and HTTP parts whole.
    pub octets_sent: AtomicU64,
    /// Frames not sent: a full socket, a slow reader's full connection
    /// queue, or a JPEG the wire cannot carry.
    pub frames_dropped: AtomicU64,
    /// Frames skipped by senders that fell far behind.
    pub frames_late: AtomicU64,
    /// Frames RFC 2435 could not carry.
    pub packetize_failures: AtomicU64,
}

impl EngineStats {
    /// Counts a frame sent or dropped, engine-wide and for its session.
    fn frame(&self, counters: &Counters, sent: bool) {
        if sent {
            counters.frames_sent.fetch_add(1, Ordering::Relaxed);
            self.frames_sent.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
            self.frames_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts packets and bytes sent, engine-wide and for its session.
    fn sent(&self, counters: &Counters, packets: u64, octets: u64) {
        counters.packets_sent.fetch_add(packets, Ordering::Relaxed);
        counters.octets_sent.fetch_add(octets, Ordering::Relaxed);
        self.packets_sent.fetch_add(packets, Ordering::Relaxed);
        self.octets_sent.fetch_add(octets, Ordering::Relaxed);
    }
}

/// Handle to the engine thread.
pub struct Engine {
    tx: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<EngineStats>,
}

impl Engine {
    /// Starts the engine, sending RTP from `rtp` and RTCP from `rtcp`.
    pub fn start(rtp: PacketSocket, rtcp: PacketSocket, mtu: usize) -> std::io::Result<Engine> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(EngineStats::default());
        let worker = Worker {
            rx,
            rtp,
            rtcp,
            mtu,
            sessions: HashMap::new(),
            live: HashMap::new(),
            live_frames: 0,
            schedule: BinaryHeap::new(),
            cache: FrameCache::new(256),
            scratch: Scratch {
                plain: Vec::with_capacity(128 * 1024),
                sealed: Vec::new(),
            },
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("rtp-engine".into())
            .spawn(move || worker.run())?;
        Ok(Engine {
            tx,
            thread: Some(thread),
            stats,
        })
    }

    /// A sender of commands, for producers such as a live source.
    pub fn sender(&self) -> mpsc::Sender<Command> {
        self.tx.clone()
    }

    pub fn send(&self, cmd: Command) {
        // The engine only goes away at shutdown.
        let _ = self.tx.send(cmd);
    }

    /// Stops session `id` and waits until the engine has (bounded wait).
    pub fn stop_and_wait(&self, id: u64) {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.send(Command::Stop {
            id,
            done: Some(done_tx),
            bye: false,
        });
        let _ = done_rx.recv_timeout(Duration::from_secs(2));
    }
}

impl Engine {
    /// Waits (at most 2 s) until the engine has handled every command sent
    /// before, e.g. the BYEs of sessions that end.
    pub fn flush(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.send(Command::Flush { done: done_tx });
        let _ = done_rx.recv_timeout(Duration::from_secs(2));
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Playing {
    stream: Stream,
    generation: u64,
    /// When play frame `start_frame` was due; frame k is due at
    /// `start + (k - start_frame) / rate`.
    start: Instant,
    start_frame: u64,
    next_sr: Instant,
}

/// A frame's packets: source, frame, wire and packet size.
type CacheKey = (u64, u64, Wire, usize);

/// A packetised frame, shared by the sessions sending it.
enum Packets {
    Classic(Vec<u8>),
    Rfc2435(rfc2435::Packetized),
    /// One multipart part, shared by the connections it is queued to.
    Multipart(Bytes),
}

impl Packets {
    /// `jpeg` as `wire` puts it on the wire, packets at most `mtu` bytes;
    /// `None` (counted in `stats`) when RFC 2435 cannot carry it.
    fn make(jpeg: Vec<u8>, wire: Wire, mtu: usize, stats: &EngineStats) -> Option<Packets> {
        match wire {
            Wire::Classic => Some(Packets::Classic(jpeg)),
            Wire::Multipart => Some(Packets::Multipart(Bytes::from(multipart::part(&jpeg)))),
            Wire::Rfc2435 => match rfc2435::packetize(&jpeg, mtu) {
                Ok(p) => Some(Packets::Rfc2435(p)),
                Err(e) => {
                    if stats.packetize_failures.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::warn!(
                            "a frame cannot be sent as RFC 2435: {e} (standard clients get \
                             baseline 4:2:0 or 4:2:2 JPEG only; a live source should encode \
                             with `! video/x-raw,format=I420 ! jpegenc`)"
                        );
                    }
                    None
                }
            },
        }
    }
}

struct FrameCache {
    map: HashMap<CacheKey, Arc<Packets>>,
    order: VecDeque<CacheKey>,
    capacity: usize,
}

impl FrameCache {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get_or_make(
        &mut self,
        key: CacheKey,
        make: impl FnOnce() -> Option<Packets>,
    ) -> Option<Arc<Packets>> {
        if let Some(p) = self.map.get(&key) {
            return Some(p.clone());
        }
        let packets = Arc::new(make()?);
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key);
        self.map.insert(key, packets.clone());
        Some(packets)
    }
}

struct Worker {
    rx: mpsc::Receiver<Command>,
    rtp: PacketSocket,
    rtcp: PacketSocket,
    mtu: usize,
    sessions: HashMap<u64, Playing>,
    /// Sessions playing a live source: source id → (session id → stream).
    live: HashMap<u64, HashMap<u64, Stream>>,
    /// Live frames received (from every source), keying the packet cache.
    live_frames: u64,
    schedule: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    cache: FrameCache,
    scratch: Scratch,
    stats: Arc<EngineStats>,
}

/// Buffers a frame's packets are written in: in clear, then sealed (SRTP).
#[derive(Default)]
struct Scratch {
    plain: Vec<u8>,
    sealed: Vec<u8>,
}

/// A sender that falls this far behind skips frames rather than bursting.
const MAX_LATE: Duration = Duration::from_millis(250);
const SR_INTERVAL: Duration = Duration::from_secs(5);

impl Worker {
    fn run(mut self) {
        let mut generation = 0u64;
        loop {
            let wait = self
                .schedule
                .peek()
                .map(|Reverse((due, _, _))| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1));
            match self.rx.recv_timeout(wait) {
                Ok(Command::Play { id, stream }) => {
                    if let Source::Live(live) = &stream.source {
                        let live = live.clone();
                        if self
                            .live
                            .entry(live.id)
                            .or_default()
                            .insert(id, stream)
                            .is_none()
                        {
                            live.viewer_joined();
                        }
                        continue;
                    }
                    generation += 1;
                    let now = Instant::now();
                    let start_frame = stream.counters.next_frame.load(Ordering::Relaxed);
                    stream.counters.ended.store(false, Ordering::Relaxed);
                    self.sessions.insert(
                        id,
                        Playing {
                            stream,
                            generation,
                            start: now,
                            start_frame,
                            next_sr: now,
                        },
                    );
                    self.schedule.push(Reverse((now, id, generation)));
                }
                Ok(Command::LiveFrame {
                    source,
                    jpeg,
                    pts_ns,
                }) => {
                    self.send_live(source, &jpeg, pts_ns);
                }
                Ok(Command::Stop { id, done, bye }) => {
                    let stopped = self.sessions.remove(&id).map(|p| p.stream);
                    let viewer = self.live.values_mut().find_map(|v| v.remove(&id));
                    if let Some(Source::Live(live)) = viewer.as_ref().map(|v| &v.source) {
                        live.viewer_left();
                        if self.live.get(&live.id).is_some_and(HashMap::is_empty) {
                            self.live.remove(&live.id);
                        }
                    }
                    if bye && let Some(stream) = stopped.as_ref().or(viewer.as_ref()) {
                        rtcp::send_bye(&self.rtcp, stream);
                    }
                    if let Some(done) = done {
                        let _ = done.try_send(());
                    }
                }
                Ok(Command::Flush { done }) => {
                    let _ = done.try_send(());
                }
                Ok(Command::Shutdown) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            self.send_due();
        }
    }

    fn send_due(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((due, id, generation))) = self.schedule.peek() {
            if due > now {
                break;
            }
            self.schedule.pop();
            let Some(playing) = self.sessions.get(&id) else {
                continue;
            };
            if playing.generation != generation {
                continue;
            }
            let next_due = self.send_frame(id, due, now);
            if let Some(next) = next_due {
                self.schedule.push(Reverse((next, id, generation)));
            } else {
                self.sessions.remove(&id);
            }
        }
    }

    /// Sends session `id`'s next frame; returns when the one after is due,
    /// or `None` when the stream has ended.
    fn send_frame(&mut self, id: u64, due: Instant, now: Instant) -> Option<Instant> {
        let playing = self.sessions.get_mut(&id)?;
        let stream = &playing.stream;
        let counters = stream.counters.clone();
        let Source::File(media) = &stream.source else {
            return None;
        };
        let media = media.clone();
        let frames = media.frames();
        let mut n = counters.next_frame.load(Ordering::Relaxed);
        // Skip frames rather than burst when far behind.
        if now.duration_since(due) > MAX_LATE {
            let behind = media
                .rate
                .frame_at_ns(now.duration_since(due).as_nanos() as u64);
            n += behind;
            self.stats.frames_late.fetch_add(behind, Ordering::Relaxed);
        }
        if frames == 0 || (!stream.looping && n >= frames) {
            counters.ended.store(true, Ordering::Relaxed);
            rtcp::send_bye(&self.rtcp, stream);
            return None;
        }
        let file_frame = n % frames;
        let wire = stream.wire;
        let mtu = stream.packet_mtu(self.mtu);
        let stats = &self.stats;
        let packets = self
            .cache
            .get_or_make((media.id, file_frame, wire, mtu), || {
                Packets::make(media.frame(file_frame).ok()?, wire, mtu, stats)
            });
        let playing = self.sessions.get_mut(&id)?;
        let stream = &playing.stream;
        counters.next_frame.store(n + 1, Ordering::Relaxed);
        let sent_ok = match packets.as_deref() {
            Some(p) => send_packets(
                &self.rtp,
                &mut self.scratch,
                &self.stats,
                stream,
                rtp_time(stream, n),
                p,
            ),
            None => false,
        };
        self.stats.frame(&counters, sent_ok);
        if now >= playing.next_sr {
            playing.next_sr = now + SR_INTERVAL;
            rtcp::send_sender_report(&self.rtcp, stream, rtp_time(stream, n));
        }
        let rel = n + 1 - playing.start_frame;
        let next = playing.start + Duration::from_nanos(media.rate.frame_start_ns(rel));
        Some(next.max(due))
    }

    /// Sends a live frame to every viewer of `source`, packetised once per wire.
    fn send_live(&mut self, source: u64, jpeg: &[u8], pts_ns: u64) {
        let Some(viewers) = self.live.get(&source) else {
            return;
        };
        if viewers.is_empty() {
            return;
        }
        // One count over every source, so that a cache key is never reused
        // (a published path's source comes and goes).
        self.live_frames += 1;
        let frame = self.live_frames;
        let stats = &self.stats;
        let mut by_wire: HashMap<(Wire, usize), Option<Arc<Packets>>> = HashMap::new();
        for stream in viewers.values() {
            let mtu = stream.packet_mtu(self.mtu);
            let wire = stream.wire;
            let packets = by_wire
                .entry((wire, mtu))
                .or_insert_with(|| {
                    self.cache
                        .get_or_make((u64::MAX - source, frame, wire, mtu), || {
                            Packets::make(jpeg.to_vec(), wire, mtu, stats)
                        })
                })
                .clone();
            let ok = match packets.as_deref() {
                Some(p) => send_packets(
                    &self.rtp,
                    &mut self.scratch,
                    &self.stats,
                    stream,
                    rtp_time_at(stream, pts_ns),
                    p,
                ),
                None => false,
            };
            self.stats.frame(&stream.counters, ok);
        }
    }
}

/// RTP timestamp of play frame `n` of a file at 90 kHz, exact: frames at
/// 24 fps are 3750 ticks apart, never 3749 or 3751.
pub fn rtp_time(stream: &Stream, n: u64) -> u32 {
    match &stream.source {
        Source::File(media) => {
            wrap_ticks(stream, media.rate.frame_start_ticks(n, rfc2435::CLOCK_RATE))
        }
        Source::Live(_) => rtp_time_at(stream, 0),
    }
}

/// RTP timestamp of media time `ns` at 90 kHz.
pub fn rtp_time_at(stream: &Stream, ns: u64) -> u32 {
    wrap_ticks(
        stream,
        u128::from(ns) * u128::from(rfc2435::CLOCK_RATE) / 1_000_000_000,
    )
}

/// `ticks` after the stream's base, wrapping at 2^32 as RTP timestamps do.
fn wrap_ticks(stream: &Stream, ticks: u128) -> u32 {
    let low = u32::try_from(ticks % (1 << 32)).unwrap_or(0);
    stream.timestamp_base.wrapping_add(low)
}

fn wallclock_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Builds and sends one frame's packets; false if nothing could be sent.
fn send_packets(
    rtp: &PacketSocket,
    buffers: &mut Scratch,
    stats: &EngineStats,
    stream: &Stream,
    timestamp: u32,
    packets: &Packets,
) -> bool {
    let counters = &stream.counters;
    if let Packets::Multipart(part) = packets {
        return send_part(stats, stream, part);
    }
    let seq = counters.next_seq.load(Ordering::Relaxed) as u16;
    let scratch = &mut buffers.plain;
    scratch.clear();
    let (segment, count, next_seq) = match packets {
        Packets::Multipart(_) => return false,
        Packets::Classic(jpeg) => {
            if jpeg.len() > crate::rtp::MAX_WHOLE_FRAME_JPEG {
                // Never truncated; the frame number is still used up.
                counters
                    .next_seq
                    .store(u32::from(seq.wrapping_add(1)), Ordering::Relaxed);
                return false;
            }
            let header = RtpHeader {
                marker: false,
                payload_type: stream.payload_type,
                sequence_number: seq,
                timestamp: wallclock_secs(),
                ssrc: stream.ssrc,
            };
            scratch.extend_from_slice(&header.to_bytes().unwrap_or_default());
            scratch.extend_from_slice(jpeg);
            (scratch.len(), 1, seq.wrapping_add(1))
        }
        Packets::Rfc2435(p) => {
            let first = RtpHeader {
                marker: false,
                payload_type: stream.payload_type,
                sequence_number: seq,
                timestamp,
                ssrc: stream.ssrc,
            };
            let Ok(next) = p.write_packets(first, scratch) else {
                return false;
            };
            (p.gso_segment_size(), p.packet_count(), next)
        }
    };
    counters
        .next_seq
        .store(u32::from(next_seq), Ordering::Relaxed);
    let payload_octets = scratch.len() - count * HEADER_LEN;
    let (scratch, segment) = match &stream.srtp {
        None => (&buffers.plain, segment),
        Some(srtp) => {
            let mut srtp = srtp.lock().unwrap();
            let sealed = &mut buffers.sealed;
            sealed.clear();
            for packet in buffers.plain.chunks(segment) {
                if let Err(e) = srtp.protect_rtp(packet, sealed) {
                    tracing::warn!("cannot protect an RTP packet: {e}");
                    return false;
                }
            }
            (&buffers.sealed, segment + srtp::RTP_OVERHEAD)
        }
    };
    let ok = match &stream.route {
        Route::Udp { rtp: dest, .. } => match rtp.send_segments(*dest, scratch, segment) {
            Ok(sent) => sent.dropped == 0,
            Err(e) => {
                tracing::debug!(%dest, "RTP send failed: {e}");
                false
            }
        },
        Route::Tcp {
            out, rtp_channel, ..
        } => {
            let mut framed = Vec::with_capacity(scratch.len() + 4 * count);
            let all_framed = scratch
                .chunks(segment)
                .all(|packet| encode_interleaved(*rtp_channel, packet, &mut framed).is_ok());
            all_framed && out.try_send_media(framed)
        }
        Route::Body { .. } => false,
    };
    if ok {
        stats.sent(counters, count as u64, payload_octets as u64);
    }
    ok
}

/// Queues one multipart part (no copy) to an HTTP viewer's connection.
fn send_part(stats: &EngineStats, stream: &Stream, part: &Bytes) -> bool {
    let Route::Body { out } = &stream.route else {
        return false;
    };
    let ok = out.try_send_media(part.clone());
    if ok {
        stats.sent(&stream.counters, 1, part.len() as u64);
    }
    ok
}
