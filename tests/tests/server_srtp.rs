//! SRTP (RFC 3711; keys by SDES and MIKEY) for `rtsps://` sessions: what
//! crosses the loopback wire is not JPEG, and four decoders read it: this
//! project's client (UDP), libsrtp2 through GStreamer's `srtpdec` (the UDP
//! packets captured), `rtspsrc` (MIKEY, UDP) and ffmpeg's own (interleaved
//! inside TLS).

use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, TlsOptions, TransportPreference};
use mjpegrtsp::rtp::srtp::MasterKey;
use mjpegrtsp_tests::capture::{Datagram, LoopbackCapture};
use mjpegrtsp_tests::*;
use std::process::Command;
use std::time::Duration;

/// The capture sees every test's UDP on `lo`: these tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// RTP payloads (header and, for SRTP, tag left out) of the PT 26 packets
/// seen.
fn jpeg_payloads(seen: &[Datagram], tag: usize) -> Vec<&[u8]> {
    seen.iter()
        .map(|d| &d.payload[..])
        .filter(|p| p.len() > 12 + tag && p[0] == 0x80 && p[1] & 0x7F == 26)
        .map(|p| &p[12..p.len() - tag])
        .collect()
}

/// Of the 0xFF bytes in `payloads`, the share that JPEG entropy-coded data
/// allows (followed by 0x00 stuffing, a restart marker or the end of image):
/// all of them in clear, about 10 in 256 in random bytes.
fn jpeg_shaped_share(payloads: &[&[u8]]) -> (usize, f64) {
    let (mut ff, mut shaped) = (0usize, 0usize);
    for p in payloads {
        for w in scan_data(p).windows(2) {
            if w[0] == 0xFF {
                ff += 1;
                if w[1] == 0x00 || (0xD0..=0xD7).contains(&w[1]) || w[1] == 0xD9 {
                    shaped += 1;
                }
            }
        }
    }
    (ff, shaped as f64 / ff.max(1) as f64)
}

/// What follows the RFC 2435 headers of `payload`, read as if in clear:
/// the 8-byte main header, then in a frame's first packet with Q ≥ 128 the
/// quantization table header and tables (RFC 2435 §3.1).
fn scan_data(payload: &[u8]) -> &[u8] {
    let offset = u32::from_be_bytes([0, payload[1], payload[2], payload[3]]);
    let mut at = 8;
    if payload[4] >= 64 {
        at += 4; // restart marker header
    }
    if offset == 0 && payload[5] >= 128 && payload.len() >= at + 4 {
        at += 4 + usize::from(u16::from_be_bytes([payload[at + 2], payload[at + 3]]));
    }
    payload.get(at..).unwrap_or_default()
}

/// Plays `url` over UDP with the client library, capturing `lo` meanwhile;
/// the datagrams seen and the SRTP key the description gave.
fn play_captured(url: &str, tls: TlsOptions) -> (Vec<Datagram>, Option<MasterKey>) {
    let capture = match LoopbackCapture::start() {
        Ok(c) => c,
        Err(e) => panic!("a packet capture needs root or CAP_NET_RAW: {e}"),
    };
    let options = ClientOptions {
        transport: TransportPreference::Udp,
        tls,
        ..ClientOptions::default()
    };
    let key = block_on(async {
        let (session, mut events) = playing(url, options).await;
        let (frames, _) = collect_frames(&mut events, 24, Duration::from_secs(10)).await;
        assert_eq!(frames.len(), 24, "{url}");
        assert!(frames.iter().all(|f| f.jpeg.starts_with(&[0xFF, 0xD8])));
        session.description().and_then(|d| d.srtp.clone())
    });
    (capture.stop(), key)
}

/// Decodes SRTP `packets` with libsrtp2 (GStreamer's `srtpdec`) and
/// `jpegdec`: the frames decoded.
fn libsrtp_decodes(packets: &[&[u8]], key: &MasterKey) -> usize {
    let ssrc = u32::from_be_bytes(packets[0][8..12].try_into().unwrap());
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let caps = format!(
        "application/x-srtp,media=video,clock-rate=90000,encoding-name=JPEG,payload=26,\
         ssrc=(uint){ssrc},roc=(uint)0,srtp-key=(buffer){hex},srtp-cipher=aes-128-icm,\
         srtp-auth=hmac-sha1-80,srtcp-cipher=aes-128-icm,srtcp-auth=hmac-sha1-80"
    );
    let (pipeline, sink) = pipeline::launch_with_appsink(&format!(
        "appsrc name=src caps=\"{caps}\" format=time ! srtpdec ! rtpjpegdepay ! jpegdec \
         ! appsink name=sink"
    ));
    // Queued before the pipeline starts, so that it prerolls at once.
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    for packet in packets {
        src.push_buffer(gst::Buffer::from_slice(packet.to_vec()))
            .unwrap();
    }
    src.end_of_stream().unwrap();
    let out = pipeline::run_with(&pipeline, &sink, |_| {});
    assert!(out.error.is_none(), "{:?}", out.error);
    out.frames.len()
}

#[test]
fn the_wire_carries_no_jpeg_and_the_client_decodes_it() {
    let _turn = turn();
    let (dir, server) = tls_server();
    let trust = TlsOptions {
        verify: true,
        ca_file: Some(cert_of(&dir)),
    };
    // In clear first, on the plain port: the same check must see JPEG.
    let (seen, key) = play_captured(
        &format!("rtsp://{}/movie.Mjpeg", server.addr),
        trust.clone(),
    );
    assert!(key.is_none());
    let (ff, share) = jpeg_shaped_share(&jpeg_payloads(&seen, 0));
    assert!(
        ff > 40 && share > 0.95,
        "plain RTP: {ff} 0xFF, {share:.3} JPEG-shaped"
    );

    let (seen, key) = play_captured(
        &format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap()),
        trust,
    );
    let sealed = jpeg_payloads(&seen, mjpegrtsp::rtp::srtp::RTP_OVERHEAD);
    let (ff, share) = jpeg_shaped_share(&sealed);
    assert!(sealed.len() >= 24, "{} SRTP packets", sealed.len());
    assert!(
        ff > 40 && share < 0.2,
        "SRTP: {ff} 0xFF, {share:.3} JPEG-shaped"
    );
    // No packet starts as RFC 2435 does: type-specific 0, fragment offset 0.
    let clear_starts = sealed.iter().filter(|p| p[..4] == [0, 0, 0, 0]).count();
    assert!(clear_starts <= 1, "{clear_starts} payloads start in clear");
    // SRTCP: sender reports whose E flag is set (RFC 3711 §3.4).
    let srtcp = seen
        .iter()
        .filter(|d| d.payload.len() > 14 && d.payload[1] == 200)
        .map(|d| &d.payload[d.payload.len() - 14..])
        .collect::<Vec<_>>();
    assert!(!srtcp.is_empty() && srtcp.iter().all(|tail| tail[0] & 0x80 != 0));
    // libsrtp2, the reference implementation, decodes what was captured.
    let packets: Vec<&[u8]> = seen
        .iter()
        .map(|d| &d.payload[..])
        .filter(|p| p.len() > 22 && p[0] == 0x80 && p[1] & 0x7F == 26)
        .collect();
    let decoded = libsrtp_decodes(&packets, &key.expect("an SRTP key"));
    assert!(decoded >= 23, "libsrtp2 + jpegdec: {decoded} frames");
}

#[test]
fn ffmpeg_decodes_srtp_frames_inside_rtsps() {
    let _turn = turn();
    let (_dir, server) = tls_server();
    let out = Command::new("timeout")
        .args(["30", "ffmpeg", "-nostdin", "-loglevel", "warning", "-stats"])
        .args(["-rtsp_transport", "tcp", "-i"])
        .arg(format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap()))
        .args(["-frames:v", "36", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("frame=   36"), "{text}");
    assert!(!text.contains("HMAC mismatch"), "{text}");
}

#[test]
fn rtspsrc_decodes_srtp_over_udp_with_the_mikey_key() {
    let _turn = turn();
    let (_dir, server) = tls_server();
    let tls = server.tls_addr.unwrap();
    let out = run_for(
        &format!(
            "rtspsrc location=rtsps://{tls}/movie.Mjpeg tls-validation-flags=0 protocols=udp \
             ! rtpjpegdepay ! jpegdec ! appsink name=sink"
        ),
        2000,
    );
    out.assert_played(30);
}

#[test]
fn no_srtp_serves_rtp_avp_and_a_setup_needs_its_own_describe() {
    let _turn = turn();
    let (_dir, server) = tls_server_with(false);
    let url = format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap());
    let options = ClientOptions {
        transport: TransportPreference::Udp,
        tls: TlsOptions {
            verify: false,
            ca_file: None,
        },
        ..ClientOptions::default()
    };
    block_on(async {
        let (session, mut events) = playing(&url, options.clone()).await;
        assert!(session.description().unwrap().srtp.is_none());
        let (frames, _) = collect_frames(&mut events, 12, Duration::from_secs(10)).await;
        assert_eq!(frames.len(), 12);
    });
    // With SRTP, a key serves one session: a second SETUP must describe again.
    let (_dir, server) = tls_server();
    let url = format!("rtsps://{}/movie.Mjpeg", server.tls_addr.unwrap());
    block_on(async {
        let mut s = mjpegrtsp::client::Session::connect(&url, options)
            .await
            .unwrap();
        s.describe().await.unwrap();
        let d = s.description().unwrap();
        assert!(d.srtp.is_some());
        // The key is never shown: not by the description's Debug either.
        let key = mjpegrtsp::rtsp::auth::base64(d.srtp.as_ref().unwrap().as_bytes());
        let shown = format!("{d:?}");
        assert!(
            !shown.contains(&key[..20]) && shown.contains("MasterKey(..)"),
            "{shown}"
        );
        s.setup().await.unwrap();
        s.teardown().await.unwrap();
        let e = s.setup().await.unwrap_err();
        assert!(e.to_string().contains("DESCRIBE"), "{e}");
    });
}
