//! The server's users file: who may play what, with Digest hashes and never
//! a password.
//!
//! One user a line, five fields separated by `:`; blank lines and lines
//! starting with `#` are kept as they are:
//!
//! ```text
//! # name:realm:md5:sha256:mounts
//! alice:mjpegrtsp:97050b816fe005b790f2a1ab3ca959fc:98914b64b0a4d3822a041405cd398a51659634daaa08bde3e791b85311ed1623:**
//! bob:mjpegrtsp:4dcccfe11b9fa1381b27adf0d44c00d0:8aa9ffe12eb9f1fa591918e8c2b4d8c183347c60d0d0e949381e672186f43530:cams/*,movie.Mjpeg
//! ```
//!
//! (alice's password is `secret`, bob's `hunter2`.)
//!
//! `md5` and `sha256` are the lower-case hex of `MD5(name:realm:password)`
//! and `SHA-256(name:realm:password)` (what RFC 7616 calls `H(A1)`, and what
//! Apache's `htdigest` stores for MD5). `mounts` is a comma-separated list
//! of patterns the user may play: `*` matches within one path segment, `**`
//! across segments, `?` one character; `**` alone (or `*` alone) is every
//! mount. A pattern written `publish=PATTERN` lets the user publish (with
//! `--publish`: ANNOUNCE and RECORD) at the paths it matches, and nothing
//! more: `cams/*,publish=cams/*` plays and publishes there. Names and realms
//! hold no `:`, no control character and no surrounding space.

use std::fmt;
use std::path::Path;

use crate::rtsp::auth::Algorithm;

/// What marks a mount pattern as one the user may publish at.
pub const PUBLISH_PREFIX: &str = "publish=";

/// The realm of the server's challenges unless told otherwise.
pub const DEFAULT_REALM: &str = "mjpegrtsp";

/// One user of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The realm its hashes are for.
    pub realm: String,
    /// Hex of `MD5(name:realm:password)`.
    pub md5: String,
    /// Hex of `SHA-256(name:realm:password)`.
    pub sha256: String,
    /// The mount patterns the user may play.
    pub mounts: Vec<String>,
}

impl User {
    /// A user with the hashes of `password`.
    pub fn new(name: &str, realm: &str, password: &str, mounts: Vec<String>) -> User {
        let a1 = format!("{name}:{realm}:{password}");
        User {
            name: name.to_owned(),
            realm: realm.to_owned(),
            md5: Algorithm::Md5.hash_hex(&a1),
            sha256: Algorithm::Sha256.hash_hex(&a1),
            mounts,
        }
    }

    /// The stored `H(name:realm:password)` for `algorithm`'s hash.
    pub fn ha1(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 | Algorithm::Md5Sess => &self.md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => &self.sha256,
        }
    }

    /// Whether the user may play `mount` (a path without a leading `/`).
    pub fn may_play(&self, mount: &str) -> bool {
        self.mounts
            .iter()
            .filter(|p| !p.starts_with(PUBLISH_PREFIX))
            .any(|p| mount_matches(p, mount))
    }

    /// Whether the user may publish at `mount` (its `publish=` patterns).
    pub fn may_publish(&self, mount: &str) -> bool {
        self.mounts
            .iter()
            .filter_map(|p| p.strip_prefix(PUBLISH_PREFIX))
            .any(|p| mount_matches(p, mount))
    }

    /// Whether `password` is this user's (for Basic over TLS).
    pub fn password_is(&self, password: &str) -> bool {
        let a1 = format!("{}:{}:{password}", self.name, self.realm);
        constant_time_eq(
            Algorithm::Sha256.hash_hex(&a1).as_bytes(),
            self.sha256.as_bytes(),
        )
    }
}

impl fmt::Display for User {
    /// The user's line in the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.name,
            self.realm,
            self.md5,
            self.sha256,
            self.mounts.join(",")
        )
    }
}

/// Compares without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is wrong with a users file, or with a user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersError {
    /// A line that is not `name:realm:md5:sha256:mounts`.
    Line {
        /// 1-based.
        number: usize,
        /// Why.
        reason: String,
    },
    /// The same name twice.
    Duplicate {
        /// The name.
        name: String,
        /// 1-based line of the second one.
        number: usize,
    },
    /// A name, realm or mount pattern that cannot be written in the file.
    Invalid(String),
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { number, reason } => write!(f, "line {number}: {reason}"),
            Self::Duplicate { name, number } => {
                write!(f, "line {number}: user {name:?} is already listed above")
            }
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for UsersError {}

/// A users file: its users, and its lines as they were (comments kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Text(String),
    User(User),
}

fn check_field(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("empty {what}"));
    }
    if value.trim() != value || value.contains(':') || value.chars().any(char::is_control) {
        return Err(format!(
            "{what} {value:?}: no ':', control characters or surrounding spaces"
        ));
    }
    Ok(())
}

fn check_mount(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() || pattern.contains([',', ':']) || pattern.chars().any(char::is_control) {
        return Err(format!(
            "mount pattern {pattern:?}: not empty, no ',', ':' or control characters"
        ));
    }
    Ok(())
}

/// The patterns of a comma-separated `mounts` field (blanks left out).
pub fn parse_mounts(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn parse_user(line: &str) -> Result<User, String> {
    let fields: Vec<&str> = line.split(':').collect();
    let [name, realm, md5, sha256, mounts] = fields[..] else {
        return Err(format!(
            "{} fields, not the 5 of name:realm:md5:sha256:mounts",
            fields.len()
        ));
    };
    check_field("name", name)?;
    check_field("realm", realm)?;
    if !is_hex(md5, 32) {
        return Err("the MD5 hash is not 32 lower-case hex digits".into());
    }
    if !is_hex(sha256, 64) {
        return Err("the SHA-256 hash is not 64 lower-case hex digits".into());
    }
    let mounts = parse_mounts(mounts);
    for m in &mounts {
        check_mount(m)?;
    }
    Ok(User {
        name: name.to_owned(),
        realm: realm.to_owned(),
        md5: md5.to_owned(),
        sha256: sha256.to_owned(),
        mounts,
    })
}

impl Users {
    /// Parses a users file's text.
    pub fn parse(text: &str) -> Result<Users, UsersError> {
        let mut users = Users::default();
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                users.lines.push(Line::Text(line.to_owned()));
                continue;
            }
            let user = parse_user(line).map_err(|reason| UsersError::Line { number, reason })?;
            if users.get(&user.name).is_some() {
                return Err(UsersError::Duplicate {
                    name: user.name,
                    number,
                });
            }
            users.lines.push(Line::User(user));
        }
        Ok(users)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Users, Box<dyn std::error::Error + Send + Sync>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
        Users::parse(&text).map_err(|e| format!("users file {}: {e}", path.display()).into())
    }

    /// The user called `name`.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users().find(|u| u.name == name)
    }

    /// Every user, in file order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.lines.iter().filter_map(|l| match l {
            Line::User(u) => Some(u),
            Line::Text(_) => None,
        })
    }

    /// Adds `user`, or replaces the user of that name where it stood.
    pub fn set(&mut self, user: User) -> Result<(), UsersError> {
        check_field("name", &user.name).map_err(UsersError::Invalid)?;
        check_field("realm", &user.realm).map_err(UsersError::Invalid)?;
        for m in &user.mounts {
            check_mount(m).map_err(UsersError::Invalid)?;
        }
        match self
            .lines
            .iter_mut()
            .find(|l| matches!(l, Line::User(u) if u.name == user.name))
        {
            Some(line) => *line = Line::User(user),
            None => self.lines.push(Line::User(user)),
        }
        Ok(())
    }
}

impl fmt::Display for Users {
    /// The file's text: every line, users written out, ending with a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match line {
                Line::Text(t) => writeln!(f, "{t}")?,
                Line::User(u) => writeln!(f, "{u}")?,
            }
        }
        Ok(())
    }
}

/// Whether `mount` matches `pattern`: `*` within a segment, `**` across
/// segments, `?` one character other than `/`; a leading `/` on either is
/// ignored.
pub fn mount_matches(pattern: &str, mount: &str) -> bool {
    fn go(p: &[u8], m: &[u8]) -> bool {
        match p {
            [] => m.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=m.len()).any(|i| go(rest, &m[i..])),
            [b'*', rest @ ..] => {
                let segment = m.iter().position(|&c| c == b'/').unwrap_or(m.len());
                (0..=segment).any(|i| go(rest, &m[i..]))
            }
            [b'?', rest @ ..] => m.first().is_some_and(|&c| c != b'/') && go(rest, &m[1..]),
            [c, rest @ ..] => m.first() == Some(c) && go(rest, &m[1..]),
        }
    }
    let p = pattern.trim_start_matches('/');
    let m = mount.trim_start_matches('/');
    p == "*" || go(p.as_bytes(), m.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_and_writes_back_with_its_comments() {
        let alice = User::new("alice", "mjpegrtsp", "secret", vec!["*".into()]);
        let text = format!("# users\n\n{alice}\n");
        let users = Users::parse(&text).unwrap();
        assert_eq!(users.get("alice"), Some(&alice));
        assert_eq!(users.to_string(), text);
        // The hashes are RFC 7616's H(A1): MD5 as htdigest writes it.
        assert_eq!(alice.md5, Algorithm::Md5.hash_hex("alice:mjpegrtsp:secret"));
        assert_eq!(
            alice.ha1(Algorithm::Sha256Sess),
            Algorithm::Sha256.hash_hex("alice:mjpegrtsp:secret")
        );
        assert!(alice.password_is("secret"));
        assert!(!alice.password_is("Secret"));
        assert!(!text.contains("secret\n") && !text.contains(":secret"));
    }

    #[test]
    fn publishing_is_granted_only_by_publish_patterns() {
        let text = format!(
            "cam:r:{}:{}:cams/*,publish=cams/*\nviewer:r:{0}:{1}:**\n",
            "0".repeat(32),
            "0".repeat(64)
        );
        let users = Users::parse(&text).unwrap();
        let cam = users.get("cam").unwrap();
        assert!(cam.may_publish("cams/door") && cam.may_play("cams/door"));
        assert!(!cam.may_publish("movie.Mjpeg") && !cam.may_publish("cams/a/b"));
        // A publish pattern grants no playing, and `**` no publishing.
        let publisher = User::new("p", "r", "pw", vec!["publish=**".into()]);
        assert!(publisher.may_publish("any/where") && !publisher.may_play("any/where"));
        assert!(!publisher.may_play("publish=x"));
        let viewer = users.get("viewer").unwrap();
        assert!(viewer.may_play("cams/door") && !viewer.may_publish("cams/door"));
    }

    #[test]
    fn set_adds_or_replaces_in_place() {
        let mut users = Users::parse("# a\nbob:r:0123456789abcdef0123456789abcdef:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef:cams/*\n# b\n").unwrap();
        users
            .set(User::new("bob", "r", "new", vec!["**".into()]))
            .unwrap();
        users
            .set(User::new("carol", "r", "pw", vec!["movie.Mjpeg".into()]))
            .unwrap();
        let lines: Vec<String> = users.to_string().lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("bob:r:") && lines[1].ends_with(":**"));
        assert_eq!(lines[2], "# b");
        assert!(lines[3].starts_with("carol:"));
        assert!(users.get("bob").unwrap().password_is("new"));
        for bad in ["", "a:b", " x", "tab\there"] {
            let e = users.set(User::new(bad, "r", "pw", vec![]));
            assert!(matches!(e, Err(UsersError::Invalid(_))), "{bad:?}");
        }
        assert!(
            users
                .set(User::new("d", "r", "pw", vec!["a,b".into()]))
                .is_err()
        );
    }

    #[test]
    fn bad_lines_name_their_number() {
        let md5 = "0".repeat(32);
        let sha = "0".repeat(64);
        for (text, reason) in [
            ("x:y".to_owned(), "2 fields"),
            (format!("a:r:{md5}:{sha}:*:extra"), "6 fields"),
            (format!("a:r:{}:{sha}:*", "0".repeat(31)), "MD5"),
            (format!("a:r:{md5}:{}:*", "A".repeat(64)), "SHA-256"),
            (format!(":r:{md5}:{sha}:*"), "empty name"),
        ] {
            let e = Users::parse(&format!("# ok\n{text}\n")).unwrap_err();
            let UsersError::Line {
                number,
                reason: why,
            } = &e
            else {
                panic!("{e}");
            };
            assert_eq!(*number, 2, "{e}");
            assert!(why.contains(reason), "{e}");
        }
        let dup = format!("a:r:{md5}:{sha}:*\na:r:{md5}:{sha}:*\n");
        assert_eq!(
            Users::parse(&dup),
            Err(UsersError::Duplicate {
                name: "a".into(),
                number: 2
            })
        );
    }

    #[test]
    fn mount_patterns() {
        for (pattern, mount, ok) in [
            ("*", "movie.Mjpeg", true),
            ("*", "cams/front.Mjpeg", true),
            ("**", "cams/front.Mjpeg", true),
            ("movie.Mjpeg", "movie.Mjpeg", true),
            ("/movie.Mjpeg", "movie.Mjpeg", true),
            ("movie.Mjpeg", "movie.Mjpeg2", false),
            ("cams/*", "cams/front.Mjpeg", true),
            ("cams/*", "cams/a/b.Mjpeg", false),
            ("cams/**", "cams/a/b.Mjpeg", true),
            ("*.Mjpeg", "movie.Mjpeg", true),
            ("*.Mjpeg", "cams/movie.Mjpeg", false),
            ("cam?.Mjpeg", "cam1.Mjpeg", true),
            ("cam?.Mjpeg", "cam/.Mjpeg", false),
            ("live", "live", true),
            ("live", "movie.Mjpeg", false),
        ] {
            assert_eq!(mount_matches(pattern, mount), ok, "{pattern} ~ {mount}");
        }
        let bob = User::new("bob", "r", "pw", vec!["cams/*".into(), "live".into()]);
        assert!(bob.may_play("cams/front.Mjpeg") && bob.may_play("/live"));
        assert!(!bob.may_play("movie.Mjpeg"));
        assert!(!User::new("nobody", "r", "pw", vec![]).may_play("movie.Mjpeg"));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
