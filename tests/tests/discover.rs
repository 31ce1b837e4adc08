//! The typefinder and demuxer make `.Mjpeg` files work in GStreamer's
//! automatic machinery: discoverer, decodebin and playbin.

use gst::prelude::*;
use gst_pbutils::prelude::*;
use mjpegrtsp_tests::*;

fn discover(path: &std::path::Path) -> gst_pbutils::DiscovererInfo {
    init();
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(10)).unwrap();
    let uri = glib_uri(path);
    discoverer.discover_uri(&uri).expect("discovered")
}

fn glib_uri(path: &std::path::Path) -> String {
    gst::glib::filename_to_uri(path.canonicalize().unwrap(), None)
        .unwrap()
        .to_string()
}

fn video_size(info: &gst_pbutils::DiscovererInfo) -> (u32, u32, gst::Fraction) {
    let streams = info.video_streams();
    assert_eq!(streams.len(), 1, "one video stream");
    let v = &streams[0];
    (v.width(), v.height(), v.framerate())
}

#[test]
fn discoverer_reports_sample_movie() {
    let movie = sample_movie();
    let info = discover(movie);
    assert_eq!(info.result(), gst_pbutils::DiscovererResult::Ok);
    assert_eq!(info.duration(), Some(gst::ClockTime::from_seconds(10)));
    assert!(info.is_seekable());
    assert_eq!(video_size(&info), (640, 480, gst::Fraction::new(24, 1)));
    let top = info.stream_info().unwrap();
    assert!(
        top.is::<gst_pbutils::DiscovererContainerInfo>(),
        "the file is seen as a container"
    );
    assert_eq!(
        top.caps().unwrap().structure(0).unwrap().name(),
        "video/x-length-mjpeg"
    );
}

#[test]
fn discoverer_reports_generated_movie() {
    let bytes = encoded_movie(36, 320, 240, 85, "ball");
    let file = write_temp(&bytes);
    let info = discover(file.path());
    assert_eq!(info.result(), gst_pbutils::DiscovererResult::Ok);
    assert_eq!(info.duration(), Some(gst::ClockTime::from_mseconds(1500)));
    assert_eq!(video_size(&info), (320, 240, gst::Fraction::new(24, 1)));
}

#[test]
fn decodebin_and_playbin_decode_every_frame() {
    let bytes = encoded_movie(24, 160, 120, 80, "smpte");
    let file = write_temp(&bytes);
    let p = file.path().display();
    let out = run(
        &format!("filesrc location=\"{p}\" ! decodebin ! video/x-raw ! appsink name=sink"),
        |_| {},
    );
    assert!(out.eos, "{:?}", out.error);
    assert_eq!(out.frames.len(), 24);
    assert_eq!(out.frames[0].data.len(), 160 * 120 * 3 / 2, "decoded I420");

    let uri = glib_uri(file.path());
    let playbin = gst::ElementFactory::make("playbin")
        .property("uri", &uri)
        .build()
        .unwrap();
    let sink = gst_app::AppSink::builder().build();
    playbin.set_property("video-sink", &sink);
    let playbin = playbin.downcast::<gst::Pipeline>().unwrap();
    // Seek in the decoded stream, like a player's seek bar.
    let out = run_with(&playbin, &sink, |p| {
        seek(p, 1.0, gst::ClockTime::from_mseconds(500), None)
    });
    assert!(out.eos, "{:?}", out.error);
    assert_eq!(out.frames.len(), 12, "frames 12..24 after seeking to 0.5 s");
    assert_eq!(out.frames[0].pts, Some(gst::ClockTime::from_mseconds(500)));
}

#[test]
fn typefinder_does_not_claim_plain_jpeg() {
    let bytes = encoded_movie(1, 64, 48, 80, "smpte");
    let jpeg = &frames_of(&bytes)[0];
    let file = write_temp(jpeg);
    let info = discover(file.path());
    let caps = info.stream_info().unwrap().caps().unwrap();
    assert_eq!(caps.structure(0).unwrap().name(), "image/jpeg");
}
