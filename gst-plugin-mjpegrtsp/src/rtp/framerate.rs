//! The `a-framerate` value of caps and SDP (RFC 4566: `a=framerate:<rate>`),
//! a decimal number of frames per second.

/// Formats `num/den` frames per second as the decimal `a-framerate` value:
/// `24/1` → `"24"`, `30000/1001` → `"29.97"`, `25/2` → `"12.5"`. `None` for a
/// zero, negative or undefined rate.
pub fn format_framerate(num: i32, den: i32) -> Option<String> {
    if num <= 0 || den <= 0 {
        return None;
    }
    if num % den == 0 {
        return Some((num / den).to_string());
    }
    let s = format!("{:.3}", f64::from(num) / f64::from(den));
    Some(s.trim_end_matches('0').trim_end_matches('.').to_string())
}

/// Parses an `a-framerate` value into a fraction. Accepts decimals (rates
/// that are within rounding of the NTSC rates n·1000/1001 become exactly
/// that) and `num/den`. `None` for anything else or a rate that is not
/// positive and finite.
pub fn parse_framerate(s: &str) -> Option<(i32, i32)> {
    let s = s.trim();
    if let Some((n, d)) = s.split_once('/') {
        let (n, d) = (n.trim().parse::<i32>().ok()?, d.trim().parse::<i32>().ok()?);
        return (n > 0 && d > 0).then_some((n, d));
    }
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() || v <= 0.0 || v > 10_000.0 {
        return None;
    }
    if (v - v.round()).abs() < 1e-9 {
        return Some((v.round() as i32, 1));
    }
    let ntsc = v * 1001.0 / 1000.0;
    if (ntsc - ntsc.round()).abs() < 0.001 {
        return Some((ntsc.round() as i32 * 1000, 1001));
    }
    // Up to three decimals, reduced.
    let mut num = (v * 1000.0).round() as i64;
    let mut den = 1000i64;
    let g = gcd(num, den);
    num /= g;
    den /= g;
    Some((i32::try_from(num).ok()?, i32::try_from(den).ok()?))
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

    #[test]
    fn formats() {
        assert_eq!(format_framerate(24, 1).as_deref(), Some("24"));
        assert_eq!(format_framerate(30000, 1001).as_deref(), Some("29.97"));
        assert_eq!(format_framerate(24000, 1001).as_deref(), Some("23.976"));
        assert_eq!(format_framerate(25, 2).as_deref(), Some("12.5"));
        assert_eq!(format_framerate(0, 1), None);
        assert_eq!(format_framerate(1, 0), None);
    }

    #[test]
    fn parses() {
        assert_eq!(parse_framerate("24"), Some((24, 1)));
        assert_eq!(parse_framerate(" 25.0 "), Some((25, 1)));
        assert_eq!(parse_framerate("29.97"), Some((30000, 1001)));
        assert_eq!(parse_framerate("23.976"), Some((24000, 1001)));
        assert_eq!(parse_framerate("59.94"), Some((60000, 1001)));
        assert_eq!(parse_framerate("12.5"), Some((25, 2)));
        assert_eq!(parse_framerate("30000/1001"), Some((30000, 1001)));
        for bad in ["", "x", "0", "-24", "NaN", "inf", "1/0", "1e9"] {
            assert_eq!(parse_framerate(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        for (n, d) in [(24, 1), (30000, 1001), (24000, 1001), (25, 2), (15, 1)] {
            let s = format_framerate(n, d).unwrap();
            assert_eq!(parse_framerate(&s), Some((n, d)), "{s}");
        }
    }
}
