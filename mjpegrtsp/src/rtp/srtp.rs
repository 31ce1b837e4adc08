//! SRTP and SRTCP (RFC 3711) with the `AES_CM_128_HMAC_SHA1_80` suite: the
//! master key that SDES carries (RFC 4568 `a=crypto`, written and read by
//! [`crate::rtsp::sdp::SdesCrypto`]), and the protect and unprotect steps
//! that the server's engine and the client's driver call for each packet.
//!
//! The ciphers are those of `rtc-srtp` (webrtc-rs's sans-I/O SRTP, in pure
//! Rust: AES-CTR and HMAC-SHA1 from RustCrypto, with AES-NI where the CPU has
//! it). It was chosen over Debian's libsrtp2 through a `-sys` crate because it
//! needs no C library, no bindgen and no `unsafe` at our boundary, it keeps
//! no I/O of its own (the engine sends with GSO as before), and it is
//! maintained with the rest of webrtc-rs; interoperability is checked against
//! two independent implementations in the tests: ffmpeg's own SRTP and
//! libsrtp2 (GStreamer's `srtpdec`).

use std::fmt;

/// The one suite offered and accepted: AES-128 in counter mode, HMAC-SHA1
/// tags of 80 bits (RFC 4568 §6.2.1; every SRTP implementation has it).
pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// Bytes the authentication tag adds to each SRTP packet.
pub const RTP_OVERHEAD: usize = 10;

/// Bytes SRTCP adds to each RTCP packet: the E flag and index word, and the tag.
pub const RTCP_OVERHEAD: usize = 14;

/// A master key (16 bytes) and master salt (14 bytes): what one
/// `a=crypto` line carries, base64-encoded, as `inline:<key||salt>`.
///
/// Its `Debug` never shows the bytes, and they are wiped when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    bytes: [u8; MasterKey::LEN],
}

impl MasterKey {
    /// Key and salt together.
    pub const LEN: usize = 30;
    /// The AES-128 master key's part.
    pub const KEY_LEN: usize = 16;

    /// A fresh key from the thread's cryptographically secure generator
    /// (ChaCha, seeded by the operating system).
    pub fn random() -> Self {
        use rand::Rng;
        let mut bytes = [0u8; Self::LEN];
        rand::rng().fill(&mut bytes[..]);
        Self { bytes }
    }

    /// The key from its 30 bytes (key then salt); `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self {
            bytes: bytes.try_into().ok()?,
        })
    }

    /// Key then salt, as SDES encodes them.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.bytes
    }

    /// The master key.
    pub fn key(&self) -> &[u8] {
        &self.bytes[..Self::KEY_LEN]
    }

    /// The master salt.
    pub fn salt(&self) -> &[u8] {
        &self.bytes[Self::KEY_LEN..]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        for b in &mut self.bytes {
            // A volatile write is not optimised away as a dead store.
            // SAFETY: `b` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

pub use context::{Protector, SrtpError, Unprotector};

mod context {
    use super::MasterKey;
    use rtc_srtp::context::Context;
    use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
    use rtc_srtp::protection_profile::ProtectionProfile;
    use std::fmt;

    /// Packets a receiver may see out of order before an old one counts as a
    /// replay (RFC 3711 §3.3.2 asks for at least 64).
    const REPLAY_WINDOW: usize = 1024;

    /// Why a packet could not be protected or unprotected: too short, not
    /// RTP/RTCP, a failed tag (tampered, or another key), or a replay.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SrtpError(String);

    impl fmt::Display for SrtpError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SRTP: {}", self.0)
        }
    }

    impl std::error::Error for SrtpError {}

    fn error(e: impl fmt::Display) -> SrtpError {
        SrtpError(e.to_string())
    }

    fn context(key: &MasterKey, replay_window: Option<usize>) -> Result<Context, SrtpError> {
        let provider = rtc_srtp::crypto::default_provider().map_err(error)?;
        Context::new(
            key.key(),
            key.salt(),
            ProtectionProfile::Aes128CmHmacSha1_80,
            replay_window.map(srtp_replay_protection),
            replay_window.map(srtcp_replay_protection),
            provider.crypto(),
        )
        .map_err(error)
    }

    /// The sending side of one SRTP session: encrypts and signs RTP and RTCP.
    /// Its rollover counter starts at 0 with the first sequence number, as
    /// receivers that learn the key from SDES expect.
    pub struct Protector {
        ctx: Context,
    }

    impl fmt::Debug for Protector {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Protector(..)")
        }
    }

    impl Protector {
        /// A sender keyed by `key`.
        pub fn new(key: &MasterKey) -> Result<Self, SrtpError> {
            Ok(Self {
                ctx: context(key, None)?,
            })
        }

        /// Appends the SRTP form of RTP `packet` to `out`
        /// ([`super::RTP_OVERHEAD`] bytes longer).
        pub fn protect_rtp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
            let sealed = self.ctx.encrypt_rtp(packet).map_err(error)?;
            out.extend_from_slice(&sealed);
            Ok(())
        }

        /// The SRTCP form of RTCP `packet` (compound or not; encrypted, with
        /// its index and tag).
        pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
            Ok(self.ctx.encrypt_rtcp(packet).map_err(error)?.to_vec())
        }
    }

    /// The receiving side of one SRTP session: checks tags, refuses replays
    /// and decrypts.
    pub struct Unprotector {
        ctx: Context,
    }

    impl fmt::Debug for Unprotector {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Unprotector(..)")
        }
    }

    impl Unprotector {
        /// A receiver keyed by `key`.
        pub fn new(key: &MasterKey) -> Result<Self, SrtpError> {
            Ok(Self {
                ctx: context(key, Some(REPLAY_WINDOW))?,
            })
        }

        /// The RTP packet inside SRTP `packet`, if its tag is right and it
        /// is not a replay.
        pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
            Ok(self.ctx.decrypt_rtp(packet).map_err(error)?.to_vec())
        }

        /// The RTCP inside SRTCP `packet`, if its tag is right and it is not
        /// a replay.
        pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
            Ok(self.ctx.decrypt_rtcp(packet).map_err(error)?.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_thirty_bytes_and_never_printed() {
        let k = MasterKey::random();
        assert_eq!((k.key().len(), k.salt().len()), (16, 14));
        assert_ne!(k, MasterKey::random());
        assert_eq!(format!("{k:?}"), "MasterKey(..)");
        assert_eq!(MasterKey::from_bytes(k.as_bytes()), Some(k.clone()));
        assert_eq!(MasterKey::from_bytes(&[0; 29]), None);
    }

    mod crypto {
        use super::super::*;
        use crate::rtp::RtpHeader;
        use crate::rtp::rtcp;

        fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
            let mut p = RtpHeader {
                marker: true,
                payload_type: 26,
                sequence_number: seq,
                timestamp: 9000,
                ssrc: 0x1234_5678,
            }
            .to_bytes()
            .unwrap()
            .to_vec();
            p.extend_from_slice(payload);
            p
        }

        /// The known answer of libsrtp's own driver test (the key of RFC 3711
        /// Appendix B.3, 16 bytes of 0xAB as payload): an independent
        /// implementation's bytes, tag included.
        #[test]
        fn matches_the_reference_implementation() {
            let mut plain = vec![
                0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe,
            ];
            plain.extend_from_slice(&[0xab; 16]);
            let expected = [
                0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55,
                0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02,
                0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
            ];
            let mut sealed = Vec::new();
            Protector::new(&rfc3711_key())
                .unwrap()
                .protect_rtp(&plain, &mut sealed)
                .unwrap();
            assert_eq!(sealed, expected);
        }

        fn rfc3711_key() -> MasterKey {
            MasterKey::from_bytes(
                &[
                    0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F, 0xA3, 0x2C, 0x06,
                    0xDE, 0x41, 0x39, 0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96,
                    0x0B, 0x3A, 0xAB, 0xE6,
                ][..],
            )
            .unwrap()
        }

        /// What the receiving side must refuse, and the rollover at the
        /// sequence number wrap.
        #[test]
        fn round_trip_tamper_replay_and_wrong_key() {
            let key = rfc3711_key();
            let mut tx = Protector::new(&key).unwrap();
            let mut rx = Unprotector::new(&key).unwrap();
            let plain = rtp(65_530, b"\xFF\xD8 a JPEG scan \xFF\x00 with markers");
            let mut sealed = Vec::new();
            tx.protect_rtp(&plain, &mut sealed).unwrap();
            assert_eq!(sealed.len(), plain.len() + RTP_OVERHEAD);
            assert_eq!(sealed[..12], plain[..12], "the header stays in the clear");
            assert_ne!(sealed[12..plain.len()], plain[12..]);
            assert_eq!(rx.unprotect_rtp(&sealed).unwrap(), plain);
            assert!(rx.unprotect_rtp(&sealed).is_err(), "a replay is refused");
            // Across the sequence number wrap (the rollover counter counts on).
            for seq in [65_531u16, 65_535, 0, 1, 2] {
                let p = rtp(seq, b"payload");
                let mut s = Vec::new();
                tx.protect_rtp(&p, &mut s).unwrap();
                assert_eq!(rx.unprotect_rtp(&s).unwrap(), p, "seq {seq}");
            }
            let mut s = Vec::new();
            tx.protect_rtp(&rtp(3, b"payload"), &mut s).unwrap();
            let mut flipped = s.clone();
            flipped[14] ^= 1;
            assert!(rx.unprotect_rtp(&flipped).is_err(), "a changed bit fails");
            let mut other = Unprotector::new(&MasterKey::random()).unwrap();
            assert!(other.unprotect_rtp(&s).is_err(), "another key fails");
            assert!(rx.unprotect_rtp(&s[..5]).is_err());
            assert!(rx.unprotect_rtp(&[]).is_err());

            let report = rtcp::bye(0x1234_5678);
            let sealed = tx.protect_rtcp(&report).unwrap();
            assert_eq!(sealed.len(), report.len() + RTCP_OVERHEAD);
            assert_eq!(rx.unprotect_rtcp(&sealed).unwrap(), report);
            assert!(rx.unprotect_rtcp(&sealed).is_err(), "an SRTCP replay");
            assert!(
                rx.unprotect_rtcp(&report).is_err(),
                "plain RTCP is no SRTCP"
            );
        }
    }
}
