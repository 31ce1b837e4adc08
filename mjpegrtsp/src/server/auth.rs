//! The server's side of RTSP authentication: with a users file
//! ([`users`](super::users)) every request must carry a Digest
//! `Authorization` (RFC 7616: SHA-256 or MD5, `qop=auth`, or the RFC 2069
//! form that GStreamer's `rtspsrc` sends) for a user allowed the mount it
//! names, unless the mount is public.
//!
//! * Nonces are stateless: the time they were made, a random number, and a
//!   keyed hash of both and the client's address. One older than
//!   [`NONCE_LIFETIME`] gets a new challenge with `stale=true` (the client
//!   retries without asking its user); one made for another address, or by
//!   another server run, is refused like a wrong password.
//! * `nc` must grow with each use of a nonce (`qop=auth`): a replayed
//!   request is refused.
//! * A refusal is the same `401` with the same challenges whether the user
//!   is unknown, the password wrong or the nonce forged, and costs the same
//!   work (an unknown user is checked against a dummy hash).
//! * An address that fails [`MAX_FAILURES`] times within
//!   [`FAILURE_WINDOW`] is refused with 503 and `Retry-After` for
//!   [`LOCKOUT`], without its requests being checked; other addresses are
//!   not affected.
//! * `Basic` is offered and taken only over TLS (in clear it would send the
//!   password for anyone to read).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::users::{User, Users, constant_time_eq};
use crate::rtsp::auth::{Algorithm, Authorization, Challenge, DigestChallenge, hex};
use crate::rtsp::{Request, Response, StatusCode};

/// How long a nonce is good for.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Failed attempts from one address that lock it out…
pub const MAX_FAILURES: u32 = 10;
/// …when they come within this long…
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// …for this long.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Nonces whose `nc` is remembered at most (the oldest are forgotten).
const MAX_TRACKED_NONCES: usize = 100_000;

/// Who may do what: the users, the realm and the public mounts.
#[derive(Debug)]
pub struct Gate {
    users: Users,
    realm: String,
    public: Vec<String>,
    key: [u8; 32],
    started: Instant,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// The last `nc` seen for each nonce.
    counts: HashMap<String, u32>,
    /// Failures per address: how many, since when; and locked until.
    failures: HashMap<IpAddr, (u32, Instant, Option<Instant>)>,
}

/// Why a request was not let through: the reply to send.
#[derive(Debug)]
pub struct Denied {
    /// 401, 403 or 503.
    pub status: StatusCode,
    /// `WWW-Authenticate` values (401; none otherwise).
    pub challenges: Vec<String>,
    /// Seconds to wait (503).
    pub retry_after: Option<u64>,
    /// For the log (never sent: it may say which part was wrong).
    pub why: String,
}

impl Denied {
    /// What the refusal counts as.
    pub fn refusal(&self) -> super::stats::Refusal {
        use super::stats::Refusal;
        match self.status {
            StatusCode::UNAUTHORIZED => Refusal::Unauthorized,
            StatusCode::FORBIDDEN => Refusal::Forbidden,
            _ => Refusal::LockedOut,
        }
    }

    /// The reply to `request`.
    pub fn response(&self, request: &Request) -> Response {
        let mut r = Response::reply_to(request, self.status);
        for c in &self.challenges {
            r.headers.append("WWW-Authenticate", c.clone());
        }
        if let Some(s) = self.retry_after {
            r = r.with_header("Retry-After", s.to_string());
        }
        r
    }
}

impl Gate {
    /// A gate for `users` in `realm`; `public` mount patterns need no user.
    pub fn new(users: Users, realm: &str, public: Vec<String>) -> Gate {
        Gate {
            users,
            realm: realm.to_owned(),
            public,
            key: rand::random(),
            started: Instant::now(),
            state: Mutex::default(),
        }
    }

    /// The realm of the challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether `mount` needs no user.
    pub fn is_public(&self, mount: &str) -> bool {
        self.public
            .iter()
            .any(|p| super::users::mount_matches(p, mount))
    }

    /// Whether `user` (`None`: nobody signed in) may play `mount`.
    pub fn may_play(&self, user: Option<&str>, mount: &str) -> bool {
        self.is_public(mount)
            || user
                .and_then(|name| self.users.get(name))
                .is_some_and(|u| u.may_play(mount))
    }

    /// Lets `request` through (with the user's name, `None` for a public
    /// mount) or says how to refuse it. `mount` is the path the request
    /// names (`None` for `*` or an unknown one: authentication only).
    /// `secure`: the request came over TLS, where `Basic` is offered and
    /// taken too. `publish`: the request publishes at `mount` (ANNOUNCE,
    /// RECORD, a SETUP with `mode=record`), which needs a user allowed to
    /// publish there, public mount or not.
    pub fn check(
        &self,
        request: &Request,
        mount: Option<&str>,
        from: IpAddr,
        secure: bool,
        publish: bool,
        now: Instant,
    ) -> Result<Option<String>, Denied> {
        if !publish && mount.is_some_and(|m| self.is_public(m)) {
            return Ok(None);
        }
        if let Some(until) = self.locked_until(from, now) {
            return Err(Denied {
                status: StatusCode::SERVICE_UNAVAILABLE,
                challenges: Vec::new(),
                retry_after: Some(until.saturating_duration_since(now).as_secs().max(1)),
                why: format!("{from} failed too often: locked out"),
            });
        }
        let header = request.headers.get("Authorization");
        let verdict = match header.map(Authorization::parse) {
            None => Err((false, "no credentials".to_owned(), false)),
            Some(Err(_)) => Err((false, "malformed Authorization".to_owned(), true)),
            Some(Ok(Authorization::Basic { user, password })) if secure => {
                self.verify_basic(&user, &password)
            }
            Some(Ok(Authorization::Basic { user, .. })) => Err((
                false,
                format!("Basic for {user:?} refused: Digest only in clear"),
                true,
            )),
            Some(Ok(Authorization::Digest(d))) => self.verify(&d, request, from, now),
        };
        match verdict {
            Ok(user) => {
                let (allowed, verb) = match mount {
                    Some(m) if publish => (user.may_publish(m), "publish at"),
                    Some(m) => (user.may_play(m), "play"),
                    None => (true, ""),
                };
                if !allowed {
                    return Err(Denied {
                        status: StatusCode::FORBIDDEN,
                        challenges: Vec::new(),
                        retry_after: None,
                        why: format!(
                            "user {:?} may not {verb} {}",
                            user.name,
                            mount.unwrap_or_default()
                        ),
                    });
                }
                Ok(Some(user.name.clone()))
            }
            Err((stale, why, counts)) => {
                if counts {
                    self.fail(from, now);
                }
                Err(Denied {
                    status: StatusCode::UNAUTHORIZED,
                    challenges: self.challenges(from, now, stale, secure),
                    retry_after: None,
                    why,
                })
            }
        }
    }

    /// Checks a Digest answer: `Ok` with the user, or (stale, why, counts
    /// as a failure).
    fn verify(
        &self,
        d: &crate::rtsp::auth::DigestAuthorization,
        request: &Request,
        from: IpAddr,
        now: Instant,
    ) -> Result<&User, (bool, String, bool)> {
        let algorithm = d.algorithm();
        // The same work whether the user exists or not: a dummy H(A1) is
        // always made, and used when there is no such user.
        let dummy = algorithm.hash_hex(&format!("{}:{}:", d.username, self.realm));
        let user = match self.users.get(&d.username) {
            Some(u) if u.realm == self.realm => Some(u),
            _ => None,
        };
        let ha1 = user.map_or(dummy.as_str(), |u| u.ha1(algorithm));
        let expected = crate::rtsp::auth::response_from_ha1(
            algorithm,
            ha1,
            &d.nonce,
            d.qop_auth.as_ref().map(|(nc, c)| (*nc, c.as_str())),
            request.method.as_str(),
            &d.uri,
        );
        let response_ok = constant_time_eq(expected.as_bytes(), d.response.as_bytes());
        let nonce = self.nonce_age(&d.nonce, from, now);
        let Some(user) = user.filter(|_| response_ok && d.realm == self.realm) else {
            return Err((
                false,
                format!("wrong credentials for {:?}", d.username),
                true,
            ));
        };
        let Some(age) = nonce else {
            return Err((false, "a nonce this server did not give".into(), true));
        };
        if age > NONCE_LIFETIME {
            return Err((true, "stale nonce".into(), false));
        }
        if let Some((nc, _)) = &d.qop_auth {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.counts.len() >= MAX_TRACKED_NONCES {
                state.counts.clear();
            }
            let last = state.counts.entry(d.nonce.clone()).or_insert(0);
            if *nc <= *last {
                return Err((false, format!("nc {nc:08x} replayed"), true));
            }
            *last = *nc;
        }
        Ok(user)
    }

    /// Checks a `Basic` password (over TLS only), with the same work for an
    /// unknown user.
    fn verify_basic(&self, name: &str, password: &str) -> Result<&User, (bool, String, bool)> {
        let dummy = User::new(name, &self.realm, "", Vec::new());
        let user = self.users.get(name).filter(|u| u.realm == self.realm);
        let ok = user.unwrap_or(&dummy).password_is(password);
        match user {
            Some(u) if ok => Ok(u),
            _ => Err((false, format!("wrong Basic credentials for {name:?}"), true)),
        }
    }

    /// The challenges of a 401: over TLS `Basic` first; then Digest with
    /// SHA-256, and MD5 last (clients that know only MD5 take the last
    /// Digest challenge they read).
    fn challenges(&self, from: IpAddr, now: Instant, stale: bool, secure: bool) -> Vec<String> {
        let nonce = self.nonce(from, now);
        let basic = secure.then(|| {
            Challenge::Basic {
                realm: self.realm.clone(),
            }
            .to_string()
        });
        basic
            .into_iter()
            .chain(
                [Algorithm::Sha256, Algorithm::Md5]
                    .into_iter()
                    .map(|algorithm| {
                        Challenge::Digest(DigestChallenge {
                            realm: self.realm.clone(),
                            nonce: nonce.clone(),
                            opaque: None,
                            qop: vec!["auth".into()],
                            algorithm,
                            stale,
                            userhash: false,
                        })
                        .to_string()
                    }),
            )
            .collect()
    }

    /// A nonce for `from` made at `now`: the time since start in ms and a
    /// random number (hex), then a keyed hash of both and the address.
    fn nonce(&self, from: IpAddr, now: Instant) -> String {
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        let salt: u32 = rand::random();
        format!("{ms:012x}{salt:08x}{}", self.nonce_mac(ms, salt, from))
    }

    fn nonce_mac(&self, ms: u64, salt: u32, from: IpAddr) -> String {
        let data = format!("{}:{ms}:{salt}:{from}", hex(&self.key));
        Algorithm::Sha256.hash_hex(&data)[..32].to_owned()
    }

    /// How old a nonce of ours is; `None` for one not made for `from` by
    /// this gate.
    fn nonce_age(&self, nonce: &str, from: IpAddr, now: Instant) -> Option<Duration> {
        let (ms, salt, mac) = (nonce.get(..12)?, nonce.get(12..20)?, nonce.get(20..)?);
        let ms = u64::from_str_radix(ms, 16).ok()?;
        let salt = u32::from_str_radix(salt, 16).ok()?;
        constant_time_eq(mac.as_bytes(), self.nonce_mac(ms, salt, from).as_bytes())
            .then(|| now.saturating_duration_since(self.started + Duration::from_millis(ms)))
    }

    fn locked_until(&self, from: IpAddr, now: Instant) -> Option<Instant> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .failures
            .get(&from)
            .and_then(|(_, _, until)| *until)
            .filter(|until| now < *until)
    }

    fn fail(&self, from: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.failures.retain(|_, (_, since, until)| {
            now < *since + FAILURE_WINDOW || until.is_some_and(|u| now < u)
        });
        let entry = state.failures.entry(from).or_insert((0, now, None));
        if now >= entry.1 + FAILURE_WINDOW {
            *entry = (0, now, None);
        }
        entry.0 += 1;
        if entry.0 >= MAX_FAILURES {
            tracing::warn!(%from, "{} failed authentications within {:?}: refused for {:?}", entry.0, FAILURE_WINDOW, LOCKOUT);
            *entry = (0, now, Some(now + LOCKOUT));
        }
    }
}

#[cfg(test)]
mod tests;
