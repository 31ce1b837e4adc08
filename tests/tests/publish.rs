//! Publishing (`ServerConfig::publish`, `server-cli --publish`) on loopback:
//! ffmpeg (`-f rtsp`) and GStreamer's `rtspclientsink` announce and record
//! MJPEG over TCP and UDP, and this project's client, ffprobe, `rtspsrc`
//! and `mjpegrtspsrc` watch it live; a publisher written here in raw RTSP
//! checks that frames arrive whole, that the path is freed (and its viewers
//! told with a BYE) when the publisher leaves or falls silent, and the
//! refusals: a taken path, a file's path, publishing off, a user not allowed
//! to publish.

use mjpegrtsp::client::{ClientOptions, EndReason, TransportPreference};
use mjpegrtsp::rtp::RtpHeader;
use mjpegrtsp::server::ServerConfig;
use mjpegrtsp_tests::rtsp_text::*;
use mjpegrtsp_tests::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A publishing process, killed when dropped.
struct Publisher(Child);

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publishing_server(configure: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, TestServer) {
    let dir = movie_dir(24, 160, 120, 70, "ball");
    let mut config = ServerConfig::new(dir.path());
    config.publish = true;
    configure(&mut config);
    let server = TestServer::start_with(config);
    (dir, server)
}

/// ffmpeg encoding a 320×240 test pattern to MJPEG and publishing it at
/// `url` over `transport` (`tcp` or `udp`), in real time.
fn ffmpeg_publish(url: &str, transport: &str) -> Publisher {
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi"])
        .args(["-i", "testsrc=size=320x240:rate=25"])
        // RFC 2435 carries JPEG with the standard Huffman tables only.
        .args([
            "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-huffman", "default",
        ])
        .args(["-q:v", "5"])
        .args(["-f", "rtsp", "-rtsp_transport", transport])
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    Publisher(child)
}

/// `rtspclientsink` publishing a live 320×240 test pattern (jpegenc, 4:2:0)
/// at `url` over `protocols` (`tcp` or `udp`).
fn gst_publish(url: &str, protocols: &str) -> Publisher {
    let child = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "is-live=true", "!"])
        .args([
            "video/x-raw,format=I420,width=320,height=240,framerate=25/1",
            "!",
            "jpegenc",
            "!",
            "rtspclientsink",
        ])
        .arg(format!("location={url}"))
        .arg(format!("protocols={protocols}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 runs (apt install gstreamer1.0-rtsp)");
    Publisher(child)
}

/// The reply to a DESCRIBE of `path` (empty when nothing listens).
fn describe(server: SocketAddr, path: &str) -> String {
    let Ok(mut ctl) = TcpStream::connect(server) else {
        return String::new();
    };
    rtsp_request(
        &mut ctl,
        &format!("DESCRIBE rtsp://{server}/{path} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    )
}

fn describe_status(server: SocketAddr, path: &str) -> u16 {
    match describe(server, path) {
        reply if reply.is_empty() => 0,
        reply => status(&reply),
    }
}

/// Waits until `path` is being published and has had a frame (its
/// DESCRIBE answers 200 with a size).
fn wait_published(server: SocketAddr, path: &str) {
    wait_within(&format!("/{path} published"), 20, || {
        let reply = describe(server, path);
        !reply.is_empty() && status(&reply) == 200 && reply.contains("a=x-dimensions:")
    });
}

/// This project's client watches `url`: `count` frames, each a whole
/// 320×240 JPEG.
fn watch(url: &str, transport: TransportPreference, count: usize) {
    block_on(async {
        let options = ClientOptions {
            transport,
            ..ClientOptions::default()
        };
        let (mut session, mut events) = playing(url, options).await;
        let (frames, end) = collect_frames(&mut events, count, Duration::from_secs(15)).await;
        assert_eq!(frames.len(), count, "{url}: ended {end:?}");
        for f in &frames {
            let info = mjpegrtsp::container::jpeg::parse_info(&f.jpeg).unwrap();
            assert_eq!((info.width, info.height), (320, 240));
            assert!(f.jpeg.ends_with(&[0xFF, 0xD9]));
        }
        let _ = session.teardown().await;
    });
}

fn ffprobe(url: &str) -> String {
    let out = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", "tcp"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn ffmpeg_publishes_over_tcp_and_udp_and_standard_clients_watch() {
    for transport in ["tcp", "udp"] {
        let (_dir, server) = publishing_server(|_| {});
        let url = format!("rtsp://{}/cams/ffmpeg", server.addr);
        let publisher = ffmpeg_publish(&url, transport);
        wait_published(server.addr, "cams/ffmpeg");
        watch(&url, TransportPreference::Udp, 25);
        watch(&url, TransportPreference::Tcp, 25);
        assert_eq!(
            ffprobe(&url),
            "mjpeg,320,240",
            "ffprobe watching, {transport}"
        );
        let watched = run_for(
            &format!("rtspsrc location={url} protocols=udp ! rtpjpegdepay ! appsink name=sink"),
            3000,
        );
        watched.assert_played(25);
        // The publisher goes: the path is free again.
        drop(publisher);
        wait_within("the path freed", 10, || {
            describe_status(server.addr, "cams/ffmpeg") == 404
        });
        assert_eq!(server.sessions(), 0);
    }
}

#[test]
fn rtspclientsink_publishes_over_tcp_and_udp_and_mjpegrtspsrc_watches() {
    for protocols in ["tcp", "udp"] {
        let (_dir, server) = publishing_server(|_| {});
        let url = format!("rtsp://{}/gst", server.addr);
        let _publisher = gst_publish(&url, protocols);
        wait_published(server.addr, "gst");
        let watched = run_for(
            &format!("mjpegrtspsrc location={url} ! appsink name=sink"),
            3000,
        );
        watched.assert_played(25);
        for f in &watched.frames {
            let info = mjpegrtsp::container::jpeg::parse_info(&f.data).unwrap();
            assert_eq!((info.width, info.height), (320, 240), "{protocols}");
        }
        watch(&url, TransportPreference::Udp, 10);
    }
}

const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=control:streamid=0\r\n";

fn announce(ctl: &mut TcpStream, url: &str, sdp: &str) -> String {
    rtsp_request(
        ctl,
        &format!(
            "ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    )
}

/// A publisher in raw RTSP: announced, set up with `transport` and
/// recording.
struct RawPublisher {
    ctl: TcpStream,
    session: String,
    /// UDP: the socket and the server's RTP port.
    udp: Option<(UdpSocket, SocketAddr)>,
    seq: u16,
}

impl RawPublisher {
    fn start(server: SocketAddr, path: &str, udp: bool) -> RawPublisher {
        let url = format!("rtsp://{server}/{path}");
        let mut ctl = TcpStream::connect(server).unwrap();
        let reply = announce(&mut ctl, &url, SDP);
        assert_eq!(status(&reply), 200, "{reply}");
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let transport = if udp {
            format!(
                "RTP/AVP/UDP;unicast;client_port={port}-{};mode=record",
                port + 1
            )
        } else {
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record".to_owned()
        };
        let reply = rtsp_request(
            &mut ctl,
            &format!(
                "SETUP {url}/streamid=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: {transport}\r\n\r\n"
            ),
        );
        assert_eq!(status(&reply), 200, "{reply}");
        let answered = header(&reply, "Transport").unwrap().to_owned();
        assert!(answered.contains("mode=\"RECORD\""), "{answered}");
        let session = session_id(&reply);
        let udp = udp.then(|| {
            let ports = answered.split("server_port=").nth(1).unwrap();
            let rtp: u16 = ports.split('-').next().unwrap().parse().unwrap();
            (socket, SocketAddr::from(([127, 0, 0, 1], rtp)))
        });
        let reply = rtsp_request(
            &mut ctl,
            &format!(
                "RECORD {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\nRange: npt=0.000-\r\n\r\n"
            ),
        );
        assert_eq!(status(&reply), 200, "{reply}");
        RawPublisher {
            ctl,
            session,
            udp,
            seq: 1000,
        }
    }

    /// Sends `jpeg` as RFC 2435 packets with timestamp `ts`.
    fn send(&mut self, jpeg: &[u8], ts: u32) {
        let packets = mjpegrtsp::rtp::rfc2435::packetize(jpeg, 1400).unwrap();
        let mut bytes = Vec::new();
        let first = RtpHeader {
            marker: false,
            payload_type: 26,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: 0x1234_5678,
        };
        self.seq = packets.write_packets(first, &mut bytes).unwrap();
        let len = 12 + packets.segment_len();
        for datagram in bytes.chunks(len) {
            match &self.udp {
                Some((socket, to)) => {
                    socket.send_to(datagram, to).unwrap();
                }
                None => {
                    let mut framed = Vec::new();
                    mjpegrtsp::rtsp::encode_interleaved(0, datagram, &mut framed).unwrap();
                    self.ctl.write_all(&framed).unwrap();
                }
            }
        }
    }
}

#[test]
fn frames_arrive_whole_and_the_path_is_freed_when_the_publisher_leaves() {
    let (dir, server) = publishing_server(|_| {});
    let movie = frames_of(&std::fs::read(dir.path().join("movie.Mjpeg")).unwrap());
    for udp in [false, true] {
        let movie = movie.clone();
        // A path of its own each round: the round before ends with a client
        // announcing there, and its leaving is noticed a moment later.
        let path = if udp { "raw-udp" } else { "raw-tcp" };
        let url = format!("rtsp://{}/{path}", server.addr);
        let mut publisher = RawPublisher::start(server.addr, path, udp);
        // A second publisher at the taken path is refused, as is a SETUP
        // to record without ANNOUNCE, and PLAY on a recording session.
        let mut other = TcpStream::connect(server.addr).unwrap();
        assert_eq!(status(&announce(&mut other, &url, SDP)), 403);
        let reply = rtsp_request(
            &mut other,
            &format!(
                "SETUP {url}/streamid=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n"
            ),
        );
        assert_eq!(status(&reply), 455, "{reply}");
        let reply = rtsp_request(
            &mut publisher.ctl,
            &format!(
                "PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: {}\r\n\r\n",
                publisher.session
            ),
        );
        assert_eq!(status(&reply), 455, "{reply}");
        if !udp {
            // A session played on the publisher's connection cannot take its
            // channels.
            let play_url = format!("rtsp://{}/movie.Mjpeg", server.addr);
            let setup = |interleaved: &str| {
                format!(
                    "SETUP {play_url} RTSP/1.0\r\nCSeq: 5\r\nTransport: RTP/AVP/TCP;unicast{interleaved}\r\n\r\n"
                )
            };
            let reply = rtsp_request(&mut publisher.ctl, &setup(";interleaved=0-1"));
            assert_eq!(status(&reply), 461, "{reply}");
            let reply = rtsp_request(&mut publisher.ctl, &setup(""));
            assert_eq!(status(&reply), 200, "{reply}");
            let answered = header(&reply, "Transport").unwrap();
            assert!(answered.contains("interleaved=2-3"), "{answered}");
        }
        publisher.send(&movie[0], 0);
        wait_published(server.addr, path);
        block_on(async {
            let options = ClientOptions {
                transport: TransportPreference::Udp,
                ..ClientOptions::default()
            };
            let (_session, mut events) = playing(&url, options).await;
            let sender = std::thread::spawn(move || {
                for (i, jpeg) in movie.iter().enumerate().cycle().take(60) {
                    publisher.send(jpeg, i as u32 * 3750);
                    std::thread::sleep(Duration::from_millis(20));
                }
                // The publisher leaves: its connection closes.
                drop(publisher);
            });
            let (frames, end) = collect_frames(&mut events, 200, Duration::from_secs(15)).await;
            sender.join().unwrap();
            assert!(frames.len() >= 40, "{} frames, {udp}", frames.len());
            for f in &frames {
                let info = mjpegrtsp::container::jpeg::parse_info(&f.jpeg).unwrap();
                assert_eq!((info.width, info.height), (160, 120));
                assert!(f.jpeg.ends_with(&[0xFF, 0xD9]));
            }
            assert_eq!(
                end,
                Some(EndReason::Bye),
                "viewers are told the stream ended"
            );
        });
        wait_within("the path freed", 5, || {
            describe_status(server.addr, path) == 404
        });
        // Free again: another client may publish there.
        let mut again = TcpStream::connect(server.addr).unwrap();
        assert_eq!(status(&announce(&mut again, &url, SDP)), 200);
    }
}

#[test]
fn a_silent_udp_publisher_frees_the_path_after_the_session_timeout() {
    let (dir, server) = publishing_server(|c| c.session_timeout = Duration::from_secs(2));
    let movie = frames_of(&std::fs::read(dir.path().join("movie.Mjpeg")).unwrap());
    let mut publisher = RawPublisher::start(server.addr, "quiet", true);
    for (i, jpeg) in movie.iter().take(5).enumerate() {
        publisher.send(jpeg, i as u32 * 3750);
    }
    wait_published(server.addr, "quiet");
    // Its control connection stays open, but no packet comes.
    wait_within("the path freed", 8, || {
        describe_status(server.addr, "quiet") == 404
    });
    drop(publisher);
}

#[test]
fn refusals_name_why() {
    let (_dir, server) = publishing_server(|_| {});
    let mut ctl = TcpStream::connect(server.addr).unwrap();
    let base = format!("rtsp://{}", server.addr);
    let h264 = SDP.replace("RTP/AVP 26", "RTP/AVP 96") + "a=rtpmap:96 H264/90000\r\n";
    let reply = announce(&mut ctl, &format!("{base}/h264"), &h264);
    assert_eq!(status(&reply), 415, "{reply}");
    assert!(reply.contains("H264"), "{reply}");
    let reply = announce(&mut ctl, &format!("{base}/movie.Mjpeg"), SDP);
    assert_eq!(status(&reply), 403, "a file's path: {reply}");
    let reply = announce(&mut ctl, &format!("{base}/"), SDP);
    assert_eq!(status(&reply), 400, "no path: {reply}");
    let reply = rtsp_request(
        &mut ctl,
        &format!("OPTIONS {base}/ RTSP/1.0\r\nCSeq: 9\r\n\r\n"),
    );
    assert!(
        header(&reply, "Public")
            .unwrap()
            .contains("ANNOUNCE, RECORD")
    );

    // A publisher counts as a session of its address against the maximums.
    let (_dir, one_each) = publishing_server(|c| c.max_sessions_per_address = 1);
    let mut first = TcpStream::connect(one_each.addr).unwrap();
    let at = |path: &str| format!("rtsp://{}/{path}", one_each.addr);
    assert_eq!(status(&announce(&mut first, &at("one"), SDP)), 200);
    let mut second = TcpStream::connect(one_each.addr).unwrap();
    let reply = announce(&mut second, &at("two"), SDP);
    assert_eq!(status(&reply), 453, "{reply}");
    drop(first);
    wait_within("the first publisher's slot back", 5, || {
        let mut again = TcpStream::connect(one_each.addr).unwrap();
        status(&announce(&mut again, &at("two"), SDP)) == 200
    });
    drop(second);

    // Without --publish: 405 naming the flag, and no ANNOUNCE in Public.
    let dir = movie_dir(4, 160, 120, 70, "ball");
    let plain = TestServer::start(dir.path(), false);
    let mut ctl = TcpStream::connect(plain.addr).unwrap();
    let reply = announce(&mut ctl, &format!("rtsp://{}/pub", plain.addr), SDP);
    assert_eq!(status(&reply), 405, "{reply}");
    assert!(reply.contains("--publish"), "{reply}");
    assert!(!header(&reply, "Public").unwrap().contains("ANNOUNCE"));
    let reply = rtsp_request(
        &mut ctl,
        &format!(
            "SETUP rtsp://{}/pub/streamid=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n",
            plain.addr
        ),
    );
    assert_eq!(status(&reply), 461, "{reply}");
}

#[test]
fn with_users_only_a_user_allowed_to_publish_there_publishes() {
    use mjpegrtsp::server::users::User;
    let (_dir, server) = publishing_server(|c| {
        let mut access = test_users(&["**"]);
        access
            .users
            .set(User::new(
                "cam",
                "mjpegrtsp",
                "lens",
                vec!["publish=cams/*".into()],
            ))
            .unwrap();
        c.access = Some(access);
    });
    let at = |user: &str, path: &str| format!("rtsp://{user}@{}/{path}", server.addr);
    // alice may play everything, public mounts included, but not publish.
    let mut refused = ffmpeg_publish(&at("alice:s3cret", "cams/door"), "tcp");
    let exited = (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        refused.0.try_wait().unwrap()
    });
    assert!(
        exited.is_some_and(|s| !s.success()),
        "alice's publish fails"
    );
    // cam may publish under cams/, and nowhere else.
    let mut elsewhere = TcpStream::connect(server.addr).unwrap();
    assert_eq!(
        status(&announce(
            &mut elsewhere,
            &format!("rtsp://{}/door", server.addr),
            SDP
        )),
        401
    );
    let _publisher = ffmpeg_publish(&at("cam:lens", "cams/door"), "udp");
    wait_published(server.addr, "cams/door");
    let url = format!("rtsp://{}/cams/door", server.addr);
    watch(&url, TransportPreference::Udp, 10);
}
