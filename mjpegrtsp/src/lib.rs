//! MJPEG over RTSP/RTP as plain Rust, with no GStreamer: the core of the
//! mjpegrtsp project, used by its GStreamer plugin (`gst-plugin-mjpegrtsp`),
//! its server (`server-cli`), its player (`player-gtk`) and its tests.
//!
//! Each wire format has one owner module:
//!
//! * [`container`]: the `.Mjpeg` file (a 5-digit ASCII length, then a JPEG),
//!   reading, indexing and writing; JPEG markers and headers.
//! * [`rtp`]: the RTP header, the classic 12-byte whole-frame scheme, RFC 2435
//!   JPEG (packetizer and depacketizer), reassembly of frames from packets,
//!   RTCP.
//! * [`rtsp`]: RTSP/1.0 messages in both dialects (standard and the seed
//!   system's classic one), headers, `Transport`, `Range`, SDP, `$` framing;
//!   its parser and writer also read and write the server's HTTP/1.1
//!   messages (the same syntax).
//! * [`http`]: the `multipart/x-mixed-replace` JPEG stream browsers show.
//! * [`timing`]: the frame rate (`29.97` is 30000/1001 everywhere).
//! * [`net`]: RTP/RTCP socket setup (port pairs, buffer sizes).
//! * [`client`]: an async RTSP client that plays from any RFC 2435 server or a
//!   classic one.
//! * [`server`]: the RTSP server and its media engine.
//!
//! Cargo feature `live` (off by default) adds the server's live source, a
//! GStreamer pipeline; without it nothing here links GStreamer. Feature
//! `fuzzing` adds [`fuzzing`]: the invariants the fuzz targets check.

pub mod client;
pub mod container;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod net;
pub mod proxy_protocol;
pub mod rtp;
pub mod rtsp;
pub mod server;
pub mod timing;
