//! Starting a client library session in tests, and reading its events.

use mjpegrtsp::client::{ClientOptions, EndReason, Event, Events, Frame, Session};
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

/// Connects to `url`, runs DESCRIBE, SETUP and PLAY, and gives the session
/// (which must be kept: dropping it tears down) and its events; any failure
/// fails the test.
pub async fn playing(url: &str, options: ClientOptions) -> (Session, Events) {
    let mut s = Session::connect(url, options).await.unwrap();
    s.describe().await.unwrap();
    s.setup().await.unwrap();
    let events = s.events().unwrap();
    s.play(None).await.unwrap();
    (s, events)
}
