//! `Range: npt=…` (RFC 2326 §3.6, §12.29) and `RTP-Info` (§12.33).

use std::fmt;
use std::time::Duration;

use super::headers::{InvalidHeader, names};
use super::message::StatusCode;

/// A normal-play-time point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NptTime {
    /// `now`: the live point.
    Now,
    /// A time from the start of the presentation.
    Time(Duration),
}

impl NptTime {
    /// The latest time a presentation may have: a million hours (about 114
    /// years). Later times are refused when parsing, so that every time
    /// converts to nanoseconds in a `u64` (and to a `gst::ClockTime`).
    pub const MAX: Duration = Duration::from_secs(3_600_000_000);

    /// Parses `now`, seconds (`5`, `5.5`, `0.000`) or `h:mm:ss[.frac]`.
    /// Digits after the ninth decimal are ignored; times after
    /// [`NptTime::MAX`] are refused.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Some(Self::Now);
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut nanos = 0u32;
        for (i, b) in frac.bytes().take(9).enumerate() {
            nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
        }
        let number = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let secs = match whole.split(':').collect::<Vec<_>>()[..] {
            [secs] => number(secs)?,
            [h, m, sec] => {
                let (h, m, sec) = (number(h)?, number(m)?, number(sec)?);
                if m >= 60 || sec >= 60 || m > 99 {
                    return None;
                }
                h.checked_mul(3600)?.checked_add(m * 60 + sec)?
            }
            _ => return None,
        };
        let time = Duration::new(secs, nanos);
        (time <= Self::MAX).then_some(Self::Time(time))
    }
}

impl fmt::Display for NptTime {
    /// `now`, `0` for zero, else seconds with three decimals (`10.000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Now => f.write_str("now"),
            Self::Time(d) if d.is_zero() => f.write_str("0"),
            Self::Time(d) => {
                let millis = (d.as_nanos() + 500_000) / 1_000_000;
                write!(f, "{}.{:03}", millis / 1000, millis % 1000)
            }
        }
    }
}

/// A `Range: npt=start-end` value. RFC 2326 allows leaving out either end
/// (`npt=5-`, `npt=-10`), not both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NptRange {
    /// Where playing starts; `None` in `npt=-end`.
    pub start: Option<NptTime>,
    /// Where it stops; `None` for "to the end".
    pub end: Option<NptTime>,
}

/// Why a `Range` cannot be used. Servers answer 457 Invalid Range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// Not `npt=` but another unit (`smpte=`, `clock=`), which this crate
    /// does not speak.
    UnsupportedUnit(String),
    /// Not `npt=time-time`.
    Malformed(String),
}

impl RangeError {
    /// The status a server answers with: 457 Invalid Range.
    pub fn status(&self) -> StatusCode {
        StatusCode::INVALID_RANGE
    }
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedUnit(u) => write!(f, "unsupported range unit {u:?}"),
            Self::Malformed(v) => write!(f, "malformed range {v:?}"),
        }
    }
}

impl std::error::Error for RangeError {}

impl NptRange {
    /// `npt=start-`.
    pub fn starting_at(start: Duration) -> Self {
        Self {
            start: Some(NptTime::Time(start)),
            end: None,
        }
    }

    /// `npt=start-end`.
    pub fn between(start: Duration, end: Duration) -> Self {
        Self {
            start: Some(NptTime::Time(start)),
            end: Some(NptTime::Time(end)),
        }
    }

    /// `npt=now-`: a live stream.
    pub fn live() -> Self {
        Self {
            start: Some(NptTime::Now),
            end: None,
        }
    }

    /// The start as a time, when it is one (`None` for `now` or no start).
    pub fn start_time(&self) -> Option<Duration> {
        match self.start {
            Some(NptTime::Time(d)) => Some(d),
            _ => None,
        }
    }

    /// The end as a time, when it is one.
    pub fn end_time(&self) -> Option<Duration> {
        match self.end {
            Some(NptTime::Time(d)) => Some(d),
            _ => None,
        }
    }

    /// Parses a `Range` header value or SDP `a=range:` value:
    /// `npt=0-`, `npt=0.000-`, `npt=5.5-10`, `npt=now-`, `npt=0-298.792`,
    /// `npt=0:01:05.5-`; a `;time=…` parameter is ignored.
    pub fn parse(value: &str) -> Result<Self, RangeError> {
        let malformed = || RangeError::Malformed(value.to_owned());
        let spec = value.split(';').next().unwrap_or_default().trim();
        let (unit, range) = spec.split_once('=').ok_or_else(malformed)?;
        let unit = unit.trim();
        if !unit.eq_ignore_ascii_case("npt") {
            return Err(RangeError::UnsupportedUnit(unit.to_owned()));
        }
        let (start, end) = range.split_once('-').ok_or_else(malformed)?;
        let time = |s: &str| -> Result<Option<NptTime>, RangeError> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                NptTime::parse(s).map(Some).ok_or_else(malformed)
            }
        };
        let r = Self {
            start: time(start)?,
            end: time(end)?,
        };
        if r.start.is_none() && r.end.is_none() {
            return Err(malformed());
        }
        Ok(r)
    }
}

impl fmt::Display for NptRange {
    /// `npt=0-10.000`, `npt=now-`, `npt=5.500-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("npt=")?;
        if let Some(s) = self.start {
            write!(f, "{s}")?;
        }
        f.write_str("-")?;
        if let Some(e) = self.end {
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// One stream's entry of an `RTP-Info` header: where its RTP numbering
/// stands at the start of playing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpInfo {
    /// The stream's URL.
    pub url: String,
    /// Sequence number of the first packet.
    pub seq: Option<u16>,
    /// RTP timestamp of the first packet.
    pub rtptime: Option<u32>,
}

impl fmt::Display for RtpInfo {
    /// `url=…;seq=…;rtptime=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "url={}", self.url)?;
        if let Some(seq) = self.seq {
            write!(f, ";seq={seq}")?;
        }
        if let Some(t) = self.rtptime {
            write!(f, ";rtptime={t}")?;
        }
        Ok(())
    }
}

/// An `RTP-Info` value for several streams, comma-separated.
pub fn format_rtp_info(infos: &[RtpInfo]) -> String {
    infos
        .iter()
        .map(RtpInfo::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an `RTP-Info` value. Entries are split at commas that are
/// followed by `url=`, so commas inside URLs survive; unknown parameters are
/// ignored.
pub fn parse_rtp_info(value: &str) -> Result<Vec<RtpInfo>, InvalidHeader> {
    let invalid = || InvalidHeader {
        name: names::RTP_INFO,
        value: value.to_owned(),
    };
    let mut entries: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, _) in value.match_indices(',') {
        if value[i + 1..].trim_start().starts_with("url=") {
            entries.push(&value[start..i]);
            start = i + 1;
        }
    }
    entries.push(&value[start..]);
    entries
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let mut info = RtpInfo {
                url: String::new(),
                seq: None,
                rtptime: None,
            };
            let mut has_url = false;
            for param in entry.split(';') {
                let Some((name, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "url" => {
                        info.url = v.to_owned();
                        has_url = true;
                    }
                    "seq" => info.seq = Some(v.parse().map_err(|_| invalid())?),
                    "rtptime" => info.rtptime = Some(v.parse().map_err(|_| invalid())?),
                    _ => {}
                }
            }
            if has_url { Ok(info) } else { Err(invalid()) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(millis: u64) -> Option<NptTime> {
        Some(NptTime::Time(Duration::from_millis(millis)))
    }

    #[test]
    fn parses_the_forms_clients_send() {
        let cases = [
            ("npt=0-", t(0), None),
            ("npt=0.000-", t(0), None),
            ("npt=5.5-10", t(5500), t(10_000)),
            ("npt=now-", Some(NptTime::Now), None),
            ("npt=0-298.792", t(0), t(298_792)),
            ("npt=-10", None, t(10_000)),
            (
                "NPT = 1:02:03.25 - ;time=19970123T143720Z",
                t(3_723_250),
                None,
            ),
            ("npt=00:00:05-00:01:00", t(5000), t(60_000)),
        ];
        for (v, start, end) in cases {
            assert_eq!(NptRange::parse(v), Ok(NptRange { start, end }), "{v}");
        }
        assert_eq!(
            NptRange::parse("smpte=0:10:20-"),
            Err(RangeError::UnsupportedUnit("smpte".into()))
        );
        for bad in [
            "npt=",
            "npt=-",
            "npt=x-",
            "npt=1",
            "0-10",
            "npt=1:2-",
            "npt=0:60:00-",
            "npt=1.2.3-",
            "npt=99999999999999-",
        ] {
            assert!(NptRange::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            NptRange::parse("npt=x-").unwrap_err().status(),
            StatusCode::INVALID_RANGE
        );
    }

    #[test]
    fn absurd_times_are_refused() {
        // GST_CLOCK_TIME_NONE in nanoseconds, more than u64 nanoseconds, and
        // as h:mm:ss: none is a time a presentation can have.
        for bad in [
            "npt=0-18446744073.709551615",
            "npt=0-18446744074",
            "npt=0-99999999999",
            "npt=999999999:00:00-",
            "npt=0-999999999999:59:59.999",
        ] {
            assert!(NptRange::parse(bad).is_err(), "{bad}");
        }
        // The longest accepted: a million hours.
        let max = NptRange::parse("npt=0-1000000:00:00").unwrap();
        assert_eq!(max.end_time(), Some(NptTime::MAX));
        assert!(NptRange::parse("npt=0-3600000000.001").is_err());
        assert!(u64::try_from(NptTime::MAX.as_nanos()).is_ok());
    }

    #[test]
    fn formats() {
        assert_eq!(
            NptRange::between(Duration::ZERO, Duration::from_secs(10)).to_string(),
            "npt=0-10.000"
        );
        assert_eq!(
            NptRange::between(Duration::ZERO, Duration::from_millis(298_792)).to_string(),
            "npt=0-298.792"
        );
        assert_eq!(NptRange::live().to_string(), "npt=now-");
        assert_eq!(
            NptRange::starting_at(Duration::from_millis(5500)).to_string(),
            "npt=5.500-"
        );
        assert_eq!(
            NptRange::starting_at(Duration::from_nanos(1_999_600_000)).to_string(),
            "npt=2.000-"
        );
    }

    #[test]
    fn rtp_info() {
        let v = "url=rtsp://127.0.0.1:18901/movie.Mjpeg/stream=0;seq=23676;rtptime=3112243204";
        let infos = parse_rtp_info(v).unwrap();
        assert_eq!(
            infos,
            [RtpInfo {
                url: "rtsp://127.0.0.1:18901/movie.Mjpeg/stream=0".into(),
                seq: Some(23676),
                rtptime: Some(3_112_243_204),
            }]
        );
        assert_eq!(format_rtp_info(&infos), v);
        let two = "url=rtsp://h/a,b/stream=0;seq=1, url=rtsp://h/a,b/stream=1;rtptime=2";
        let infos = parse_rtp_info(two).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].url, "rtsp://h/a,b/stream=0");
        assert_eq!((infos[1].seq, infos[1].rtptime), (None, Some(2)));
        assert!(parse_rtp_info("seq=1").is_err());
        assert!(parse_rtp_info("url=x;seq=70000").is_err());
    }
}
