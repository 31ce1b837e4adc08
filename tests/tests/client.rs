//! The RTSP client library against real servers on loopback: ours (standard
//! over UDP and TCP, and the classic dialect), GStreamer's gst-rtsp-server
//! (RFC 2435, TCP-only, Digest auth), the seed-style classic server in Python
//! (with and without the seed's bugs), and a small RTSP front in this file that
//! demands Digest SHA-256, swallows UDP or refuses GET_PARAMETER.

use mjpegrtsp::client::{
    ClientOptions, DialectPreference, EndReason, Error, Event, Events, Frame, FrameRate,
    PayloadFormat, Session, State, TransportKind, TransportPreference,
};
use mjpegrtsp::rtsp::{
    Dialect, Item, Method, NptRange, Parsed, Parser, Request, Response, StatusCode,
};
use mjpegrtsp_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers

/// A 2 s clip (48 frames of 320×240 at 24 fps, every frame different) in a
/// temporary directory, and its frames.
fn media(frames: u32) -> (tempfile::TempDir, PathBuf, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(frames, 320, 240, 80, "ball");
    let path = dir.path().join("movie.Mjpeg");
    std::fs::write(&path, &bytes).unwrap();
    (dir, path, frames_of(&bytes))
}

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// The entropy-coded data of a JPEG: what RFC 2435 carries unchanged (the
/// headers are rebuilt by the receiver).
fn scan_data(jpeg: &[u8]) -> &[u8] {
    jpeg_scan_data(jpeg).expect("a whole JPEG with a scan")
}

fn assert_whole(f: &Frame) {
    assert!(
        mjpegrtsp::container::is_whole_jpeg(&f.jpeg),
        "frame {}..{} is a whole JPEG",
        f.first_seq,
        f.last_seq
    );
}

/// The file frame a media time falls on at 24 fps.
fn index_at(pts: Duration) -> usize {
    (pts.as_secs_f64() * 24.0).round() as usize
}

/// Drops whatever events wait now.
fn drain(events: &mut Events) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(ev) = events.try_recv() {
        if let Event::Frame(f) = ev {
            out.push(f);
        }
    }
    out
}

fn assert_pts_increasing(frames: &[Frame]) {
    for w in frames.windows(2) {
        assert!(
            w[1].pts > w[0].pts,
            "pts rise: {:?} then {:?}",
            w[0].pts,
            w[1].pts
        );
    }
}

/// Every RFC 2435 frame carries the scan data of the file frame its pts
/// names.
fn assert_frames_match_file(frames: &[Frame], file: &[Vec<u8>]) {
    for f in frames {
        assert_whole(f);
        let i = index_at(f.pts);
        assert!(i < file.len(), "pts {:?} inside the file", f.pts);
        assert!(
            scan_data(&f.jpeg) == scan_data(&file[i]),
            "frame at {:?} is file frame {i}",
            f.pts
        );
    }
}

// ---------------------------------------------------------------------------
// Our server, standard dialect

fn play_whole_file(transport: TransportPreference, expect: TransportKind) {
    let (dir, _, file) = media(48);
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    block_on(async {
        let opts = ClientOptions {
            transport,
            ..options()
        };
        let mut s = Session::connect(&url, opts).await.unwrap();
        assert_eq!(s.dialect(), Dialect::Standard);
        let d = s.describe().await.unwrap();
        assert_eq!(d.format, PayloadFormat::Rfc2435);
        assert_eq!(d.clock_rate, 90_000);
        assert_eq!(s.duration(), Some(Duration::from_secs(2)));
        assert_eq!(s.framerate(), FrameRate::new(24, 1));
        assert_eq!(s.dimensions(), Some((320, 240)));
        assert_eq!(s.setup().await.unwrap(), expect);
        let mut events = s.events().unwrap();
        assert!(s.events().is_none(), "given once");
        s.play(None).await.unwrap();
        assert_eq!(s.state(), State::Playing);
        let (frames, end) = collect_frames(&mut events, 1000, Duration::from_secs(8)).await;
        assert_eq!(end, Some(EndReason::Bye), "RTCP BYE at the end of the file");
        assert!(
            frames.len() >= 46 && frames.len() <= 48,
            "{} of 48 frames",
            frames.len()
        );
        assert_eq!(frames[0].pts, Duration::ZERO);
        assert!(frames[0].discont);
        assert_pts_increasing(&frames);
        assert_frames_match_file(&frames, &file);
        let info = mjpegrtsp::container::jpeg::parse_info(&frames[0].jpeg).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
        let stats = s.stats();
        assert_eq!(stats.frames, frames.len() as u64);
        assert!(stats.packets_received >= stats.frames);
        assert_eq!(stats.frames_incomplete, 0);
        assert_eq!(stats.transport, Some(expect));
        assert!(stats.jitter_ms >= 0.0 && stats.jitter_ms < 100.0);
        s.teardown().await.unwrap();
        assert_eq!(s.state(), State::Init);
    });
    let end = Instant::now() + Duration::from_secs(5);
    while server.sessions() != 0 {
        assert!(Instant::now() < end, "session ended by TEARDOWN");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn plays_our_server_over_udp() {
    play_whole_file(TransportPreference::Udp, TransportKind::Udp);
}

#[test]
fn plays_our_server_over_tcp() {
    play_whole_file(TransportPreference::Tcp, TransportKind::Tcp);
}

#[test]
fn auto_transport_uses_udp_when_it_works() {
    play_whole_file(TransportPreference::Auto, TransportKind::Udp);
}

#[test]
fn seeking_with_range_lands_on_the_exact_frame() {
    let (dir, _, file) = media(48);
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    block_on(async {
        for transport in [TransportPreference::Udp, TransportPreference::Tcp] {
            let opts = ClientOptions {
                transport,
                ..options()
            };
            let mut s = Session::connect(&url, opts).await.unwrap();
            s.setup().await.unwrap();
            let mut events = s.events().unwrap();
            // Start in the middle.
            s.play(Some(NptRange::starting_at(Duration::from_millis(1500))))
                .await
                .unwrap();
            let (frames, _) = collect_frames(&mut events, 3, Duration::from_secs(3)).await;
            assert_eq!(frames[0].pts, Duration::from_millis(1500), "{transport:?}");
            assert!(scan_data(&frames[0].jpeg) == scan_data(&file[36]));
            // Seek back while playing.
            s.seek(Duration::from_secs(1)).await.unwrap();
            let (frames, _) = collect_frames(&mut events, 30, Duration::from_secs(3)).await;
            let after: Vec<&Frame> = frames
                .iter()
                .skip_while(|f| f.pts > Duration::from_millis(1400))
                .collect();
            assert_eq!(after[0].pts, Duration::from_secs(1), "{transport:?}");
            assert!(after[0].discont);
            assert!(scan_data(&after[0].jpeg) == scan_data(&file[24]));
            assert!(scan_data(&after[0].jpeg) != scan_data(&file[23]));
            let after: Vec<Frame> = after.into_iter().cloned().collect();
            assert_pts_increasing(&after);
            assert_frames_match_file(&after, &file);
            // Seek while paused: takes effect at the next PLAY.
            s.pause().await.unwrap();
            s.seek(Duration::from_millis(500)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            drain(&mut events);
            s.play(None).await.unwrap();
            let (frames, _) = collect_frames(&mut events, 2, Duration::from_secs(3)).await;
            assert_eq!(frames[0].pts, Duration::from_millis(500));
            assert!(scan_data(&frames[0].jpeg) == scan_data(&file[12]));
            s.teardown().await.unwrap();
        }
    });
}

#[test]
fn pause_then_play_resumes_where_it_paused() {
    let (dir, _, file) = media(48);
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    block_on(async {
        let mut s = Session::connect(&url, options()).await.unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (mut before, _) = collect_frames(&mut events, 10, Duration::from_secs(3)).await;
        s.pause().await.unwrap();
        assert_eq!(s.state(), State::Ready);
        tokio::time::sleep(Duration::from_millis(500)).await;
        before.extend(drain(&mut events));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(drain(&mut events).is_empty(), "nothing comes while paused");
        let last = before.last().unwrap();
        s.play(None).await.unwrap();
        let (after, _) = collect_frames(&mut events, 10, Duration::from_secs(3)).await;
        assert_eq!(after.len(), 10);
        assert_eq!(
            index_at(after[0].pts),
            index_at(last.pts) + 1,
            "resumes with the next frame"
        );
        let all: Vec<Frame> = before.iter().chain(after.iter()).cloned().collect();
        assert_pts_increasing(&all);
        assert_frames_match_file(&all, &file);
        s.teardown().await.unwrap();
    });
}

#[test]
fn a_slow_consumer_loses_frames_not_the_stream() {
    let (dir, _, file) = media(48);
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    block_on(async {
        let opts = ClientOptions {
            event_capacity: 4,
            stats_interval: None,
            ..options()
        };
        let mut s = Session::connect(&url, opts).await.unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        // Read nothing for a second: the channel fills, the rest is dropped.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stale = drain(&mut events);
        assert!(stale.len() <= 4, "{} queued", stale.len());
        let stats = s.stats();
        assert!(stats.frames_dropped >= 15, "{stats:?}");
        // The network task kept up: what comes now is current.
        let (frames, _) = collect_frames(&mut events, 5, Duration::from_secs(2)).await;
        assert_eq!(frames.len(), 5);
        assert!(
            frames[0].pts >= Duration::from_millis(900),
            "{:?}",
            frames[0].pts
        );
        for f in &frames {
            assert!(scan_data(&f.jpeg) == scan_data(&file[index_at(f.pts) % file.len()]));
        }
        // And requests still get through at once.
        let t = Instant::now();
        s.pause().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        s.teardown().await.unwrap();
    });
}

// ---------------------------------------------------------------------------
// Classic dialect

#[test]
fn classic_dialect_forced_against_our_server() {
    let (dir, _, file) = media(48);
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    block_on(async {
        let opts = ClientOptions {
            dialect: DialectPreference::Classic,
            ..options()
        };
        let mut s = Session::connect(&url, opts).await.unwrap();
        assert_eq!(s.dialect(), Dialect::Classic);
        assert_eq!(s.describe().await.unwrap().format, PayloadFormat::Classic);
        assert_eq!(s.setup().await.unwrap(), TransportKind::Udp);
        let id = s.session_id().expect("our server names the session");
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, _) = collect_frames(&mut events, 48, Duration::from_secs(4)).await;
        assert!(frames.len() >= 46, "{} frames", frames.len());
        assert_pts_increasing(&frames);
        for f in &frames {
            assert_eq!(f.first_seq, f.last_seq, "one packet per frame");
            assert_eq!(
                f.jpeg,
                file[usize::from(f.first_seq) - 1],
                "frame {} byte for byte",
                f.first_seq
            );
            assert_eq!(index_at(f.pts), usize::from(f.first_seq) - 1);
        }
        assert!(matches!(
            s.seek(Duration::from_secs(1)).await,
            Err(Error::Unsupported { .. })
        ));
        s.teardown().await.unwrap();
    });
}

fn classic_peer_session(seed_bugs: bool) {
    // One second of frames: the server loops it.
    let (_dir, path, file) = media(24);
    let extra: &[&str] = if seed_bugs { &["--seed-bugs"] } else { &[] };
    let (_peer, url) = classic_server(&path, extra);
    block_on(async {
        let started = Instant::now();
        let mut s = Session::connect(&url, options()).await.unwrap();
        assert_eq!(
            s.dialect(),
            Dialect::Classic,
            "detected: no reply to OPTIONS"
        );
        assert!(started.elapsed() >= Duration::from_millis(1400));
        s.setup().await.unwrap();
        assert_eq!(
            s.session_id().is_none(),
            seed_bugs,
            "the seed server's SETUP reply has no Session"
        );
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        // 2.5 s: over two loops of the file.
        let (mut frames, _) = collect_frames(&mut events, 60, Duration::from_secs(4)).await;
        assert!(frames.len() >= 50, "{} frames", frames.len());
        s.pause().await.unwrap();
        if seed_bugs {
            assert!(
                s.session_id().is_some(),
                "the PAUSE reply names the session"
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        frames.extend(drain(&mut events));
        let last_seq = frames.last().unwrap().first_seq;
        s.play(None).await.unwrap();
        let (after, _) = collect_frames(&mut events, 10, Duration::from_secs(3)).await;
        assert_eq!(after.len(), 10);
        let expected_next = if seed_bugs && usize::from(last_seq) == file.len() {
            1
        } else {
            last_seq.wrapping_add(1)
        };
        assert_eq!(
            after[0].first_seq, expected_next,
            "numbers continue after PAUSE"
        );
        frames.extend(after);
        assert_pts_increasing(&frames);
        for f in &frames {
            assert_eq!(f.jpeg, file[(usize::from(f.first_seq) - 1) % file.len()]);
        }
        let stats = s.stats();
        if seed_bugs {
            assert!(
                stats.restarts >= 2,
                "loops restart the numbering: {stats:?}"
            );
        } else {
            assert_eq!(stats.restarts, 0);
        }
        assert_eq!(stats.frames_incomplete, 0);
        s.teardown().await.unwrap();
    });
}

#[test]
fn classic_python_server_is_detected_and_plays() {
    classic_peer_session(false);
}

#[test]
fn seed_buggy_classic_server_plays_too() {
    classic_peer_session(true);
}

// ---------------------------------------------------------------------------
// gst-rtsp-server

/// gst-rtsp-server with SRTP (`RTP/SAVP`, its key in MIKEY `a=key-mgmt`):
/// the client reads the key, asks for `RTP/SAVP` and decrypts, over UDP
/// and interleaved; every frame whole.
#[test]
fn gst_rtsp_server_srtp_keyed_by_mikey_decodes() {
    let (_dir, path, file) = media(48);
    let (_peer, url) = gst_server(&path, &["--srtp"]);
    for (transport, kind) in [
        (TransportPreference::Udp, TransportKind::Udp),
        (TransportPreference::Tcp, TransportKind::Tcp),
    ] {
        block_on(async {
            let opts = ClientOptions {
                transport,
                ..options()
            };
            let mut s = Session::connect(&url, opts).await.unwrap();
            assert!(s.describe().await.unwrap().srtp.is_some(), "a MIKEY key");
            assert_eq!(s.setup().await.unwrap(), kind);
            let mut events = s.events().unwrap();
            s.play(None).await.unwrap();
            let (frames, _) = collect_frames(&mut events, 24, Duration::from_secs(5)).await;
            assert_eq!(frames.len(), 24, "{kind:?}");
            for f in &frames {
                assert_whole(f);
                assert!(file.iter().any(|j| scan_data(j) == scan_data(&f.jpeg)));
            }
            assert_eq!(s.stats().packets_rejected, 0, "{kind:?}");
        });
    }
}

#[test]
fn gst_rtsp_server_rfc2435_frames_decode() {
    let (_dir, path, file) = media(48);
    let (_peer, url) = gst_server(&path, &[]);
    let jpeg = block_on(async {
        let mut s = Session::connect(&url, options()).await.unwrap();
        assert_eq!(s.dialect(), Dialect::Standard);
        let d = s.describe().await.unwrap();
        assert_eq!(d.format, PayloadFormat::Rfc2435);
        assert!(d.aggregate_url.starts_with("rtsp://127.0.0.1"));
        // gst-rtsp-server says `a=range:npt=0-` for this clip: no duration.
        assert!(d.range.is_some());
        assert_eq!(s.setup().await.unwrap(), TransportKind::Udp);
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, _) = collect_frames(&mut events, 30, Duration::from_secs(5)).await;
        assert_eq!(frames.len(), 30);
        assert_pts_increasing(&frames);
        assert!(
            frames[0].pts < Duration::from_millis(100),
            "{:?}",
            frames[0].pts
        );
        for f in &frames {
            assert_whole(f);
            let info = mjpegrtsp::container::jpeg::parse_info(&f.jpeg).unwrap();
            assert_eq!((info.width, info.height), (320, 240));
            assert!(
                file.iter().any(|j| scan_data(j) == scan_data(&f.jpeg)),
                "the scan data of a file frame"
            );
        }
        assert_eq!(s.dimensions(), Some((320, 240)));
        s.teardown().await.unwrap();
        frames[10].jpeg.clone()
    });
    // A real decoder takes it.
    let tmp = tempfile::Builder::new().suffix(".jpg").tempfile().unwrap();
    std::fs::write(tmp.path(), &jpeg).unwrap();
    let out = run(
        &format!(
            "filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink",
            tmp.path().display()
        ),
        |_| {},
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.frames.len(), 1);
    assert_eq!(out.frames[0].data.len(), 320 * 240 * 3);
}

#[test]
fn tcp_only_server_makes_auto_fall_back_to_tcp() {
    let (_dir, path, _) = media(48);
    let (_peer, url) = gst_server(&path, &["--tcp-only"]);
    block_on(async {
        let mut s = Session::connect(&url, options()).await.unwrap();
        assert_eq!(s.setup().await.unwrap(), TransportKind::Tcp);
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, _) = collect_frames(&mut events, 20, Duration::from_secs(5)).await;
        assert_eq!(frames.len(), 20);
        frames.iter().for_each(assert_whole);
        assert_eq!(s.stats().transport, Some(TransportKind::Tcp));
        s.teardown().await.unwrap();
    });
}

#[test]
fn digest_auth_against_gst_rtsp_server() {
    let (_dir, path, _) = media(48);
    let (_peer, url) = gst_server(&path, &["--auth", "user:pa ss"]);
    let with_creds = url.replacen("rtsp://", "rtsp://user:pa%20ss@", 1);
    block_on(async {
        // Credentials in the URL.
        let mut s = Session::connect(&with_creds, options()).await.unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, _) = collect_frames(&mut events, 10, Duration::from_secs(5)).await;
        assert_eq!(frames.len(), 10);
        s.teardown().await.unwrap();
        drop(s);

        // In the options, overriding the URL's.
        let opts = ClientOptions {
            user: Some("user".into()),
            password: Some("pa ss".into()),
            ..options()
        };
        let mut s = Session::connect(&url, opts).await.unwrap();
        s.describe().await.unwrap();
        drop(s);

        // Wrong or missing credentials: 401, said plainly.
        for u in [
            url.replacen("rtsp://", "rtsp://user:wrong@", 1),
            url.clone(),
        ] {
            let result = async {
                let mut s = Session::connect(&u, options()).await?;
                s.describe().await.map(|_| ())
            }
            .await;
            let e = result.expect_err("refused");
            assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
            assert_eq!(e.status(), Some(401));
            assert!(e.to_string().contains("401"), "{e}");
        }
    });
}

// ---------------------------------------------------------------------------
// Through the front: Digest SHA-256 with qop=auth, UDP that never arrives,
// GET_PARAMETER refused.

fn hash_hex(tool: &str, text: &str) -> String {
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// `name=value` and `name="value"` pairs of an Authorization header.
fn auth_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value.trim_start_matches("Digest").trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').unwrap();
        let (val, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap();
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.push((name.trim().to_owned(), val));
        rest = remaining.trim_start_matches([',', ' ']);
    }
    out
}

#[test]
fn digest_sha256_with_qop_auth() {
    const REALM: &str = "mjpegrtsp test";
    const NONCE: &str = "3f1b0c9e5a77d2e4";
    let (dir, _, _) = media(48);
    let server = TestServer::start(dir.path(), false);
    let verified = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let challenges = Arc::new(Mutex::new(0u32));
    let hook: RequestHook = {
        let verified = verified.clone();
        let challenges = challenges.clone();
        Arc::new(move |req: &mut Request| {
            let challenge = || {
                *challenges.lock().unwrap() += 1;
                Some(
                    Response::reply_to(req, StatusCode::UNAUTHORIZED)
                        .with_header(
                            "WWW-Authenticate",
                            format!("Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm=MD5, qop=\"auth\""),
                        )
                        .with_header(
                            "WWW-Authenticate",
                            format!(
                                "Digest realm=\"{REALM}\", qop=\"auth,auth-int\", algorithm=SHA-256, nonce=\"{NONCE}\", opaque=\"xyz\""
                            ),
                        ),
                )
            };
            let Some(auth) = req.headers.get("Authorization") else {
                return challenge();
            };
            let p = auth_params(auth);
            let get = |n: &str| {
                p.iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let sha = |s: &str| hash_hex("sha256sum", s);
            let ha1 = sha(&format!("alice:{REALM}:s3cret"));
            let ha2 = sha(&format!("{}:{}", req.method.as_str(), req.uri));
            let expected = sha(&format!(
                "{ha1}:{NONCE}:{}:{}:auth:{ha2}",
                get("nc"),
                get("cnonce")
            ));
            let nc = u32::from_str_radix(&get("nc"), 16).unwrap_or(0);
            let mut v = verified.lock().unwrap();
            let fresh_nc = v.last().is_none_or(|(_, last)| nc > *last);
            if get("username") == "alice"
                && get("realm") == REALM
                && get("algorithm") == "SHA-256"
                && get("qop") == "auth"
                && get("opaque") == "xyz"
                && get("uri") == req.uri
                && get("cnonce").len() >= 8
                && fresh_nc
                && get("response") == expected
            {
                v.push((req.method.as_str().to_owned(), nc));
                req.headers.remove("Authorization");
                None
            } else {
                drop(v);
                challenge()
            }
        })
    };
    let front = RtspProxy::with_hook(server.addr, hook);
    block_on(async {
        let opts = ClientOptions {
            user: Some("alice".into()),
            password: Some("s3cret".into()),
            ..options()
        };
        let mut s = Session::connect(&front.url("movie.Mjpeg"), opts)
            .await
            .unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, _) = collect_frames(&mut events, 10, Duration::from_secs(5)).await;
        assert_eq!(frames.len(), 10);
        s.teardown().await.unwrap();
    });
    let v = verified.lock().unwrap();
    let methods: Vec<&str> = v.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"],
        "every request authenticated"
    );
    let ncs: Vec<u32> = v.iter().map(|(_, nc)| *nc).collect();
    assert_eq!(ncs, [1, 2, 3, 4, 5], "nc counts the nonce's uses");
    assert_eq!(
        *challenges.lock().unwrap(),
        1,
        "one challenge, then no retries"
    );
}

#[test]
fn no_udp_packets_fall_back_to_tcp() {
    let (dir, _, file) = media(48);
    let server = TestServer::start(dir.path(), false);
    // UDP goes to sockets nobody reads: as if a firewall dropped it.
    let sink_rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink_rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = format!(
        "client_port={}-{}",
        sink_rtp.local_addr().unwrap().port(),
        sink_rtcp.local_addr().unwrap().port()
    );
    let methods = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook: RequestHook = {
        let methods = methods.clone();
        Arc::new(move |req: &mut Request| {
            methods.lock().unwrap().push(req.method.as_str().to_owned());
            if req.method == Method::Setup
                && let Some(t) = req.headers.get("Transport").map(str::to_owned)
                && let Some(at) = t.find("client_port=")
            {
                let end = t[at..].find(';').map_or(t.len(), |e| at + e);
                let rewritten = format!("{}{dead}{}", &t[..at], &t[end..]);
                req.headers.insert("Transport", rewritten);
            }
            None
        })
    };
    let front = RtspProxy::with_hook(server.addr, hook);
    block_on(async {
        let opts = ClientOptions {
            udp_fallback_after: Duration::from_secs(1),
            ..options()
        };
        let mut s = Session::connect(&front.url("movie.Mjpeg"), opts)
            .await
            .unwrap();
        assert_eq!(s.setup().await.unwrap(), TransportKind::Udp);
        let mut events = s.events().unwrap();
        let t0 = Instant::now();
        s.play(None).await.unwrap();
        assert!(t0.elapsed() >= Duration::from_secs(1));
        assert_eq!(s.transport(), Some(TransportKind::Tcp));
        let (frames, _) = collect_frames(&mut events, 20, Duration::from_secs(4)).await;
        assert_eq!(frames.len(), 20);
        assert_eq!(frames[0].pts, Duration::ZERO, "starts where the PLAY asked");
        assert_pts_increasing(&frames);
        assert_frames_match_file(&frames, &file);
        assert_eq!(server.sessions(), 1, "the UDP session was torn down");
        // Dropping the session tears it down.
        drop(s);
        let end = Instant::now() + Duration::from_secs(5);
        while server.sessions() != 0 {
            assert!(Instant::now() < end, "dropped session torn down");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let m = methods.lock().unwrap();
    assert_eq!(
        m.iter().filter(|x| *x == "TEARDOWN").count(),
        2,
        "fallback and drop: {m:?}"
    );
    assert_eq!(m.iter().filter(|x| *x == "SETUP").count(), 2, "{m:?}");
}

#[test]
fn keep_alives_keep_the_session_and_fall_back_to_options() {
    let (dir, _, _) = media(48);
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    config.session_timeout = Duration::from_secs(2);
    let server = TestServer::start_with(config);
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook: RequestHook = {
        let seen = seen.clone();
        Arc::new(move |req: &mut Request| {
            let with_session = req.headers.get("Session").is_some();
            seen.lock().unwrap().push(format!(
                "{}{}",
                req.method.as_str(),
                if with_session { "+S" } else { "" }
            ));
            (req.method == Method::GetParameter)
                .then(|| Response::reply_to(req, StatusCode::NOT_IMPLEMENTED))
        })
    };
    let front = RtspProxy::with_hook(server.addr, hook);
    block_on(async {
        let opts = ClientOptions {
            transport: TransportPreference::Tcp,
            receiver_reports: false,
            ..options()
        };
        let mut s = Session::connect(&front.url("movie.Mjpeg"), opts)
            .await
            .unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        // Five seconds: the 2 s session timeout would end it three times over.
        let (frames, end) = collect_frames(&mut events, 1000, Duration::from_secs(5)).await;
        assert_eq!(end, None, "still playing");
        assert!(frames.len() >= 100, "{} frames in 5 s", frames.len());
        assert!(
            frames.last().unwrap().arrival.elapsed() < Duration::from_millis(500),
            "frames still coming"
        );
        assert_eq!(server.sessions(), 1);
        s.teardown().await.unwrap();
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().filter(|m| *m == "GET_PARAMETER+S").count(),
        1,
        "GET_PARAMETER tried once: {seen:?}"
    );
    assert!(
        seen.iter().filter(|m| *m == "OPTIONS+S").count() >= 3,
        "then OPTIONS with the session: {seen:?}"
    );
}

// ---------------------------------------------------------------------------
// A minimal standard server written here: the project's X-WHOLE-JPEG scheme
// (fragmented, marker on each frame's last packet), a sender report, a BYE,
// and what the client's receiver reports say.

/// Serves one session of `frames` as X-WHOLE-JPEG at 25 fps, each frame in
/// two packets; returns the RTCP packets the client sent to it.
fn whole_jpeg_server(frames: Vec<Vec<u8>>) -> (SocketAddr, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        rtcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (rtp_port, rtcp_port) = (
            rtp.local_addr().unwrap().port(),
            rtcp.local_addr().unwrap().port(),
        );
        let mut client_ports = (0u16, 0u16);
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 4096];
        let mut received = Vec::new();
        let mut sender = None;
        'conn: loop {
            let n = conn.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Parsed::Complete(item, used) = Parser::new().parse(&buf, true) {
                let Item::Request(req) = item else {
                    buf.drain(..used);
                    continue;
                };
                buf.drain(..used);
                let ok = Response::reply_to(&req, StatusCode::OK);
                let reply = match req.method {
                    Method::Options => ok.with_header("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"),
                    Method::Describe => ok
                        .with_header("Content-Base", format!("{}/", req.uri))
                        .with_body(
                            "application/sdp",
                            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=t\r\nt=0 0\r\na=control:*\r\n\
                             a=range:npt=0-2\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 X-WHOLE-JPEG/90000\r\n\
                             a=framerate:25\r\na=control:stream=0\r\n",
                        ),
                    Method::Setup => {
                        let t = req.transports().unwrap().remove(0);
                        let p = t.client_port.unwrap();
                        client_ports = (p.rtp, p.rtcp.unwrap());
                        ok.with_header("Session", "4242;timeout=60").with_header(
                            "Transport",
                            format!(
                                "RTP/AVP;unicast;client_port={}-{};server_port={rtp_port}-{rtcp_port}",
                                p.rtp,
                                p.rtcp.unwrap()
                            ),
                        )
                    }
                    Method::Play => {
                        let rtp = rtp.try_clone().unwrap();
                        let rtcp = rtcp.try_clone().unwrap();
                        let frames = frames.clone();
                        let to_rtp = SocketAddr::new(peer.ip(), client_ports.0);
                        let to_rtcp = SocketAddr::new(peer.ip(), client_ports.1);
                        sender = Some(std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(50));
                            // SR: NTP time 0x11223344_55667788.
                            let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0x12, 0x34];
                            sr.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
                            sr.extend_from_slice(&[0; 12]);
                            rtcp.send_to(&sr, to_rtcp).unwrap();
                            let mut seq = 100u16;
                            for (i, jpeg) in frames.iter().enumerate() {
                                let ts = 9000 + 3600 * i as u32;
                                let half = jpeg.len() / 2;
                                for (part, marker) in [(&jpeg[..half], false), (&jpeg[half..], true)] {
                                    let mut p = vec![0x80, 96 | if marker { 0x80 } else { 0 }];
                                    p.extend_from_slice(&seq.to_be_bytes());
                                    p.extend_from_slice(&ts.to_be_bytes());
                                    p.extend_from_slice(&0x1234u32.to_be_bytes());
                                    p.extend_from_slice(part);
                                    rtp.send_to(&p, to_rtp).unwrap();
                                    seq = seq.wrapping_add(1);
                                }
                                std::thread::sleep(Duration::from_millis(40));
                            }
                            rtcp.send_to(&[0x81, 203, 0, 1, 0, 0, 0x12, 0x34], to_rtcp)
                                .unwrap();
                        }));
                        ok.with_header("Session", "4242")
                            .with_header("Range", "npt=0-2")
                            .with_header(
                                "RTP-Info",
                                format!("url={}/stream=0;seq=100;rtptime=9000", req.uri),
                            )
                    }
                    Method::Teardown => {
                        conn.write_all(&ok.to_bytes()).unwrap();
                        break 'conn;
                    }
                    _ => Response::reply_to(&req, StatusCode::NOT_IMPLEMENTED),
                };
                conn.write_all(&reply.to_bytes()).unwrap();
            }
            let mut pkt = [0u8; 1500];
            while let Ok(n) = rtcp.recv(&mut pkt) {
                received.push(pkt[..n].to_vec());
            }
        }
        if let Some(s) = sender {
            let _ = s.join();
        }
        let mut pkt = [0u8; 1500];
        while let Ok(n) = rtcp.recv(&mut pkt) {
            received.push(pkt[..n].to_vec());
        }
        received
    });
    (addr, thread)
}

#[test]
fn whole_jpeg_scheme_with_sender_report_bye_and_receiver_reports() {
    let (_dir, _, file) = media(48);
    let (addr, server) = whole_jpeg_server(file.clone());
    block_on(async {
        let opts = ClientOptions {
            transport: TransportPreference::Udp,
            ..options()
        };
        let mut s = Session::connect(&format!("rtsp://{addr}/clip"), opts)
            .await
            .unwrap();
        let d = s.describe().await.unwrap();
        assert_eq!(d.format, PayloadFormat::WholeJpeg);
        assert_eq!(d.control_url, format!("rtsp://{addr}/clip/stream=0"));
        assert_eq!(s.framerate(), FrameRate::new(25, 1));
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let (frames, end) = collect_frames(&mut events, 100, Duration::from_secs(5)).await;
        assert_eq!(end, Some(EndReason::Bye));
        assert_eq!(frames.len(), 48);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.jpeg, file[i], "frame {i} byte for byte");
            assert_eq!(f.pts, Duration::from_millis(40 * i as u64));
            assert_eq!(
                (f.first_seq, f.last_seq),
                (100 + 2 * i as u16, 101 + 2 * i as u16)
            );
        }
        // Long enough for the first receiver report.
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.teardown().await.unwrap();
    });
    let rtcp = server.join().unwrap();
    let rr = rtcp
        .iter()
        .find(|p| p.len() >= 32 && p[1] == 201)
        .unwrap_or_else(|| panic!("a receiver report among {rtcp:?}"));
    assert_eq!(rr[0] & 0x1F, 1, "one report block");
    assert_eq!(
        &rr[8..12],
        &0x1234u32.to_be_bytes(),
        "about the sender's SSRC"
    );
    let lost = u32::from_be_bytes([0, rr[13], rr[14], rr[15]]);
    assert_eq!(lost, 0);
    let highest = u32::from_be_bytes([rr[16], rr[17], rr[18], rr[19]]);
    assert!((101..=195).contains(&highest), "highest seq {highest}");
    assert_eq!(
        &rr[24..28],
        &[0x33, 0x44, 0x55, 0x66],
        "LSR: middle of the SR's NTP time"
    );
    let sdes = &rr[32..];
    assert_eq!(sdes[1], 202, "SDES follows");
}

// ---------------------------------------------------------------------------
// Errors

#[test]
fn not_found_is_a_status_error_naming_the_server() {
    let (dir, _, _) = media(4);
    let server = TestServer::start(dir.path(), false);
    let url = format!("rtsp://{}/missing.Mjpeg", server.addr);
    block_on(async {
        let mut s = Session::connect(&url, options()).await.unwrap();
        let e = s.describe().await.map(|_| ()).unwrap_err();
        match &e {
            Error::Status {
                addr,
                method,
                status,
                url: u,
                ..
            } => {
                assert_eq!(*addr, server.addr);
                assert_eq!(*method, Method::Describe);
                assert_eq!(*status, 404);
                assert_eq!(&**u, url.as_str());
            }
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("404")
                && text.contains(&server.addr.to_string())
                && text.contains("DESCRIBE"),
            "{text}"
        );
        assert_eq!(e.server(), Some(server.addr));
        assert!(matches!(
            s.play(None).await,
            Err(Error::State { action: "play", .. })
        ));
    });
}

#[test]
fn refused_connection_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    block_on(async {
        let e = Session::connect(&format!("rtsp://127.0.0.1:{port}/movie.Mjpeg"), options())
            .await
            .unwrap_err();
        match &e {
            Error::Connect { addr, source } => {
                assert_eq!(addr, &format!("127.0.0.1:{port}"));
                assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string()
                .contains(&format!("cannot connect to RTSP server 127.0.0.1:{port}")),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = Session::connect("http://127.0.0.1/x", options())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
    });
}

#[test]
fn a_silent_server_gives_a_timeout_naming_the_method() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads, never answers.
    let _silent = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
    });
    block_on(async {
        let opts = ClientOptions {
            dialect: DialectPreference::Standard,
            timeout: Duration::from_millis(500),
            ..ClientOptions::default()
        };
        let t = Instant::now();
        let e = Session::connect(&format!("rtsp://{addr}/x"), opts)
            .await
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(3));
        match &e {
            Error::Timeout { addr: a, method } => {
                assert_eq!(*a, addr);
                assert_eq!(*method, Method::Options);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("did not answer OPTIONS"), "{e}");
    });
}

#[test]
fn a_description_without_jpeg_video_is_no_media() {
    let (dir, _, _) = media(4);
    let server = TestServer::start(dir.path(), false);
    let hook: RequestHook = Arc::new(|req: &mut Request| {
        (req.method == Method::Describe).then(|| {
            Response::reply_to(req, StatusCode::OK).with_body(
                "application/sdp",
                "v=0\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
                 m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
            )
        })
    });
    let front = RtspProxy::with_hook(server.addr, hook);
    block_on(async {
        let mut s = Session::connect(&front.url("movie.Mjpeg"), options())
            .await
            .unwrap();
        let e = s.describe().await.map(|_| ()).unwrap_err();
        assert!(matches!(e, Error::NoMedia { .. }), "{e}");
        assert!(e.to_string().contains("H264"), "{e}");
        // SETUP without a usable description fails the same way.
        assert!(matches!(s.setup().await, Err(Error::NoMedia { .. })));
    });
}
