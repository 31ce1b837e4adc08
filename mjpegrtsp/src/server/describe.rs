//! The SDP a DESCRIBE answers with, for a file and for the live source,
//! written by the SDP owner ([`JpegVideoSdp`]).

use super::connection::Refusal;
use super::engine::Source;
use super::live::LiveSource;
use super::media::MediaFile;
use crate::rtsp::{JpegVideoSdp, NptRange, SdesCrypto, StatusCode};
use std::net::IpAddr;
use std::time::Duration;

/// An SRTP key as a description offers it: SDES for ffmpeg and this
/// project's client, MIKEY for GStreamer's `rtspsrc`.
pub(super) struct SrtpOffer {
    pub(super) sdes: SdesCrypto,
    pub(super) mikey: Vec<u8>,
}

/// What every description of this server says: RFC 2435 JPEG from
/// `server` (the address the client reached), `a=tool`, `a=type:broadcast`,
/// and the SRTP key when there is one.
fn jpeg_sdp(session_id: u64, server: IpAddr, name: &str, srtp: Option<SrtpOffer>) -> JpegVideoSdp {
    let mut sdp = JpegVideoSdp::rfc2435(session_id, server);
    if let Some(offer) = srtp {
        sdp.crypto = Some(offer.sdes);
        sdp.key_mgmt = Some(offer.mikey);
    }
    sdp.session_name = name.to_owned();
    sdp.tool = Some("mjpegrtsp".to_owned());
    sdp.broadcast = true;
    sdp
}

/// The SDP for one file served as RFC 2435 JPEG.
pub(super) fn file_sdp(media: &MediaFile, server: IpAddr, srtp: Option<SrtpOffer>) -> String {
    let mut sdp = jpeg_sdp(media.id, server, &media.mount, srtp);
    sdp.range = Some(NptRange::between(
        Duration::ZERO,
        Duration::from_secs_f64(media.duration_secs()),
    ));
    sdp.bandwidth_kbps = Some(bitrate_kbps(media));
    sdp.framerate = Some(media.rate);
    sdp.dimensions = Some((media.info.width.into(), media.info.height.into()));
    sdp.to_sdp().to_string()
}

/// The SDP for the live source.
pub(super) fn live_sdp(live: &LiveSource, server: IpAddr, srtp: Option<SrtpOffer>) -> String {
    let mut sdp = jpeg_sdp(live.id, server, &live.mount, srtp);
    sdp.range = Some(NptRange::live());
    if let Some(info) = live.info() {
        sdp.framerate = info.fps;
        sdp.dimensions = u32::try_from(info.width)
            .ok()
            .zip(u32::try_from(info.height).ok());
    }
    sdp.to_sdp().to_string()
}

/// Average bitrate of a file at its frame rate, in kbit/s.
fn bitrate_kbps(media: &MediaFile) -> u64 {
    // A float to integer cast saturates; sizes and durations are finite.
    (media.bytes_per_second() * 8.0 / 1000.0).ceil() as u64
}

/// Standard clients decode JPEG over RTP only as RFC 2435: 415, with how to
/// re-encode, for a source whose JPEG it cannot carry.
pub(super) fn standard_playable(source: &Source) -> Result<(), Refusal> {
    let refuse = |why: String| Refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, why);
    match source {
        Source::File(media) => media.rfc2435.clone().map_err(|why| {
            refuse(format!(
                "{} cannot be sent as RFC 2435 JPEG ({why}); on the server, convert it to \
                 baseline 4:2:0 with: server-cli convert IN.Mjpeg OUT.Mjpeg",
                media.mount
            ))
        }),
        Source::Live(live) => match live.rfc2435_problem() {
            Some(why) => Err(refuse(format!(
                "{} cannot be sent as RFC 2435 JPEG ({why}); encode the live source as \
                 baseline 4:2:0: --pipeline '… ! video/x-raw,format=I420 ! jpegenc'",
                live.mount
            ))),
            None => Ok(()),
        },
    }
}
