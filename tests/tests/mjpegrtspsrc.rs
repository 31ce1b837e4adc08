//! The `mjpegrtspsrc` element against this project's server: both dialects
//! and transports, recording, pause and resume, seeking, statistics and
//! errors.

use gst::prelude::*;
use mjpegrtsp_tests::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The test clip: 48 frames (2 s) of 320×240, each different.
fn served() -> (tempfile::TempDir, Vec<u8>, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(48, 320, 240, 80, "ball");
    std::fs::write(dir.path().join("movie.Mjpeg"), &bytes).unwrap();
    let server = TestServer::start(dir.path(), false);
    (dir, bytes, server)
}

fn url(server: &TestServer) -> String {
    format!("rtsp://{}/movie.Mjpeg", server.addr)
}

#[test]
fn plays_every_frame_over_udp_and_tcp_then_ends() {
    let (_dir, _, server) = served();
    for protocols in ["udp", "tcp"] {
        let out = run(
            &format!(
                "mjpegrtspsrc location={} protocols={protocols} ! appsink name=sink",
                url(&server)
            ),
            |_| {},
        );
        assert!(out.eos, "{protocols}: {:?}", out.error);
        assert_eq!(out.frames.len(), 48, "{protocols}");
        assert!(
            out.frames
                .iter()
                .all(|f| mjpegrtsp::container::is_whole_jpeg(&f.data))
        );
        let pts: Vec<_> = out.frames.iter().map(|f| f.pts.unwrap()).collect();
        assert!(pts.windows(2).all(|w| w[1] > w[0]), "increasing timestamps");
        let s = out.caps.unwrap().structure(0).unwrap().to_owned();
        assert_eq!(
            (
                s.get::<i32>("width").unwrap(),
                s.get::<i32>("height").unwrap()
            ),
            (320, 240)
        );
        assert_eq!(
            s.get::<gst::Fraction>("framerate").unwrap(),
            gst::Fraction::new(24, 1)
        );
        assert!(out.frames[0].discont);
    }
}

#[test]
fn classic_dialect_records_the_file_byte_for_byte() {
    let (_dir, bytes, server) = served();
    // The classic dialect has no end-of-stream signal: stop after the file's 2 s.
    let out = run(
        &format!(
            "mjpegrtspsrc location={} dialect=classic ! lengthmjpegmux ! appsink name=sink",
            url(&server)
        ),
        |p| eos_after(p, Duration::from_millis(3000)),
    );
    assert!(out.eos, "{:?}", out.error);
    let recorded = out.bytes();
    assert!(
        recorded == bytes,
        "{} bytes recorded of {}",
        recorded.len(),
        bytes.len()
    );
}

#[test]
fn standard_dialect_frames_decode() {
    let (_dir, _, server) = served();
    let out = run(
        &format!(
            "mjpegrtspsrc location={} ! jpegdec ! video/x-raw ! appsink name=sink",
            url(&server)
        ),
        |_| {},
    );
    assert!(out.eos, "{:?}", out.error);
    assert_eq!(out.frames.len(), 48);
    assert_eq!(out.frames[0].data.len(), 320 * 240 * 3 / 2);
}

/// Runs the element in PLAYING for `f`, collecting the frames.
fn with_playing(
    launch: &str,
    f: impl FnOnce(&gst::Pipeline, &Arc<Mutex<Vec<Vec<u8>>>>),
) -> Option<String> {
    let (pipeline, sink) = launch_with_appsink(launch);
    let frames = Arc::new(Mutex::new(Vec::new()));
    {
        let frames = frames.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    frames
                        .lock()
                        .unwrap()
                        .push(sample.buffer().unwrap().map_readable().unwrap().to_vec());
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    f(&pipeline, &frames);
    let error = pipeline
        .bus()
        .unwrap()
        .pop_filtered(&[gst::MessageType::Error])
        .map(|m| match m.view() {
            gst::MessageView::Error(e) => e.error().to_string(),
            _ => unreachable!(),
        });
    pipeline.set_state(gst::State::Null).unwrap();
    error
}

#[test]
fn pause_and_play_resume_where_they_stopped() {
    let (_dir, bytes, server) = served();
    let file_frames = frames_of(&bytes);
    let error = with_playing(
        &format!(
            "mjpegrtspsrc location={} dialect=classic ! appsink name=sink sync=false",
            url(&server)
        ),
        |pipeline, frames| {
            std::thread::sleep(Duration::from_millis(600));
            pipeline.set_state(gst::State::Paused).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let paused_at = frames.lock().unwrap().len();
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                frames.lock().unwrap().len() <= paused_at + 1,
                "nothing more while paused"
            );
            pipeline.set_state(gst::State::Playing).unwrap();
            std::thread::sleep(Duration::from_millis(500));
            let got = frames.lock().unwrap().clone();
            assert!(got.len() > paused_at + 5, "playing again");
            // Whole file frames, in order, none skipped or repeated.
            for (i, f) in got.iter().enumerate() {
                assert!(f == &file_frames[i], "frame {i} follows on");
            }
        },
    );
    assert_eq!(error, None);
}

#[test]
fn seeking_plays_from_the_requested_frame() {
    let (_dir, bytes, server) = served();
    let file_frames = frames_of(&bytes);
    let error = with_playing(
        &format!(
            "mjpegrtspsrc location={} ! appsink name=sink sync=false",
            url(&server)
        ),
        |pipeline, frames| {
            std::thread::sleep(Duration::from_millis(300));
            pipeline
                .seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::from_mseconds(1_250))
                .expect("seek accepted");
            let before = frames.lock().unwrap().len();
            std::thread::sleep(Duration::from_millis(400));
            let got = frames.lock().unwrap().clone();
            // 1.25 s is frame 30 at 24 fps.
            let after: Vec<_> = got[before..].iter().collect();
            assert!(!after.is_empty());
            // RFC 2435 rebuilds the JPEG headers; the scan data is the file's.
            let first = after
                .iter()
                .position(|f| scan_data(f) == scan_data(&file_frames[30]))
                .expect("frame 30 arrives");
            assert!(
                first <= 1,
                "frame 30 comes first after the seek (at {first})"
            );
        },
    );
    assert_eq!(error, None);
}

#[test]
fn stats_property_and_messages_count_frames() {
    let (_dir, _, server) = served();
    let messages = Arc::new(AtomicU64::new(0));
    let last_frames = Arc::new(AtomicU64::new(0));
    init();
    let pipeline = gst::parse::launch(&format!(
        "mjpegrtspsrc name=src location={} ! fakesink",
        url(&server)
    ))
    .unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Element(e)
                if e.structure()
                    .is_some_and(|s| s.name() == "mjpegrtspsrc-stats") =>
            {
                messages.fetch_add(1, Ordering::Relaxed);
                last_frames.store(
                    e.structure()
                        .unwrap()
                        .get::<u64>("frames-received")
                        .unwrap(),
                    Ordering::Relaxed,
                );
            }
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break,
            _ => {}
        }
    }
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("src")
        .unwrap();
    let stats = src.property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(
        messages.load(Ordering::Relaxed) >= 1,
        "a stats message every second"
    );
    assert!(last_frames.load(Ordering::Relaxed) >= 20);
    assert_eq!(stats.get::<u64>("frames-received").unwrap(), 48, "{stats}");
    assert_eq!(stats.get::<u64>("packets-lost").unwrap(), 0);
    assert_eq!(stats.get::<u64>("packets-duplicated").unwrap(), 0);
    // Units in the types: bits per second and nanoseconds as u64.
    stats.get::<u64>("bitrate").unwrap();
    assert!(stats.get::<u64>("jitter").unwrap() < 100_000_000, "{stats}");
    assert_eq!(stats.get::<String>("transport").unwrap(), "udp");
}

#[test]
fn errors_name_the_server_and_the_status() {
    let (_dir, _, server) = served();
    let out = run(
        &format!(
            "mjpegrtspsrc location=rtsp://{}/missing.Mjpeg ! appsink name=sink",
            server.addr
        ),
        |_| {},
    );
    let err = out.error.expect("an error");
    assert!(
        err.contains("404") && err.contains(&server.addr.to_string()),
        "{err}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(
        &format!(
            "mjpegrtspsrc location=rtsp://viewer:s3cret@{closed}/movie.Mjpeg timeout=3 ! appsink name=sink"
        ),
        |_| {},
    );
    let err = out.error.expect("an error");
    assert!(err.contains(&closed.to_string()), "{err}");
    // The URL's password is for the server, not for messages and logs.
    assert!(
        err.contains("rtsp://viewer@") && !err.contains("s3cret"),
        "{err}"
    );
}

/// A source that cannot start says why once: before, GStreamer's basesrc
/// added "state change failed and some element failed to post a proper
/// error message" after the element's own error.
#[test]
fn a_failed_start_posts_one_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let errors = start_errors(&format!(
        "mjpegrtspsrc location=rtsp://{closed}/movie.Mjpeg timeout=3 ! fakesink"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(&closed.to_string()), "{errors:?}");
    let empty = write_temp(b"");
    let errors = start_errors(&format!(
        "lengthmjpegsrc location={} ! fakesink",
        empty.path().display()
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("empty"), "{errors:?}");
}

/// The entropy-coded data of a JPEG: what follows its SOS segment.
fn scan_data(jpeg: &[u8]) -> &[u8] {
    jpeg_scan_data(jpeg).expect("a whole JPEG with a scan")
}

#[test]
fn a_syncing_sink_keeps_pace_without_a_queue() {
    // Timestamps taken when `create` returns (instead of at arrival) made a
    // syncing sink fall further behind with every frame.
    let dir = tempfile::tempdir().unwrap();
    let bytes = encoded_movie(120, 160, 120, 70, "ball");
    std::fs::write(dir.path().join("movie.Mjpeg"), &bytes).unwrap();
    let server = TestServer::start(dir.path(), false);
    let (pipeline, sink) = launch_with_appsink(&format!(
        "mjpegrtspsrc location={} ! appsink name=sink sync=true",
        url(&server)
    ));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    {
        let arrivals = arrivals.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    arrivals.lock().unwrap().push(std::time::Instant::now());
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    expect_eos(&pipeline, 20);
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 120);
    let span = (*arrivals.last().unwrap() - arrivals[0]).as_secs_f64();
    // 119 frame intervals at 24 fps: 4.96 s.
    assert!(
        span < 5.3,
        "rendered at the stream's pace: {span:.2} s for 119 intervals"
    );
}

#[test]
fn frames_after_a_seek_reach_the_decoder() {
    // The segment after a seek must start where the buffers' timestamps do,
    // or a decoder clips every frame that follows.
    let (_dir, _, server) = served();
    let error = with_playing(
        &format!(
            "mjpegrtspsrc location={} ! jpegdec ! appsink name=sink sync=false",
            url(&server)
        ),
        |pipeline, frames| {
            std::thread::sleep(Duration::from_millis(300));
            pipeline
                .seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::from_mseconds(500))
                .expect("seek accepted");
            let before = frames.lock().unwrap().len();
            std::thread::sleep(Duration::from_millis(600));
            let after = frames.lock().unwrap().len() - before;
            assert!(after >= 10, "decoded frames after the seek: {after}");
            let position = pipeline
                .query_position::<gst::ClockTime>()
                .expect("a position");
            assert!(
                position >= gst::ClockTime::from_mseconds(900),
                "stream time counts from the seek target: {position}"
            );
        },
    );
    assert_eq!(error, None);
}

/// `GST_DEBUG=mjpegrtspsrc:5` shows the RTSP exchange: each request's and
/// reply's start line and headers, never the URL's password.
#[test]
fn debug_log_shows_requests_and_replies_without_the_password() {
    let (_dir, _, server) = served();
    init();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    gst::log::set_active(true);
    gst::log::set_threshold_for_name("mjpegrtspsrc", gst::DebugLevel::Log);
    let log_fn = gst::log::add_log_function(move |cat, _level, _file, _fn, _line, _obj, msg| {
        if cat.name() == "mjpegrtspsrc"
            && let Some(text) = msg.get()
        {
            sink.lock().unwrap().push(text.to_string());
        }
    });
    let out = run(
        &format!(
            "mjpegrtspsrc location=rtsp://viewer:hunter2-in-log@{}/movie.Mjpeg ! appsink name=sink",
            server.addr
        ),
        |_| {},
    );
    gst::log::remove_log_function(log_fn);
    gst::log::unset_threshold_for_name("mjpegrtspsrc");
    assert!(out.eos, "{:?}", out.error);
    let lines = lines.lock().unwrap();
    let all = lines.join("\n");
    assert!(all.contains("DESCRIBE rtsp://"), "{all}");
    assert!(all.contains("SETUP rtsp://"), "{all}");
    assert!(all.contains("RTSP/1.0 200 OK"), "{all}");
    assert!(all.contains("CSeq:"), "headers too: {all}");
    assert!(!all.contains("hunter2-in-log"), "{all}");
}
