//! Frame numbers ↔ stream time for a constant frame rate, without drift.

const NS_PER_S: u128 = 1_000_000_000;

/// A constant frame rate `num/den` frames per second (both non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    pub fn num(&self) -> i32 {
        self.num as i32
    }

    pub fn den(&self) -> i32 {
        self.den as i32
    }

    /// Start time of frame `n` (counting from 0), in nanoseconds.
    pub fn frame_start_ns(&self, n: u64) -> u64 {
        let ns = u128::from(n) * u128::from(self.den) * NS_PER_S / u128::from(self.num);
        u64::try_from(ns).unwrap_or(u64::MAX)
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
