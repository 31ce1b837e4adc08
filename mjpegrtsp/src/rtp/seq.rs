//! Wrapping arithmetic on 16-bit sequence numbers and 32-bit timestamps.

/// How far `a` is ahead of `b` in 16-bit sequence space, in −32768‥=32767:
/// `seq_diff(0, 65535) == 1`, `seq_diff(65535, 0) == -1`.
pub fn seq_diff(a: u16, b: u16) -> i32 {
    i32::from(a.wrapping_sub(b) as i16)
}

/// Unwraps 16-bit sequence numbers into a monotonic-ish 64-bit count, taking
/// each number to be the one nearest to the highest seen so far.
#[derive(Debug, Clone, Default)]
pub struct SeqExtender {
    highest: Option<(u16, i64)>,
}

impl SeqExtender {
    /// The extended value of `seq`, without recording it.
    pub fn peek(&self, seq: u16) -> i64 {
        match self.highest {
            None => i64::from(seq),
            Some((h, ext)) => ext + i64::from(seq_diff(seq, h)),
        }
    }

    /// The extended value of `seq`; it becomes the highest if it is.
    pub fn extend(&mut self, seq: u16) -> i64 {
        let ext = self.peek(seq);
        if self.highest.is_none_or(|(_, h)| ext > h) {
            self.highest = Some((seq, ext));
        }
        ext
    }

    /// The highest extended value seen.
    pub fn highest(&self) -> Option<i64> {
        self.highest.map(|(_, ext)| ext)
    }

    pub fn reset(&mut self) {
        self.highest = None;
    }
}

/// Unwraps 32-bit RTP timestamps into a 64-bit count relative to the first one,
/// so that timestamps can be turned into running times across a wrap.
#[derive(Debug, Clone, Default)]
pub struct TimestampExtender {
    last: Option<(u32, i64)>,
}

impl TimestampExtender {
    /// Ticks from the first timestamp seen to `ts` (negative if before it).
    pub fn extend(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => 0,
            Some((last, ext)) => ext + i64::from(ts.wrapping_sub(last) as i32),
        };
        self.last = Some((ts, ext));
        ext
    }

    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn diff_wraps() {
        assert_eq!(seq_diff(5, 3), 2);
        assert_eq!(seq_diff(3, 5), -2);
        assert_eq!(seq_diff(0, 65535), 1);
        assert_eq!(seq_diff(65535, 0), -1);
        assert_eq!(seq_diff(2, 65534), 4);
        assert_eq!(seq_diff(32767, 0), 32767);
        assert_eq!(seq_diff(32768, 0), -32768);
    }

    #[test]
    fn extender_unwraps() {
        let mut e = SeqExtender::default();
        assert_eq!(e.extend(65534), 65534);
        assert_eq!(e.extend(65535), 65535);
        assert_eq!(e.extend(0), 65536);
        assert_eq!(e.extend(65535), 65535, "late packet from before the wrap");
        assert_eq!(e.extend(1), 65537);
        assert_eq!(e.highest(), Some(65537));
    }

    #[test]
    fn timestamps_unwrap() {
        let mut t = TimestampExtender::default();
        assert_eq!(t.extend(u32::MAX - 3000), 0);
        assert_eq!(t.extend(u32::MAX), 3000);
        assert_eq!(t.extend(2999), 6000);
        assert_eq!(t.extend(0), 3001, "a little backwards");
    }

    proptest! {
        #[test]
        fn extension_follows_steps(start: u16, steps in proptest::collection::vec(-1000i32..3000, 1..200)) {
            let mut e = SeqExtender::default();
            let mut expected = i64::from(start);
            let mut highest = expected;
            let mut seq = start;
            prop_assert_eq!(e.extend(seq), expected);
            for step in steps {
                seq = seq.wrapping_add(step as u16);
                expected += i64::from(step);
                prop_assert_eq!(e.extend(seq), expected);
                highest = highest.max(expected);
                // Keep the walk within half the space of the highest.
                if highest - expected > 20_000 {
                    break;
                }
            }
        }
    }
}
