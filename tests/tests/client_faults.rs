//! Clients when the server goes away in the middle of playing, over real
//! sockets on loopback: the server shuts down (and another starts on the
//! same port). The client library and `mjpegrtspsrc` must say so once and
//! end cleanly, never hang, and a new session to the new server plays.

use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, EndReason, Event, Session};
use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::*;
use std::time::{Duration, Instant};

fn movie_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(48, 160, 120, 70, "ball");
    std::fs::write(dir.path().join("movie.Mjpeg"), bytes).unwrap();
    dir
}

fn looping_server(dir: &std::path::Path, port: u16) -> TestServer {
    let mut config = ServerConfig::new(dir);
    config.looping = true;
    config.port = port;
    TestServer::start_with(config)
}

#[test]
fn the_client_library_ends_once_when_the_server_stops_and_plays_from_the_next() {
    init();
    let dir = movie_dir();
    for tcp in [false, true] {
        let server = looping_server(dir.path(), 0);
        let addr = server.addr;
        let url = format!("rtsp://{addr}/movie.Mjpeg");
        let options = ClientOptions {
            timeout: Duration::from_secs(3),
            transport: if tcp {
                mjpegrtsp::client::TransportPreference::Tcp
            } else {
                mjpegrtsp::client::TransportPreference::Udp
            },
            ..ClientOptions::default()
        };
        block_on(async {
            let mut s = Session::connect(&url, options.clone()).await.unwrap();
            s.describe().await.unwrap();
            s.setup().await.unwrap();
            let mut events = s.events().unwrap();
            s.play(None).await.unwrap();
            let mut frames = 0;
            let mut server = Some(server);
            let mut ended = None;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            while ended.is_none() {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(Some(Event::Frame(_))) => {
                        frames += 1;
                        if frames == 12 {
                            // Stops the server: every connection closes.
                            drop(server.take());
                        }
                    }
                    Ok(Some(Event::End(why))) => ended = Some(Ok(why)),
                    Ok(Some(Event::Error(e))) => ended = Some(Err(e.to_string())),
                    Ok(Some(Event::Stats(_))) => {}
                    Ok(None) => ended = Some(Err("events closed".into())),
                    Err(_) => panic!("tcp={tcp}: nothing said 15 s after the server stopped"),
                }
            }
            // A server that shuts down says goodbye: an RTCP BYE.
            assert_eq!(ended.unwrap(), Ok(EndReason::Bye), "tcp={tcp}");
            // A server back on the same port: a new session plays.
            let again = looping_server(dir.path(), addr.port());
            let mut s = Session::connect(&url, options).await.unwrap();
            s.describe().await.unwrap();
            s.setup().await.unwrap();
            let mut events = s.events().unwrap();
            s.play(None).await.unwrap();
            let first = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    if let Some(Event::Frame(_)) = events.recv().await {
                        return;
                    }
                }
            })
            .await;
            assert!(first.is_ok(), "tcp={tcp}: no frame from the new server");
            drop(again);
        });
    }
}

/// A server that shuts down sends BYE: the element ends the stream (EOS),
/// once, and stops without hanging.
#[test]
fn mjpegrtspsrc_ends_the_stream_when_the_server_shuts_down() {
    init();
    let dir = movie_dir();
    for protocols in ["udp", "tcp"] {
        let server = looping_server(dir.path(), 0);
        let addr = server.addr;
        let (pipeline, sink) = launch_with_appsink(&format!(
            "mjpegrtspsrc location=rtsp://{addr}/movie.Mjpeg protocols={protocols} timeout=3 \
             ! appsink name=sink sync=false"
        ));
        pipeline.set_state(gst::State::Playing).unwrap();
        for _ in 0..12 {
            sink.try_pull_sample(gst::ClockTime::from_seconds(5))
                .expect("a frame before the server stops");
        }
        drop(server);
        let bus = pipeline.bus().unwrap();
        let started = Instant::now();
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(15),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            )
            .unwrap_or_else(|| panic!("{protocols}: nothing posted 15 s after the server stopped"));
        assert_eq!(msg.type_(), gst::MessageType::Eos, "{protocols}: {msg:?}");
        assert!(
            bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(300),
                &[gst::MessageType::Error]
            )
            .is_none(),
            "{protocols}: an error after the end"
        );
        println!("{protocols}: EOS after {:?}", started.elapsed());
        // Stopping never hangs.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let stopping = pipeline.clone();
        std::thread::spawn(move || {
            stopping.set_state(gst::State::Null).unwrap();
            let _ = done_tx.send(());
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "{protocols}: set_state(NULL) hangs"
        );
    }
}

/// Frames the session reports in the next `secs` seconds.
async fn count_frames(events: &mut mjpegrtsp::client::Events, secs: u64) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut frames = 0;
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let Event::Frame(_) = e {
            frames += 1;
        }
    }
    frames
}

/// `frames-received` of every `mjpegrtspsrc-stats` message gst-launch
/// printed (`-m`), in order.
fn frames_received(output: &str) -> Vec<u64> {
    output
        .lines()
        .filter(|l| l.contains("mjpegrtspsrc-stats"))
        .filter_map(|l| {
            let at = l.find("frames-received=(guint64)")? + "frames-received=(guint64)".len();
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// A client process stopped (SIGSTOP) for 10 s in the middle of playing over
/// TCP, then resumed: the server keeps its session, drops what its full
/// connection cannot take, and goes on sending once it reads again; a
/// session beside it loses nothing meanwhile.
#[test]
fn a_client_stopped_for_ten_seconds_resumes_and_spares_the_others() {
    init();
    let dir = movie_dir();
    let server = looping_server(dir.path(), 0);
    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut stopped = std::process::Command::new("gst-launch-1.0")
        .args([
            "-m",
            "mjpegrtspsrc",
            &format!("location={url}"),
            "protocols=tcp",
        ])
        .args(["!", "fakesink", "sync=false"])
        .env("GST_PLUGIN_PATH", plugin_dir())
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = stopped.id() as libc::pid_t;
    // SAFETY: kill(2) on the child this test started and still holds.
    let signal = |sig| assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    block_on(async {
        let options = ClientOptions {
            timeout: Duration::from_secs(3),
            ..ClientOptions::default()
        };
        let mut s = Session::connect(&url, options).await.unwrap();
        s.describe().await.unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let before = count_frames(&mut events, 2).await;
        assert!(before >= 40, "{before} frames before the stop");
        signal(libc::SIGSTOP);
        let during = count_frames(&mut events, 10).await;
        signal(libc::SIGCONT);
        let after = count_frames(&mut events, 4).await;
        // 24 fps: 240 frames in 10 s, 96 in 4 s; a few may fall at the edges.
        assert!(
            during >= 232,
            "the other session got {during} of 240 during the stop"
        );
        assert!(after >= 92, "and {after} of 96 after it");
        assert_eq!(server.sessions(), 2, "the stopped client kept its session");
    });
    // SIGINT: gst-launch stops the pipeline and exits, writing out what it
    // printed.
    signal(libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while stopped.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = stopped.kill();
            panic!("gst-launch did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let counts = frames_received(&std::fs::read_to_string(out.path()).unwrap());
    // Stats come once a second: those of the last seconds, after the resume,
    // must still be growing.
    assert!(counts.len() >= 4, "stats messages: {counts:?}");
    let last = &counts[counts.len() - 3..];
    assert!(last[2] > last[0], "no frames after the resume: {counts:?}");
}
