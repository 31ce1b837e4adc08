//! The header list of a message, and the small headers every exchange uses:
//! `CSeq`, `Session` and `Date`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Header names as this crate writes them. Lookups ignore case.
pub mod names {
    /// `Accept`
    pub const ACCEPT: &str = "Accept";
    /// `Allow`
    pub const ALLOW: &str = "Allow";
    /// `Connection`
    pub const CONNECTION: &str = "Connection";
    /// `Content-Base`
    pub const CONTENT_BASE: &str = "Content-Base";
    /// `Content-Length`
    pub const CONTENT_LENGTH: &str = "Content-Length";
    /// `Content-Location`
    pub const CONTENT_LOCATION: &str = "Content-Location";
    /// `Content-Type`
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// `CSeq`
    pub const CSEQ: &str = "CSeq";
    /// `Date`
    pub const DATE: &str = "Date";
    /// `Public`
    pub const PUBLIC: &str = "Public";
    /// `Range`
    pub const RANGE: &str = "Range";
    /// `Require`
    pub const REQUIRE: &str = "Require";
    /// `RTP-Info`
    pub const RTP_INFO: &str = "RTP-Info";
    /// `Server`
    pub const SERVER: &str = "Server";
    /// `Session`
    pub const SESSION: &str = "Session";
    /// `Transport`
    pub const TRANSPORT: &str = "Transport";
    /// `Unsupported`
    pub const UNSUPPORTED: &str = "Unsupported";
    /// `User-Agent`
    pub const USER_AGENT: &str = "User-Agent";
}

/// The headers of a message, in order, with the names as they were written.
/// Lookups ignore ASCII case; a name may occur more than once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether there is a header called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`: replaces the first header of that name in
    /// place and removes the others, or appends it.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(i) => {
                self.entries[i] = (name, value);
                let mut j = i + 1;
                while j < self.entries.len() {
                    if self.entries[j].0.eq_ignore_ascii_case(&self.entries[i].0) {
                        self.entries.remove(j);
                    } else {
                        j += 1;
                    }
                }
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Adds a header at the end, keeping any others of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Removes every header called `name`; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.len() != before
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `CSeq` as a number; `None` when it is missing or not a number
    /// (a server then answers 400 without a `CSeq`).
    pub fn cseq(&self) -> Option<u32> {
        self.get(names::CSEQ)?.trim().parse().ok()
    }

    /// The `Session` header; `Ok(None)` when there is none.
    pub fn session(&self) -> Result<Option<SessionHeader>, InvalidHeader> {
        self.get(names::SESSION)
            .map(SessionHeader::parse)
            .transpose()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

/// A header whose value does not follow its grammar. Servers answer 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader {
    /// The header's name.
    pub name: &'static str,
    /// The value as received.
    pub value: String,
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} header: {:?}", self.name, self.value)
    }
}

impl std::error::Error for InvalidHeader {}

/// The `Session` header: `id[;timeout=seconds]` (RFC 2326 §12.37).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionHeader {
    /// The session identifier.
    pub id: String,
    /// Seconds of inactivity after which the server may end the session.
    pub timeout: Option<u32>,
}

impl SessionHeader {
    /// A header without a timeout.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            timeout: None,
        }
    }

    /// The same header with `;timeout=seconds`. Replies in the classic
    /// dialect leave the timeout out: the classic client reads the session
    /// with `int()`.
    pub fn with_timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Parses a header value. Parameters other than `timeout` are ignored.
    pub fn parse(value: &str) -> Result<Self, InvalidHeader> {
        let invalid = || InvalidHeader {
            name: names::SESSION,
            value: value.to_owned(),
        };
        let mut parts = value.split(';');
        let id = parts.next().unwrap_or_default().trim();
        if id.is_empty()
            || id
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid());
        }
        let mut timeout = None;
        for param in parts {
            let Some((name, v)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("timeout") {
                timeout = Some(v.trim().parse().map_err(|_| invalid())?);
            }
        }
        Ok(Self {
            id: id.to_owned(),
            timeout,
        })
    }
}

impl fmt::Display for SessionHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(t) = self.timeout {
            write!(f, ";timeout={t}")?;
        }
        Ok(())
    }
}

/// A fresh random session identifier: 64 random bits as decimal digits,
/// which both dialects accept (the classic client reads the id with
/// Python's `int()`). Identifiers are random, not unique: the server draws
/// again when one is already in use.
pub fn generate_session_id() -> String {
    rand::rng().random::<u64>().to_string()
}

/// `time` as an RFC 1123 date for the `Date` header:
/// `Thu, 26 Nov 2026 08:12:49 GMT`. Times before 1970 are written as 1970.
pub fn http_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1‥=12, day 1‥=31), proleptic
/// Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lookups_ignore_case_and_insert_replaces() {
        let mut h: Headers = [("CSeq", "1"), ("X-A", "a"), ("x-a", "b")]
            .into_iter()
            .collect();
        assert_eq!(h.get("cseq"), Some("1"));
        assert_eq!(h.get_all("X-a").collect::<Vec<_>>(), ["a", "b"]);
        h.insert("X-A", "c");
        assert_eq!(h.get_all("x-A").collect::<Vec<_>>(), ["c"]);
        assert_eq!(h.len(), 2);
        assert!(h.remove("CSEQ"));
        assert!(!h.remove("CSeq"));
        assert_eq!(h.cseq(), None);
    }

    #[test]
    fn session_header() {
        assert_eq!(
            SessionHeader::parse(" d4c_QkGp7lgGq-d. ").unwrap(),
            SessionHeader::new("d4c_QkGp7lgGq-d.")
        );
        let s = SessionHeader::parse("419485;timeout=60").unwrap();
        assert_eq!(s, SessionHeader::new("419485").with_timeout(60));
        assert_eq!(s.to_string(), "419485;timeout=60");
        assert_eq!(
            SessionHeader::parse("abc; Timeout = 5 ;x=y")
                .unwrap()
                .timeout,
            Some(5)
        );
        assert!(SessionHeader::parse("").is_err());
        assert!(SessionHeader::parse(";timeout=5").is_err());
        assert!(SessionHeader::parse("a b").is_err());
        assert!(SessionHeader::parse("abc;timeout=x").is_err());
    }

    #[test]
    fn session_ids() {
        let id = generate_session_id();
        assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        assert!(id.parse::<u64>().is_ok(), "{id}");
        let many: std::collections::HashSet<String> =
            (0..1000).map(|_| generate_session_id()).collect();
        assert_eq!(many.len(), 1000, "64 random bits do not repeat");
        // Long enough not to be guessed: most ids have 19 or 20 digits.
        assert!(many.iter().filter(|id| id.len() >= 18).count() > 900);
    }

    #[test]
    fn dates() {
        let at = |s| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // The capture's date.
        assert_eq!(at(1_795_680_769), "Thu, 26 Nov 2026 08:12:49 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
