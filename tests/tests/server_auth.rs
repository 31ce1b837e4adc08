//! The server with a users file, against real clients on loopback: ffprobe
//! (Digest MD5 from `rtsp://user:pass@`), GStreamer's `rtspsrc`
//! (`user-id`/`user-pw`, the RFC 2069 form), `mjpegrtspsrc` (SHA-256), the
//! seed's classic dialect (refused unless the mount is public), and an
//! address that keeps guessing (locked out, others not).

use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

fn url(server: &TestServer, credentials: &str, path: &str) -> String {
    format!("rtsp://{credentials}{}/{path}", server.addr)
}

/// ffprobe's exit, standard output and standard error (killed after 20 s).
fn ffprobe(url: &str) -> (bool, String, String) {
    let out = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", "tcp"])
        .args(["-show_entries", "stream=codec_name,width", "-of", "csv"])
        .arg(url)
        .output()
        .expect("ffprobe runs (apt install ffmpeg)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ffprobe_plays_with_the_right_user_and_gets_401_or_403_otherwise() {
    let (_dir, server) = guarded_server(&[]);
    let (ok, out, err) = ffprobe(&url(&server, "alice:s3cret@", "movie.Mjpeg"));
    assert!(ok && out.contains("mjpeg,160"), "{out} {err}");
    for (creds, status) in [
        ("alice:wrong@", "401"),
        ("mallory:s3cret@", "401"),
        ("", "401"),
        ("bob:hunter2@", "403"),
    ] {
        let (ok, _, err) = ffprobe(&url(&server, creds, "movie.Mjpeg"));
        assert!(!ok && err.contains(status), "{creds}: {err}");
    }
    let (ok, out, err) = ffprobe(&url(&server, "bob:hunter2@", "other.Mjpeg"));
    assert!(ok && out.contains("mjpeg"), "bob's own mount: {err}");
}

/// Buffers that reached the sink, and the error if any.
fn gst_play(launch: &str) -> (usize, Option<String>) {
    let out = run_for(launch, 1500);
    (out.frames.len(), out.error)
}

#[test]
fn rtspsrc_and_mjpegrtspsrc_play_with_credentials() {
    let (_dir, server) = guarded_server(&[]);
    let plain = url(&server, "", "movie.Mjpeg");
    let (frames, error) = gst_play(&format!(
        "rtspsrc location={plain} user-id=alice user-pw=s3cret protocols=tcp ! rtpjpegdepay ! appsink name=sink"
    ));
    assert!(
        frames >= 20 && error.is_none(),
        "rtspsrc: {frames} {error:?}"
    );
    let (frames, error) = gst_play(&format!(
        "mjpegrtspsrc location={} ! appsink name=sink",
        url(&server, "alice:s3cret@", "movie.Mjpeg")
    ));
    assert!(
        frames >= 20 && error.is_none(),
        "mjpegrtspsrc: {frames} {error:?}"
    );
    let (frames, error) = gst_play(&format!(
        "mjpegrtspsrc location={plain} user-id=alice user-pw=nope ! appsink name=sink"
    ));
    assert_eq!(frames, 0);
    let error = error.expect("an error for a wrong password");
    assert!(error.contains("401"), "{error}");
}

#[test]
fn classic_clients_are_refused_unless_the_mount_is_public() {
    let (_dir, server) = guarded_server(&[]);
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let (_udp, port) = classic_socket();
    let reply = rtsp_request(
        &mut ctl,
        &format!("SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}\n"),
    );
    // Bare LF, a status line the seed client reads, nothing it cannot.
    assert!(reply.starts_with("RTSP/1.0 401 "), "{reply:?}");
    assert!(!reply.contains('\r'), "{reply:?}");
    drop(ctl);

    let (_dir, open) = guarded_server(&["movie.Mjpeg"]);
    let (mut ctl, udp, session) = classic_setup(&open);
    assert!(classic_play(&mut ctl, &session, 2).starts_with("RTSP/1.0 200"));
    let packets = receive_classic(&udp, Duration::from_millis(500));
    assert!(packets.len() >= 6, "{} packets", packets.len());
    // The public mount is open to standard clients too; the others are not.
    assert!(ffprobe(&url(&open, "", "movie.Mjpeg")).0);
    assert!(!ffprobe(&url(&open, "", "other.Mjpeg")).0);
}

/// A raw DESCRIBE with a wrong Digest answer from `ip`; the status.
#[test]
fn an_address_that_keeps_guessing_is_locked_out_and_no_other() {
    let (_dir, server) = guarded_server(&[]);
    let guesser = std::net::IpAddr::from([127, 0, 0, 2]);
    for i in 0..10 {
        assert_eq!(
            wrong_guess(guesser, server.addr, "alice").0,
            401,
            "guess {i}"
        );
    }
    // Locked out: even a first request gets 503 with Retry-After.
    assert_eq!(wrong_guess(guesser, server.addr, "alice").0, 503);
    // Everyone else plays.
    let (ok, out, err) = ffprobe(&url(&server, "alice:s3cret@", "movie.Mjpeg"));
    assert!(ok && out.contains("mjpeg"), "{err}");
}
