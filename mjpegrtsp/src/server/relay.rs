//! Relays: an upstream RTSP stream (this server in either dialect,
//! gst-rtsp-server, a camera) re-served at a mount through this project's
//! own client, frames unchanged. On demand: the one upstream session opens
//! when the mount gets its first viewer and closes [`LINGER`] after the last
//! leaves; every viewer shares it, so the upstream sees one client however
//! many watch. When the upstream fails or drops, the relay tries again with
//! back-off while viewers wait (their sessions stay; frames resume).

use super::live::{LiveInfo, LiveSource};
use crate::client::{ClientOptions, Event, Session, without_password};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long the upstream session stays after the last viewer leaves.
pub const LINGER: Duration = Duration::from_secs(5);
/// The first wait before trying a failed upstream again; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the relay looks at its viewer count while streaming.
const CHECK: Duration = Duration::from_millis(250);

/// Runs the relay of `url` into `source` until the task is aborted.
pub(super) async fn run(source: Arc<LiveSource>, url: String, options: ClientOptions) {
    let shown = without_password(&url);
    // Frames are stamped with their arrival on one clock, so that the
    // viewers' RTP timestamps run on across upstream reconnections.
    let epoch = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        source.wait_for_viewers().await;
        tracing::info!(mount = %source.mount, upstream = %shown, "opening the upstream for its first viewer");
        match stream(&source, &url, options.clone(), epoch).await {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                tracing::info!(mount = %source.mount, upstream = %shown, "upstream closed: no viewer for {LINGER:?}");
            }
            Err(why) => {
                tracing::warn!(mount = %source.mount, upstream = %shown, "upstream: {why}; trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One upstream session: frames into `source` until no viewer has been
/// left for [`LINGER`] (`Ok`) or the upstream fails or ends (`Err`, why;
/// never with the URL's password).
async fn stream(
    source: &LiveSource,
    url: &str,
    options: ClientOptions,
    epoch: Instant,
) -> Result<(), String> {
    let mut session = Session::connect(url, options)
        .await
        .map_err(|e| e.to_string())?;
    session.setup().await.map_err(|e| e.to_string())?;
    let fps = session.framerate();
    let mut events = session.events().ok_or("no event stream")?;
    session.play(None).await.map_err(|e| e.to_string())?;
    let _open = UpstreamOpen::new(source);
    let mut alone_since: Option<Instant> = None;
    let mut check = tokio::time::interval(CHECK);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Frame(frame)) => {
                    let info = LiveInfo::of_jpeg(&frame.jpeg, fps);
                    let pts = frame.arrival.saturating_duration_since(epoch);
                    source.push_frame(frame.jpeg, pts.as_nanos() as u64, info);
                }
                Some(Event::End(reason)) => return Err(format!("the stream ended ({reason:?})")),
                Some(Event::Error(e)) => return Err(e.to_string()),
                Some(_) => {}
                None => return Err("the session ended".into()),
            },
            _ = check.tick() => {
                if source.viewers() > 0 {
                    alone_since = None;
                } else if alone_since.get_or_insert_with(Instant::now).elapsed() >= LINGER {
                    let _ = session.teardown().await;
                    return Ok(());
                }
            }
        }
    }
}

/// Marks a relay's upstream open while it lives.
struct UpstreamOpen<'a>(&'a LiveSource);

impl<'a> UpstreamOpen<'a> {
    fn new(source: &'a LiveSource) -> Self {
        source.upstream_open.store(true, Ordering::Relaxed);
        source.upstream_opened.fetch_add(1, Ordering::Relaxed);
        UpstreamOpen(source)
    }
}

impl Drop for UpstreamOpen<'_> {
    fn drop(&mut self) {
        self.0.upstream_open.store(false, Ordering::Relaxed);
    }
}
