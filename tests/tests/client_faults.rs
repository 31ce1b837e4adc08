//! Clients when the server or the network goes away in the middle of
//! playing, over real sockets on loopback: the server shuts down (and
//! another starts on the same port), a client process is stopped, the
//! network stops carrying anything for a few seconds. The client library
//! and `mjpegrtspsrc` must say so, end cleanly or play on, never hang, and
//! the sessions beside them go on untouched.

use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, EndReason, Event};
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
            let (_session, mut events) = playing(&url, options.clone()).await;
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
                    Ok(Some(Event::Stats(_) | Event::Stalled { .. } | Event::Resumed { .. })) => {}
                    Ok(None) => ended = Some(Err("events closed".into())),
                    Err(_) => panic!("tcp={tcp}: nothing said 15 s after the server stopped"),
                }
            }
            // A server that shuts down says goodbye: an RTCP BYE.
            assert_eq!(ended.unwrap(), Ok(EndReason::Bye), "tcp={tcp}");
            // A server back on the same port: a new session plays.
            let again = looping_server(dir.path(), addr.port());
            let (_session, mut events) = playing(&url, options).await;
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
        let (_session, mut events) = playing(&url, options).await;
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

/// How long the network carries nothing in the interruption tests.
const INTERRUPTION: Duration = Duration::from_secs(4);

/// A network interruption through a proxy: cut when made, restored once the
/// client reported it and [`INTERRUPTION`] has passed.
struct Cut<'a> {
    proxy: &'a RtspProxy,
    at: Instant,
}

impl<'a> Cut<'a> {
    fn now(proxy: &'a RtspProxy) -> Self {
        proxy.interrupt();
        Cut {
            proxy,
            at: Instant::now(),
        }
    }

    /// Until when to wait for the stall, the resume and the frames after.
    fn deadline(&self) -> Instant {
        self.at + INTERRUPTION + Duration::from_secs(8)
    }

    /// Restores the network once the stall was `reported` and the
    /// interruption's time has passed.
    fn restore_when_due(&self, reported: bool) {
        if reported && self.at.elapsed() >= INTERRUPTION {
            self.proxy.restore();
        }
    }
}

/// A session straight to the server that counts its frames until `stop`
/// (for the sessions beside an interruption).
fn session_beside(
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u32, Duration)> {
    std::thread::spawn(move || {
        block_on(async {
            let (_session, mut events) = playing(&url, ClientOptions::default()).await;
            let started = Instant::now();
            let mut frames = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(Some(Event::Frame(_))) =
                    tokio::time::timeout(Duration::from_millis(50), events.recv()).await
                {
                    frames += 1;
                }
            }
            (frames, started.elapsed())
        })
    })
}

/// The beside session got nearly all the frames its time was worth (24
/// fps), whatever happened next to it.
fn assert_untouched(what: &str, (frames, played): (u32, Duration)) {
    let expected = (played.as_secs_f64() * 24.0) as u32;
    assert!(
        frames + 6 >= expected,
        "{what}: the session beside got {frames} frames in {played:?} (24 fps: {expected})"
    );
}

/// The network stops carrying anything for four seconds (a proxy that
/// holds TCP and loses UDP), then carries again: the client library says
/// once that media stopped (after its 2 s `stall_after`), once that it came
/// again (and after how long), and the frames go on, whole; a session
/// beside it, straight to the server, loses nothing.
#[test]
fn the_client_library_reports_a_network_interruption_and_plays_on() {
    use mjpegrtsp::client::TransportPreference;
    let dir = movie_dir();
    let server = looping_server(dir.path(), 0);
    for transport in [TransportPreference::Udp, TransportPreference::Tcp] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let beside = session_beside(format!("rtsp://{}/movie.Mjpeg", server.addr), stop.clone());
        let proxy = RtspProxy::start(server.addr, PassThrough);
        block_on(async {
            let options = ClientOptions {
                transport,
                ..ClientOptions::default()
            };
            let (_session, mut events) = playing(&proxy.url("movie.Mjpeg"), options).await;
            let (frames, _) = collect_frames(&mut events, 12, Duration::from_secs(10)).await;
            assert_eq!(frames.len(), 12, "{transport:?}: frames before");
            let cut = Cut::now(&proxy);
            let (mut stalled, mut resumed, mut after) = (None, None, 0);
            while after < 24 && Instant::now() < cut.deadline() {
                cut.restore_when_due(stalled.is_some());
                let event = tokio::time::timeout(Duration::from_millis(50), events.recv()).await;
                match event {
                    Ok(Some(Event::Stalled { silent_for })) => {
                        assert!(stalled.is_none(), "{transport:?}: stalled twice");
                        stalled = Some((cut.at.elapsed(), silent_for));
                    }
                    Ok(Some(Event::Resumed { silent_for })) => {
                        assert!(stalled.is_some(), "{transport:?}: resumed before a stall");
                        resumed = Some(silent_for);
                    }
                    Ok(Some(Event::Frame(f))) => {
                        assert!(mjpegrtsp::container::is_whole_jpeg(&f.jpeg));
                        if resumed.is_some() {
                            after += 1;
                        }
                    }
                    Ok(Some(Event::End(why))) => panic!("{transport:?}: ended: {why:?}"),
                    Ok(Some(Event::Error(e))) => panic!("{transport:?}: {e}"),
                    Ok(None) => panic!("{transport:?}: the session is gone"),
                    Ok(Some(Event::Stats(_))) | Err(_) => {}
                }
            }
            let (stalled_after, silent) = stalled.expect("a stall was reported");
            // Packets already on their way may come just after the cut.
            assert!(
                stalled_after >= Duration::from_secs(2) && stalled_after < Duration::from_secs(3),
                "{transport:?}: stall reported {stalled_after:?} after the cut"
            );
            assert!(
                silent >= Duration::from_secs(2),
                "{transport:?}: {silent:?}"
            );
            let resumed = resumed.expect("the end of the stall was reported");
            assert!(
                resumed >= Duration::from_millis(3500) && resumed < Duration::from_secs(6),
                "{transport:?}: media came again after {resumed:?}"
            );
            assert_eq!(after, 24, "{transport:?}: frames after the interruption");
            let dropped = proxy.counts().dropped_interrupted;
            if transport == TransportPreference::Udp {
                assert!(
                    dropped >= 48,
                    "{transport:?}: the proxy lost only {dropped} datagrams"
                );
            }
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_untouched(&format!("{transport:?}"), beside.join().unwrap());
    }
}

/// The same interruption under `mjpegrtspsrc` (TCP): one warning that no
/// media comes, an `mjpegrtspsrc-resumed` message once it does, buffers
/// again after it, and no error.
#[test]
fn mjpegrtspsrc_warns_of_a_network_interruption_and_plays_on() {
    let dir = movie_dir();
    let server = looping_server(dir.path(), 0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let beside = session_beside(format!("rtsp://{}/movie.Mjpeg", server.addr), stop.clone());
    let proxy = RtspProxy::start(server.addr, PassThrough);
    let (pipeline, sink) = launch_with_appsink(&format!(
        "mjpegrtspsrc location={} protocols=tcp ! appsink name=sink sync=false",
        proxy.url("movie.Mjpeg")
    ));
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let pull = |within: Duration| {
        sink.try_pull_sample(gst::ClockTime::from_nseconds(within.as_nanos() as u64))
            .is_some()
    };
    for i in 0..12 {
        assert!(pull(Duration::from_secs(10)), "buffer {i} before the cut");
    }
    let cut = Cut::now(&proxy);
    let (mut warned, mut resumed, mut after) = (None, None, 0);
    while after < 24 && Instant::now() < cut.deadline() {
        cut.restore_when_due(warned.is_some());
        if pull(Duration::from_millis(20)) && resumed.is_some() {
            after += 1;
        }
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Warning(w) => {
                    assert!(warned.is_none(), "warned twice: {}", w.error());
                    warned = Some((cut.at.elapsed(), w.error().to_string()));
                }
                gst::MessageView::Element(e)
                    if e.structure()
                        .is_some_and(|s| s.name() == "mjpegrtspsrc-resumed") =>
                {
                    let ms = e.structure().unwrap().get::<u64>("silent-for").unwrap();
                    resumed = Some(Duration::from_millis(ms));
                }
                gst::MessageView::Error(e) => panic!("{}: {:?}", e.error(), e.debug()),
                gst::MessageView::Eos(_) => panic!("EOS"),
                _ => {}
            }
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let (at, text) = warned.expect("a warning that no media comes");
    assert!(
        at >= Duration::from_secs(2) && at < Duration::from_secs(3),
        "warned {at:?} after the cut"
    );
    assert!(
        text.contains("No media from") && text.contains(&proxy.addr.to_string()),
        "{text}"
    );
    let resumed = resumed.expect("an mjpegrtspsrc-resumed message");
    assert!(resumed >= Duration::from_millis(3500), "{resumed:?}");
    assert_eq!(after, 24, "buffers after the interruption");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_untouched("beside mjpegrtspsrc", beside.join().unwrap());
}
