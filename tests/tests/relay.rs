//! Relays (`LiveMount::relay`, `server-cli --relay PATH=URL`) on loopback:
//! one upstream session, opened at the first viewer and shared by all,
//! closed after the last leaves; an upstream that goes away is tried again
//! and its viewers get frames again, without setting up anew.

use mjpegrtsp::client::{ClientOptions, TransportPreference};
use mjpegrtsp::server::{LiveMount, ServerConfig};
use mjpegrtsp_tests::rtsp_text::wait_within;
use mjpegrtsp_tests::*;
use std::time::Duration;

fn upstream(dir: &std::path::Path, port: u16) -> TestServer {
    let mut config = ServerConfig::new(dir);
    config.looping = true;
    config.port = port;
    TestServer::start_with(config)
}

fn relay_of(url: &str) -> (tempfile::TempDir, TestServer) {
    let empty = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(empty.path());
    config.live = vec![LiveMount::relay("door", url)];
    (empty, TestServer::start_with(config))
}

#[test]
fn viewers_share_one_upstream_session_opened_on_demand() {
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let up = upstream(dir.path(), 0);
    let (_empty, relay) = relay_of(&format!("rtsp://{}/movie.Mjpeg", up.addr));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(up.sessions(), 0, "nothing upstream before a viewer");
    let url = format!("rtsp://{}/door", relay.addr);
    block_on(async {
        let mut viewers = Vec::new();
        for transport in [
            TransportPreference::Udp,
            TransportPreference::Tcp,
            TransportPreference::Udp,
        ] {
            let options = ClientOptions {
                transport,
                ..ClientOptions::default()
            };
            viewers.push(playing(&url, options).await);
        }
        for (i, (_, events)) in viewers.iter_mut().enumerate() {
            let (frames, _) = collect_frames(events, 24, Duration::from_secs(10)).await;
            assert_eq!(frames.len(), 24, "viewer {i}");
            assert!(frames.iter().all(|f| f.jpeg.starts_with(&[0xFF, 0xD8])));
        }
        assert_eq!(up.sessions(), 1, "one upstream session for three viewers");
        for (mut session, _) in viewers {
            session.teardown().await.unwrap();
        }
    });
    // Closed a few seconds after the last viewer left.
    wait_within("the upstream session closed", 10, || up.sessions() == 0);
}

#[test]
fn a_lost_upstream_is_tried_again_and_viewers_resume() {
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let up = upstream(dir.path(), 0);
    let port = up.addr.port();
    let (_empty, relay) = relay_of(&format!("rtsp://{}/movie.Mjpeg", up.addr));
    let url = format!("rtsp://{}/door", relay.addr);
    block_on(async {
        let (mut session, mut events) = playing(&url, ClientOptions::default()).await;
        let (frames, _) = collect_frames(&mut events, 12, Duration::from_secs(10)).await;
        assert_eq!(frames.len(), 12);
        drop(up); // the upstream goes away…
        tokio::time::sleep(Duration::from_secs(1)).await;
        let up = upstream(dir.path(), port); // …and comes back on its port
        let (frames, _) = collect_frames(&mut events, 24, Duration::from_secs(15)).await;
        assert_eq!(frames.len(), 24, "frames again on the same session");
        assert_eq!(up.sessions(), 1);
        session.teardown().await.unwrap();
    });
}

/// The relay of a peer's stream: two viewers get whole frames.
fn relays_a_peer(url: &str) {
    let (_empty, relay) = relay_of(url);
    let url = format!("rtsp://{}/door", relay.addr);
    block_on(async {
        let (mut a, mut a_events) = playing(&url, ClientOptions::default()).await;
        let (mut b, mut b_events) = playing(&url, ClientOptions::default()).await;
        for events in [&mut a_events, &mut b_events] {
            let (frames, _) = collect_frames(events, 24, Duration::from_secs(10)).await;
            assert_eq!(frames.len(), 24, "{url}");
            assert!(
                frames
                    .iter()
                    .all(|f| mjpegrtsp::container::is_whole_jpeg(&f.jpeg))
            );
        }
        a.teardown().await.unwrap();
        b.teardown().await.unwrap();
    });
}

#[test]
fn relays_gst_rtsp_server_and_the_classic_dialect() {
    let dir = movie_dir(96, 160, 120, 70, "ball");
    let movie = dir.path().join("movie.Mjpeg");
    let (_gst, url) = gst_server(&movie, &["--loop"]);
    relays_a_peer(&url);
    let (_classic, url) = classic_server(&movie, &[]);
    relays_a_peer(&url);
}

/// An origin and two edges that relay it, 100 viewers on each edge: the
/// origin sees exactly two sessions, every viewer gets frames.
#[test]
fn origin_with_two_edges_sees_two_sessions_for_two_hundred_viewers() {
    let dir = movie_dir(48, 160, 120, 70, "ball");
    let origin = upstream(dir.path(), 0);
    let source = format!("rtsp://{}/movie.Mjpeg", origin.addr);
    let (_a, edge_a) = relay_of(&source);
    let (_b, edge_b) = relay_of(&source);
    block_on(async {
        let mut viewers = Vec::new();
        for edge in [&edge_a, &edge_b] {
            let url = format!("rtsp://{}/door", edge.addr);
            for _ in 0..100 {
                viewers.push(playing(&url, ClientOptions::default()).await);
            }
        }
        for (i, (_, events)) in viewers.iter_mut().enumerate() {
            let (frames, _) = collect_frames(events, 12, Duration::from_secs(10)).await;
            assert_eq!(frames.len(), 12, "viewer {i}");
        }
        assert_eq!((edge_a.sessions(), edge_b.sessions()), (100, 100));
        assert_eq!(origin.sessions(), 2, "one session per edge");
        for (mut session, _) in viewers {
            let _ = session.teardown().await;
        }
    });
}

/// An `rtsps://` upstream with a self-signed certificate: relayed when the
/// relay trusts it (`relay_ca_file`, `server-cli --relay-ca`), never
/// without (the relay keeps trying; its viewers get no frames).
#[test]
fn relays_an_rtsps_upstream_it_trusts_with_a_ca_file() {
    let (dir, up) = mjpegrtsp_tests::tls::tls_server_with(false);
    let upstream = format!("rtsps://{}/movie.Mjpeg", up.tls_addr.unwrap());
    for trusted in [true, false] {
        let empty = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(empty.path());
        config.live = vec![LiveMount::relay("door", &upstream)];
        config.relay_ca_file = trusted.then(|| mjpegrtsp_tests::tls::cert_of(&dir));
        let relay = TestServer::start_with(config);
        let url = format!("rtsp://{}/door", relay.addr);
        block_on(async {
            let (mut session, mut events) = playing(&url, ClientOptions::default()).await;
            let (frames, _) = collect_frames(&mut events, 12, Duration::from_secs(4)).await;
            if trusted {
                assert_eq!(frames.len(), 12, "relayed over TLS");
            } else {
                assert!(
                    frames.is_empty(),
                    "an upstream it cannot verify is not played"
                );
            }
            session.teardown().await.unwrap();
        });
    }
}
