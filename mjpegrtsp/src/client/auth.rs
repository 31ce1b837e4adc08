//! The client's side of RTSP authentication: it answers a 401 by choosing
//! the strongest challenge it can meet from the `WWW-Authenticate` headers
//! ([`Authenticator::from_challenges`]) and then sends an `Authorization`
//! header with every request ([`Authenticator::authorization`]), counting
//! `nc` up for each use of a nonce. The headers themselves are
//! [`crate::rtsp::auth`]'s.

use crate::rtsp::auth::{
    Algorithm, Authorization, Challenge, DigestAuthorization, DigestInput, digest_response, hex,
    parse_challenges,
};

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Makes `Authorization` headers for one chosen challenge.
#[derive(Debug, Clone)]
pub struct Authenticator {
    credentials: Credentials,
    challenge: Challenge,
    /// Uses of the current nonce so far.
    nc: u32,
}

impl Authenticator {
    /// The strongest challenge among the `WWW-Authenticate` values that these
    /// credentials can answer: Digest SHA-256 over Digest MD5 over Basic.
    pub fn from_challenges<'a>(
        credentials: &Credentials,
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Option<Self> {
        let best = headers
            .into_iter()
            .flat_map(parse_challenges)
            .max_by_key(|c| match c {
                Challenge::Basic { .. } => 0,
                Challenge::Digest(d) => 1 + d.algorithm.strength(),
            })?;
        Some(Self {
            credentials: credentials.clone(),
            challenge: best,
            nc: 0,
        })
    }

    /// The challenge being answered.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The `Authorization` value for a request with `method` and `uri`.
    pub fn authorization(&mut self, method: &str, uri: &str) -> String {
        let creds = &self.credentials;
        let authorization = match &self.challenge {
            Challenge::Basic { .. } => Authorization::Basic {
                user: creds.user.clone(),
                password: creds.password.clone(),
            },
            Challenge::Digest(d) => {
                self.nc = self.nc.wrapping_add(1);
                let use_qop = d.qop.iter().any(|q| q == "auth");
                let cnonce = use_qop.then(|| {
                    let bytes: [u8; 16] = rand::random();
                    hex(&bytes)
                });
                let response = digest_response(&DigestInput {
                    algorithm: d.algorithm,
                    user: &creds.user,
                    realm: &d.realm,
                    password: &creds.password,
                    nonce: &d.nonce,
                    qop_auth: cnonce.as_deref().map(|c| (self.nc, c)),
                    method,
                    uri,
                });
                let username = if d.userhash {
                    d.algorithm.hash_hex(&format!("{}:{}", creds.user, d.realm))
                } else {
                    creds.user.clone()
                };
                Authorization::Digest(DigestAuthorization {
                    username,
                    realm: d.realm.clone(),
                    nonce: d.nonce.clone(),
                    uri: uri.to_owned(),
                    response,
                    // RFC 2069 servers (no qop) get no algorithm for MD5.
                    algorithm: (d.algorithm != Algorithm::Md5 || !d.qop.is_empty())
                        .then_some(d.algorithm),
                    qop_auth: cnonce.map(|c| (self.nc, c)),
                    opaque: d.opaque.clone(),
                    userhash: d.userhash,
                })
            }
        };
        authorization.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::auth::DigestInput;

    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";

    fn mufasa() -> Credentials {
        Credentials {
            user: "Mufasa".into(),
            password: "Circle of Life".into(),
        }
    }

    #[test]
    fn the_strongest_challenge_is_chosen() {
        let sha = format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
             nonce=\"{NONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        let md5 = sha.replace("SHA-256", "MD5");
        // Offered both (in either order): SHA-256 wins.
        for order in [[&md5, &sha], [&sha, &md5]] {
            let a = Authenticator::from_challenges(&mufasa(), order.map(String::as_str)).unwrap();
            match a.challenge() {
                Challenge::Digest(d) => assert_eq!(d.algorithm, Algorithm::Sha256),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn authorization_headers() {
        let ch = format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth\", algorithm=SHA-256, nonce=\"{NONCE}\", opaque=\"op\""
        );
        let mut a = Authenticator::from_challenges(&mufasa(), [ch.as_str()]).unwrap();
        let h1 = a.authorization("GET", "/dir/index.html");
        let h2 = a.authorization("GET", "/dir/index.html");
        assert!(h1.starts_with("Digest username=\"Mufasa\", realm=\"http-auth@example.org\""));
        assert!(h1.contains("algorithm=SHA-256"), "{h1}");
        assert!(h1.contains("qop=auth, nc=00000001, cnonce=\""), "{h1}");
        assert!(h2.contains("nc=00000002"), "{h2}");
        assert!(h1.contains("opaque=\"op\""), "{h1}");
        // The response in the header is the one computed from its own cnonce.
        let Ok(Authorization::Digest(d)) = Authorization::parse(&h1) else {
            panic!("{h1}");
        };
        let (nc, cnonce) = d.qop_auth.clone().unwrap();
        let expected = digest_response(&DigestInput {
            algorithm: Algorithm::Sha256,
            user: "Mufasa",
            realm: "http-auth@example.org",
            password: "Circle of Life",
            nonce: NONCE,
            qop_auth: Some((nc, &cnonce)),
            method: "GET",
            uri: "/dir/index.html",
        });
        assert_eq!(d.response, expected);

        // RFC 2069 form: no qop, no algorithm, no nc/cnonce.
        let mut a =
            Authenticator::from_challenges(&mufasa(), ["Digest realm=\"r\", nonce=\"n\""]).unwrap();
        let h = a.authorization("OPTIONS", "*");
        assert!(!h.contains("qop") && !h.contains("cnonce") && !h.contains("algorithm"));

        let mut b = Authenticator::from_challenges(
            &Credentials {
                user: "Aladdin".into(),
                password: "open sesame".into(),
            },
            ["Basic realm=\"WallyWorld\""],
        )
        .unwrap();
        assert_eq!(
            b.authorization("DESCRIBE", "rtsp://h/a"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
