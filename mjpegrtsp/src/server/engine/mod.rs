//! The media engine: threads that pace and send every playing session's
//! frames. Sessions are spread over [`Engine::threads`] media threads
//! ([`shard`]), each with its own timer heap and its own descriptors of the
//! server's RTP and RTCP sockets; a session stays on its thread. Each
//! session is a few hundred bytes of state in a schedule; frames are read
//! and packetised once and shared read-only by every thread ([`packets`]);
//! a frame's packets to one receiver go out in one `sendmsg` (UDP GSO); a
//! live source's frames go to every thread as one shared buffer. Control
//! (the RTSP and HTTP connections, on tokio) talks to the threads through
//! channels, reads per-session counters from atomics and asks
//! [`Engine::admit`] before a session starts ([`load`]: admission control).

pub mod load;
pub mod machine;
mod packets;
mod shard;

use super::live::LiveSource;
use super::media::MediaFile;
use super::queue::{MAX_QUEUE_BYTES, Outgoing};
use super::udp::PacketSocket;
use crate::rtp::rfc2435;
use crate::rtp::srtp::{self, Protector};
use load::{Admission, LoadFigures, Overload, ThreadLoad};
use machine::{MachineFigures, MachineLoad};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// A frame from live source `source`, at running time `pts_ns`: frame
    /// `frame` of every live frame the engine was given (a cache key never
    /// used twice). Sent by [`Commands::live_frame`], which numbers it.
    LiveFrame {
        source: u64,
        frame: u64,
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

/// How long a PLAY waits for room on its media thread before it is
/// refused ([`Engine::until_room`]).
pub const ADMISSION_WAIT: Duration = Duration::from_secs(1);

/// How long a PLAY waits while its media thread has room but is taking a
/// burst a step at a time ([`Engine::until_room`]): long enough for a
/// thousand sessions asked for at once to be taken into an idle thread,
/// well within a client's timeout for a reply.
pub const BURST_WAIT: Duration = Duration::from_secs(3);

/// How the engine runs.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Media threads (at least one).
    pub threads: usize,
    /// Largest RTP packet over UDP, header included.
    pub mtu: usize,
    /// When a thread takes no more sessions.
    pub admission: Admission,
}

/// The media threads to run by default: one per core the process may use,
/// less one for the control plane (RTSP, HTTP, RTCP) from four cores up.
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 4 { cores - 1 } else { cores }
}

/// Sends commands to the media threads: a session's to the thread it is
/// placed on (by its id, for its whole life), a live frame or a flush to
/// every thread. Cheap to clone; a live source holds one.
#[derive(Clone)]
pub struct Commands {
    threads: Arc<[mpsc::Sender<Command>]>,
    /// Live frames given so far, numbering the next.
    live_frames: Arc<AtomicU64>,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Commands({} threads)", self.threads.len())
    }
}

impl Commands {
    /// The thread session `id` is placed on.
    fn thread_of(&self, id: u64) -> usize {
        (id % self.threads.len() as u64) as usize
    }

    /// Sends `cmd` where it belongs (after shutdown, nowhere).
    pub fn send(&self, cmd: Command) {
        match cmd {
            Command::Play { id, .. } | Command::Stop { id, .. } => {
                let _ = self.threads[self.thread_of(id)].send(cmd);
            }
            Command::LiveFrame {
                source,
                frame,
                jpeg,
                pts_ns,
            } => {
                for thread in self.threads.iter() {
                    let _ = thread.send(Command::LiveFrame {
                        source,
                        frame,
                        jpeg: jpeg.clone(),
                        pts_ns,
                    });
                }
            }
            Command::Flush { done } => {
                for thread in self.threads.iter() {
                    let _ = thread.send(Command::Flush { done: done.clone() });
                }
            }
            Command::Shutdown => {
                for thread in self.threads.iter() {
                    let _ = thread.send(Command::Shutdown);
                }
            }
        }
    }

    /// A live source's frame, to its viewers on every thread: one buffer,
    /// shared, never copied per thread or per viewer.
    pub fn live_frame(&self, source: u64, jpeg: Arc<Vec<u8>>, pts_ns: u64) {
        let frame = self.live_frames.fetch_add(1, Ordering::Relaxed);
        self.send(Command::LiveFrame {
            source,
            frame,
            jpeg,
            pts_ns,
        });
    }
}

/// Handle to the media threads.
pub struct Engine {
    commands: Commands,
    threads: Vec<std::thread::JoinHandle<()>>,
    loads: Vec<Arc<ThreadLoad>>,
    machine: Arc<MachineLoad>,
    admission: Admission,
    /// Counters over every thread.
    pub stats: Arc<EngineStats>,
}

impl Engine {
    /// Starts `config.threads` media threads, each sending RTP from its own
    /// descriptor of `rtp` and RTCP from one of `rtcp`.
    pub fn start(
        rtp: &UdpSocket,
        rtcp: &UdpSocket,
        config: EngineConfig,
    ) -> std::io::Result<Engine> {
        let n = config.threads.max(1);
        let stats = Arc::new(EngineStats::default());
        let shared_frames = packets::SharedFrames::new(packets::CACHE_FRAMES);
        // Every thread's state first (this may fail: nothing runs yet) …
        let mut shards = Vec::with_capacity(n);
        let mut senders = Vec::with_capacity(n);
        let mut loads = Vec::with_capacity(n);
        let machine = Arc::new(MachineLoad::default());
        for i in 0..n {
            let (tx, rx) = mpsc::channel();
            let load = Arc::new(ThreadLoad::default());
            shards.push(shard::Shard {
                rx,
                rtp: PacketSocket::new(rtp.try_clone()?)?,
                rtcp: PacketSocket::new(rtcp.try_clone()?)?,
                mtu: config.mtu,
                frames: packets::Frames::new(shared_frames.clone(), packets::CACHE_FRAMES),
                stats: stats.clone(),
                load: load.clone(),
                // The first thread samples the machine.
                machine: (i == 0).then(|| machine.clone()),
            });
            senders.push(tx);
            loads.push(load);
        }
        let mut engine = Engine {
            commands: Commands {
                threads: senders.into(),
                live_frames: Arc::default(),
            },
            threads: Vec::with_capacity(n),
            loads,
            machine,
            admission: config.admission,
            stats,
        };
        // … then the threads. Should one not start, dropping `engine`
        // stops those that did.
        for (i, shard) in shards.into_iter().enumerate() {
            let thread = std::thread::Builder::new()
                .name(format!("rtp-engine-{i}"))
                .spawn(move || shard.run())?;
            engine.threads.push(thread);
        }
        Ok(engine)
    }

    /// How many media threads run.
    pub fn threads(&self) -> usize {
        self.loads.len()
    }

    /// Each thread's figures over its last measuring window, with the
    /// machine's (read once for all of them).
    pub fn loads(&self) -> Vec<LoadFigures> {
        let mut loads: Vec<LoadFigures> = self.loads.iter().map(|l| l.figures()).collect();
        let sessions = loads.iter().map(|l| l.sessions).sum();
        let machine = self
            .machine
            .figures()
            .map(|m| MachineFigures { sessions, ..m });
        for load in &mut loads {
            load.machine = machine;
        }
        loads
    }

    /// Whether any thread would refuse a new session now, judged on its
    /// last window (so it clears by itself once the load falls, without
    /// waiting for a PLAY to be admitted).
    pub fn overloaded(&self) -> bool {
        self.loads().iter().any(|l| !self.admission.has_room(l))
    }

    /// Waits while the media thread of session `id` is not ready for a new
    /// session ([`Admission::admits`]), then
    /// returns for [`Engine::admit`] to decide. With no room it waits at
    /// most [`ADMISSION_WAIT`]; with room, while a burst is taken step by
    /// step ([`LoadFigures::within_growth`], lifted at each window's end),
    /// at most [`BURST_WAIT`] — and is then admitted: a burst is paced, not
    /// refused, as long as there is room for it. A burst of PLAYs into a
    /// thread that has not measured a frame's cost yet is judged on its
    /// first window, not on the prior; and a burst of set-ups that makes the
    /// machine busy, or sends late, for a moment slows itself down — its
    /// clients wait at PLAY, not setting up more — instead of being refused.
    pub async fn until_room(&self, id: u64) {
        let thread = self.commands.thread_of(id);
        let start = tokio::time::Instant::now();
        loop {
            let load = self.loads()[thread];
            if self.admission.admits(&load) {
                return;
            }
            let most = if self.admission.has_room(&load) {
                BURST_WAIT
            } else {
                ADMISSION_WAIT
            };
            if start.elapsed() >= most {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether session `id` may start playing: its thread must keep pace
    /// with the sessions it has, and the machine have room for it
    /// ([`Admission::has_room`]; the pace at which a burst is taken only
    /// delays it, in [`Engine::until_room`]). The first refusal of an
    /// overload, and its end, are logged.
    pub fn admit(&self, id: u64) -> Result<(), Box<Overload>> {
        let thread = self.commands.thread_of(id);
        let state = &self.loads[thread];
        let load = self.loads()[thread];
        if self.admission.has_room(&load) {
            state.admitted();
            self.machine.admitted();
            if state.refusing.swap(false, Ordering::Relaxed) {
                tracing::info!(
                    thread = thread + 1,
                    "media thread keeps pace again: taking new sessions"
                );
            }
            return Ok(());
        }
        let overload = Box::new(Overload {
            thread,
            threads: self.threads(),
            load,
            admission: self.admission,
        });
        if !state.refusing.swap(true, Ordering::Relaxed) {
            tracing::warn!("refusing new sessions: {overload}");
        }
        Err(overload)
    }

    /// A sender of commands, for producers such as a live source.
    pub fn sender(&self) -> Commands {
        self.commands.clone()
    }

    /// Sends `cmd` to the thread it concerns.
    pub fn send(&self, cmd: Command) {
        self.commands.send(cmd);
    }

    /// Stops session `id` and waits until the engine has (bounded wait).
    pub fn stop_and_wait(&self, id: u64) {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        self.send(Command::Stop {
            id,
            done: Some(done_tx),
            bye: false,
        });
        let _ = done_rx.recv_timeout(Duration::from_secs(2));
    }

    /// Waits (at most 2 s) until every thread has handled every command
    /// sent before, e.g. the BYEs of sessions that end.
    pub fn flush(&self) {
        let n = self.threads();
        let (done_tx, done_rx) = mpsc::sync_channel(n);
        self.send(Command::Flush { done: done_tx });
        let deadline = Instant::now() + Duration::from_secs(2);
        for _ in 0..n {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.commands.send(Command::Shutdown);
        for t in self.threads.drain(..) {
            let _ = t.join();
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
