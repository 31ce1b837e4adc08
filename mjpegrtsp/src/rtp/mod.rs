//! The project's 12-byte-header RTP scheme for JPEG, as plain Rust with no
//! GStreamer dependency.
//!
//! Each packet is a fixed RFC 3550 header (V=2, P=0, X=0, CC=0, M, PT, sequence
//! number, timestamp, SSRC) followed by JPEG bytes:
//!
//! * **whole-frame** (the classic dialect): the payload is one whole JPEG, the
//!   marker bit is 0, the sequence number is the frame number counting from 1,
//!   the timestamp is wall-clock Unix time in whole seconds (clock rate 1) and
//!   the SSRC is 0. A frame must fit one UDP datagram: at most
//!   [`MAX_WHOLE_FRAME_JPEG`] bytes of JPEG.
//! * **fragmented**: a frame is split into consecutive packets of at most the
//!   MTU, all with the frame's 90 kHz timestamp; the marker bit is set on the
//!   frame's last packet. Frames of any size can be sent.
//!
//! [`header`] encodes, parses and validates the header; [`Reassembler`] turns
//! packets back into whole JPEGs for the depayloader. [`rtcp`] writes and
//! reads the RTCP that goes with any of them.

pub mod header;
pub mod reassembly;
pub mod rfc2435;
pub mod rfc2435_depay;
pub mod rtcp;
mod seq;
pub mod srtp;

pub use header::{Extension, HEADER_LEN, HeaderError, Packet, RtpHeader, parse};
pub use reassembly::{Frame, Limits, Reassembler, ReassemblyMode, ReassemblyStats};
pub use seq::{SeqExtender, TimestampExtender, seq_diff};

/// The `encoding-name` of the scheme in caps and SDP.
pub const ENCODING_NAME: &str = "X-WHOLE-JPEG";
/// Payload type the classic dialect uses (26, the static JPEG type of RFC 3551,
/// even though the payload is not RFC 2435).
pub const CLASSIC_PAYLOAD_TYPE: u8 = 26;
/// Default payload type of the fragmented form: the first dynamic one.
pub const DYNAMIC_PAYLOAD_TYPE: u8 = 96;
/// Clock rate of whole-frame timestamps: whole seconds of wall-clock time.
pub const WHOLE_FRAME_CLOCK_RATE: u32 = 1;
/// Clock rate of fragmented timestamps.
pub const FRAGMENTED_CLOCK_RATE: u32 = 90_000;
/// Largest UDP payload over IPv4: 65,535 − 8 (UDP header) − 20 (IP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
/// Largest JPEG a whole-frame packet can carry.
pub const MAX_WHOLE_FRAME_JPEG: usize = MAX_UDP_PAYLOAD - HEADER_LEN;
