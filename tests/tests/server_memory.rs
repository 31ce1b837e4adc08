//! What clients that never read cost the server: its queue for each
//! connection is bounded in bytes (about one second of media, at most
//! 4 MiB), so four TCP-interleaved clients that stop reading hold a few MiB,
//! not hundreds of frames each. Alone in its own test binary, so the
//! process's memory is the server's and this test's.

use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Before the fix the queue held 256 whole frames per connection: with these
/// ~78 KB frames, four stuck clients grew the process by ~80 MB.
#[test]
fn clients_that_never_read_hold_a_bounded_queue() {
    let dir = tempfile::tempdir().unwrap();
    let movie = encoded_movie(24, 384, 288, 90, "snow");
    let frames = frames_of(&movie);
    let average = frames.iter().map(Vec::len).sum::<usize>() / frames.len();
    assert!(average > 50_000, "large frames: {average} bytes");
    std::fs::write(dir.path().join("movie.Mjpeg"), &movie).unwrap();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    config.fps = mjpegrtsp::timing::FrameRate::new(120, 1).unwrap();
    let server = TestServer::start_with(config);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes();

    let url = format!("rtsp://{}/movie.Mjpeg", server.addr);
    let stuck: Vec<TcpStream> = (0..4)
        .map(|_| {
            let (mut ctl, reply) = interleaved_setup(&server);
            let session = session_id(&reply);
            ctl.write_all(
                format!("PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n").as_bytes(),
            )
            .unwrap();
            ctl // never read again
        })
        .collect();
    // 4 s at 120 fps: 480 frames (37 MB) offered to each connection.
    std::thread::sleep(Duration::from_secs(4));
    let grown = rss_bytes().saturating_sub(before);
    let mib = grown as f64 / f64::from(1 << 20);
    println!("4 stuck clients: process grew {mib:.1} MiB");
    assert!(
        mib < 28.0,
        "at most 4 MiB queued per connection (plus slack): grew {mib:.1} MiB"
    );
    assert_eq!(server.sessions(), 4);
    drop(stuck);
    wait_until(|| server.sessions() == 0);
}
