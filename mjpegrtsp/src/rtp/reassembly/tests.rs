use super::*;
use proptest::prelude::*;

/// A JPEG-shaped frame: SOI, `len - 4` filler bytes that identify `n` and never
/// contain 0xFF, EOI.
fn jpeg(n: u32, len: usize) -> Vec<u8> {
    assert!(len >= 4);
    let mut v = vec![0xFF, 0xD8];
    let id = n.to_be_bytes();
    v.extend((0..len - 4).map(|i| if i < 4 { id[i] % 0xFF } else { (i % 251) as u8 }));
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// The `n` a frame made by [`jpeg`] was made with (for frames of 8+ bytes).
fn id(frame: &Frame<Vec<u8>>) -> u32 {
    let b = frame.to_vec();
    u32::from_be_bytes([b[2], b[3], b[4], b[5]])
}

fn ids(out: &[Frame<Vec<u8>>]) -> Vec<u32> {
    out.iter().map(id).collect()
}

type Pkt = (RtpHeader, Vec<u8>);

fn whole(seq: u16, ts: u32, data: Vec<u8>) -> Pkt {
    (
        RtpHeader {
            marker: false,
            payload_type: 26,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 0,
        },
        data,
    )
}

/// Splits `data` into packets of at most `chunk` payload bytes from `seq` on.
fn fragment(data: &[u8], chunk: usize, seq: &mut u16, ts: u32) -> Vec<Pkt> {
    let n = data.len().div_ceil(chunk);
    data.chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let h = RtpHeader {
                marker: i + 1 == n,
                payload_type: 96,
                sequence_number: *seq,
                timestamp: ts,
                ssrc: 0x1234,
            };
            *seq = seq.wrapping_add(1);
            (h, c.to_vec())
        })
        .collect()
}

fn feed(r: &mut Reassembler<Vec<u8>>, pkts: &[Pkt]) -> Vec<Frame<Vec<u8>>> {
    pkts.iter()
        .flat_map(|(h, p)| r.push(h, p.clone(), Some(u64::from(h.sequence_number))))
        .collect()
}

#[test]
fn classic_whole_frames() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let frames: Vec<_> = (1..=3).map(|n| jpeg(n, 100 + n as usize)).collect();
    let pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| whole(i as u16 + 1, 0x6b07_e9ba, f.clone()))
        .collect();
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 3);
    for (o, f) in out.iter().zip(&frames) {
        assert!(o.to_vec() == *f, "frame bytes differ");
    }
    assert_eq!(out[0].first_seq, 1);
    assert_eq!(out[0].pts, Some(1));
    assert!(out[0].discont, "first frame is a discontinuity");
    assert!(!out[1].discont && !out[2].discont);
    assert!(!r.is_fragmented());
    assert_eq!(r.stats().frames_complete, 3);
    assert_eq!(r.stats().bytes_complete, (101 + 102 + 103) as u64);
}

#[test]
fn classic_duplicates_late_and_gaps() {
    let mut r = Reassembler::new(ReassemblyMode::WholeFrame);
    let p = |seq: u16| whole(seq, 7, jpeg(u32::from(seq), 20));
    let out = feed(&mut r, &[p(1), p(2), p(2), p(4), p(3), p(2), p(5)]);
    let seqs: Vec<_> = out.iter().map(|f| f.first_seq).collect();
    assert_eq!(seqs, vec![1, 2, 4, 5]);
    assert!(out[2].discont, "frame 3 was missing before frame 4");
    assert!(!out[3].discont);
    let s = r.stats();
    assert_eq!(s.packets_received, 7);
    assert_eq!(s.packets_duplicate, 2);
    assert_eq!(s.packets_late, 1);
    assert_eq!(s.restarts, 0);
}

#[test]
fn classic_restart_at_one_is_a_new_loop() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let p = |seq: u16, n: u32| whole(seq, 7, jpeg(n, 30));
    let pkts = [p(1, 1), p(2, 2), p(3, 3), p(4, 4), p(1, 5), p(2, 6)];
    let out = feed(&mut r, &pkts);
    assert_eq!(
        out.len(),
        6,
        "the second loop is played, not dropped as late"
    );
    assert!(out[4].to_vec() == jpeg(5, 30), "frame bytes differ");
    assert!(out[4].discont);
    assert_eq!(r.stats().restarts, 1);
    assert_eq!(r.stats().packets_late, 0);
}

#[test]
fn big_backward_jump_is_a_restart() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let mut pkts: Vec<_> = (500..510)
        .map(|s| whole(s, 1, jpeg(u32::from(s), 10)))
        .collect();
    pkts.push(whole(7, 2, jpeg(7, 10)));
    pkts.push(whole(8, 2, jpeg(8, 10)));
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 12);
    assert_eq!(r.stats().restarts, 1);
}

#[test]
fn whole_frame_mode_rejects_non_jpeg_payloads() {
    let mut r = Reassembler::new(ReassemblyMode::WholeFrame);
    let mut bad = jpeg(2, 40);
    bad.truncate(30);
    let out = feed(
        &mut r,
        &[
            whole(1, 0, jpeg(1, 40)),
            whole(2, 0, bad),
            whole(3, 0, jpeg(3, 40)),
        ],
    );
    assert_eq!(out.len(), 2);
    assert!(out[1].discont);
    assert_eq!(r.stats().frames_corrupt, 1);
}

#[test]
fn fragmented_in_order() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let mut seq = 1;
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 1000)).collect();
    let pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * i as u32))
        .collect();
    assert_eq!(pkts.len(), 12);
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 3);
    for (i, (o, f)) in out.iter().zip(&frames).enumerate() {
        assert!(o.to_vec() == *f, "frame bytes differ");
        assert_eq!(o.pieces.len(), 4);
        assert_eq!(o.first_seq, 1 + 4 * i as u16);
        assert_eq!(o.last_seq, 4 + 4 * i as u16);
        assert_eq!(o.rtp_timestamp, 3000 * i as u32);
        assert_eq!(o.pts, Some(u64::from(o.first_seq)));
    }
    assert_eq!(r.pending_frames(), 0);
    assert_eq!(r.pending_bytes(), 0);
}

#[test]
fn fragmented_reorder_and_duplicates_within_a_frame() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let mut seq = 100;
    let f0 = jpeg(0, 1000);
    let f1 = jpeg(1, 1000);
    let a = fragment(&f0, 300, &mut seq, 0);
    let b = fragment(&f1, 300, &mut seq, 3000);
    let order = [
        a[3].clone(),
        a[1].clone(),
        a[1].clone(),
        a[0].clone(),
        a[3].clone(),
        a[2].clone(),
        b[2].clone(),
        b[0].clone(),
        b[3].clone(),
        b[1].clone(),
        b[1].clone(),
    ];
    let out = feed(&mut r, &order);
    assert_eq!(out.len(), 2);
    assert!(out[0].to_vec() == f0, "frame bytes differ");
    assert_eq!(out[0].pts, Some(100), "PTS of the frame's first packet");
    assert!(out[1].to_vec() == f1, "frame bytes differ");
    assert!(!out[1].discont);
    assert_eq!(r.stats().packets_duplicate, 3);
    assert!(r.is_fragmented());
}

#[test]
fn missing_middle_packet_drops_only_that_frame() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let mut seq = 65530; // also crosses the sequence number wrap
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 1000)).collect();
    let mut pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * i as u32))
        .collect();
    pkts.remove(5); // the second packet of frame 1
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 2);
    assert!(out[0].to_vec() == frames[0], "frame bytes differ");
    assert!(out[1].to_vec() == frames[2], "frame bytes differ");
    assert!(out[1].discont);
    assert_eq!(r.stats().frames_incomplete, 1);
    assert_eq!(r.pending_frames(), 0);
    // The missing packet arriving now is late.
    let late = fragment(&frames[1], 300, &mut 65534, 3000);
    assert!(r.push(&late[1].0, late[1].1.clone(), None).is_empty());
    assert_eq!(r.stats().packets_late, 1);
}

#[test]
fn lost_marker_packet_does_not_cost_the_next_frame() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let mut seq = 1;
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 900)).collect();
    let mut pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * i as u32))
        .collect();
    pkts.remove(5); // frame 1's marker packet
    let out = feed(&mut r, &pkts);
    assert_eq!(ids(&out), vec![0, 2]);
    assert!(out[1].to_vec() == frames[2]);
    assert!(out[1].discont);
    assert_eq!(r.stats().frames_incomplete, 1);

    // If the previous frame's last two packets are lost, nothing tells
    // whether the packet before the SOI belongs to this frame: it waits, and
    // is given up when a later frame completes.
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let mut seq = 1;
    let frames: Vec<_> = (0..4).map(|n| jpeg(n, 900)).collect();
    let mut pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * i as u32))
        .collect();
    pkts.drain(4..6);
    let out = feed(&mut r, &pkts);
    assert_eq!(ids(&out), vec![0, 3]);
    assert_eq!(r.stats().frames_incomplete, 2);
}

#[test]
fn complete_run_that_is_not_a_jpeg_is_corrupt() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let mut seq = 1;
    let mut bad = jpeg(0, 600);
    let len = bad.len();
    bad[len - 1] = 0x00; // no EOI
    let mut pkts = fragment(&bad, 300, &mut seq, 0);
    pkts.extend(fragment(&jpeg(1, 600), 300, &mut seq, 3000));
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 1);
    assert!(out[0].to_vec() == jpeg(1, 600), "frame bytes differ");
    assert!(out[0].discont);
    assert_eq!(r.stats().frames_corrupt, 1);
}

#[test]
fn eoi_split_across_packets() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let f = jpeg(0, 601);
    let out = feed(&mut r, &fragment(&f, 300, &mut 9, 0)); // last packet is "D9"
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].pieces.last().unwrap(), &vec![0xD9]);
    assert!(out[0].to_vec() == f, "frame bytes differ");
}

#[test]
fn one_byte_packets() {
    // SOI and EOI are each split over two packets.
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let mut seq = 1;
    let frames: Vec<_> = (0..3).map(|n| jpeg(n, 12)).collect();
    let pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 1, &mut seq, i as u32))
        .collect();
    let out = feed(&mut r, &pkts);
    assert_eq!(ids(&out), vec![0, 1, 2]);
    assert!(out[1].to_vec() == frames[1], "frame bytes differ");
}

#[test]
fn two_frames_with_one_timestamp() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let mut seq = 1;
    let mut pkts = fragment(&jpeg(0, 500), 200, &mut seq, 42);
    pkts.extend(fragment(&jpeg(1, 500), 200, &mut seq, 42));
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 2);
    assert!(out[1].to_vec() == jpeg(1, 500), "frame bytes differ");
}

#[test]
fn auto_mode_detects_fragmented_streams_from_the_first_packet() {
    let mut r = Reassembler::new(ReassemblyMode::Auto);
    let f = jpeg(0, 1000);
    let out = feed(&mut r, &fragment(&f, 300, &mut 1, 0));
    assert_eq!(out.len(), 1);
    assert!(out[0].to_vec() == f, "frame bytes differ");
    assert!(r.is_fragmented());
}

#[test]
fn pending_data_is_bounded() {
    let limits = Limits {
        max_pending_frames: 3,
        max_pending_bytes: 64 * 1024,
        max_misorder: 100,
        ..Limits::default()
    };
    let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, limits);
    // Frames that never complete: no marker packet, ever.
    for i in 0..2000u32 {
        let h = RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: i as u16,
            timestamp: i / 10,
            ssrc: 0,
        };
        assert!(r.push(&h, vec![0xAB; 1000], None).is_empty());
        assert!(r.pending_frames() <= 3);
        assert!(r.pending_bytes() <= 64 * 1024);
    }
    assert!(r.stats().frames_incomplete >= 190);
    // And a flood of empty packets with one timestamp.
    for i in 2000..40_000u32 {
        let h = RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: i as u16,
            timestamp: 9,
            ssrc: 0,
        };
        r.push(&h, Vec::new(), None);
        assert!(r.pending_bytes() <= 64 * 1024);
    }
}

#[test]
fn drain_and_reset() {
    let mut r = Reassembler::new(ReassemblyMode::Fragmented);
    let pkts = fragment(&jpeg(0, 900), 300, &mut 1, 0);
    assert!(feed(&mut r, &pkts[..2]).is_empty());
    assert_eq!(r.drain(), 1);
    assert_eq!(r.stats().frames_incomplete, 1);
    assert_eq!(r.pending_bytes(), 0);
    // After a reset the same sequence numbers are new again.
    r.reset();
    let out = feed(&mut r, &pkts);
    assert_eq!(out.len(), 1);
    assert!(out[0].discont);
}

/// How packets are disturbed on their way.
#[derive(Debug, Clone)]
struct Fate {
    lost: bool,
    duplicated: bool,
    /// Sort key used to shuffle packets.
    jitter: u8,
}

fn fates(n: usize) -> impl Strategy<Value = Vec<Fate>> {
    proptest::collection::vec(
        (
            prop::bool::weighted(0.08),
            prop::bool::weighted(0.08),
            any::<u8>(),
        )
            .prop_map(|(lost, duplicated, jitter)| Fate {
                lost,
                duplicated,
                jitter,
            }),
        n,
    )
}

/// Frames of random lengths, split with a random chunk size, starting at a
/// random sequence number (so wraps happen).
fn stream() -> impl Strategy<Value = (Vec<Vec<u8>>, usize, u16)> {
    (
        proptest::collection::vec(8usize..400, 1..10),
        prop_oneof![1usize..4, 1usize..64],
        any::<u16>(),
    )
        .prop_map(|(lens, chunk, seq)| {
            let frames = lens
                .iter()
                .enumerate()
                .map(|(i, &l)| jpeg(i as u32, l))
                .collect();
            (frames, chunk, seq)
        })
}

/// Checks what any output must satisfy: whole original frames, in order,
/// each at most once. Returns the indices of the frames that came out.
fn check_safe(frames: &[Vec<u8>], out: &[Frame<Vec<u8>>]) -> Result<Vec<usize>, TestCaseError> {
    let mut indices = Vec::new();
    for f in out {
        let bytes = f.to_vec();
        prop_assert!(bytes.starts_with(&SOI) && bytes.ends_with(&EOI));
        let Some(i) = frames.iter().position(|o| *o == bytes) else {
            return Err(TestCaseError::fail("output is not one of the input frames"));
        };
        if let Some(&last) = indices.last() {
            prop_assert!(i > last, "frame {} after frame {}", i, last);
        }
        indices.push(i);
    }
    Ok(indices)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Loss, duplication and reordering within each frame: no partial frame
    /// ever comes out, and every frame whose packets all arrived comes out
    /// exactly once (provided the previous frame's last packet arrived, which
    /// is what tells where the frame begins).
    #[test]
    fn fragmented_loss_dup_reorder_within_frames(
        (frames, chunk, seq0) in stream(),
        fate_seed in fates(4000),
        auto in any::<bool>(),
    ) {
        let mode = if auto { ReassemblyMode::Auto } else { ReassemblyMode::Fragmented };
        let mut r = Reassembler::new(mode);
        let mut seq = seq0;
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut fate = fate_seed.iter().cycle();
        // Whether the frames so far tell where the next frame begins.
        let mut boundary_known = true;
        let mut any_marker = false;
        for (i, f) in frames.iter().enumerate() {
            let pkts = fragment(f, chunk, &mut seq, 1000 + 3000 * i as u32);
            let n = pkts.len();
            let mut frame_wire: Vec<(u8, Pkt)> = Vec::new();
            let mut arrived = vec![false; n];
            for (j, p) in pkts.into_iter().enumerate() {
                let fa = fate.next().unwrap();
                if fa.lost {
                    continue;
                }
                arrived[j] = true;
                if fa.duplicated {
                    frame_wire.push((fa.jitter.wrapping_mul(7), p.clone()));
                }
                frame_wire.push((fa.jitter, p));
            }
            frame_wire.sort_by_key(|(k, _)| *k);
            wire.extend(frame_wire.into_iter().map(|(_, p)| p));
            if arrived.iter().all(|&a| a) && (boundary_known || !any_marker) {
                expected.push(i);
            }
            // The marker arrived, or the packet before it (which then
            // cannot be the frame's end).
            boundary_known = arrived[n - 1] || (n >= 2 && arrived[n - 2]);
            any_marker |= arrived[n - 1];
        }
        let out = feed(&mut r, &wire);
        let got = check_safe(&frames, &out)?;
        prop_assert_eq!(got, expected);
        let s = *r.stats();
        prop_assert_eq!(s.packets_received, wire.len() as u64);
        prop_assert_eq!(s.restarts, 0);
    }

    /// Reordering across frames too: still never a partial or repeated frame.
    #[test]
    fn fragmented_chaos_is_safe(
        (frames, chunk, seq0) in stream(),
        fate_seed in fates(4000),
        mode in prop_oneof![Just(ReassemblyMode::Auto), Just(ReassemblyMode::Fragmented)],
    ) {
        let mut r = Reassembler::new(mode);
        let mut seq = seq0;
        let mut fate = fate_seed.iter().cycle();
        let mut wire: Vec<(usize, Pkt)> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            for p in fragment(f, chunk, &mut seq, 3000 * i as u32) {
                let fa = fate.next().unwrap();
                if fa.lost {
                    continue;
                }
                let pos = wire.len() * 4;
                if fa.duplicated {
                    wire.push((pos + usize::from(fa.jitter % 64), p.clone()));
                }
                wire.push((pos + usize::from(fa.jitter % 32), p));
            }
        }
        wire.sort_by_key(|(k, _)| *k);
        let wire: Vec<Pkt> = wire.into_iter().map(|(_, p)| p).collect();
        let out = feed(&mut r, &wire);
        check_safe(&frames, &out)?;
        prop_assert!(r.pending_bytes() <= Limits::default().max_pending_bytes);
        r.drain();
        prop_assert_eq!(r.pending_frames(), 0);
    }

    /// Classic whole-frame streams with loss, duplication and small reordering.
    #[test]
    fn classic_is_safe(
        lens in proptest::collection::vec(8usize..200, 1..40),
        fate_seed in fates(40),
        mode in prop_oneof![Just(ReassemblyMode::Auto), Just(ReassemblyMode::WholeFrame)],
    ) {
        let frames: Vec<_> = lens.iter().enumerate().map(|(i, &l)| jpeg(i as u32, l)).collect();
        let mut wire: Vec<(usize, Pkt)> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let fa = &fate_seed[i];
            if fa.lost {
                continue;
            }
            let p = whole(i as u16 + 1, (i / 24) as u32, f.clone());
            if fa.duplicated {
                wire.push((i * 4 + 1, p.clone()));
            }
            wire.push((i * 4 + usize::from(fa.jitter % 6), p));
        }
        wire.sort_by_key(|(k, _)| *k);
        let wire: Vec<Pkt> = wire.into_iter().map(|(_, p)| p).collect();
        let mut r = Reassembler::new(mode);
        let out = feed(&mut r, &wire);
        let got = check_safe(&frames, &out)?;
        // Whatever is dropped is counted as late or duplicate.
        let s = *r.stats();
        let arrived = wire.len() as u64;
        prop_assert_eq!(got.len() as u64 + s.packets_late + s.packets_duplicate, arrived);
    }

    /// Arbitrary packets: never a panic, never a non-JPEG, bounded memory.
    #[test]
    fn arbitrary_packets_never_panic(
        pkts in proptest::collection::vec(
            (any::<bool>(), any::<u16>(), 0u32..4, proptest::collection::vec(
                prop_oneof![Just(0xFFu8), Just(0xD8), Just(0xD9), any::<u8>()], 0..40)),
            0..300),
        mode in prop_oneof![
            Just(ReassemblyMode::Auto),
            Just(ReassemblyMode::WholeFrame),
            Just(ReassemblyMode::Fragmented),
        ],
    ) {
        let limits = Limits { max_pending_frames: 2, max_pending_bytes: 4096, max_misorder: 10, ..Limits::default() };
        let mut r = Reassembler::with_limits(mode, limits);
        for (marker, seq, ts, payload) in pkts {
            let h = RtpHeader { marker, payload_type: 96, sequence_number: seq % 64, timestamp: ts, ssrc: 0 };
            for f in r.push(&h, payload, None) {
                let bytes = f.to_vec();
                prop_assert!(bytes.starts_with(&SOI) && bytes.ends_with(&EOI) && bytes.len() >= 4);
            }
            prop_assert!(r.pending_frames() <= 2);
            prop_assert!(r.pending_bytes() <= 4096);
        }
    }
}

/// A fragment with the given marker bit.
fn frag(seq: u16, ts: u32, marker: bool, data: Vec<u8>) -> Pkt {
    let (mut h, data) = whole(seq, ts, data);
    h.marker = marker;
    h.payload_type = 96;
    (h, data)
}

/// The default limits without the per-timestamp caps, so that the work
/// bounds below hold by the algorithm, not by the caps.
fn uncapped() -> Limits {
    Limits {
        max_group_pieces: usize::MAX,
        max_group_markers: usize::MAX,
        ..Limits::default()
    }
}

/// The work bound the hostile streams below must stay under: a few marker
/// checks or piece visits per packet, times log2 of the packet count.
fn n_log_n(n: usize) -> u64 {
    4 * n as u64 * u64::from(usize::BITS - n.leading_zeros())
}

/// One timestamp, a marker on every even sequence number, the odd ones
/// never sent: no frame can complete, and each packet must cost O(log n)
/// (it cost a check of every pending marker, O(n), before).
#[test]
fn hostile_markers_cost_n_log_n_checks() {
    for n in [1000usize, 4000] {
        let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, uncapped());
        for i in 0..n {
            let (h, p) = frag(2 * i as u16, 7, true, vec![0xAB]);
            assert!(r.push(&h, p, None).is_empty());
        }
        let checks = r.checks.get();
        assert!(
            checks <= n_log_n(n),
            "{checks} checks for {n} hostile packets (bound {})",
            n_log_n(n)
        );
    }
}

/// The same markers sent first, then the odd packets in order: each odd
/// packet completes one 4-byte frame, and taking it out must not cost a
/// pass over every marker still waiting.
#[test]
fn markers_first_then_fill_costs_n_log_n_checks() {
    let n = 2000usize;
    let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, uncapped());
    for i in 0..n {
        let (h, p) = frag(2 * i as u16, 7, true, vec![0xFF, 0xD9]);
        assert!(r.push(&h, p, None).is_empty());
    }
    let mut out = 0;
    for i in 0..n - 1 {
        let (h, p) = frag(2 * i as u16 + 1, 7, false, vec![0xFF, 0xD8]);
        out += r.push(&h, p, None).len();
    }
    assert_eq!(
        out,
        n - 1,
        "every frame but the first (its start is unknown)"
    );
    let checks = r.checks.get();
    assert!(
        checks <= n_log_n(2 * n),
        "{checks} checks for {} packets (bound {})",
        2 * n,
        n_log_n(2 * n)
    );
}

/// A timestamp that collects more marker packets, or more packets, than one
/// timestamp's frames can need is dropped and counted; the honest frames that
/// follow still come out whole.
#[test]
fn oversized_group_is_dropped_and_counted() {
    let limits = Limits::default();
    // Markers: one past the cap, on every even sequence number.
    let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, limits);
    let n = limits.max_group_markers + 1;
    for i in 0..n {
        let (h, p) = frag(2 * i as u16, 7, true, vec![0xAB]);
        assert!(r.push(&h, p, None).is_empty());
    }
    assert_eq!(r.stats().groups_oversized, 1);
    assert_eq!(r.stats().frames_incomplete, 1);
    assert_eq!(r.pending_frames(), 0);
    assert_eq!(r.pending_bytes(), 0);
    let mut seq = 2 * n as u16 - 1;
    let frames: Vec<_> = (0..3).map(|i| jpeg(i, 900)).collect();
    let pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * (i as u32 + 1)))
        .collect();
    let out = feed(&mut r, &pkts);
    assert_eq!(ids(&out), vec![0, 1, 2]);
    assert!(out[0].to_vec() == frames[0], "frame bytes differ");
    assert!(out[0].discont && !out[1].discont);

    // Pieces: one past the cap, no marker, empty payloads.
    let limits = Limits {
        max_group_pieces: 1000,
        ..Limits::default()
    };
    let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, limits);
    for i in 0..=1000u16 {
        let (h, p) = frag(i, 7, false, Vec::new());
        assert!(r.push(&h, p, None).is_empty());
    }
    assert_eq!(r.stats().groups_oversized, 1);
    assert_eq!(r.pending_bytes(), 0);
    let mut seq = 1001;
    let pkts: Vec<_> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| fragment(f, 300, &mut seq, 3000 * (i as u32 + 1)))
        .collect();
    assert_eq!(ids(&feed(&mut r, &pkts)), vec![0, 1, 2]);
}

/// Empty packets arriving backwards in front of a frame's end: finding the
/// start of the run and its SOI must not walk them again on every packet.
#[test]
fn empty_packets_before_a_start_cost_n_log_n_checks() {
    let n = 4000u16;
    let mut r = Reassembler::with_limits(ReassemblyMode::Fragmented, uncapped());
    let (h, p) = frag(0, 7, true, vec![0xFF, 0xD9]);
    r.push(&h, p, None);
    let (h, p) = frag(n, 8, true, vec![0xFF, 0xD9]);
    r.push(&h, p, None);
    // Packet 1 never comes, so the frame ending at `n` never starts with SOI.
    for i in (2..n).rev() {
        let (h, p) = frag(i, 8, false, Vec::new());
        assert!(r.push(&h, p, None).is_empty());
    }
    let checks = r.checks.get();
    let bound = n_log_n(usize::from(n));
    assert!(
        checks <= bound,
        "{checks} checks for {n} packets (bound {bound})"
    );
}

/// Not a check: prints how long the hostile stream of
/// `hostile_markers_cost_n_log_n_checks` takes against a control of honest
/// 1-packet frames. Run with
/// `cargo test -p mjpegrtsp --release --lib rtp::reassembly::tests::hostile_timings -- --ignored --nocapture`.
#[test]
#[ignore]
fn hostile_timings() {
    for n in [1000usize, 2000, 4000, 16_000] {
        let mut r = Reassembler::new(ReassemblyMode::Fragmented);
        let t = std::time::Instant::now();
        for i in 0..n {
            let (h, p) = frag(2 * i as u16, 7, true, vec![0xAB]);
            r.push(&h, p, None);
        }
        let hostile = t.elapsed();
        let mut r = Reassembler::new(ReassemblyMode::Fragmented);
        let t = std::time::Instant::now();
        for i in 0..n {
            let (h, p) = frag(i as u16, i as u32, true, jpeg(i as u32, 8));
            r.push(&h, p, None);
        }
        let control = t.elapsed();
        println!("{n:>6} packets: hostile {hostile:?}, control {control:?}");
    }
}
