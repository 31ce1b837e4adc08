//! The RTSP state machine as the player's buttons see it, as plain Rust.
//!
//! RFC 2326 has three client states: INIT (nothing set up), READY (set up or
//! paused) and PLAYING. Each button is enabled only where its request is
//! valid: SETUP in INIT; PLAY and STOP (TEARDOWN) in READY; PAUSE and STOP in
//! PLAYING. While a request is in flight every button waits for its answer.

use std::fmt;

/// Where the player is in the RTSP state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// No stream or file chosen yet.
    #[default]
    Empty,
    /// A source is chosen but not set up (RTSP INIT).
    Init,
    /// Set up or paused (RTSP READY).
    Ready,
    /// Playing.
    Playing,
}

impl Phase {
    /// The state's name as the status bar shows it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Empty | Phase::Init => "INIT",
            Phase::Ready => "READY",
            Phase::Playing => "PLAYING",
        }
    }
}

/// A request to the player, one per control button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Setup,
    Play,
    Pause,
    Stop,
}

impl Request {
    /// The state the player is in once the request succeeded.
    pub fn target(self) -> Phase {
        match self {
            Request::Setup | Request::Pause => Phase::Ready,
            Request::Play => Phase::Playing,
            Request::Stop => Phase::Init,
        }
    }

    /// Whether the request is valid in `phase`.
    pub fn allowed_in(self, phase: Phase) -> bool {
        matches!(
            (self, phase),
            (Request::Setup, Phase::Init)
                | (Request::Play, Phase::Ready)
                | (Request::Pause, Phase::Playing)
                | (Request::Stop, Phase::Ready | Phase::Playing)
        )
    }

    /// What the status bar says while the request is in flight.
    pub fn progress(self) -> &'static str {
        match self {
            Request::Setup => "SETUP…",
            Request::Play => "PLAY…",
            Request::Pause => "PAUSE…",
            Request::Stop => "TEARDOWN…",
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Request::Setup => "SETUP",
            Request::Play => "PLAY",
            Request::Pause => "PAUSE",
            Request::Stop => "TEARDOWN",
        })
    }
}

/// Which control buttons are enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Controls {
    pub setup: bool,
    pub play: bool,
    pub pause: bool,
    pub stop: bool,
}

impl Controls {
    /// The buttons enabled in `phase`; none while a request is `busy`.
    pub fn for_phase(phase: Phase, busy: bool) -> Controls {
        if busy {
            return Controls::default();
        }
        Controls {
            setup: Request::Setup.allowed_in(phase),
            play: Request::Play.allowed_in(phase),
            pause: Request::Pause.allowed_in(phase),
            stop: Request::Stop.allowed_in(phase),
        }
    }
}

/// `h:mm:ss` or `m:ss` for a position or duration.
pub fn format_time(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Where a seek to `secs` lands, in nanoseconds: within `0..=duration`
/// (NaN and negative: 0), converted without overflow — a duration near
/// `u64::MAX` nanoseconds must not round up past it.
pub fn seek_nanos(secs: f64, duration: u64) -> u64 {
    if secs.is_nan() || secs <= 0.0 {
        return 0;
    }
    std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .map_or(duration, |n| n.min(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_follow_the_rtsp_state_machine() {
        let c = |setup, play, pause, stop| Controls {
            setup,
            play,
            pause,
            stop,
        };
        assert_eq!(
            Controls::for_phase(Phase::Empty, false),
            c(false, false, false, false)
        );
        assert_eq!(
            Controls::for_phase(Phase::Init, false),
            c(true, false, false, false)
        );
        assert_eq!(
            Controls::for_phase(Phase::Ready, false),
            c(false, true, false, true)
        );
        assert_eq!(
            Controls::for_phase(Phase::Playing, false),
            c(false, false, true, true)
        );
        for phase in [Phase::Empty, Phase::Init, Phase::Ready, Phase::Playing] {
            assert_eq!(Controls::for_phase(phase, true), Controls::default());
        }
    }

    #[test]
    fn every_allowed_request_leads_to_a_state_where_it_is_not_allowed_again() {
        for req in [Request::Setup, Request::Play, Request::Pause, Request::Stop] {
            for phase in [Phase::Init, Phase::Ready, Phase::Playing] {
                if req.allowed_in(phase) {
                    assert!(!req.allowed_in(req.target()), "{req} twice");
                }
            }
        }
        assert_eq!(Phase::Ready.name(), "READY");
        assert_eq!(Request::Stop.to_string(), "TEARDOWN");
    }

    #[test]
    fn seek_positions_stay_within_the_duration() {
        let d = 2_000_000_000;
        assert_eq!(seek_nanos(1.5, d), 1_500_000_000);
        assert_eq!(seek_nanos(5.0, d), d);
        assert_eq!(seek_nanos(-1.0, d), 0);
        assert_eq!(seek_nanos(f64::NAN, d), 0);
        assert_eq!(seek_nanos(f64::INFINITY, d), d);
        // The largest clock time: its seconds as f64 round up past u64 nanoseconds.
        let max = u64::MAX - 1;
        assert_eq!(seek_nanos(max as f64 / 1e9, max), max);
        assert_eq!(seek_nanos(1e30, max), max);
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "0:00");
        assert_eq!(format_time(9_999_000_000), "0:09");
        assert_eq!(format_time(75_000_000_000), "1:15");
        assert_eq!(format_time(3_725_000_000_000), "1:02:05");
    }
}
