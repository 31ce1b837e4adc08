//! One media thread: the sessions placed on it, in one timer heap, and the
//! live viewers among them. It takes commands from its own channel, sends
//! every frame that is due from its own descriptors of the server's RTP and
//! RTCP sockets, and measures how well it keeps pace ([`super::load`]).

use super::load::{Meter, ThreadLoad, thread_cpu_time};
use super::machine::{MachineLoad, MachineMeter};
use super::packets::{self, Frames, Packets, Scratch};
use super::{Command, EngineStats, Source, Stream, rtp_time, rtp_time_at};
use crate::container::Located;
use crate::server::rtcp;
use crate::server::udp::PacketSocket;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// A sender that falls this far behind skips frames rather than bursting.
const MAX_LATE: Duration = Duration::from_millis(250);
const SR_INTERVAL: Duration = Duration::from_secs(5);
/// Commands taken between two rounds of sends, at most: a flood of PLAYs
/// is taken in rounds, never all ahead of frames already due.
const COMMANDS_PER_ROUND: usize = 1024;

/// A file session on this thread.
struct Playing {
    stream: Stream,
    generation: u64,
    /// When play frame `start_frame` was due; frame k is due at
    /// `start + (k - start_frame) / rate`.
    start: Instant,
    start_frame: u64,
    next_sr: Instant,
}

/// What a media thread owns.
pub(super) struct Shard {
    pub(super) rx: mpsc::Receiver<Command>,
    pub(super) rtp: PacketSocket,
    pub(super) rtcp: PacketSocket,
    pub(super) mtu: usize,
    pub(super) frames: Frames,
    pub(super) stats: Arc<EngineStats>,
    pub(super) load: Arc<ThreadLoad>,
    /// Where to publish the machine's figures (the first thread only).
    pub(super) machine: Option<Arc<MachineLoad>>,
}

/// A shard at work: its sessions and schedule.
struct Worker {
    shard: Shard,
    sessions: HashMap<u64, Playing>,
    /// Sessions playing a live source: source id → (session id → stream).
    live: HashMap<u64, HashMap<u64, Stream>>,
    schedule: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    scratch: Scratch,
    meter: Meter,
    machine_meter: MachineMeter,
    generation: u64,
}

/// Frames per second a session is due: its file's rate, or its live
/// source's when known.
fn fps_of(stream: &Stream) -> f64 {
    match &stream.source {
        Source::File(media) => media.rate.fps(),
        Source::Live(live) => live
            .info()
            .and_then(|i| i.fps)
            .map_or(super::load::TYPICAL_FPS, |r| r.fps()),
    }
}

/// Whether the thread goes on after a command.
enum Next {
    Continue,
    Stop,
}

impl Shard {
    /// Runs until told to shut down (or every sender is gone).
    pub(super) fn run(self) {
        let now = Instant::now();
        let mut worker = Worker {
            shard: self,
            sessions: HashMap::new(),
            live: HashMap::new(),
            schedule: BinaryHeap::new(),
            scratch: Scratch {
                plain: Vec::with_capacity(128 * 1024),
                sealed: Vec::new(),
            },
            meter: Meter::new(now, thread_cpu_time()),
            machine_meter: MachineMeter::default(),
            generation: 0,
        };
        worker.run();
    }
}

impl Worker {
    fn run(&mut self) {
        loop {
            let wait = self
                .schedule
                .peek()
                .map(|Reverse((due, _, _))| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1))
                .min(super::load::WINDOW);
            let first = self.shard.rx.recv_timeout(wait);
            let mut next = match first {
                Ok(cmd) => self.handle(cmd),
                Err(mpsc::RecvTimeoutError::Timeout) => Next::Continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => Next::Stop,
            };
            // Everything else waiting, in one go (bounded), so that commands
            // never wait behind rounds of sends one by one.
            for _ in 1..COMMANDS_PER_ROUND {
                if matches!(next, Next::Stop) {
                    break;
                }
                match self.shard.rx.try_recv() {
                    Ok(cmd) => next = self.handle(cmd),
                    Err(_) => break,
                }
            }
            if matches!(next, Next::Stop) {
                return;
            }
            self.send_due();
            let sessions =
                self.sessions.len() + self.live.values().map(HashMap::len).sum::<usize>();
            self.shard.load.set_sessions(sessions);
            let now = Instant::now();
            if self.meter.window_over(now) {
                let fps = self.session_fps();
                self.meter
                    .roll(now, thread_cpu_time(), fps, &self.shard.load);
                if let Some(machine) = &self.shard.machine {
                    self.machine_meter.sample(machine);
                }
            }
        }
    }

    /// Frames per second a session here is due, on average (read once a
    /// window, from the sessions themselves; 0 with none).
    fn session_fps(&self) -> f64 {
        let files = self.sessions.values().map(|p| fps_of(&p.stream));
        let live = self.live.values().flat_map(HashMap::values).map(fps_of);
        let (n, sum) = files
            .chain(live)
            .fold((0usize, 0.0), |(n, s), f| (n + 1, s + f));
        if n == 0 { 0.0 } else { sum / n as f64 }
    }

    fn handle(&mut self, cmd: Command) -> Next {
        match cmd {
            Command::Play { id, stream } => self.play(id, stream),
            Command::LiveFrame {
                source,
                frame,
                jpeg,
                pts_ns,
            } => self.send_live(source, frame, &jpeg, pts_ns),
            Command::Stop { id, done, bye } => {
                let stopped = self.sessions.remove(&id).map(|p| p.stream);
                let viewer = self.live.values_mut().find_map(|v| v.remove(&id));
                if let Some(Source::Live(live)) = viewer.as_ref().map(|v| &v.source) {
                    live.viewer_left();
                    if self.live.get(&live.id).is_some_and(HashMap::is_empty) {
                        self.live.remove(&live.id);
                    }
                }
                if bye && let Some(stream) = stopped.as_ref().or(viewer.as_ref()) {
                    rtcp::send_bye(&self.shard.rtcp, stream);
                }
                if let Some(done) = done {
                    let _ = done.try_send(());
                }
            }
            Command::Flush { done } => {
                let _ = done.try_send(());
            }
            Command::Shutdown => return Next::Stop,
        }
        Next::Continue
    }

    fn play(&mut self, id: u64, stream: Stream) {
        self.shard.load.took_play();
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
            return;
        }
        self.generation += 1;
        let now = Instant::now();
        let start_frame = stream.counters.next_frame.load(Ordering::Relaxed);
        stream.counters.ended.store(false, Ordering::Relaxed);
        self.sessions.insert(
            id,
            Playing {
                stream,
                generation: self.generation,
                start: now,
                start_frame,
                next_sr: now,
            },
        );
        self.schedule.push(Reverse((now, id, self.generation)));
    }

    /// Sends every frame due by now, the most overdue first: under
    /// overload every session falls behind alike, none is starved.
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
            let sent_at = Instant::now();
            self.meter.sent_late(sent_at.saturating_duration_since(due));
            let next_due = self.send_frame(id, due, sent_at);
            self.meter.frames(1);
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
        // The exact count, once the file is indexed; until then frames are
        // found as the walk goes (or estimated past it).
        let frames = media.exact_frames();
        let mut n = counters.next_frame.load(Ordering::Relaxed);
        // Skip frames rather than burst when far behind.
        if now.duration_since(due) > MAX_LATE {
            let behind = media
                .rate
                .frame_at_ns(now.duration_since(due).as_nanos() as u64);
            n += behind;
            self.shard
                .stats
                .frames_late
                .fetch_add(behind, Ordering::Relaxed);
        }
        if frames.is_some_and(|f| f == 0 || (!stream.looping && n >= f)) {
            counters.ended.store(true, Ordering::Relaxed);
            rtcp::send_bye(&self.shard.rtcp, stream);
            return None;
        }
        let file_frame = frames.map_or(n, |f| n % f);
        let wire = stream.wire;
        let mtu = stream.packet_mtu(self.shard.mtu);
        let stats = &self.shard.stats;
        let packets = match media.locate(file_frame) {
            // Cached by number: only frames known for certain.
            Located::Exact(e) => self
                .shard
                .frames
                .get_or_make((media.id, file_frame, wire, mtu), || {
                    Packets::make(media.read(file_frame, &e).ok()?, wire, mtu, stats)
                }),
            Located::Estimated(e) => media
                .read(file_frame, &e)
                .ok()
                .and_then(|data| Packets::make(data, wire, mtu, stats))
                .map(Arc::new),
            // Not found yet (sent nothing this time), or past the end
            // the walk has just found: the next round ends the stream.
            Located::NotYet | Located::End => None,
        };
        let playing = self.sessions.get_mut(&id)?;
        let stream = &playing.stream;
        counters.next_frame.store(n + 1, Ordering::Relaxed);
        let sent_ok = match packets.as_deref() {
            Some(p) => packets::send_packets(
                &self.shard.rtp,
                &mut self.scratch,
                &self.shard.stats,
                stream,
                rtp_time(stream, n),
                p,
            ),
            None => false,
        };
        self.shard.stats.frame(&counters, sent_ok);
        if now >= playing.next_sr {
            playing.next_sr = now + SR_INTERVAL;
            rtcp::send_sender_report(&self.shard.rtcp, stream, rtp_time(stream, n));
        }
        let rel = n + 1 - playing.start_frame;
        let next = playing.start + Duration::from_nanos(media.rate.frame_start_ns(rel));
        Some(next.max(due))
    }

    /// Sends live frame `frame` (numbered across every source by the
    /// engine) to this thread's viewers of `source`, packetised once per
    /// wire for every thread.
    fn send_live(&mut self, source: u64, frame: u64, jpeg: &[u8], pts_ns: u64) {
        let Some(viewers) = self.live.get(&source) else {
            return;
        };
        self.meter.frames(viewers.len());
        let stats = &self.shard.stats;
        let mut by_wire: HashMap<(super::Wire, usize), Option<Arc<Packets>>> = HashMap::new();
        for stream in viewers.values() {
            let mtu = stream.packet_mtu(self.shard.mtu);
            let wire = stream.wire;
            let packets = by_wire
                .entry((wire, mtu))
                .or_insert_with(|| {
                    self.shard
                        .frames
                        .get_or_make((u64::MAX - source, frame, wire, mtu), || {
                            Packets::make(jpeg.to_vec(), wire, mtu, stats)
                        })
                })
                .clone();
            let ok = match packets.as_deref() {
                Some(p) => packets::send_packets(
                    &self.shard.rtp,
                    &mut self.scratch,
                    stats,
                    stream,
                    rtp_time_at(stream, pts_ns),
                    p,
                ),
                None => false,
            };
            stats.frame(&stream.counters, ok);
        }
    }
}
