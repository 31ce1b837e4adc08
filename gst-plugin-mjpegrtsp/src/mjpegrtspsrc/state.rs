//! The running state of one element, and the network runtime all elements
//! share.
//!
//! Everything that lives from READY→PAUSED to PAUSED→READY is in one
//! [`State`] behind one `Mutex`. The lock is never held while the element
//! calls out (pushing buffers, posting messages, setting caps) nor while
//! `create` waits for the next event: `create` takes the [`Events`] out of
//! the state while it waits and puts them back after. Waking that wait
//! (`unlock`) goes through the element's `flushing` flag and `Notify`, which
//! need no lock.

use mjpegrtsp::client::{Events, Session, Stats};
use std::sync::LazyLock;
use std::time::Duration;

/// Worker threads of the shared runtime: the client's work per stream is
/// small (reading sockets, reassembling frames), so a few threads serve many
/// elements.
const RUNTIME_WORKERS: usize = 2;

/// The one tokio runtime every `mjpegrtspsrc` in the process runs its RTSP
/// sessions on (threads named `mjpegrtspsrc-net`). Built on first use; an
/// error (no thread could be started) is kept and reported by each start.
static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .thread_name("mjpegrtspsrc-net")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

/// The shared runtime's handle, or why there is none.
pub(super) fn runtime() -> Result<tokio::runtime::Handle, gst::ErrorMessage> {
    match &*RUNTIME {
        Ok(rt) => Ok(rt.handle().clone()),
        Err(e) => Err(gst::error_msg!(
            gst::CoreError::Failed,
            ("Cannot start the network threads: {e}")
        )),
    }
}

/// Between READY→PAUSED (connect, DESCRIBE, SETUP) and PAUSED→READY.
#[derive(Default)]
pub(super) enum State {
    #[default]
    Stopped,
    Started(Box<Started>),
}

/// A set-up RTSP session and what the element learnt from it.
pub(super) struct Started {
    pub session: Session,
    /// The session's frames and stats; `None` while `create` waits on them.
    pub events: Option<Events>,
    /// Set by a PLAY; a seek before the first PLAY is kept for it.
    pub played: bool,
    pub pending_seek: Option<Duration>,
    /// From the SDP's `a=range`: the media can be sought.
    pub duration: Option<gst::ClockTime>,
    /// From the SDP's `a=framerate`.
    pub framerate: Option<gst::Fraction>,
    /// Caps last set on the source pad.
    pub caps: Option<gst::Caps>,
    /// From the last stats event.
    pub stats: Stats,
}

impl Started {
    /// The state after a session was set up.
    pub fn new(mut session: Session) -> Self {
        let events = session.events();
        let duration = session.duration().and_then(clock_time);
        let framerate = session
            .framerate()
            .map(|r| gst::Fraction::new(r.num(), r.den()));
        Self {
            session,
            events,
            played: false,
            pending_seek: None,
            duration,
            framerate,
            caps: None,
            stats: Stats::default(),
        }
    }
}

impl State {
    /// The started state, if started.
    pub fn started(&mut self) -> Option<&mut Started> {
        match self {
            State::Started(s) => Some(s),
            State::Stopped => None,
        }
    }
}

/// `d` as a clock time, when it is one (a duration from the network may be
/// anything: `None` rather than a panic or a wrapped value).
pub(super) fn clock_time(d: Duration) -> Option<gst::ClockTime> {
    gst::ClockTime::try_from(d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_only_when_they_are_clock_times() {
        assert_eq!(
            clock_time(Duration::from_millis(2500)),
            Some(gst::ClockTime::from_mseconds(2500))
        );
        // GST_CLOCK_TIME_NONE in nanoseconds, and beyond u64.
        assert_eq!(clock_time(Duration::from_nanos(u64::MAX)), None);
        assert_eq!(clock_time(Duration::from_secs(u64::MAX)), None);
        let max = Duration::from_nanos(u64::MAX - 1);
        assert_eq!(clock_time(max), Some(gst::ClockTime::MAX));
    }

    #[test]
    fn every_element_shares_one_runtime() {
        let a = runtime().expect("a runtime");
        let b = runtime().expect("a runtime");
        assert_eq!(a.id(), b.id());
    }
}
