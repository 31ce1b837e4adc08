use super::*;
use proptest::prelude::*;
use std::time::Duration;

/// SR (no report blocks) + SDES + BYE, as our server and GStreamer send.
fn sr_sdes_bye() -> Vec<u8> {
    let mut c = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
    c.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    c.extend_from_slice(&[0; 12]);
    c.extend_from_slice(&[0x81, 202, 0, 3, 0, 0, 0, 7, 1, 3, b'a', b'b', b'c', 0, 0, 0]);
    c.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 7]);
    c
}

#[test]
fn reads_sender_report_sdes_and_bye() {
    let c = sr_sdes_bye();
    let packets = parse_compound(&c).unwrap();
    let [
        Packet::SenderReport(sr),
        Packet::Sdes(chunks),
        Packet::Bye(bye),
    ] = packets.as_slice()
    else {
        panic!("SR, SDES, BYE: {packets:?}");
    };
    assert_eq!(sr.ssrc, 7);
    assert_eq!(sr.info.ntp_timestamp, 0x1122_3344_5566_7788);
    assert_eq!(sr.info.ntp_middle(), 0x3344_5566);
    assert!(sr.blocks.is_empty());
    assert_eq!(chunks[0].ssrc, 7);
    assert_eq!(chunks[0].cname_value(), Some(&b"abc"[..]));
    assert_eq!(bye.ssrcs, vec![7]);
    assert_eq!(bye.reason, None);
}

#[test]
fn a_malformed_packet_ends_the_walk_and_says_where() {
    let c = sr_sdes_bye();
    // Cut inside the SDES: SR, then an overrun at byte 28.
    let walked: Vec<_> = packets(&c[..40]).collect();
    assert!(matches!(walked[0], Ok(Packet::SenderReport(_))));
    assert_eq!(
        walked[1],
        Err(ParseError::Overrun {
            offset: 28,
            len: 16,
            available: 12
        })
    );
    assert_eq!(walked.len(), 2);
    assert_eq!(
        parse_compound(&c[..10]),
        Err(ParseError::Overrun {
            offset: 0,
            len: 28,
            available: 10
        })
    );
    assert_eq!(
        parse_compound(&[0x00, 200, 0, 0]),
        Err(ParseError::BadVersion {
            offset: 0,
            version: 0
        })
    );
    assert_eq!(parse_compound(&[]), Err(ParseError::Empty));
    assert_eq!(
        parse_compound(&[0x80, 201]),
        Err(ParseError::Truncated { offset: 0 })
    );
    // An SR whose length leaves no room for the sender info.
    assert_eq!(
        parse_compound(&[0x80, 200, 0, 1, 0, 0, 0, 7]),
        Err(ParseError::ShortBody {
            offset: 0,
            packet_type: 200
        })
    );
    // A BYE that counts two sources and carries one.
    assert!(matches!(
        parse_compound(&[0x82, 203, 0, 1, 0, 0, 0, 7]),
        Err(ParseError::ShortBody { .. })
    ));
    // An SDES item running past its packet.
    assert!(matches!(
        parse_compound(&[0x81, 202, 0, 2, 0, 0, 0, 7, 1, 9, b'a', 0]),
        Err(ParseError::ShortBody { .. })
    ));
}

#[test]
fn padding_is_checked_and_removed() {
    // BYE with 4 bytes of padding (P bit, count in the last byte).
    let padded = [0xA1, 203, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4];
    assert_eq!(
        parse_compound(&padded).unwrap(),
        vec![Packet::Bye(Bye {
            ssrcs: vec![7],
            reason: None
        })]
    );
    for bad in [0u8, 9] {
        let p = [0xA1, 203, 0, 1, 0, 0, 0, bad];
        assert_eq!(
            parse_compound(&p),
            Err(ParseError::BadPadding {
                offset: 0,
                padding: bad
            })
        );
    }
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
    // SDES: CNAME item, END, padded to a 32-bit boundary.
    assert_eq!(
        &p[32..],
        &[
            0x81, 202, 0, 4, 0x0A, 0x0B, 0x0C, 0x0D, 1, 6, b'c', b'l', b'i', b'e', b'n', b't', 0,
            0, 0, 0
        ]
    );
    let back = parse_compound(&p).unwrap();
    assert_eq!(
        back[0],
        Packet::ReceiverReport(ReceiverReport {
            ssrc: 0x0A0B_0C0D,
            blocks: vec![b]
        })
    );
    let empty = receiver_report(1, None, "c");
    assert_eq!(&empty[..4], &[0x80, 201, 0, 1]);
    // Out-of-range losses are clamped to 24 bits, keeping their sign.
    let far = ReportBlock {
        cumulative_lost: -0x100_0000,
        ..b
    };
    let p = receiver_report(1, Some(far), "c");
    assert_eq!(&p[13..16], &[0x80, 0, 0]);
}

#[test]
fn writes_sender_report_and_bye_as_the_server_always_has() {
    let info = SenderInfo {
        ntp_timestamp: 0xE000_0001_8000_0000,
        rtp_timestamp: 90_000,
        packet_count: 3,
        octet_count: 4000,
    };
    let p = sender_report(0xCAFE_F00D, info, "mjpegrtsp");
    let mut want = vec![0x80, 200, 0, 6, 0xCA, 0xFE, 0xF0, 0x0D];
    want.extend_from_slice(&[0xE0, 0, 0, 1, 0x80, 0, 0, 0]);
    want.extend_from_slice(&90_000u32.to_be_bytes());
    want.extend_from_slice(&3u32.to_be_bytes());
    want.extend_from_slice(&4000u32.to_be_bytes());
    want.extend_from_slice(&[0x81, 202, 0, 4, 0xCA, 0xFE, 0xF0, 0x0D, 1, 9]);
    want.extend_from_slice(b"mjpegrtsp");
    want.push(0);
    assert_eq!(p, want);
    assert_eq!(bye(0x0102_0304), vec![0x81, 203, 0, 1, 1, 2, 3, 4]);
}

#[test]
fn ntp_time_counts_from_1900() {
    let t = UNIX_EPOCH + Duration::from_millis(1500);
    assert_eq!(ntp_timestamp(t), (2_208_988_801 << 32) | 0x8000_0000);
    assert_eq!(ntp_timestamp(UNIX_EPOCH) >> 32, 2_208_988_800);
}

#[test]
fn refuses_what_the_wire_cannot_hold() {
    let many = ReceiverReport {
        ssrc: 1,
        blocks: vec![ReportBlock::default(); 32],
    };
    assert_eq!(
        build(&[Packet::ReceiverReport(many)]),
        Err(BuildError::TooMany {
            what: "report blocks",
            count: 32
        })
    );
    let long = SdesChunk {
        ssrc: 1,
        items: vec![SdesItem {
            kind: 2,
            value: vec![b'x'; 256],
        }],
    };
    assert_eq!(
        build(&[Packet::Sdes(vec![long])]),
        Err(BuildError::TooLong { len: 256 })
    );
    let end = SdesChunk {
        ssrc: 1,
        items: vec![SdesItem {
            kind: 0,
            value: vec![],
        }],
    };
    // A failed packet leaves what was written before it alone.
    let mut out = bye(9);
    assert_eq!(
        Packet::Sdes(vec![end]).write(&mut out),
        Err(BuildError::EndItem)
    );
    assert_eq!(out, bye(9));
    // The CNAME helper cuts rather than fails.
    let cname = "n".repeat(300);
    assert_eq!(SdesChunk::cname(1, &cname).items[0].value.len(), 255);
}

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000..0x80_0000i32,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, highest_seq, jitter, lsr, dlsr)| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                highest_seq,
                jitter,
                lsr,
                dlsr,
            },
        )
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn packet() -> impl Strategy<Value = Packet> {
    let blocks = || proptest::collection::vec(block(), 0..4);
    let item = (1..=255u8, bytes(40)).prop_map(|(kind, value)| SdesItem { kind, value });
    let chunk = (any::<u32>(), proptest::collection::vec(item, 0..4))
        .prop_map(|(ssrc, items)| SdesChunk { ssrc, items });
    prop_oneof![
        (any::<u32>(), any::<[u32; 4]>(), any::<u32>(), blocks()).prop_map(
            |(ssrc, [hi, lo, rtp, packets], octets, blocks)| {
                Packet::SenderReport(SenderReport {
                    ssrc,
                    info: SenderInfo {
                        ntp_timestamp: (u64::from(hi) << 32) | u64::from(lo),
                        rtp_timestamp: rtp,
                        packet_count: packets,
                        octet_count: octets,
                    },
                    blocks,
                })
            }
        ),
        (any::<u32>(), blocks())
            .prop_map(|(ssrc, blocks)| Packet::ReceiverReport(ReceiverReport { ssrc, blocks })),
        proptest::collection::vec(chunk, 0..4).prop_map(Packet::Sdes),
        (
            proptest::collection::vec(any::<u32>(), 0..5),
            proptest::option::of(bytes(40))
        )
            .prop_map(|(ssrcs, reason)| Packet::Bye(Bye { ssrcs, reason })),
        (
            204..=255u8,
            0..32u8,
            proptest::collection::vec(any::<[u8; 4]>(), 0..6)
        )
            .prop_map(|(packet_type, count, words)| Packet::Other {
                packet_type,
                count,
                body: words.concat(),
            }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(300)) {
        let walked: Vec<_> = packets(&data).collect();
        // At most one error, and it ends the walk.
        prop_assert!(walked.iter().rev().skip(1).all(Result::is_ok));
        let _ = parse_compound(&data);
    }

    #[test]
    fn mutated_compounds_never_panic(
        list in proptest::collection::vec(packet(), 1..4),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut data = build(&list).unwrap();
        for (at, xor) in flips {
            let n = data.len();
            data[at % n] ^= xor;
        }
        data.truncate(cut % (data.len() + 1));
        let _ = parse_compound(&data);
    }

    #[test]
    fn build_then_parse_round_trips(list in proptest::collection::vec(packet(), 1..5)) {
        let data = build(&list).unwrap();
        prop_assert_eq!(data.len() % 4, 0);
        prop_assert_eq!(parse_compound(&data).unwrap(), list);
    }
}
