//! The frame rate: the one type for it, parsed and written in one place,
//! and frame numbers ↔ stream time without drift.
//!
//! Written as SDP's `a=framerate:` and the caps' `a-framerate` write it: a
//! decimal (`24`, `29.97`, `12.5`). Parsed from that, or from `num/den`;
//! decimals within rounding of the NTSC rates n·1000/1001 are exactly those
//! (`29.97` is 30000/1001 everywhere: server, client, elements, CLI).

use std::fmt;
use std::str::FromStr;

const NS_PER_S: u128 = 1_000_000_000;

/// A constant frame rate `num/den` frames per second (both positive and
/// within `i32`, as GStreamer fractions are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRate {
    num: u32,
    den: u32,
}

impl FrameRate {
    /// `None` unless both parts are positive.
    pub fn new(num: i32, den: i32) -> Option<Self> {
        Some(Self {
            num: u32::try_from(num).ok().filter(|&n| n > 0)?,
            den: u32::try_from(den).ok().filter(|&d| d > 0)?,
        })
    }

    /// The numerator (positive).
    pub fn num(&self) -> i32 {
        i32::try_from(self.num).unwrap_or(i32::MAX)
    }

    /// The denominator (positive).
    pub fn den(&self) -> i32 {
        i32::try_from(self.den).unwrap_or(i32::MAX)
    }

    /// Frames per second as a float, for display and statistics.
    pub fn fps(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// Parses `24`, `29.97`, `12.5` or `30000/1001`. Decimals within rounding
    /// of the NTSC rates become exactly n·1000/1001; other decimals keep up to
    /// three places. `None` for anything else or a rate that is not positive
    /// and finite (or above 10,000 fps).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some((n, d)) = s.split_once('/') {
            return Self::new(n.trim().parse().ok()?, d.trim().parse().ok()?);
        }
        let v: f64 = s.parse().ok()?;
        if !v.is_finite() || v <= 0.0 || v > 10_000.0 {
            return None;
        }
        // Within the range checked above, so the float-to-int casts are exact.
        if (v - v.round()).abs() < 1e-9 {
            return Self::new(v.round() as i32, 1);
        }
        let ntsc = v * 1001.0 / 1000.0;
        if (ntsc - ntsc.round()).abs() < 0.001 {
            return Self::new(ntsc.round() as i32 * 1000, 1001);
        }
        let num = (v * 1000.0).round() as i64;
        let g = gcd(num, 1000);
        Self::new(i32::try_from(num / g).ok()?, i32::try_from(1000 / g).ok()?)
    }

    /// Start time of frame `n` (counting from 0), in nanoseconds.
    pub fn frame_start_ns(&self, n: u64) -> u64 {
        let ns = u128::from(n) * u128::from(self.den) * NS_PER_S / u128::from(self.num);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Start of frame `n` in ticks of a `clock_rate` Hz media clock (an RTP
    /// timestamp before its random base and 32-bit wrap): exact, so frame
    /// after frame the ticks never drift from the frame times.
    pub fn frame_start_ticks(&self, n: u64, clock_rate: u32) -> u128 {
        u128::from(n) * u128::from(clock_rate) * u128::from(self.den) / u128::from(self.num)
    }

    /// Duration of frame `n`, in nanoseconds (exact start of the next minus its start).
    pub fn frame_duration_ns(&self, n: u64) -> u64 {
        self.frame_start_ns(n + 1) - self.frame_start_ns(n)
    }

    /// The frame shown at time `ns`: the last frame starting at or before it.
    pub fn frame_at_ns(&self, ns: u64) -> u64 {
        let n = u128::from(ns) * u128::from(self.num) / (u128::from(self.den) * NS_PER_S);
        // Rounding in frame_start_ns can put a frame's start a nanosecond late.
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if n < u64::MAX && self.frame_start_ns(n + 1) <= ns {
            n + 1
        } else {
            n
        }
    }
}

impl fmt::Display for FrameRate {
    /// The decimal SDP and caps use: `24`, `29.97`, `23.976`, `12.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num.is_multiple_of(self.den) {
            return write!(f, "{}", self.num / self.den);
        }
        let s = format!("{:.3}", self.fps());
        f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// [`FrameRate::parse`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFrameRate(pub String);

impl fmt::Display for InvalidFrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid frame rate {:?}: use e.g. 24, 29.97 or 30000/1001",
            self.0
        )
    }
}

impl std::error::Error for InvalidFrameRate {}

impl FromStr for FrameRate {
    type Err = InvalidFrameRate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| InvalidFrameRate(s.to_owned()))
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whole_rates() {
        let r = FrameRate::new(24, 1).unwrap();
        assert_eq!(r.frame_start_ns(240), 10_000_000_000);
        assert_eq!(r.frame_at_ns(10_000_000_000), 240);
        assert_eq!(r.frame_at_ns(41_666_665), 0);
        assert_eq!(r.frame_at_ns(41_666_666), 1);
        assert_eq!(FrameRate::new(0, 1), None);
        assert_eq!(FrameRate::new(24, 0), None);
        assert_eq!(FrameRate::new(-24, 1), None);
    }

    #[test]
    fn media_clock_ticks_are_exact_for_ntsc_rates() {
        let ntsc = FrameRate::new(30000, 1001).unwrap();
        // 30,000 frames at 29.97 fps last exactly 1001 s: 90,090,000 ticks.
        assert_eq!(ntsc.frame_start_ticks(30_000, 90_000), 90_090_000);
        assert_eq!(ntsc.frame_start_ticks(1, 90_000), 3003);
        let pal = FrameRate::new(25, 1).unwrap();
        assert_eq!(pal.frame_start_ticks(7, 90_000), 7 * 3600);
    }

    fn rate(num: i32, den: i32) -> Option<FrameRate> {
        FrameRate::new(num, den)
    }

    #[test]
    fn writes_decimals() {
        for ((n, d), text) in [
            ((24, 1), "24"),
            ((30000, 1001), "29.97"),
            ((24000, 1001), "23.976"),
            ((25, 2), "12.5"),
        ] {
            assert_eq!(rate(n, d).unwrap().to_string(), text);
        }
    }

    #[test]
    fn parses_decimals_and_fractions() {
        for (text, want) in [
            ("24", rate(24, 1)),
            (" 25.0 ", rate(25, 1)),
            ("29.97", rate(30000, 1001)),
            ("29.970", rate(30000, 1001)),
            ("23.976", rate(24000, 1001)),
            ("59.94", rate(60000, 1001)),
            ("12.5", rate(25, 2)),
            ("30000/1001", rate(30000, 1001)),
        ] {
            assert_eq!(FrameRate::parse(text), want, "{text}");
        }
        for bad in ["", "x", "0", "-24", "NaN", "inf", "1/0", "1e9", "0/5"] {
            assert_eq!(FrameRate::parse(bad), None, "{bad}");
            assert!(bad.parse::<FrameRate>().is_err());
        }
    }

    #[test]
    fn round_trips_through_text() {
        for (n, d) in [(24, 1), (30000, 1001), (24000, 1001), (25, 2), (15, 1)] {
            let r = rate(n, d).unwrap();
            assert_eq!(FrameRate::parse(&r.to_string()), Some(r));
        }
    }

    proptest! {
        #[test]
        fn start_of_frame_maps_back(num in 1i32..240_000, den in 1i32..1001, n in 0u64..10_000_000) {
            let r = FrameRate::new(num, den).unwrap();
            prop_assert_eq!(r.frame_at_ns(r.frame_start_ns(n)), n);
            let dur = r.frame_duration_ns(n);
            if dur > 1 {
                prop_assert_eq!(r.frame_at_ns(r.frame_start_ns(n) + dur - 1), n);
            }
        }
    }
}
