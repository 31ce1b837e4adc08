use super::*;
use proptest::prelude::*;

pub(crate) const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
pub(crate) const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616_input(algorithm: Algorithm) -> DigestInput<'static> {
    DigestInput {
        algorithm,
        user: "Mufasa",
        realm: "http-auth@example.org",
        password: "Circle of Life",
        nonce: NONCE,
        qop_auth: Some((1, CNONCE)),
        method: "GET",
        uri: "/dir/index.html",
    }
}

/// RFC 7616 §3.9.1: the MD5 and SHA-256 responses of the example.
#[test]
fn rfc7616_example_responses() {
    assert_eq!(
        digest_response(&rfc7616_input(Algorithm::Md5)),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
    assert_eq!(
        digest_response(&rfc7616_input(Algorithm::Sha256)),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

/// The `-sess` and no-qop forms, checked against values from an
/// independent implementation (Python's hashlib).
#[test]
fn sess_and_rfc2069_forms() {
    assert_eq!(
        digest_response(&rfc7616_input(Algorithm::Sha256Sess)),
        "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"
    );
    let input = DigestInput {
        algorithm: Algorithm::Md5,
        user: "user",
        realm: "GStreamer RTSP Server",
        password: "pass",
        nonce: "abcdef0123",
        qop_auth: None,
        method: "DESCRIBE",
        uri: "rtsp://127.0.0.1:8554/movie.Mjpeg",
    };
    assert_eq!(digest_response(&input), "5463aaa714d1a2a9541469b52e4971a8");
}

/// A server that stores only `H(user:realm:password)` computes the same
/// response as a client that knows the password.
#[test]
fn the_response_from_the_stored_hash_is_the_clients() {
    for alg in [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
    ] {
        let input = rfc7616_input(alg);
        let ha1 = alg.hash_hex("Mufasa:http-auth@example.org:Circle of Life");
        assert_eq!(
            response_from_ha1(
                alg,
                &ha1,
                NONCE,
                Some((1, CNONCE)),
                "GET",
                "/dir/index.html"
            ),
            digest_response(&input),
            "{alg:?}"
        );
    }
}

#[test]
fn rfc7616_challenges_parse_and_write_back() {
    let sha = format!(
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
         nonce=\"{NONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    );
    let parsed = parse_challenges(&sha);
    let expected = Challenge::Digest(DigestChallenge {
        realm: "http-auth@example.org".into(),
        nonce: NONCE.into(),
        opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
        qop: vec!["auth".into(), "auth-int".into()],
        algorithm: Algorithm::Sha256,
        stale: false,
        userhash: false,
    });
    assert_eq!(parsed, vec![expected.clone()]);
    assert_eq!(parse_challenges(&expected.to_string()), vec![expected]);
    let stale = Challenge::Digest(DigestChallenge {
        realm: "mjpegrtsp".into(),
        nonce: "n".into(),
        opaque: None,
        qop: vec!["auth".into()],
        algorithm: Algorithm::Md5,
        stale: true,
        userhash: false,
    });
    assert_eq!(
        stale.to_string(),
        "Digest realm=\"mjpegrtsp\", qop=\"auth\", algorithm=MD5, nonce=\"n\", stale=true"
    );
    let basic = Challenge::Basic {
        realm: "a \"b\"".into(),
    };
    assert_eq!(parse_challenges(&basic.to_string()), vec![basic]);
}

#[test]
fn several_challenges_in_one_header_and_unknown_ones() {
    let v = "Basic realm=\"cam\", Digest realm=\"cam\", nonce=\"n1\", stale=TRUE, Foo bar=baz, \
             Digest realm=\"x\", nonce=\"n2\", algorithm=SHA-512-256";
    let c = parse_challenges(v);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(
        c[0],
        Challenge::Basic {
            realm: "cam".into()
        }
    );
    match &c[1] {
        Challenge::Digest(d) => {
            assert_eq!((d.nonce.as_str(), d.stale), ("n1", true));
            assert_eq!(d.algorithm, Algorithm::Md5);
        }
        other => panic!("{other:?}"),
    }
    assert!(parse_challenges("").is_empty());
    assert!(parse_challenges("Digest realm=\"unterminated").is_empty());
    let esc = parse_challenges(r#"Digest realm="a\"b", nonce="n""#);
    match &esc[0] {
        Challenge::Digest(d) => assert_eq!(d.realm, "a\"b"),
        other => panic!("{other:?}"),
    }
}

/// `Authorization` values as ffmpeg, GStreamer's rtspsrc and this crate's
/// client write them.
#[test]
fn authorization_values_of_real_clients_parse() {
    // ffmpeg (libavformat/httpauth.c): quoted algorithm, nc unquoted.
    let ffmpeg = "Digest username=\"user\", realm=\"mjpegrtsp\", nonce=\"abc\", \
                  uri=\"rtsp://127.0.0.1:8554/movie.Mjpeg\", response=\"0123456789abcdef0123456789abcdef\", \
                  algorithm=\"MD5\", cnonce=\"c0ffee\", nc=00000001, qop=\"auth\"";
    let Authorization::Digest(d) = Authorization::parse(ffmpeg).unwrap() else {
        panic!("not Digest");
    };
    assert_eq!(d.username, "user");
    assert_eq!(d.uri, "rtsp://127.0.0.1:8554/movie.Mjpeg");
    assert_eq!(d.algorithm(), Algorithm::Md5);
    assert_eq!(d.qop_auth, Some((1, "c0ffee".to_owned())));
    // GStreamer (gstrtspconnection.c): RFC 2069 form.
    let gst = "Digest username=\"user\", realm=\"mjpegrtsp\", nonce=\"abc\", \
               uri=\"rtsp://127.0.0.1:8554/movie.Mjpeg\", response=\"00\"";
    let Authorization::Digest(d) = Authorization::parse(gst).unwrap() else {
        panic!("not Digest");
    };
    assert_eq!((d.algorithm, d.qop_auth), (None, None));
    assert_eq!(
        Authorization::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap(),
        Authorization::Basic {
            user: "Aladdin".into(),
            password: "open sesame".into()
        }
    );
    for bad in [
        "",
        "Basic",
        "Basic !!!",
        "Basic bm9jb2xvbg==", // "nocolon"
        "Digest username=\"u\"",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", qop=auth",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", algorithm=SHA-512",
        "Bearer abc",
    ] {
        assert!(Authorization::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn base64_both_ways() {
    for (plain, coded) in [
        (&b""[..], ""),
        (b"a", "YQ=="),
        (b"ab", "YWI="),
        (b"abc", "YWJj"),
        (b"Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
    ] {
        assert_eq!(base64(plain), coded);
        assert_eq!(base64_decode(coded).as_deref(), Some(plain));
    }
    assert_eq!(base64_decode("YQ").as_deref(), Some(&b"a"[..]));
    assert_eq!(base64_decode("Y"), None);
    assert_eq!(base64_decode("YQ==="), None);
    assert_eq!(base64_decode("Y Q=="), None);
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Md5),
        Just(Algorithm::Md5Sess),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha256Sess),
    ]
}

proptest! {
    /// What one side writes, the other reads back the same.
    #[test]
    fn authorization_round_trips(
        username in "[ -~]{0,20}",
        realm in "[ -~]{0,20}",
        nonce in "[ -~]{0,20}",
        uri in "[ -~]{0,30}",
        response in "[0-9a-f]{32}",
        algorithm in proptest::option::of(algorithm()),
        qop_auth in proptest::option::of((any::<u32>(), "[ -~]{0,16}")),
        opaque in proptest::option::of("[ -~]{0,16}"),
        userhash in any::<bool>(),
    ) {
        let a = Authorization::Digest(DigestAuthorization {
            username, realm, nonce, uri, response, algorithm, qop_auth, opaque, userhash,
        });
        prop_assert_eq!(Authorization::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn basic_round_trips(user in "[ -9;-~]{0,20}", password in "[ -~]{0,20}") {
        let a = Authorization::Basic { user, password };
        prop_assert_eq!(Authorization::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn challenges_round_trip(
        realm in "[ -~]{0,20}",
        nonce in "[ -~]{0,20}",
        opaque in proptest::option::of("[ -~]{0,16}"),
        qop in proptest::collection::vec("(auth|auth-int)", 0..3),
        algorithm in algorithm(),
        stale in any::<bool>(),
        userhash in any::<bool>(),
    ) {
        let c = Challenge::Digest(DigestChallenge { realm, nonce, opaque, qop, algorithm, stale, userhash });
        prop_assert_eq!(parse_challenges(&c.to_string()), vec![c]);
    }

    #[test]
    fn parsers_never_panic(value in "\\PC{0,80}") {
        let _ = Authorization::parse(&value);
        let _ = parse_challenges(&value);
        let _ = base64_decode(&value);
    }
}
