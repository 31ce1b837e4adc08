//! Reading a client library session's events in tests.

use mjpegrtsp::client::{EndReason, Event, Events, Frame};
use std::time::Duration;

/// Frames until `count` came, the stream ended (with why), or `within`
/// passed; statistics and stall notices are skipped, and a background error
/// fails the test.
pub async fn collect_frames(
    events: &mut Events,
    count: usize,
    within: Duration,
) -> (Vec<Frame>, Option<EndReason>) {
    let deadline = tokio::time::Instant::now() + within;
    let mut frames = Vec::new();
    while frames.len() < count {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Frame(f))) => frames.push(f),
            Ok(Some(Event::End(why))) => return (frames, Some(why)),
            Ok(Some(Event::Error(e))) => panic!("background error: {e}"),
            Ok(Some(Event::Stats(_) | Event::Stalled { .. } | Event::Resumed { .. })) => {}
            Ok(None) | Err(_) => break,
        }
    }
    (frames, None)
}
