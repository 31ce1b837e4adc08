//! MIKEY (RFC 3830) as SDP's `a=key-mgmt:mikey` carries SRTP keys (RFC 4567)
//! to GStreamer's `rtspsrc` and from gst-rtsp-server: the one form they
//! use — a pre-shared-key initiation whose KEMAC holds the key in clear
//! (NULL encryption and MAC), which is safe only inside TLS, as RTSPS is.
//!
//! Written: HDR, T (NTP-UTC), RAND, SP (AES-CM-128, HMAC-SHA1 80-bit tag,
//! SRTP and SRTCP encrypted, SRTP authenticated), KEMAC with one TEK key
//! data sub-payload holding key‖salt (30 bytes), as GStreamer reads it.
//! Read: the same, in any order after the header, refusing anything else
//! (a payload this reader does not know ends the message as malformed).

use crate::rtp::srtp::MasterKey;
use std::fmt;

/// Payload types (RFC 3830 §6.1).
mod pt {
    pub const LAST: u8 = 0;
    pub const KEMAC: u8 = 1;
    pub const T: u8 = 5;
    pub const SP: u8 = 10;
    pub const RAND: u8 = 11;
}

/// MIKEY version 1; data type PSK initiation; CS ID map type SRTP-ID.
const VERSION: u8 = 1;
const PSK_INIT: u8 = 0;
const MAP_SRTP_ID: u8 = 0;
/// Key data type TEK (traffic-encrypting key), no key validity.
const TEK_NO_KV: u8 = 2 << 4;

/// The security policy parameters written (type, value), RFC 3830 §6.10.1:
/// encryption AES-CM, key 16 bytes, authentication HMAC-SHA-1, tag 10 bytes
/// (GStreamer reads "auth key length" as the tag's), SRTP encryption on,
/// SRTCP encryption on, SRTP authentication on.
const POLICY: [(u8, u8); 7] = [(0, 1), (1, 16), (2, 1), (3, 10), (7, 1), (8, 1), (10, 1)];

/// What a MIKEY message says of an SRTP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MikeyKey {
    /// Key and salt.
    pub key: MasterKey,
    /// The crypto sessions: SSRC and rollover counter of each.
    pub sessions: Vec<(u32, u32)>,
}

/// Why a MIKEY message was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MikeyError(&'static str);

impl fmt::Display for MikeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MIKEY: {}", self.0)
    }
}

impl std::error::Error for MikeyError {}

/// The message offering `key` for the stream `ssrc` (rollover counter 0),
/// with this CSB id, RAND and NTP time.
pub fn psk_message(key: &MasterKey, ssrc: u32, csb_id: u32, rand: [u8; 16], ntp: u64) -> Vec<u8> {
    let mut m = vec![VERSION, PSK_INIT, pt::T, 0];
    m.extend_from_slice(&csb_id.to_be_bytes());
    m.extend_from_slice(&[1, MAP_SRTP_ID, 0]);
    m.extend_from_slice(&ssrc.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    // T: NTP-UTC.
    m.extend_from_slice(&[pt::RAND, 0]);
    m.extend_from_slice(&ntp.to_be_bytes());
    // RAND.
    m.extend_from_slice(&[pt::SP, 16]);
    m.extend_from_slice(&rand);
    // SP: policy 0, protocol SRTP.
    m.extend_from_slice(&[pt::KEMAC, 0, 0]);
    m.extend_from_slice(&((POLICY.len() * 3) as u16).to_be_bytes());
    for (kind, value) in POLICY {
        m.extend_from_slice(&[kind, 1, value]);
    }
    // KEMAC: NULL encryption, one key data sub-payload, NULL MAC.
    let key = key.as_bytes();
    m.extend_from_slice(&[pt::LAST, 0]);
    m.extend_from_slice(&((4 + key.len()) as u16).to_be_bytes());
    m.extend_from_slice(&[pt::LAST, TEK_NO_KV]);
    m.extend_from_slice(&(key.len() as u16).to_be_bytes());
    m.extend_from_slice(key);
    m.push(0);
    m
}

/// A fresh [`psk_message`]: random CSB id and RAND, the time now.
pub fn offer(key: &MasterKey, ssrc: u32) -> Vec<u8> {
    use rand::Rng;
    let mut rng = rand::rng();
    let ntp = crate::rtp::rtcp::ntp_timestamp(std::time::SystemTime::now());
    psk_message(key, ssrc, rng.random(), rng.random(), ntp)
}

/// Reads a message of the form [`psk_message`] writes (payloads after the
/// header in any order): its key and crypto sessions. An SRTP policy other
/// than AES-CM-128 with HMAC-SHA1-80, an encrypted or MACed KEMAC, or any
/// other payload type is refused.
pub fn parse(bytes: &[u8]) -> Result<MikeyKey, MikeyError> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return Err(MikeyError("not version 1"));
    }
    if r.u8()? != PSK_INIT {
        return Err(MikeyError("not a pre-shared-key initiation"));
    }
    let mut next = r.u8()?;
    let _v_prf = r.u8()?;
    let _csb_id = r.take(4)?;
    let count = r.u8()?;
    if r.u8()? != MAP_SRTP_ID {
        return Err(MikeyError("crypto session map is not SRTP-ID"));
    }
    let mut sessions = Vec::new();
    for _ in 0..count {
        let _policy = r.u8()?;
        sessions.push((r.u32()?, r.u32()?));
    }
    let mut key = None;
    while next != pt::LAST {
        let kind = next;
        next = r.u8()?;
        match kind {
            pt::T => {
                let len = match r.u8()? {
                    0 | 1 => 8,
                    2 => 4,
                    _ => return Err(MikeyError("unknown timestamp type")),
                };
                r.take(len)?;
            }
            pt::RAND => {
                let len = r.u8()?;
                r.take(len.into())?;
            }
            pt::SP => {
                let _policy = r.u8()?;
                if r.u8()? != 0 {
                    return Err(MikeyError("a security policy for another protocol"));
                }
                let len = r.u16()?;
                check_policy(r.take(len.into())?)?;
            }
            pt::KEMAC => {
                if r.u8()? != 0 {
                    return Err(MikeyError("an encrypted KEMAC (only NULL is read)"));
                }
                let len = r.u16()?;
                key = Some(key_data(r.take(len.into())?)?);
                if r.u8()? != 0 {
                    return Err(MikeyError("a KEMAC with a MAC (only NULL is read)"));
                }
            }
            _ => return Err(MikeyError("a payload this reader does not know")),
        }
    }
    let key = key.ok_or(MikeyError("no KEMAC"))?;
    Ok(MikeyKey { key, sessions })
}

/// Checks SP parameters: what is given must be what this project speaks.
fn check_policy(mut params: &[u8]) -> Result<(), MikeyError> {
    while !params.is_empty() {
        let mut r = Reader(params);
        let (kind, len) = (r.u8()?, r.u8()?);
        let value = r.take(len.into())?;
        params = r.0;
        let v = match value {
            [v] => *v,
            _ => continue,
        };
        let ok = match kind {
            0 => v == 1,                  // AES-CM
            1 => v == 16,                 // 128-bit key
            2 => v == 1,                  // HMAC-SHA-1
            3 | 11 => v == 10 || v == 20, // tag (GStreamer) or auth key length
            4 => v == 14,                 // salt
            _ => true,
        };
        if !ok {
            return Err(MikeyError(
                "an SRTP policy other than AES_CM_128_HMAC_SHA1_80",
            ));
        }
    }
    Ok(())
}

/// The TEK of a KEMAC's encrypted data: key‖salt in the key field, or the
/// key and a separate salt.
fn key_data(data: &[u8]) -> Result<MasterKey, MikeyError> {
    let mut r = Reader(data);
    let _next = r.u8()?;
    let type_kv = r.u8()?;
    if type_kv >> 5 != 1 {
        return Err(MikeyError("key data that is not a TEK"));
    }
    let len = r.u16()?;
    let mut bytes = r.take(len.into())?.to_vec();
    if type_kv & 0x10 != 0 {
        let salt_len = r.u16()?;
        bytes.extend_from_slice(r.take(salt_len.into())?);
    }
    MasterKey::from_bytes(&bytes).ok_or(MikeyError("a key that is not 16 + 14 bytes"))
}

/// Bounds-checked big-endian reads.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MikeyError> {
        if self.0.len() < n {
            return Err(MikeyError("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, MikeyError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, MikeyError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, MikeyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_gstreamer_reads_and_reads_it_back() {
        let key = MasterKey::from_bytes(&[7; 30]).unwrap();
        let m = psk_message(
            &key,
            0xDEAD_BEEF,
            0x0102_0304,
            [9; 16],
            0x1122_3344_5566_7788,
        );
        // gst-rtsp-server's layout for one stream is 112 bytes.
        assert_eq!(m.len(), 112);
        assert_eq!(&m[..8], &[1, 0, 5, 0, 1, 2, 3, 4]);
        assert_eq!(&m[8..18], &[1, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0]);
        assert_eq!(&m[19..21], &[11, 0], "T, NTP-UTC");
        assert_eq!(&m[29..31], &[10, 16], "RAND");
        assert_eq!(&m[47..52], &[1, 0, 0, 0, 21], "SP");
        assert_eq!(&m[73..79], &[0, 0, 0, 34, 0, 0x20], "KEMAC, TEK");
        assert_eq!(&m[79..81], &[0, 30]);
        assert_eq!(m[111], 0, "NULL MAC");
        let read = parse(&m).unwrap();
        assert_eq!(read.key, key);
        assert_eq!(read.sessions, vec![(0xDEAD_BEEF, 0)]);
    }

    /// A message gst-rtsp-server 1.22 wrote (`a=key-mgmt` of its SRTP
    /// DESCRIBE): read, and the same as ours but for the random and
    /// per-stream fields (CSB id, SSRC, time, RAND, key).
    #[test]
    fn reads_gst_rtsp_server_and_writes_the_same_layout() {
        let hex = "010005004f37e3c30100006ea1fa39000000000b00eebe86133a2d62380a10989a40\
                   bcb3b6e03b48d0147550907f97010000001500010101011002010103010a07010108\
                   01010a0101000000220020001ec30fd244a4eb69d404db7307c0914169271a2f9724\
                   2ad87df9de8dd6e8eb00";
        let gst: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let read = parse(&gst).unwrap();
        assert_eq!(read.sessions, vec![(0x6EA1_FA39, 0)]);
        assert_eq!(&read.key.as_bytes()[..4], &[0xC3, 0x0F, 0xD2, 0x44]);
        let ours = psk_message(&read.key, 0x6EA1_FA39, 0, [0; 16], 0);
        assert_eq!(ours.len(), gst.len());
        let random = [4..8, 21..29, 31..47];
        for (i, (a, b)) in ours.iter().zip(&gst).enumerate() {
            if !random.iter().any(|r| r.contains(&i)) {
                assert_eq!(a, b, "byte {i}");
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_speak() {
        let key = MasterKey::from_bytes(&[7; 30]).unwrap();
        let good = psk_message(&key, 1, 2, [3; 16], 4);
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut v2 = good.clone();
        v2[0] = 2;
        assert!(parse(&v2).is_err());
        let mut encrypted = good.clone();
        encrypted[74] = 1;
        assert!(parse(&encrypted).is_err());
        let mut gcm = good.clone();
        gcm[54] = 6; // ENC_ALG AES-GCM
        assert!(parse(&gcm).is_err());
        let mut unknown = good.clone();
        unknown[2] = 9; // next payload: V (verification), not read
        assert!(parse(&unknown).is_err());
        // A separate salt (TEK+SALT) is read too.
        let mut salted = good[..77].to_vec();
        salted[76] = 36; // KEMAC data: 4 + 16 + 2 + 14
        salted.extend_from_slice(&[0, 0x30, 0, 16]);
        salted.extend_from_slice(&key.as_bytes()[..16]);
        salted.extend_from_slice(&[0, 14]);
        salted.extend_from_slice(&key.as_bytes()[16..]);
        salted.push(0);
        assert_eq!(parse(&salted).unwrap().key, key);
    }
}
