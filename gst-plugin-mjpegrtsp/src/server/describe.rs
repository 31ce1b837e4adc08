//! The SDP a DESCRIBE answers with, for a file and for the live source.

use super::live::LiveSource;
use super::media::MediaFile;
use std::net::IpAddr;

/// The SDP for one file served as RFC 2435 JPEG.
pub(super) fn file_sdp(media: &MediaFile, host: IpAddr) -> String {
    let origin = if host.is_ipv6() {
        "IP6 ::1"
    } else {
        "IP4 127.0.0.1"
    };
    let framerate = format_rate(media.rate.num(), media.rate.den());
    format!(
        "v=0\r\no=- {} 1 IN {origin}\r\ns={}\r\nt=0 0\r\na=tool:mjpegrtsp\r\na=type:broadcast\r\na=control:*\r\n\
         a=range:npt=0-{:.3}\r\nm=video 0 RTP/AVP 26\r\nc=IN {origin}\r\nb=AS:{}\r\na=rtpmap:26 JPEG/90000\r\n\
         a=framerate:{framerate}\r\na=x-dimensions:{},{}\r\na=control:stream=0\r\n",
        media.id,
        media.mount,
        media.duration_secs(),
        bitrate_kbps(media),
        media.info.width,
        media.info.height,
    )
    .replace("IN IP4 127.0.0.1\r\nb", "IN IP4 0.0.0.0\r\nb")
    .replace("IN IP6 ::1\r\nb", "IN IP6 ::\r\nb")
}

/// The SDP for the live source.
pub(super) fn live_sdp(live: &LiveSource, host: IpAddr) -> String {
    let ip = if host.is_ipv6() {
        "IP6 ::"
    } else {
        "IP4 0.0.0.0"
    };
    let origin = if host.is_ipv6() {
        "IP6 ::1"
    } else {
        "IP4 127.0.0.1"
    };
    let mut sdp = format!(
        "v=0\r\no=- {} 1 IN {origin}\r\ns=live\r\nt=0 0\r\na=tool:mjpegrtsp\r\na=type:broadcast\r\na=control:*\r\n\
         a=range:npt=now-\r\nm=video 0 RTP/AVP 26\r\nc=IN {ip}\r\na=rtpmap:26 JPEG/90000\r\n",
        live.id
    );
    if let Some(info) = live.info() {
        if let Some((num, den)) = info.fps {
            sdp.push_str(&format!("a=framerate:{}\r\n", format_rate(num, den)));
        }
        sdp.push_str(&format!(
            "a=x-dimensions:{},{}\r\n",
            info.width, info.height
        ));
    }
    sdp.push_str("a=control:stream=0\r\n");
    sdp
}

/// `24` for 24/1, `29.970` for 30000/1001.
fn format_rate(num: i32, den: i32) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{:.3}", f64::from(num) / f64::from(den))
    }
}

/// Average bitrate of a file at its frame rate, in kbit/s.
fn bitrate_kbps(media: &MediaFile) -> u64 {
    let secs = media.duration_secs();
    if secs <= 0.0 {
        return 0;
    }
    (media.index.size() as f64 * 8.0 / secs / 1000.0).ceil() as u64
}
