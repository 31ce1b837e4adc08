//! The RTCP a receiver needs (RFC 3550 §6): reading the sender's compound
//! packets (sender reports for the receiver report's LSR/DLSR, BYE for the
//! end of the stream) and writing receiver reports with a CNAME.

/// What one RTCP packet of a compound said that the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// A sender report: its SSRC and the middle 32 bits of its NTP time.
    SenderReport { ssrc: u32, ntp_middle: u32 },
    /// BYE from these sources.
    Bye { ssrcs: Vec<u32> },
}

/// The packets of an RTCP compound that matter here; anything malformed
/// ends the walk (what came before it is kept).
pub fn parse_compound(mut data: &[u8]) -> Vec<RtcpPacket> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        if data[0] >> 6 != 2 {
            break;
        }
        let count = usize::from(data[0] & 0x1F);
        let pt = data[1];
        let len = (usize::from(u16::from_be_bytes([data[2], data[3]])) + 1) * 4;
        let Some(packet) = data.get(..len) else {
            break;
        };
        match pt {
            200 if packet.len() >= 16 => out.push(RtcpPacket::SenderReport {
                ssrc: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
                ntp_middle: u32::from_be_bytes([packet[10], packet[11], packet[12], packet[13]]),
            }),
            203 => out.push(RtcpPacket::Bye {
                ssrcs: packet[4..]
                    .chunks_exact(4)
                    .take(count)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            }),
            _ => {}
        }
        data = &data[len..];
    }
    out
}

/// One report block of a receiver report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit, signed).
    pub cumulative_lost: i32,
    /// Highest sequence number received, extended with the cycle count.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last sender report's NTP time (0: none yet).
    pub lsr: u32,
    /// Delay since that report, in 1/65536 s.
    pub dlsr: u32,
}

/// A compound of a receiver report with one block (or none, when
/// `block` is `None`) and an SDES with the CNAME.
pub fn receiver_report(ssrc: u32, block: Option<ReportBlock>, cname: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    let rc = u8::from(block.is_some());
    let words: u16 = if block.is_some() { 7 } else { 1 };
    p.extend_from_slice(&[0x80 | rc, 201]);
    p.extend_from_slice(&words.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(b) = block {
        p.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0xFF_FFFF;
        p.push(b.fraction_lost);
        p.extend_from_slice(&lost.to_be_bytes()[1..]);
        p.extend_from_slice(&b.highest_seq.to_be_bytes());
        p.extend_from_slice(&b.jitter.to_be_bytes());
        p.extend_from_slice(&b.lsr.to_be_bytes());
        p.extend_from_slice(&b.dlsr.to_be_bytes());
    }
    // SDES: one chunk, CNAME item, null-terminated and padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let chunk_len = (4 + 2 + cname.len() + 1).div_ceil(4) * 4;
    let sdes_words = (4 + chunk_len) / 4 - 1;
    p.extend_from_slice(&[0x81, 202]);
    p.extend_from_slice(&(sdes_words as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.push(1);
    p.push(cname.len() as u8);
    p.extend_from_slice(cname);
    let pad = chunk_len - 4 - 2 - cname.len();
    p.resize(p.len() + pad, 0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sender_report_and_bye() {
        // SR (no report blocks) + SDES + BYE, as our server and GStreamer send.
        let mut c = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
        c.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        c.extend_from_slice(&[0; 12]);
        c.extend_from_slice(&[0x81, 202, 0, 3, 0, 0, 0, 7, 1, 3, b'a', b'b', b'c', 0, 0, 0]);
        c.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 7]);
        assert_eq!(
            parse_compound(&c),
            vec![
                RtcpPacket::SenderReport {
                    ssrc: 7,
                    ntp_middle: 0x3344_5566
                },
                RtcpPacket::Bye { ssrcs: vec![7] }
            ]
        );
        // Truncated or not RTCP: what can be read, nothing more, no panic.
        assert_eq!(parse_compound(&c[..10]), vec![]);
        assert_eq!(parse_compound(&[0x00, 200, 0, 0]), vec![]);
        assert_eq!(parse_compound(&[]), vec![]);
    }

    #[test]
    fn writes_receiver_report_with_cname() {
        let b = ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 64,
            cumulative_lost: -1,
            highest_seq: 0x0001_0005,
            jitter: 90,
            lsr: 0xAABB_CCDD,
            dlsr: 65536,
        };
        let p = receiver_report(0x0A0B_0C0D, Some(b), "client");
        assert_eq!(&p[..4], &[0x81, 201, 0, 7]);
        assert_eq!(&p[4..12], &[0x0A, 0x0B, 0x0C, 0x0D, 1, 2, 3, 4]);
        assert_eq!(&p[12..16], &[64, 0xFF, 0xFF, 0xFF]);
        assert_eq!(&p[16..20], &[0, 1, 0, 5]);
        assert_eq!(&p[24..28], &[0xAA, 0xBB, 0xCC, 0xDD]);
        assert_eq!(&p[28..32], &[0, 1, 0, 0]);
        let sdes = &p[32..];
        assert_eq!(sdes[1], 202);
        assert_eq!(sdes.len() % 4, 0);
        assert_eq!(
            (usize::from(u16::from_be_bytes([sdes[2], sdes[3]])) + 1) * 4,
            sdes.len()
        );
        assert_eq!(&sdes[8..10], &[1, 6]);
        assert_eq!(&sdes[10..16], b"client");
        // The report parses as a compound of our own kind (nothing we read).
        assert!(parse_compound(&p).is_empty());
        let empty = receiver_report(1, None, "c");
        assert_eq!(&empty[..4], &[0x80, 201, 0, 1]);
    }
}
