//! RTSPS test servers: a self-signed certificate made with openssl, and a
//! server with its TLS port.

use crate::{TestServer, movie_dir};
use mjpegrtsp::server::{ServerConfig, TlsConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A self-signed certificate for 127.0.0.1 and localhost, and its key.
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        // Not a CA: trusted as itself (webpki refuses a CA as the server's).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (apt install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The certificate [`tls_server`] made in `dir`.
pub fn cert_of(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("cert.pem")
}

/// A looping server of a 160×120 `movie.Mjpeg` with RTSPS beside plain
/// RTSP, SRTP on.
pub fn tls_server() -> (tempfile::TempDir, TestServer) {
    tls_server_with(true)
}

/// [`tls_server`], SRTP on or off.
pub fn tls_server_with(srtp: bool) -> (tempfile::TempDir, TestServer) {
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let (cert, key) = certificate(dir.path());
    let mut config = ServerConfig::new(dir.path());
    config.looping = true;
    config.tls = Some(TlsConfig {
        srtp,
        ..TlsConfig::new(cert, key, 0)
    });
    let server = TestServer::start_with(config);
    (dir, server)
}
