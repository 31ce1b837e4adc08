//! MJPEG over HTTP: a viewer of `/stream/<mount>` is a session like an RTSP
//! one (same limits, same registry, same engine), whose frames go into its
//! connection as `multipart/x-mixed-replace` parts ([`Wire::Multipart`]),
//! paced at the mount's frame rate, dropped rather than queued past about
//! a second for a slow reader. And `/snapshot/<mount>`: one frame.

use super::routes::Refused;
use crate::rtsp::StatusCode;
use crate::server::engine::{Command, Counters, Route, Source, Stream, Wire};
use crate::server::queue::Outgoing;
use crate::server::stats::Port;
use crate::server::{Session, SessionState, Shared};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

/// How often a streaming connection looks whether its session ended.
const CHECK: Duration = Duration::from_millis(250);

/// An HTTP viewer's session, made and not yet playing.
pub(super) struct Viewer {
    session: Arc<Session>,
    stream: Stream,
}

impl Viewer {
    /// A session for `peer` playing `source` from `t` seconds (files; live
    /// sources join live), its frames going to `tx`, with engine id
    /// `engine_id` (from `Shared::new_engine_id`). 503 over the limits.
    pub(super) fn start(
        shared: &Arc<Shared>,
        source: Source,
        t: Option<f64>,
        peer: SocketAddr,
        tx: &Outgoing,
        engine_id: u64,
    ) -> Result<Viewer, Refused> {
        let counters = Arc::new(Counters::default());
        if let (Source::File(media), Some(t)) = (&source, t) {
            let frame = media.rate.frame_at_ns((t * 1e9) as u64);
            let past_end = media.exact_frames().is_some_and(|n| frame >= n);
            if past_end && !shared.config.looping {
                let why = format!("t={t}: past the end ({:.3} s)", media.duration_secs());
                return Err(Refused::Status(StatusCode::BAD_REQUEST, why));
            }
            counters.next_frame.store(frame, Ordering::Relaxed);
        }
        tx.allow(source.bytes_per_second());
        let stream = Stream {
            source,
            wire: Wire::Multipart,
            route: Route::Body { out: tx.clone() },
            ssrc: 0,
            payload_type: 0,
            timestamp_base: 0,
            looping: shared.config.looping,
            counters: counters.clone(),
            srtp: None,
        };
        let client = peer.ip().to_canonical();
        let now = Instant::now();
        shared
            .admit_play(engine_id)
            .map_err(|why| Refused::Status(StatusCode::SERVICE_UNAVAILABLE, why))?;
        let session = shared
            .add_session(client, |id| Session {
                id,
                client,
                engine_id,
                dialect: crate::rtsp::Dialect::Standard,
                via: Port::Http,
                created: now,
                counters,
                rtcp_from: None,
                removed: AtomicBool::new(false),
                state: Mutex::new(SessionState {
                    playing: true,
                    ever_played: true,
                    last_activity: now,
                    connected: true,
                    stream: stream.clone(),
                }),
            })
            .map_err(|full| {
                let why = crate::server::setup::sessions_full(full).1;
                Refused::Status(StatusCode::SERVICE_UNAVAILABLE, why)
            })?;
        tracing::info!(%peer, session = %session.id, mount = %stream.source.mount(), "HTTP viewer");
        Ok(Viewer { session, stream })
    }

    /// Plays until the viewer leaves (its connection closes or a write
    /// fails) or the session ends (a file's end, the publisher left, the
    /// server stops); a stream that ended gets the closing boundary.
    pub(super) async fn run(
        self,
        shared: &Arc<Shared>,
        reader: &mut OwnedReadHalf,
        writer: &mut tokio::task::JoinHandle<()>,
        tx: &Outgoing,
    ) {
        shared.engine.send(Command::Play {
            id: self.session.engine_id,
            stream: self.stream.clone(),
        });
        let mut check = tokio::time::interval(CHECK);
        let mut scratch = [0u8; 1024];
        let ended = loop {
            tokio::select! {
                read = reader.read(&mut scratch) => match read {
                    // Anything more the client sends is not read as requests.
                    Ok(n) if n > 0 => {}
                    _ => break false,
                },
                _ = &mut *writer => break false,
                _ = check.tick() => {
                    if self.session.removed.load(Ordering::Relaxed)
                        || self.stream.counters.ended.load(Ordering::Relaxed)
                    {
                        break true;
                    }
                }
            }
        };
        if ended {
            let _ = tx.send_reply(crate::http::multipart::CLOSING).await;
        }
        self.end(
            shared,
            if ended {
                "stream ended"
            } else {
                "HTTP viewer left"
            },
        );
    }

    /// Ends the session (if the server has not already).
    pub(super) fn end(&self, shared: &Shared, why: &str) {
        self.session.state.lock().unwrap().connected = false;
        shared.remove_session(&self.session.id, why, false);
    }
}

/// One JPEG of `source`: a live source's latest frame, or a file's frame
/// at `t` seconds (default its first; past the end, its last).
pub(super) fn snapshot(source: &Source, t: Option<f64>) -> Result<Vec<u8>, Refused> {
    match source {
        Source::Live(live) => live.latest_frame().map(|f| f.to_vec()).ok_or_else(|| {
            Refused::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "/{}: no frame yet (a relay streams while it has viewers)",
                    live.mount
                ),
            )
        }),
        Source::File(media) => {
            let wanted = media.rate.frame_at_ns((t.unwrap_or(0.0) * 1e9) as u64);
            let frame = wanted.min(media.frames().saturating_sub(1));
            // A snapshot past the walk is near its time, not exact: fine
            // for a picture; one not found yet is worth a retry.
            media.frame(frame).map_err(|e| {
                let status = if e.kind() == std::io::ErrorKind::WouldBlock {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                Refused::Status(status, e.to_string())
            })
        }
    }
}
