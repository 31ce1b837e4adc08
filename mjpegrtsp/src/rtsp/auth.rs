//! `WWW-Authenticate` and `Authorization` as RTSP uses them (RFC 2326
//! §12.5 refers to HTTP): `Basic` (RFC 7617) and `Digest` (RFC 7616: MD5,
//! SHA-256 and their `-sess` variants, `qop=auth` with `nc` and `cnonce`,
//! and the older form without `qop` of RFC 2069 that gst-rtsp-server
//! speaks).
//!
//! The one owner of both headers: a client reads challenges
//! ([`parse_challenges`]) and writes an [`Authorization`]; a server writes
//! challenges ([`Challenge`]'s `Display`) and reads an [`Authorization`]
//! ([`Authorization::parse`]). Both compute Digest responses with
//! [`digest_response`] (from a password) or [`response_from_ha1`] (from the
//! stored `H(user:realm:password)`).

use super::InvalidHeader;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::fmt::{self, Write as _};

/// A Digest hash algorithm (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (also what a challenge without `algorithm` means).
    Md5,
    /// `MD5-sess`
    Md5Sess,
    /// `SHA-256`
    Sha256,
    /// `SHA-256-sess`
    Sha256Sess,
}

impl Algorithm {
    /// The algorithm of that name; `None` for one this crate lacks (e.g.
    /// `SHA-512-256`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Sess),
            "SHA-256" => Some(Self::Sha256),
            "SHA-256-SESS" => Some(Self::Sha256Sess),
            _ => None,
        }
    }

    /// The name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Whether it is a `-sess` variant.
    pub fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hash_hex(self, data: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    /// How strong it is, for choosing among challenges (higher is stronger).
    pub fn strength(self) -> u8 {
        match self {
            Self::Sha256 | Self::Sha256Sess => 2,
            Self::Md5 | Self::Md5Sess => 1,
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`.
    Basic {
        /// The realm.
        realm: String,
    },
    /// `Digest realm="…", nonce="…", …`.
    Digest(DigestChallenge),
}

/// The parameters of a Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`
    pub realm: String,
    /// `nonce`
    pub nonce: String,
    /// `opaque`, returned as it came.
    pub opaque: Option<String>,
    /// The `qop` options offered (`auth`, `auth-int`); empty for the RFC 2069
    /// form without `qop`.
    pub qop: Vec<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// `stale=true`: the nonce expired, the credentials were right.
    pub stale: bool,
    /// `userhash=true`: send the user name hashed.
    pub userhash: bool,
}

impl fmt::Display for Challenge {
    /// The challenge as a `WWW-Authenticate` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { realm } => write!(f, "Basic realm={}", quote(realm)),
            Self::Digest(d) => {
                write!(f, "Digest realm={}", quote(&d.realm))?;
                if !d.qop.is_empty() {
                    write!(f, ", qop={}", quote(&d.qop.join(", ")))?;
                }
                write!(
                    f,
                    ", algorithm={}, nonce={}",
                    d.algorithm.as_str(),
                    quote(&d.nonce)
                )?;
                if let Some(opaque) = &d.opaque {
                    write!(f, ", opaque={}", quote(opaque))?;
                }
                if d.stale {
                    f.write_str(", stale=true")?;
                }
                if d.userhash {
                    f.write_str(", userhash=true")?;
                }
                Ok(())
            }
        }
    }
}

/// One scheme of an authentication header and its `name=value`
/// parameters (names in lower case, quoted values unescaped).
type AuthItem = (String, Vec<(String, String)>);

/// Splits an authentication header value into its schemes and their
/// parameters (a `WWW-Authenticate` value may list several challenges).
fn auth_items(value: &str) -> Vec<AuthItem> {
    let mut out = Vec::new();
    let mut current: Option<AuthItem> = None;
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        // A token, then either `=` (a parameter) or whitespace/comma/end (a
        // new scheme).
        let tok_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..tok_end];
        let after = rest[tok_end..].trim_start_matches([' ', '\t']);
        if let Some(v) = after.strip_prefix('=')
            && !token.is_empty()
        {
            let v = v.trim_start_matches([' ', '\t']);
            let (value, remaining) = if let Some(q) = v.strip_prefix('"') {
                let mut val = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => val.push(c),
                    }
                }
                (val, &q[end.min(q.len())..])
            } else {
                let end = v.find([',', ' ', '\t']).unwrap_or(v.len());
                (v[..end].to_owned(), &v[end..])
            };
            if let Some((_, params)) = current.as_mut() {
                params.push((token.to_ascii_lowercase(), value));
            }
            rest = remaining;
        } else {
            if token.is_empty() {
                // A stray character: skip it.
                rest = &rest[rest.chars().next().map_or(1, char::len_utf8)..];
                continue;
            }
            out.extend(current.take());
            current = Some((token.to_owned(), Vec::new()));
            rest = &rest[tok_end..];
        }
    }
    out.extend(current);
    out
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Parses the value of one `WWW-Authenticate` header into the challenges it
/// holds (a header may list several, separated by commas). Challenges of
/// other schemes, or Digest ones with an algorithm this crate lacks, are
/// left out.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    auth_items(value)
        .iter()
        .filter_map(|(scheme, params)| build_challenge(scheme, params))
        .collect()
}

fn build_challenge(scheme: &str, params: &[(String, String)]) -> Option<Challenge> {
    let get = |name: &str| param(params, name).map(str::to_owned);
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic {
            realm: get("realm").unwrap_or_default(),
        });
    }
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(&a)?,
    };
    let qop = get("qop")
        .map(|q| {
            q.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let flag = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Some(Challenge::Digest(DigestChallenge {
        realm: get("realm").unwrap_or_default(),
        nonce: get("nonce")?,
        opaque: get("opaque"),
        qop,
        algorithm,
        stale: flag("stale"),
        userhash: flag("userhash"),
    }))
}

/// The value of an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `Basic` with the user and password it carries.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Digest …`.
    Digest(DigestAuthorization),
}

impl fmt::Debug for Authorization {
    /// Leaves the password out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .finish_non_exhaustive(),
            Self::Digest(d) => d.fmt(f),
        }
    }
}

/// The parameters of a Digest `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestAuthorization {
    /// `username` (hashed when `userhash`).
    pub username: String,
    /// `realm`
    pub realm: String,
    /// `nonce`, as the challenge gave it.
    pub nonce: String,
    /// `uri`: the request's URI as the client wrote it.
    pub uri: String,
    /// `response`: lower-case hex.
    pub response: String,
    /// `algorithm` when written (MD5 when not).
    pub algorithm: Option<Algorithm>,
    /// `qop=auth` with its `nc` and `cnonce`; `None` for the RFC 2069 form.
    pub qop_auth: Option<(u32, String)>,
    /// `opaque`, returned as the challenge gave it.
    pub opaque: Option<String>,
    /// `userhash=true`.
    pub userhash: bool,
}

impl DigestAuthorization {
    /// The algorithm the response was computed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }
}

impl Authorization {
    /// Parses an `Authorization` value: `Basic` with its base64 credentials,
    /// or `Digest` with at least `username`, `realm`, `nonce`, `uri` and
    /// `response` (and `nc` and `cnonce` with `qop=auth`).
    pub fn parse(value: &str) -> Result<Self, InvalidHeader> {
        let invalid = || InvalidHeader {
            name: "Authorization",
            value: value.to_owned(),
        };
        let trimmed = value.trim();
        let (scheme, rest) = trimmed.split_once([' ', '\t']).unwrap_or((trimmed, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64_decode(rest.trim()).ok_or_else(invalid)?;
            let text = String::from_utf8(decoded).map_err(|_| invalid())?;
            let (user, password) = text.split_once(':').ok_or_else(invalid)?;
            return Ok(Self::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            });
        }
        let items = auth_items(trimmed);
        let [(scheme, params)] = items.as_slice() else {
            return Err(invalid());
        };
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(invalid());
        }
        let get = |name: &str| param(params, name).map(str::to_owned);
        let algorithm = match get("algorithm") {
            None => None,
            Some(a) => Some(Algorithm::parse(&a).ok_or_else(invalid)?),
        };
        let qop_auth = match get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = get("nc")
                    .filter(|nc| nc.len() == 8)
                    .and_then(|nc| u32::from_str_radix(&nc, 16).ok())
                    .ok_or_else(invalid)?;
                Some((nc, get("cnonce").ok_or_else(invalid)?))
            }
            Some(_) => return Err(invalid()),
        };
        Ok(Self::Digest(DigestAuthorization {
            username: get("username").ok_or_else(invalid)?,
            realm: get("realm").ok_or_else(invalid)?,
            nonce: get("nonce").ok_or_else(invalid)?,
            uri: get("uri").ok_or_else(invalid)?,
            response: get("response").ok_or_else(invalid)?,
            algorithm,
            qop_auth,
            opaque: get("opaque"),
            userhash: get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }))
    }
}

impl fmt::Display for Authorization {
    /// The `Authorization` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { user, password } => {
                write!(
                    f,
                    "Basic {}",
                    base64(format!("{user}:{password}").as_bytes())
                )
            }
            Self::Digest(d) => {
                write!(
                    f,
                    "Digest username={}, realm={}, nonce={}, uri={}, response={}",
                    quote(&d.username),
                    quote(&d.realm),
                    quote(&d.nonce),
                    quote(&d.uri),
                    quote(&d.response)
                )?;
                if let Some(a) = d.algorithm {
                    write!(f, ", algorithm={}", a.as_str())?;
                }
                if let Some((nc, cnonce)) = &d.qop_auth {
                    write!(f, ", qop=auth, nc={nc:08x}, cnonce={}", quote(cnonce))?;
                }
                if let Some(opaque) = &d.opaque {
                    write!(f, ", opaque={}", quote(opaque))?;
                }
                if d.userhash {
                    f.write_str(", userhash=true")?;
                }
                Ok(())
            }
        }
    }
}

/// The inputs of a Digest `response` (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    pub algorithm: Algorithm,
    pub user: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub nonce: &'a str,
    /// `Some((nc, cnonce))` with `qop=auth`; `None` for the RFC 2069 form.
    pub qop_auth: Option<(u32, &'a str)>,
    pub method: &'a str,
    pub uri: &'a str,
}

/// The `response` value: hex of
/// `H(H(A1):nonce:nc:cnonce:qop:H(A2))` with `qop=auth`, or
/// `H(H(A1):nonce:H(A2))` without, where `A1 = user:realm:password` (for the
/// `-sess` algorithms `H(user:realm:password):nonce:cnonce`) and
/// `A2 = method:uri`.
pub fn digest_response(input: &DigestInput<'_>) -> String {
    let ha1 = input.algorithm.hash_hex(&format!(
        "{}:{}:{}",
        input.user, input.realm, input.password
    ));
    response_from_ha1(
        input.algorithm,
        &ha1,
        input.nonce,
        input.qop_auth,
        input.method,
        input.uri,
    )
}

/// The `response` from `ha1`, the hex of `H(user:realm:password)` (what a
/// server stores instead of the password), for `method` and `uri`.
pub fn response_from_ha1(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    qop_auth: Option<(u32, &str)>,
    method: &str,
    uri: &str,
) -> String {
    let ha1 = if alg.is_sess() {
        let cnonce = qop_auth.map_or("", |(_, c)| c);
        alg.hash_hex(&format!("{ha1}:{nonce}:{cnonce}"))
    } else {
        ha1.to_owned()
    };
    let ha2 = alg.hash_hex(&format!("{method}:{uri}"));
    match qop_auth {
        Some((nc, cnonce)) => alg.hash_hex(&format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")),
        None => alg.hash_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// `s` as a quoted string, with `"` and `\\` escaped.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests;
