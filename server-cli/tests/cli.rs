//! `server-cli` as a user runs it: help, the built-in sample, a live source,
//! clear errors, and a clean stop on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_server-cli");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server and returns it with the URLs it printed.
/// The flags that serve `media` on 127.0.0.1:`port`.
/// No HTTP port: these tests run side by side, and the pages have their own.
fn on_loopback<'a>(port: &'a str, media: &'a tempfile::TempDir) -> [&'a str; 8] {
    [
        "--bind",
        "127.0.0.1",
        "--port",
        port,
        "--media-dir",
        media.path().to_str().unwrap(),
        "--http-port",
        "0",
    ]
}

/// The flags that serve `media` on 127.0.0.1:`port`, HTTP as the default.
fn on_loopback_with_http<'a>(port: &'a str, media: &'a tempfile::TempDir) -> [&'a str; 6] {
    let all = on_loopback(port, media);
    [all[0], all[1], all[2], all[3], all[4], all[5]]
}

fn start(args: &[&str], cache: &std::path::Path) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut urls = Vec::new();
    // URLs come right after start; the sample may take a few seconds to make.
    if let Ok(first) = rx.recv_timeout(Duration::from_secs(60)) {
        urls.push(first);
        while let Ok(more) = rx.recv_timeout(Duration::from_millis(300)) {
            urls.push(more);
        }
    }
    (child, urls)
}

fn stop(mut child: Child, signal: i32) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("server did not stop within 10 s of signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ffprobe(url: &str) -> String {
    let out = Command::new("timeout")
        .args([
            "20",
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate",
            "-of",
            "compact",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_lists_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--port",
        "--media-dir",
        "--fps",
        "--loop",
        "--pipeline",
        "--max-sessions",
        "--session-timeout",
        "--http-port",
    ] {
        assert!(text.contains(flag), "{flag} in --help");
    }
}

#[test]
fn no_arguments_serves_the_built_in_sample() {
    let cache = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let (child, urls) = start(&["--bind", "127.0.0.1", "--port", &port], cache.path());
    assert_eq!(urls[0], format!("rtsp://127.0.0.1:{port}/sample.Mjpeg"));
    // Then the pages' URL, unless port 8080 is taken (another test's server).
    assert!(
        urls[1..].is_empty() || urls[1..] == ["http://127.0.0.1:8080/".to_owned()],
        "{urls:?}"
    );
    let probe = ffprobe(&urls[0]);
    assert!(
        probe.contains("codec_name=mjpeg|width=640|height=480|r_frame_rate=24/1"),
        "{probe}"
    );
    assert!(
        cache.path().join("mjpegrtsp/sample.Mjpeg").exists(),
        "sample kept for next time"
    );
    assert!(
        stop(child, libc::SIGTERM).success(),
        "SIGTERM is a clean stop"
    );
}

/// `--fps 29.97` is the NTSC rate 30000/1001, as the SDP says it back: the
/// 240 frames of the sample last 8.008 s.
#[test]
fn fps_29_97_is_ntsc_everywhere() {
    use std::io::{Read, Write};
    let cache = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let (child, urls) = start(
        &["--bind", "127.0.0.1", "--port", &port, "--fps", "29.97"],
        cache.path(),
    );
    let mut ctl = std::net::TcpStream::connect(("127.0.0.1", port.parse().unwrap())).unwrap();
    ctl.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(ctl, "DESCRIBE {} RTSP/1.0\r\nCSeq: 1\r\n\r\n", urls[0]).unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains("a=control:stream=0") {
        let n = ctl.read(&mut chunk).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&chunk[..n]);
    }
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.contains("a=framerate:29.97\r\n"), "{reply}");
    assert!(reply.contains("a=range:npt=0-8.008\r\n"), "{reply}");
    assert!(stop(child, libc::SIGTERM).success());
}

#[test]
fn live_pipelines_are_served_at_live_and_their_own_paths() {
    let cache = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let source = |w: u32, h: u32| {
        format!(
            "videotestsrc is-live=true ! video/x-raw,format=I420,width={w},height={h},framerate=24/1 ! jpegenc"
        )
    };
    let (default, door, yard) = (source(320, 240), source(160, 120), source(176, 144));
    let (child, urls) = start(
        &[
            &on_loopback(&port, &media)[..],
            &["--pipeline", &default],
            &["--pipeline-at", "cams/door", &door],
            &["--pipeline-at", "/yard/", &yard],
        ]
        .concat(),
        cache.path(),
    );
    let url = |path: &str| format!("rtsp://127.0.0.1:{port}/{path}");
    assert_eq!(urls, vec![url("cams/door"), url("live"), url("yard")]);
    for (path, size) in [
        ("live", "width=320|height=240"),
        ("cams/door", "width=160|height=120"),
        ("yard", "width=176|height=144"),
    ] {
        let probe = ffprobe(&url(path));
        assert!(probe.contains(size), "{path}: {probe}");
    }
    assert!(
        stop(child, libc::SIGINT).success(),
        "SIGINT is a clean stop"
    );
    // Paths checked before anything starts.
    for (args, says) in [
        (
            vec!["--pipeline", "x", "--pipeline-at", "/live/", "y"],
            "live mount path /live is given twice",
        ),
        (
            vec!["--pipeline-at", "a/../b", "y"],
            "with . or .. segments",
        ),
        (vec!["--pipeline-at", "only-a-path"], "--pipeline-at"),
    ] {
        let out = Command::new(BIN)
            .args(on_loopback(&free_port().to_string(), &media))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = Command::new(BIN)
        .args(["--media-dir", "/nonexistent/videos"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/videos"), "{err}");

    let out = Command::new(BIN).args(["--fps", "fast"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid frame rate"));

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let media = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(on_loopback(&port, &media))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("cannot listen on 127.0.0.1:{port}"))
    );
}

#[test]
fn the_http_port_serves_pages_or_says_why_not() {
    let cache = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let (port, http) = (free_port().to_string(), free_port().to_string());
    let mut args = on_loopback_with_http(&port, &media).to_vec();
    args.extend(["--http-port", &http]);
    let (child, urls) = start(&args, cache.path());
    assert_eq!(urls, vec![format!("http://127.0.0.1:{http}/")]);
    let out = Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{http}/api/v1/status")])
        .output()
        .expect("curl runs");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains(&format!("\"rtsp_port\": {port}")),
        "{status}"
    );
    assert!(stop(child, libc::SIGTERM).success());

    // An HTTP port asked for and taken: no start, and why.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().port().to_string();
    let port = free_port().to_string();
    let mut args = on_loopback_with_http(&port, &media).to_vec();
    args.extend(["--http-port", &taken]);
    let out = Command::new(BIN).args(&args).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{taken}")),
        "{err}"
    );

    // The default 8080 taken (here, or by anyone): RTSP starts, HTTP says why.
    let _hold = TcpListener::bind("127.0.0.1:8080");
    let port = free_port().to_string();
    let mut child = Command::new(BIN)
        .args(on_loopback_with_http(&port, &media))
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let said = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("no HTTP side"));
    assert!(
        said.is_some_and(|l| l.contains("127.0.0.1:8080") && l.contains("--http-port")),
        "the log says why there are no pages"
    );
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok(),
        "RTSP serves"
    );
    std::thread::spawn(move || lines.for_each(drop));
    // Signals are handled once the server runs, just after it binds.
    std::thread::sleep(Duration::from_millis(500));
    let status = stop(child, libc::SIGTERM);
    assert!(status.success(), "{status:?}");
}

/// Runs `server-cli add-user FILE NAME ARGS…` with `stdin` as its input.
fn add_user(
    file: &std::path::Path,
    name: &str,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("add-user")
        .arg(file)
        .arg(name)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn add_user_writes_digest_hashes_and_never_the_password() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    let out = add_user(&file, "alice", &[], "Circle of Life\n");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("added alice"));
    std::fs::write(
        &file,
        format!("# the users\n{}", std::fs::read_to_string(&file).unwrap()),
    )
    .unwrap();
    let out = add_user(&file, "bob", &["--mounts", "cams/*,live"], "hunter2\n");
    assert!(out.status.success(), "{out:?}");
    let out = add_user(&file, "alice", &["--realm", "cams"], "new one\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("replaced alice"));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# the users", "comments are kept: {text}");
    // Python: hashlib.md5(b"alice:cams:new one"), hashlib.sha256(b"bob:mjpegrtsp:hunter2").
    let alice: Vec<&str> = lines[1].split(':').collect();
    assert_eq!(alice[..2], ["alice", "cams"]);
    assert_eq!(alice[2], "5eed349870e0fde0fa5d173544325302", "{text}");
    assert_eq!(alice[4], "**");
    assert_eq!(
        lines[2],
        "bob:mjpegrtsp:4dcccfe11b9fa1381b27adf0d44c00d0:\
         8aa9ffe12eb9f1fa591918e8c2b4d8c183347c60d0d0e949381e672186f43530:cams/*,live"
    );
    for secret in ["Circle of Life", "hunter2", "new one"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    for (name, stdin, why) in [("carol", "", "no password"), ("a:b", "pw\n", "no ':'")] {
        let out = add_user(&file, name, &[], stdin);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{name}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "a refused user changes nothing"
    );
    std::fs::write(&file, "not a users file\n").unwrap();
    let out = add_user(&file, "dave", &[], "pw\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1"),
        "{out:?}"
    );
}

#[test]
fn unusable_tls_files_stop_the_server_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let (key1, key2, cert) = (
        dir.path().join("k1.pem"),
        dir.path().join("k2.pem"),
        dir.path().join("c.pem"),
    );
    make_keys_and_cert(&key1, &key2, &cert);
    let port = free_port().to_string();
    let run = |cert: &std::path::Path, key: &std::path::Path| {
        let out = Command::new(BIN)
            .args(on_loopback(&port, &media))
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .args(["--tls-port", "0"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = dir.path().join("missing.pem");
    assert!(run(&missing, &key1).contains("cannot read the TLS certificate"));
    assert!(run(&key1, &key1).contains("no PEM certificate"));
    assert!(run(&cert, &cert).contains("no PEM private key"));
    let mismatch = run(&cert, &key2);
    assert!(mismatch.contains("do not go together"), "{mismatch}");
}

/// Two EC keys and a self-signed certificate (not a CA) for the first.
fn make_keys_and_cert(key1: &std::path::Path, key2: &std::path::Path, cert: &std::path::Path) {
    let openssl = |args: &[&std::ffi::OsStr]| {
        let ok = Command::new("openssl")
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "openssl {args:?}");
    };
    for key in [key1, key2] {
        openssl(&[
            "genpkey".as_ref(),
            "-algorithm".as_ref(),
            "EC".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:prime256v1".as_ref(),
            "-out".as_ref(),
            key.as_os_str(),
        ]);
    }
    openssl(&[
        "req".as_ref(),
        "-x509".as_ref(),
        "-key".as_ref(),
        key1.as_os_str(),
        "-days".as_ref(),
        "1".as_ref(),
        "-subj".as_ref(),
        "/CN=localhost".as_ref(),
        "-addext".as_ref(),
        "basicConstraints=critical,CA:FALSE".as_ref(),
        "-out".as_ref(),
        cert.as_os_str(),
    ]);
}

#[test]
fn no_plain_serves_rtsps_only() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (key, other, cert) = (
        dir.path().join("k.pem"),
        dir.path().join("k2.pem"),
        dir.path().join("c.pem"),
    );
    make_keys_and_cert(&key, &other, &cert);
    let port = free_port().to_string();
    let tls_port = free_port().to_string();
    let (child, urls) = start(
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-port",
            &tls_port,
            "--no-plain",
        ],
        cache.path(),
    );
    assert!(!urls.is_empty(), "no URL printed");
    // Nothing in clear: no HTTP side unless --http-port asks for one.
    for u in &urls {
        assert!(
            u.starts_with(&format!("rtsps://127.0.0.1:{tls_port}/")),
            "{u}"
        );
    }
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "nothing listens on the plain port"
    );
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{tls_port}")).is_ok());
    stop(child, libc::SIGTERM);
    let out = Command::new(BIN).args(["--no-plain"]).output().unwrap();
    assert!(!out.status.success(), "--no-plain needs --tls-cert");
}

/// `--relay` of an upstream that asks for a user: the right password plays,
/// a wrong one is retried; neither password reaches the log, even at debug.
#[test]
fn relays_keep_upstream_passwords_out_of_the_log() {
    let cache = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let users = media.path().join("users.txt");
    assert!(add_user(&users, "cam", &[], "s3cretpw\n").status.success());
    let up_port = free_port().to_string();
    // The upstream: the built-in sample, for users only.
    let (upstream, urls) = start(
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            &up_port,
            "--users",
            users.to_str().unwrap(),
            "--loop",
        ],
        cache.path(),
    );
    assert!(!urls.is_empty(), "the upstream started");
    let port = free_port().to_string();
    let empty = tempfile::tempdir().unwrap();
    let door = format!("door=rtsp://cam:s3cretpw@127.0.0.1:{up_port}/sample.Mjpeg");
    let gate = format!("gate=rtsp://cam:wr0ngpw@127.0.0.1:{up_port}/sample.Mjpeg");
    let mut relay = Command::new(BIN)
        .args(on_loopback(&port, &empty))
        .args(["--relay", &door, "--relay", &gate])
        .env("RUST_LOG", "debug")
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(Instant::now() < deadline, "the relay server listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    let probe = ffprobe(&format!("rtsp://127.0.0.1:{port}/door"));
    assert!(probe.contains("width="), "{probe}");
    // The wrong password: the viewer waits, the relay says why and retries.
    let _ = Command::new("timeout")
        .args(["4", "ffprobe", "-v", "quiet"])
        .arg(format!("rtsp://127.0.0.1:{port}/gate"))
        .output();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(relay.id() as i32, libc::SIGINT) };
    let mut log = String::new();
    use std::io::Read;
    relay
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = relay.wait();
    stop(upstream, libc::SIGINT);
    assert!(log.contains("401"), "the relay says why: {log}");
    assert!(log.contains("rtsp://cam@127.0.0.1"), "{log}");
    assert!(
        !log.contains("s3cretpw") && !log.contains("wr0ngpw"),
        "{log}"
    );
}
