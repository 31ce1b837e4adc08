//! A multi-gigabyte file, evicted from the page cache, opens and seeks at
//! once: the index is built in the background, and until it is complete
//! the first frame, a DESCRIBE and a seek to the last minute do not wait for
//! it (each is checked to come while the index is still incomplete). A seek
//! beyond the frames indexed lands near its target and is corrected to the
//! exact frame; the duration becomes exact when the walk ends; the index is
//! remembered, and a changed file is indexed again.
//!
//! One test, so that nothing else reads the file while it is evicted. The
//! file (2 GiB) is copies of the sample clip, every frame numbered in a JPEG
//! comment ([`media::frame_number`]).

use gst::prelude::*;
use mjpegrtsp::container::{IndexCache, Located, SharedIndex};
use mjpegrtsp::server::{HttpConfig, ServerConfig};
use mjpegrtsp_tests::http::get;
use mjpegrtsp_tests::media::{evict_from_page_cache, frame_number, numbered_long_movie};
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::path::Path;
use std::time::{Duration, Instant};

const SIZE: u64 = 2 << 30;
/// How long "at once" may take here, generously (the figures are in
/// BENCHMARKS.md; what the test checks is that the index was not waited
/// for).
const AT_ONCE: Duration = Duration::from_secs(2);

fn number_at(index: &SharedIndex, n: u64) -> (bool, u64) {
    let (exact, entry) = match index.locate(n) {
        Located::Exact(e) => (true, e),
        Located::Estimated(e) => (false, e),
        other => panic!("frame {n}: {other:?}"),
    };
    let data = entry.read(&**index.source()).expect("a whole frame");
    (exact, frame_number(&data).expect("a numbered frame"))
}

#[test]
fn a_multi_gigabyte_file_opens_and_seeks_at_once_and_becomes_exact() {
    init();
    let dir = tempfile::tempdir().unwrap();
    // The element's cache: empty, here.
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("XDG_CACHE_HOME", dir.path().join("xdg")) };
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let path = media.join("long.Mjpeg");
    let total = numbered_long_movie(&path, SIZE, 0);
    let last_minute = total - 24 * 45;
    eprintln!(
        "{total} frames, {} bytes",
        std::fs::metadata(&path).unwrap().len()
    );

    the_index(&path, dir.path(), total, last_minute);
    the_element(&path, total, last_minute);
    the_demuxer(&path, total);
    the_server(&media, total, last_minute);
}

/// The core: first frame, an estimated seek corrected once the walk gets
/// there, the exact count; then the cache.
fn the_index(path: &Path, dir: &Path, total: u64, target: u64) {
    let cache = IndexCache::new(dir.join("cache"));
    evict_from_page_cache(path);
    let started = Instant::now();
    let index = SharedIndex::open(path, Some(cache.clone()), |_| {}).unwrap();
    assert!(index.wait_ready());
    assert_eq!(number_at(&index, 0), (true, 0));
    let first = started.elapsed();
    let (exact, near) = number_at(&index, target);
    let seek = started.elapsed();
    assert!(!index.is_complete(), "the walk was waited for");
    assert!(
        !exact,
        "frame {target} known exactly before the walk got there"
    );
    // Near its target: the clip's frames vary in size, not the mean.
    let off = near.abs_diff(target);
    assert!(off < total / 20, "frame {near} for {target}");
    let count = index.count().unwrap();
    assert!(
        !count.exact && count.frames.abs_diff(total) < total / 10,
        "{count:?}"
    );
    eprintln!("index: first frame {first:?}, frame {near} for {target} at {seek:?}");

    let whole = index
        .wait_complete(Duration::from_secs(120))
        .expect("indexed");
    assert_eq!(whole.len() as u64, total);
    assert!(whole.anomalies().is_empty());
    eprintln!("index: complete at {:?}", started.elapsed());
    // Corrected: the same number now names the exact frame.
    assert_eq!(number_at(&index, target), (true, target));
    assert_eq!(index.locate(total), Located::End);

    // Remembered (written, whole, just after the index is complete): the
    // next open is complete at once, even cold.
    wait_within("the remembered index", 10, || {
        cache.entry_path(path).exists()
    });
    evict_from_page_cache(path);
    let again = SharedIndex::open(path, Some(cache.clone()), |_| {}).unwrap();
    assert!(again.is_complete());
    assert_eq!(number_at(&again, target), (true, target));
    // A changed file is indexed again.
    let mut bytes = Vec::new();
    let Located::Exact(first) = again.locate(0) else {
        panic!("{:?}", again.locate(0));
    };
    let extra =
        mjpegrtsp_tests::media::with_frame_number(&first.read(&**again.source()).unwrap(), total);
    mjpegrtsp::container::FrameWriter::new(&mut bytes)
        .write_frame(&extra)
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .unwrap();
    let changed = SharedIndex::open(path, Some(cache), |_| {}).unwrap();
    assert!(!changed.is_complete(), "a stale index was trusted");
    let whole = changed.wait_complete(Duration::from_secs(120)).unwrap();
    assert_eq!(whole.len() as u64, total + 1);
    // Back as the test made it.
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(whole.size() - bytes.len() as u64).unwrap();
    file.sync_all().unwrap();
}

/// `launch` (`{}` the path) with `path` evicted from the page cache,
/// prerolled: its first frame is frame 0, at once; the pipeline, its
/// appsink, and how long the preroll took.
fn cold_preroll(path: &Path, launch: &str) -> (gst::Pipeline, gst_app::AppSink, Duration) {
    evict_from_page_cache(path);
    let started = Instant::now();
    let (pipeline, sink) = launch_with_appsink(&launch.replace("{}", &path.display().to_string()));
    pipeline.set_state(gst::State::Paused).unwrap();
    let first = sink
        .try_pull_preroll(gst::ClockTime::from_seconds(10))
        .expect("a first frame");
    let preroll = started.elapsed();
    let data = first.buffer().unwrap().map_readable().unwrap().to_vec();
    assert_eq!(frame_number(&data), Some(0));
    assert!(preroll < AT_ONCE, "preroll took {preroll:?}");
    (pipeline, sink, preroll)
}

/// `lengthmjpegsrc`: prerolls on the first frame, seeks near the end, is
/// corrected to the exact frames and announces the exact duration.
fn the_element(path: &Path, total: u64, target: u64) {
    let (pipeline, sink, preroll) = cold_preroll(
        path,
        "lengthmjpegsrc location={} ! appsink name=sink max-buffers=4",
    );
    let estimate = pipeline.query_duration::<gst::ClockTime>().unwrap();

    // Seek to the last minute, frame-accurately, before the walk is done.
    let at = gst::ClockTime::from_nseconds(target * 1_000_000_000 / 24);
    let seek_started = Instant::now();
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, at)
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .expect("a frame after the seek");
    let seek = seek_started.elapsed();
    let buffer = sample.buffer().unwrap();
    assert_eq!(buffer.offset(), target);
    let near = frame_number(&buffer.map_readable().unwrap()).unwrap();
    assert!(near.abs_diff(target) < total / 20, "{near} for {target}");
    assert!(seek < AT_ONCE, "seek took {seek:?}");
    eprintln!(
        "element: preroll {preroll:?}, seek {seek:?} (frame {near} for {target}), duration estimate {estimate}"
    );

    // The walk ends: DURATION_CHANGED, and the exact duration on re-query.
    let bus = pipeline.bus().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut changed = false;
    // Meanwhile the frames go on in real time, exact from some buffer on
    // (marked DISCONT), every one after it exact too.
    let mut exact_run = 0;
    while exact_run < 48 {
        assert!(Instant::now() < deadline, "never corrected");
        changed |= bus
            .pop_filtered(&[gst::MessageType::DurationChanged])
            .is_some();
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) else {
            break;
        };
        let buffer = sample.buffer().unwrap();
        let number = frame_number(&buffer.map_readable().unwrap()).unwrap();
        if number == buffer.offset() {
            if exact_run == 0 && buffer.offset() > target {
                assert!(buffer.flags().contains(gst::BufferFlags::DISCONT));
            }
            exact_run += 1;
        } else {
            assert_eq!(exact_run, 0, "an estimate after exact frames");
        }
    }
    assert_eq!(exact_run, 48, "the frames did not become exact");
    while !changed {
        assert!(Instant::now() < deadline, "no DURATION_CHANGED");
        changed = bus
            .timed_pop_filtered(
                gst::ClockTime::from_mseconds(200),
                &[gst::MessageType::DurationChanged],
            )
            .is_some();
    }
    let exact = pipeline.query_duration::<gst::ClockTime>().unwrap();
    assert_eq!(exact.nseconds(), total * 1_000_000_000 / 24);
    // A seek now is exact at once.
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, at)
        .unwrap();
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .unwrap();
    let data = sample.buffer().unwrap().map_readable().unwrap().to_vec();
    assert_eq!(frame_number(&data), Some(target));
    pipeline.set_state(gst::State::Null).unwrap();
}

/// `filesrc ! lengthmjpegdemux`: prerolls on the first frame while the
/// walk (through upstream's pull mode) goes on, then knows the exact
/// duration.
fn the_demuxer(path: &Path, total: u64) {
    let (pipeline, _sink, preroll) = cold_preroll(
        path,
        "filesrc location={} ! lengthmjpegdemux ! appsink name=sink",
    );
    let exact = gst::ClockTime::from_nseconds(total * 1_000_000_000 / 24);
    let estimate = pipeline.query_duration::<gst::ClockTime>().unwrap();
    assert_ne!(estimate, exact, "the walk was waited for");
    let bus = pipeline.bus().unwrap();
    bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(120),
        &[gst::MessageType::DurationChanged],
    )
    .expect("DURATION_CHANGED");
    assert_eq!(pipeline.query_duration::<gst::ClockTime>(), Some(exact));
    eprintln!("demuxer: preroll {preroll:?}, duration estimate {estimate}, then {exact}");
    pipeline.set_state(gst::State::Null).unwrap();
}

/// The server: DESCRIBE with an estimated range, and a PLAY of the last
/// minute whose frames come, while the file is still being indexed.
fn the_server(media: &Path, total: u64, target: u64) {
    let path = media.join("long.Mjpeg");
    evict_from_page_cache(&path);
    let mut config = ServerConfig::new(media);
    config.index_cache = None;
    config.http = Some(HttpConfig::on(0));
    let server = TestServer::start_with(config);
    let url = format!("rtsp://{}/long.Mjpeg", server.addr);
    let mut ctl = std::net::TcpStream::connect(server.addr).unwrap();
    let (reply, describe) = timed_describe(&mut ctl, &url);
    assert!(describe < AT_ONCE, "DESCRIBE took {describe:?}");
    let estimate = sdp_range_end(&reply);
    let exact = total as f64 / 24.0;
    assert!(
        (estimate - exact).abs() < exact / 10.0,
        "{estimate} for {exact}"
    );

    let (mut ctl, udp, session) = standard_setup(&server, "long.Mjpeg");
    let seek = play_to_first_packet(&mut ctl, &udp, &url, &session, target as f64 / 24.0);
    assert!(seek < AT_ONCE, "PLAY to the first packet took {seek:?}");
    eprintln!(
        "server: DESCRIBE {describe:?} (range 0-{estimate} for {exact:.3}), PLAY to first packet {seek:?}"
    );
    // All that while the file was being indexed; then its length is exact.
    let web = server.http_addr.unwrap();
    let mount = || -> serde_json::Value {
        let status: serde_json::Value =
            serde_json::from_slice(&get(web, "/api/v1/status").body).unwrap();
        status["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == "long.Mjpeg")
            .cloned()
            .unwrap()
    };
    assert_eq!(mount()["indexed"], false, "{}", mount());
    wait_within("the index", 120, || mount()["indexed"] == true);
    assert_eq!(mount()["frames"], total);
    let (reply, _) = timed_describe(&mut ctl, &url);
    let range = sdp_range_end(&reply);
    assert!((range - exact).abs() < 0.002, "{range} for {exact}");
}
