//! `rtsp://[user[:password]@]host[:port]/path` as the client needs it: where to
//! connect, the credentials in the user info, and the URL to put in requests
//! (without the user info).

use super::error::Error;
use crate::rtsp::uri::percent_decode;

/// The default RTSP port (RFC 2326 §3.2).
pub const DEFAULT_PORT: u16 = 554;
/// The port of an `rtsps://` URL that names none (RFC 7826 §26.2).
pub const DEFAULT_TLS_PORT: u16 = 322;

/// `url` as it may be shown or logged: `scheme://user:secret@host/a`
/// becomes `scheme://user@host/a`; a URL without a password is returned as
/// it is.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    format!("{scheme}://{user}@{host}{path}")
}

/// A parsed RTSP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtspUrl {
    /// `rtsps://`: the control connection is TLS.
    pub secure: bool,
    /// The host, without the brackets of an IPv6 literal.
    pub host: String,
    /// The port (554 when the URL names none, 322 for `rtsps`).
    pub port: u16,
    /// The percent-decoded user name of the user info.
    pub user: Option<String>,
    /// The percent-decoded password of the user info.
    pub password: Option<String>,
    /// The path, query included, as written (`/movie.Mjpeg`, `/`).
    pub path: String,
    /// The URL without its user info: what requests carry.
    pub request_url: String,
}

impl RtspUrl {
    /// Parses `url`: the `rtsp` and `rtsps` schemes.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: without_password(url),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| invalid("no scheme (expected rtsp://host/path)"))?;
        let secure = if scheme.eq_ignore_ascii_case("rtsp") {
            false
        } else if scheme.eq_ignore_ascii_case("rtsps") {
            true
        } else {
            return Err(invalid(&format!(
                "scheme {scheme:?} is not supported (rtsp or rtsps)"
            )));
        };
        let scheme = if secure { "rtsps" } else { "rtsp" };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = path.split('#').next().unwrap_or_default();
        let path = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let decode = |s: &str| -> Result<String, Error> {
            let bytes = percent_decode(s).map_err(|e| invalid(&format!("user info: {e}")))?;
            String::from_utf8(bytes).map_err(|_| invalid("user info is not UTF-8"))
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(decode(user)?), Some(decode(pass)?)),
                None => (Some(decode(u)?), None),
            },
        };
        let (host, port_text, host_written) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in host"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| invalid("junk after IPv6 host"))?,
                ),
            };
            (host, port, format!("[{host}]"))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p), h.to_owned()),
                None => (hostport, None, hostport.to_owned()),
            }
        };
        if host.is_empty()
            || host
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"[]@/".contains(&b))
        {
            return Err(invalid("no host, or a bad character in it"));
        }
        let port = match port_text {
            None | Some("") if secure => DEFAULT_TLS_PORT,
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| invalid(&format!("bad port {p:?}")))?,
        };
        let request_url = match port_text {
            Some(p) if !p.is_empty() => format!("{scheme}://{host_written}:{p}{path}"),
            _ => format!("{scheme}://{host_written}{path}"),
        };
        Ok(RtspUrl {
            secure,
            host: host.to_owned(),
            port,
            user,
            password,
            path,
            request_url,
        })
    }

    /// `host:port` to connect to (IPv6 hosts in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The file name the classic dialect puts in its request lines: the path
    /// without its leading slash or query (`movie.Mjpeg`, `sub/clip.Mjpeg`).
    pub fn classic_file(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or_default();
        path.trim_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_url() {
        let u = RtspUrl::parse("rtsp://127.0.0.1:8554/movie.Mjpeg").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 8554);
        assert_eq!(u.user, None);
        assert_eq!(u.path, "/movie.Mjpeg");
        assert_eq!(u.request_url, "rtsp://127.0.0.1:8554/movie.Mjpeg");
        assert_eq!(u.classic_file(), "movie.Mjpeg");
        assert_eq!(u.authority(), "127.0.0.1:8554");
    }

    #[test]
    fn userinfo_is_decoded_and_removed() {
        let u = RtspUrl::parse("rtsp://us%40er:p%3Ass@cam.local/sub/clip.Mjpeg").unwrap();
        assert_eq!(u.user.as_deref(), Some("us@er"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!(u.port, DEFAULT_PORT);
        assert_eq!(u.request_url, "rtsp://cam.local/sub/clip.Mjpeg");
        assert_eq!(u.classic_file(), "sub/clip.Mjpeg");
    }

    #[test]
    fn rtsps_urls() {
        let u = RtspUrl::parse("RTSPS://cam.local/a.Mjpeg").unwrap();
        assert!(u.secure);
        assert_eq!(u.port, DEFAULT_TLS_PORT);
        assert_eq!(u.request_url, "rtsps://cam.local/a.Mjpeg");
        let u = RtspUrl::parse("rtsps://127.0.0.1:8322/a.Mjpeg").unwrap();
        assert_eq!(
            (u.port, u.request_url.as_str()),
            (8322, "rtsps://127.0.0.1:8322/a.Mjpeg")
        );
        assert!(!RtspUrl::parse("rtsp://h/a").unwrap().secure);
    }

    #[test]
    fn ipv6_and_bad_urls() {
        let u = RtspUrl::parse("rtsp://[::1]:9000/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.authority(), "[::1]:9000");
        assert_eq!(u.request_url, "rtsp://[::1]:9000/a");
        for bad in [
            "http://h/a",
            "h/a",
            "rtsp:///a",
            "rtsp://h:99999/a",
            "rtsp://h:0/a",
            "rtsp://[::1/a",
        ] {
            assert!(
                matches!(RtspUrl::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
        let u = RtspUrl::parse("rtsp://h").unwrap();
        assert_eq!(u.path, "/");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("rtsp://cam:s3cr:et@h:8554/a.Mjpeg?x=1"),
            "rtsp://cam@h:8554/a.Mjpeg?x=1"
        );
        assert_eq!(without_password("rtsp://cam@h/a"), "rtsp://cam@h/a");
        assert_eq!(without_password("rtsp://h/a@b.Mjpeg"), "rtsp://h/a@b.Mjpeg");
        assert_eq!(without_password("not a url"), "not a url");
        let err = RtspUrl::parse("http://cam:s3cret@h/a")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
