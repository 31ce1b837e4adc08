//! RTSPS: the server's TLS port with a self-signed certificate (made with
//! openssl), against ffprobe, GStreamer's `rtspsrc`, this project's client
//! library and `mjpegrtspsrc` on loopback, beside plain RTSP; a client that
//! does not speak TLS there harms no one, and a certificate the client does
//! not trust is a clear error.

use mjpegrtsp_tests::*;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

fn ffprobe(url: &str) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", "tcp"])
        .args(["-show_entries", "stream=codec_name,width", "-of", "csv"])
        .arg(url)
        .output()
        .expect("ffprobe runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn ffprobe_and_rtspsrc_play_rtsps_beside_plain_rtsp() {
    let (_dir, server) = tls_server();
    let tls = server.tls_addr.expect("a TLS port");
    assert_ne!(tls.port(), server.addr.port());
    // ffmpeg reads the SDES key and decrypts the SRTP inside TLS.
    let (ok, out) = ffprobe(&format!("rtsps://{tls}/movie.Mjpeg"));
    assert!(ok && out.contains("mjpeg,160"), "rtsps: {out}");
    let (ok, out) = ffprobe(&format!("rtsp://{}/movie.Mjpeg", server.addr));
    assert!(ok && out.contains("mjpeg,160"), "plain: {out}");
    // rtspsrc reads the MIKEY key (a=key-mgmt) and decrypts with libsrtp2.
    let out = run_for(
        &format!(
            "rtspsrc location=rtsps://{tls}/movie.Mjpeg tls-validation-flags=0 protocols=tcp \
             ! rtpjpegdepay ! appsink name=sink"
        ),
        1500,
    );
    out.assert_played(20);
}

#[test]
fn plain_rtsp_on_the_tls_port_is_closed_and_harms_no_one() {
    let (_dir, server) = tls_server();
    let tls = server.tls_addr.unwrap();
    let mut s = std::net::TcpStream::connect(tls).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    // No RTSP reply: a TLS alert or nothing, then the connection closes.
    let mut got = Vec::new();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert!(!got.starts_with(b"RTSP/1.0"), "{got:?}");
    let (ok, out) = ffprobe(&format!("rtsps://{tls}/movie.Mjpeg"));
    assert!(ok, "{out}");
}

#[test]
fn the_client_library_plays_rtsps_trusting_the_ca_file_and_refuses_otherwise() {
    use mjpegrtsp::client::{ClientOptions, Error, TlsOptions, TransportPreference};
    let (dir, server) = tls_server();
    let url = format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap());
    for (transport, tls) in [
        (
            TransportPreference::Tcp,
            TlsOptions {
                verify: true,
                ca_file: Some(cert_of(&dir)),
            },
        ),
        (
            TransportPreference::Udp,
            TlsOptions {
                verify: true,
                ca_file: Some(cert_of(&dir)),
            },
        ),
        (
            TransportPreference::Tcp,
            TlsOptions {
                verify: false,
                ca_file: None,
            },
        ),
    ] {
        let options = ClientOptions {
            transport,
            tls: tls.clone(),
            ..ClientOptions::default()
        };
        block_on(async {
            let (_session, mut events) = playing(&url, options).await;
            let (frames, _) = collect_frames(&mut events, 12, Duration::from_secs(10)).await;
            assert_eq!(frames.len(), 12, "{transport:?} {tls:?}");
        });
    }
    // The system's roots do not know a self-signed certificate.
    let e = block_on(mjpegrtsp::client::Session::connect(
        &url,
        ClientOptions::default(),
    ))
    .map(|_| ())
    .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[test]
fn mjpegrtspsrc_plays_rtsps_with_tls_ca_file_and_says_why_without() {
    let (dir, server) = tls_server();
    let url = format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap());
    let out = run_for(
        &format!(
            "mjpegrtspsrc location={url} tls-ca-file={} ! appsink name=sink",
            cert_of(&dir).display()
        ),
        1500,
    );
    out.assert_played(20);
    let out = pipeline::run(
        &format!("mjpegrtspsrc location={url} ! appsink name=sink"),
        |_| {},
    );
    let error = out.error.expect("an untrusted certificate is an error");
    assert!(error.contains("certificate"), "{error}");
}
