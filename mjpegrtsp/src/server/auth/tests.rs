use super::*;
use crate::client::auth::{Authenticator, Credentials};
use crate::rtsp::Method;
use crate::rtsp::auth::{DigestAuthorization, DigestInput, digest_response, parse_challenges};

const URL: &str = "rtsp://127.0.0.1:8554/cams/front.Mjpeg";
const MOUNT: &str = "cams/front.Mjpeg";

fn gate() -> Gate {
    let mut users = Users::default();
    users
        .set(User::new("alice", "mjpegrtsp", "secret", vec!["**".into()]))
        .unwrap();
    users
        .set(User::new(
            "bob",
            "mjpegrtsp",
            "hunter2",
            vec!["movie.Mjpeg".into()],
        ))
        .unwrap();
    Gate::new(users, "mjpegrtsp", vec!["public/*".into()])
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn describe(authorization: Option<&str>) -> Request {
    let mut r = Request::new(Method::Describe, URL);
    if let Some(a) = authorization {
        r.headers.insert("Authorization", a);
    }
    r
}

/// The 401 for a bare request from 127.0.0.1.
fn challenge(g: &Gate) -> Denied {
    let denied = g
        .check(
            &describe(None),
            Some(MOUNT),
            ip(1),
            false,
            false,
            Instant::now(),
        )
        .unwrap_err();
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    denied
}

/// The 401 for a bare request, and what a client answers it with.
fn answer(g: &Gate, user: &str, password: &str, pick: Option<Algorithm>) -> String {
    let denied = challenge(g);
    let challenges: Vec<&str> = denied
        .challenges
        .iter()
        .map(String::as_str)
        .filter(|c| pick.is_none_or(|a| c.contains(&format!("algorithm={}", a.as_str()))))
        .collect();
    let creds = Credentials {
        user: user.into(),
        password: password.into(),
    };
    Authenticator::from_challenges(&creds, challenges)
        .unwrap()
        .authorization("DESCRIBE", URL)
}

#[test]
fn a_bare_request_gets_sha256_then_md5_challenges() {
    let g = gate();
    let denied = challenge(&g);
    let parsed: Vec<Challenge> = denied
        .challenges
        .iter()
        .flat_map(|c| parse_challenges(c))
        .collect();
    let algorithms: Vec<Algorithm> = parsed
        .iter()
        .map(|c| match c {
            Challenge::Digest(d) => {
                assert_eq!(
                    (d.realm.as_str(), d.qop.as_slice()),
                    ("mjpegrtsp", &["auth".to_owned()][..])
                );
                d.algorithm
            }
            Challenge::Basic { .. } => panic!("Basic offered in clear"),
        })
        .collect();
    assert_eq!(algorithms, [Algorithm::Sha256, Algorithm::Md5]);
    let response = denied.response(&describe(None));
    assert_eq!(response.headers.get_all("WWW-Authenticate").count(), 2);
}

#[test]
fn the_right_password_passes_with_sha256_md5_and_the_rfc2069_form() {
    let g = gate();
    for pick in [None, Some(Algorithm::Md5), Some(Algorithm::Sha256)] {
        let a = answer(&g, "alice", "secret", pick);
        let user = g.check(
            &describe(Some(&a)),
            Some(MOUNT),
            ip(1),
            false,
            false,
            Instant::now(),
        );
        assert_eq!(user.unwrap(), Some("alice".into()), "{pick:?}: {a}");
    }
    // As GStreamer's rtspsrc answers: no qop, no nc, no algorithm.
    let denied = challenge(&g);
    let Some(Challenge::Digest(d)) = parse_challenges(&denied.challenges[1]).pop() else {
        panic!("no Digest challenge");
    };
    let response = digest_response(&DigestInput {
        algorithm: Algorithm::Md5,
        user: "alice",
        realm: "mjpegrtsp",
        password: "secret",
        nonce: &d.nonce,
        qop_auth: None,
        method: "DESCRIBE",
        uri: URL,
    });
    let gst = Authorization::Digest(DigestAuthorization {
        username: "alice".into(),
        realm: "mjpegrtsp".into(),
        nonce: d.nonce.clone(),
        uri: URL.into(),
        response,
        algorithm: None,
        qop_auth: None,
        opaque: None,
        userhash: false,
    });
    let ok = g.check(
        &describe(Some(&gst.to_string())),
        Some(MOUNT),
        ip(1),
        false,
        false,
        Instant::now(),
    );
    assert_eq!(ok.unwrap(), Some("alice".into()));
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_reply() {
    let g = gate();
    let now = Instant::now();
    let replies: Vec<(StatusCode, usize)> = [("alice", "wrong"), ("mallory", "secret")]
        .iter()
        .map(|(u, p)| {
            let a = answer(&g, u, p, None);
            let d = g
                .check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, now)
                .unwrap_err();
            (d.status, d.challenges.len())
        })
        .collect();
    assert_eq!(replies, [(StatusCode::UNAUTHORIZED, 2); 2]);
    let basic = Authorization::Basic {
        user: "alice".into(),
        password: "secret".into(),
    }
    .to_string();
    let d = g
        .check(
            &describe(Some(&basic)),
            Some(MOUNT),
            ip(1),
            false,
            false,
            now,
        )
        .unwrap_err();
    assert_eq!(d.status, StatusCode::UNAUTHORIZED, "no Basic in clear");
}

#[test]
fn a_replayed_nc_a_foreign_nonce_and_a_stale_one_are_refused() {
    let g = gate();
    let a = answer(&g, "alice", "secret", None);
    let now = Instant::now();
    assert!(
        g.check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, now)
            .is_ok()
    );
    let again = g
        .check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, now)
        .unwrap_err();
    assert!(again.why.contains("replayed"), "{}", again.why);
    // The same answer from another address: not its nonce.
    let a = answer(&g, "alice", "secret", None);
    let other = g
        .check(&describe(Some(&a)), Some(MOUNT), ip(2), false, false, now)
        .unwrap_err();
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    // Later than the nonce's lifetime: a new challenge, stale=true.
    let late = now + NONCE_LIFETIME + Duration::from_secs(1);
    let stale = g
        .check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, late)
        .unwrap_err();
    assert!(
        stale.challenges.iter().all(|c| c.contains("stale=true")),
        "{stale:?}"
    );
    // Another server run (another key) does not know this one's nonces.
    let other_run = gate();
    assert!(
        other_run
            .check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, now)
            .is_err()
    );
}

#[test]
fn mounts_are_allowed_per_user_and_public_ones_need_no_one() {
    let g = gate();
    let a = answer(&g, "bob", "hunter2", None);
    let d = g
        .check(
            &describe(Some(&a)),
            Some(MOUNT),
            ip(1),
            false,
            false,
            Instant::now(),
        )
        .unwrap_err();
    assert_eq!(d.status, StatusCode::FORBIDDEN, "{}", d.why);
    let a = answer(&g, "bob", "hunter2", None);
    let ok = g.check(
        &describe(Some(&a)),
        Some("movie.Mjpeg"),
        ip(1),
        false,
        false,
        Instant::now(),
    );
    assert_eq!(ok.unwrap(), Some("bob".into()));
    let public = g.check(
        &describe(None),
        Some("public/cam.Mjpeg"),
        ip(1),
        false,
        false,
        Instant::now(),
    );
    assert_eq!(public.unwrap(), None);
    // Authentication only (OPTIONS *): any user.
    let a = answer(&g, "bob", "hunter2", None);
    assert!(
        g.check(
            &describe(Some(&a)),
            None,
            ip(1),
            false,
            false,
            Instant::now()
        )
        .is_ok()
    );
}

#[test]
fn repeated_failures_lock_one_address_out_and_not_the_others() {
    let g = gate();
    let now = Instant::now();
    let right = answer(&g, "alice", "secret", None);
    for _ in 0..MAX_FAILURES {
        let a = answer(&g, "alice", "guess", None);
        let d = g
            .check(&describe(Some(&a)), Some(MOUNT), ip(1), false, false, now)
            .unwrap_err();
        assert_eq!(d.status, StatusCode::UNAUTHORIZED);
    }
    let locked = g
        .check(
            &describe(Some(&right)),
            Some(MOUNT),
            ip(1),
            false,
            false,
            now,
        )
        .unwrap_err();
    assert_eq!(locked.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(locked.retry_after, Some(LOCKOUT.as_secs()));
    // Another address still gets in (its own nonce).
    let denied = g
        .check(&describe(None), Some(MOUNT), ip(2), false, false, now)
        .unwrap_err();
    let creds = Credentials {
        user: "alice".into(),
        password: "secret".into(),
    };
    let a2 = Authenticator::from_challenges(&creds, denied.challenges.iter().map(String::as_str))
        .unwrap()
        .authorization("DESCRIBE", URL);
    assert!(
        g.check(&describe(Some(&a2)), Some(MOUNT), ip(2), false, false, now)
            .is_ok()
    );
    // After the lockout, the right password works again.
    let later = now + LOCKOUT + Duration::from_secs(1);
    let d = g
        .check(&describe(None), Some(MOUNT), ip(1), false, false, later)
        .unwrap_err();
    assert_eq!(
        d.status,
        StatusCode::UNAUTHORIZED,
        "challenged again, not locked"
    );
}

#[test]
fn basic_is_offered_and_taken_over_tls_only() {
    let g = gate();
    let now = Instant::now();
    let denied = g
        .check(&describe(None), Some(MOUNT), ip(1), true, false, now)
        .unwrap_err();
    assert!(
        denied.challenges[0].starts_with("Basic realm=\"mjpegrtsp\""),
        "{denied:?}"
    );
    assert_eq!(denied.challenges.len(), 3, "Basic, then SHA-256 and MD5");
    let basic = |password: &str| {
        Authorization::Basic {
            user: "alice".into(),
            password: password.into(),
        }
        .to_string()
    };
    let ok = g.check(
        &describe(Some(&basic("secret"))),
        Some(MOUNT),
        ip(1),
        true,
        false,
        now,
    );
    assert_eq!(ok.unwrap(), Some("alice".into()));
    let wrong = g.check(
        &describe(Some(&basic("nope"))),
        Some(MOUNT),
        ip(1),
        true,
        false,
        now,
    );
    assert_eq!(wrong.unwrap_err().status, StatusCode::UNAUTHORIZED);
    let clear = g.check(
        &describe(Some(&basic("secret"))),
        Some(MOUNT),
        ip(1),
        false,
        false,
        now,
    );
    assert_eq!(clear.unwrap_err().status, StatusCode::UNAUTHORIZED);
}

#[test]
fn publishing_needs_a_publish_pattern_even_on_a_public_mount() {
    let mut users = Users::default();
    for (name, password, mounts) in [("alice", "secret", "**"), ("cam", "lens", "publish=cams/*")] {
        users
            .set(User::new(name, "mjpegrtsp", password, vec![mounts.into()]))
            .unwrap();
    }
    let g = Gate::new(users, "mjpegrtsp", vec!["cams/*".into()]);
    let now = Instant::now();
    let check = |request: &Request, from: IpAddr, publish| {
        g.check(request, Some(MOUNT), from, false, publish, now)
    };
    // Public for playing, not for publishing.
    assert_eq!(check(&describe(None), ip(1), false).unwrap(), None);
    // Each user answers its own challenge (from its own address).
    let answer = |user: &str, password: &str, from: IpAddr| {
        let denied = check(&describe(None), from, true).unwrap_err();
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
        let creds = Credentials {
            user: user.into(),
            password: password.into(),
        };
        Authenticator::from_challenges(&creds, denied.challenges.iter().map(String::as_str))
            .unwrap()
            .authorization("DESCRIBE", URL)
    };
    let alice = answer("alice", "secret", ip(2));
    let refused = check(&describe(Some(&alice)), ip(2), true).unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.why);
    assert!(
        refused.why.contains("may not publish at"),
        "{}",
        refused.why
    );
    let cam = answer("cam", "lens", ip(3));
    let passed = check(&describe(Some(&cam)), ip(3), true);
    assert_eq!(passed.unwrap(), Some("cam".into()));
}
