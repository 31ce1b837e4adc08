//! A frame as it goes on the wire, made once and shared: the packets of
//! one frame for one wire ([`Packets`]), the caches that keep them
//! ([`Frames`]: each media thread's own, in front of one shared by all of
//! them), and the sending of one session's copy of them (its RTP headers,
//! SRTP, UDP GSO or interleaved framing, or an HTTP part).

use super::{EngineStats, Route, Stream, Wire};
use crate::http::multipart;
use crate::rtp::srtp;
use crate::rtp::{HEADER_LEN, RtpHeader, rfc2435};
use crate::rtsp::encode_interleaved;
use crate::server::udp::PacketSocket;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Packetised frames kept by each cache: more than a 10 s clip at 24 fps.
pub(super) const CACHE_FRAMES: usize = 256;

/// A frame's packets: source, frame, wire and packet size.
pub(super) type CacheKey = (u64, u64, Wire, usize);

/// A packetised frame, shared by the sessions sending it.
pub(super) enum Packets {
    Classic(Vec<u8>),
    Rfc2435(rfc2435::Packetized),
    /// One multipart part, shared by the connections it is queued to.
    Multipart(Bytes),
}

impl Packets {
    /// `jpeg` as `wire` puts it on the wire, packets at most `mtu` bytes;
    /// `None` (counted in `stats`) when RFC 2435 cannot carry it.
    pub(super) fn make(
        jpeg: Vec<u8>,
        wire: Wire,
        mtu: usize,
        stats: &EngineStats,
    ) -> Option<Packets> {
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

/// Packetised frames by key, the oldest let go first.
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

    fn get(&self, key: &CacheKey) -> Option<Arc<Packets>> {
        self.map.get(key).cloned()
    }

    fn insert(&mut self, key: CacheKey, packets: Arc<Packets>) {
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key);
        self.map.insert(key, packets);
    }
}

/// The packetised frames every media thread shares: a frame is read and
/// packetised once for all of them.
pub(super) struct SharedFrames(Mutex<FrameCache>);

impl SharedFrames {
    pub(super) fn new(capacity: usize) -> Arc<SharedFrames> {
        Arc::new(SharedFrames(Mutex::new(FrameCache::new(capacity))))
    }
}

/// One media thread's view of the packetised frames: its own cache (no
/// lock; the same `Arc`s, so no second copy of any packet) in front of the
/// shared one, which is locked only when a frame is new to this thread.
pub(super) struct Frames {
    local: FrameCache,
    shared: Arc<SharedFrames>,
}

impl Frames {
    pub(super) fn new(shared: Arc<SharedFrames>, capacity: usize) -> Frames {
        Frames {
            local: FrameCache::new(capacity),
            shared,
        }
    }

    /// The packets at `key`, made by `make` if no thread has them;
    /// `None` when they cannot be made.
    pub(super) fn get_or_make(
        &mut self,
        key: CacheKey,
        make: impl FnOnce() -> Option<Packets>,
    ) -> Option<Arc<Packets>> {
        if let Some(p) = self.local.get(&key) {
            return Some(p);
        }
        let packets = {
            let mut shared = self.shared.0.lock().unwrap();
            match shared.get(&key) {
                Some(p) => p,
                None => {
                    let p = Arc::new(make()?);
                    shared.insert(key, p.clone());
                    p
                }
            }
        };
        self.local.insert(key, packets.clone());
        Some(packets)
    }
}

/// Buffers a frame's packets are written in: in clear, then sealed (SRTP).
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) plain: Vec<u8>,
    pub(super) sealed: Vec<u8>,
}

fn wallclock_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Builds and sends one frame's packets; false if nothing could be sent.
pub(super) fn send_packets(
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
