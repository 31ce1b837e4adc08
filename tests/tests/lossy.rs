//! Loss, duplication and reordering on the UDP path, end to end: our server
//! streams through a loopback proxy ([`RtspProxy`] with an [`Impairer`]) that
//! drops, duplicates and reorders 5 % of the RTP packets each, driven by a
//! seeded generator, and logs exactly what it did; the client library and the
//! `mjpegrtspsrc` element must deliver exactly the frames that lost nothing,
//! each whole and equal to its file frame, and count what the proxy did.
//!
//! The clip: 240 frames of 320×240 (`videotestsrc pattern=ball`, every frame
//! different), sent with a 400-byte MTU so that every frame spans 5 packets.
//! The proxy impairs frames 1‥191, passes frames 192‥215 untouched (so
//! that every gap is resolved and the stream ends in order), and forwards
//! nothing from frame 216 on. The client's counters are read once they
//! account for every datagram the proxy sent.
//!
//! Each impaired packet gets at most one fate, drawn from the generator:
//! dropped (5 %), sent twice back to back (5 %), or held (5 %) and sent
//! after the next one or two forwarded packets — but at most 5 ms after the
//! first of them, so that the client's 30 ms reorder window covers it even
//! at a frame's end, where the next packet is the next frame's, 41.7 ms
//! later (held that long, it would be given up and the frame lost: a
//! reorder beyond the window, not within it). One packet is held at a time;
//! a hold drawn meanwhile passes the packet, so about 4 % end up reordered.
//! With this seed: 44 drops (35 frames), 57 duplicates, 38 reorders.
//!
//! What must hold, for the library (`Session`, UDP, default latency) and for
//! the element (`protocols=udp`): every frame delivered is a whole JPEG whose
//! scan data is its file frame's (RFC 2435 rebuilds the headers); the frames
//! delivered are exactly those without a dropped packet, in order, DISCONT
//! exactly after a gap; packets lost = drops, duplicated = duplicates,
//! reordered = reorders, late = 0, frames incomplete = frames with a drop —
//! all exact, no systematic difference. Real loss (a gap in what the server
//! sent the proxy, fewer datagrams at the client than the proxy sent, or the
//! proxy descheduled past the reorder window) spoils a run, which is then
//! retried.

use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, Event, Session, Stats, TransportPreference};
use mjpegrtsp_tests::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SEED: u64 = 0x2435_5EED_0000_0001;
const CLIP_FRAMES: u32 = 240;
/// Frames whose packets are impaired.
const IMPAIRED: Range<u64> = 1..192;
/// Frames forwarded at all.
const FORWARDED: u64 = 216;
/// Server MTU: about 380 bytes of scan data per packet; the clip's frames
/// have 1.5–1.6 KB of it.
const MTU: usize = 400;
const MIN_PACKETS_PER_FRAME: usize = 4;
/// A held packet goes at the latest this long after the first one that
/// overtook it: well inside the client's default 30 ms reorder window.
const REORDER_MAX_HOLD: Duration = Duration::from_millis(5);
/// Runs spoiled by real loopback loss (never seen at this rate) are retried.
const ATTEMPTS: usize = 3;

fn impairments() -> Impairments {
    Impairments {
        seed: SEED,
        drop_per_mille: 50,
        duplicate_per_mille: 50,
        reorder_per_mille: 50,
        frames: IMPAIRED,
        forward_frames: Some(FORWARDED),
        reorder_max_hold: REORDER_MAX_HOLD,
    }
}

/// The clip's container bytes (encoded once per test binary).
fn clip() -> &'static (Vec<u8>, Vec<Vec<u8>>) {
    static CLIP: OnceLock<(Vec<u8>, Vec<Vec<u8>>)> = OnceLock::new();
    CLIP.get_or_init(|| {
        let bytes = encoded_movie(CLIP_FRAMES, 320, 240, 80, "ball");
        let frames = frames_of(&bytes);
        (bytes, frames)
    })
}

/// Our server (not looping) serving the clip with the small MTU, and the
/// impairing proxy in front of it.
struct Setup {
    _dir: tempfile::TempDir,
    _server: TestServer,
    proxy: RtspProxy,
    log: Arc<Mutex<ImpairLog>>,
}

fn set_up() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("movie.Mjpeg"), &clip().0).unwrap();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.mtu = MTU;
    let server = TestServer::start_with(config);
    let (impairer, log) = Impairer::new(impairments());
    let proxy = RtspProxy::start(server.addr, impairer);
    Setup {
        _dir: dir,
        _server: server,
        proxy,
        log,
    }
}

/// What the proxy's log says the client must see.
#[derive(Debug)]
struct Expected {
    /// Frames below FORWARDED that lost no packet.
    clean: BTreeSet<u64>,
    /// Frames that lost at least one packet but not all of them: the ones a
    /// receiver can notice and count as incomplete.
    with_drop: BTreeSet<u64>,
    /// Frames every packet of which was dropped: invisible to a receiver.
    wholly_dropped: BTreeSet<u64>,
    dropped: u64,
    duplicated: u64,
    reordered: u64,
    datagrams: u64,
    /// RTP timestamp → frame number.
    frame_of_ts: HashMap<u32, u64>,
    /// Frame number → (first seq, last seq).
    seqs: BTreeMap<u64, (u16, u16)>,
}

fn expected(log: &ImpairLog) -> Expected {
    let mut e = Expected {
        clean: BTreeSet::new(),
        with_drop: BTreeSet::new(),
        wholly_dropped: BTreeSet::new(),
        dropped: 0,
        duplicated: 0,
        reordered: 0,
        datagrams: log.datagrams_sent,
        frame_of_ts: HashMap::new(),
        seqs: BTreeMap::new(),
    };
    let mut per_frame: BTreeMap<u64, Vec<&PacketRecord>> = BTreeMap::new();
    for p in &log.packets {
        match p.fate {
            Fate::Dropped => e.dropped += 1,
            Fate::Duplicated => e.duplicated += 1,
            Fate::Reordered { .. } => e.reordered += 1,
            Fate::Passed | Fate::Gated => {}
        }
        if p.frame < FORWARDED {
            per_frame.entry(p.frame).or_default().push(p);
            e.frame_of_ts.insert(p.timestamp, p.frame);
        }
    }
    assert_eq!(
        per_frame.keys().copied().collect::<Vec<_>>(),
        (0..FORWARDED).collect::<Vec<_>>(),
        "the proxy saw frames 0‥{FORWARDED} in order"
    );
    for (&frame, packets) in &per_frame {
        assert!(
            packets.len() >= MIN_PACKETS_PER_FRAME,
            "frame {frame} spans {} packets",
            packets.len()
        );
        assert!(
            packets.last().unwrap().marker && packets.iter().filter(|p| p.marker).count() == 1,
            "frame {frame}: the marker is on its last packet only"
        );
        e.seqs
            .insert(frame, (packets[0].seq, packets.last().unwrap().seq));
        let drops = packets.iter().filter(|p| p.fate == Fate::Dropped).count();
        if drops == 0 {
            e.clean.insert(frame);
        } else if drops == packets.len() {
            e.wholly_dropped.insert(frame);
        } else {
            e.with_drop.insert(frame);
        }
        if !IMPAIRED.contains(&frame) {
            assert!(packets.iter().all(|p| p.fate == Fate::Passed));
        }
    }
    assert!(
        log.packets
            .iter()
            .any(|p| p.frame >= FORWARDED && p.fate == Fate::Gated),
        "the stream went on past the gate"
    );
    // Each impairment happened often enough to mean something (about 50 of
    // each in ~950 impaired packets).
    for (what, n) in [
        ("drops", e.dropped),
        ("duplicates", e.duplicated),
        ("reorders", e.reordered),
    ] {
        assert!(n >= 20, "{n} {what}");
    }
    assert!(
        e.with_drop.len() >= 20,
        "{} frames with a drop",
        e.with_drop.len()
    );
    assert_eq!(
        log.released_in_order, 0,
        "every held packet was sent after a later one"
    );
    e
}

/// Real loss between the processes (not the proxy's doing) spoils a run:
/// it shows as a gap in what the server sent the proxy, or as fewer
/// datagrams counted by the client than the proxy sent.
fn environmental_loss(log: &ImpairLog, received: u64) -> Option<String> {
    if log.input_gaps > 0 {
        return Some(format!(
            "{} packets lost between the server and the proxy",
            log.input_gaps
        ));
    }
    let window = ClientOptions::default().latency;
    if log.max_reorder_delay >= window.saturating_sub(Duration::from_millis(5)) {
        return Some(format!(
            "the proxy was descheduled: a reordered packet came {:?} after the one that overtook it",
            log.max_reorder_delay
        ));
    }
    if received != log.datagrams_sent {
        return Some(format!(
            "the client received {received} datagrams, the proxy sent {}",
            log.datagrams_sent
        ));
    }
    None
}

/// Waits (bounded) until the proxy has passed the gate and a moment more.
fn wait_for_gate(log: &Arc<Mutex<ImpairLog>>, mut tick: impl FnMut()) {
    let deadline = Instant::now() + Duration::from_secs(FORWARDED / 24 + 15);
    let mut gated_at = None;
    loop {
        tick();
        let gated = log
            .lock()
            .unwrap()
            .packets
            .last()
            .is_some_and(|p| p.fate == Fate::Gated);
        match gated_at {
            None if gated => gated_at = Some(Instant::now()),
            Some(t) if t.elapsed() > Duration::from_millis(500) => return,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the server streamed past frame {FORWARDED} in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The client's counters against the proxy's log.
struct Counters {
    received: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    incomplete: u64,
    frames: u64,
}

fn assert_counters(c: &Counters, e: &Expected) {
    assert_eq!(
        c.lost, e.dropped,
        "packets lost = packets the proxy dropped"
    );
    assert_eq!(
        c.duplicated, e.duplicated,
        "packets duplicated = packets the proxy sent twice"
    );
    assert_eq!(
        c.reordered, e.reordered,
        "packets reordered = packets the proxy held back"
    );
    // A frame every packet of which was dropped leaves no trace a receiver
    // could count (its packets are counted lost, though); none with this seed.
    assert_eq!(
        c.incomplete,
        e.with_drop.len() as u64,
        "frames incomplete = frames with a dropped packet (and {} dropped whole)",
        e.wholly_dropped.len()
    );
    assert_eq!(c.frames, e.clean.len() as u64);
    assert_eq!(c.received, e.datagrams);
}

/// Checks the delivered frames, identified by frame number, in delivery
/// order with their DISCONT flags.
fn assert_delivered(delivered: &[(u64, bool)], e: &Expected) {
    let numbers: Vec<u64> = delivered.iter().map(|d| d.0).collect();
    assert!(
        numbers.windows(2).all(|w| w[1] > w[0]),
        "frames in order, none twice: {numbers:?}"
    );
    let got: BTreeSet<u64> = numbers.iter().copied().collect();
    let lost_delivered: Vec<&u64> = got.intersection(&e.with_drop).collect();
    assert!(
        lost_delivered.is_empty(),
        "frames that lost a packet are not delivered: {lost_delivered:?}"
    );
    let missing: Vec<&u64> = e.clean.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "every frame that lost nothing is delivered (duplicates and reorders cost none); missing {missing:?}"
    );
    assert_eq!(got, e.clean);
    // DISCONT exactly after a gap.
    for (i, &(n, discont)) in delivered.iter().enumerate() {
        let after_gap = i == 0 || delivered[i - 1].0 + 1 != n;
        assert_eq!(
            discont, after_gap,
            "frame {n}: DISCONT iff frames before it are missing"
        );
    }
}

/// One run of the client library through the proxy: `Err` when real loss
/// spoiled it.
fn library_run() -> Result<(), String> {
    let file = &clip().1;
    let setup = set_up();
    let log = setup.log.clone();
    let (frames, stats) = block_on(async {
        let opts = ClientOptions {
            transport: TransportPreference::Udp,
            timeout: Duration::from_secs(5),
            ..ClientOptions::default()
        };
        let mut s = Session::connect(&setup.proxy.url("movie.Mjpeg"), opts)
            .await
            .unwrap();
        s.setup().await.unwrap();
        let mut events = s.events().unwrap();
        s.play(None).await.unwrap();
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(FORWARDED / 24 + 15);
        let mut gated_at: Option<Instant> = None;
        while gated_at.is_none_or(|t| t.elapsed() < Duration::from_millis(500)) {
            assert!(
                Instant::now() < deadline,
                "the stream reached frame {FORWARDED}"
            );
            match tokio::time::timeout(Duration::from_millis(20), events.recv()).await {
                Ok(Some(Event::Frame(f))) => frames.push(f),
                Ok(Some(Event::Error(e))) => panic!("background error: {e}"),
                Ok(Some(Event::End(why))) => panic!("the stream ended early: {why:?}"),
                Ok(Some(Event::Stats(_) | Event::Stalled { .. } | Event::Resumed { .. }))
                | Err(_) => {}
                Ok(None) => panic!("the session is gone"),
            }
            if gated_at.is_none()
                && log
                    .lock()
                    .unwrap()
                    .packets
                    .last()
                    .is_some_and(|p| p.fate == Fate::Gated)
            {
                gated_at = Some(Instant::now());
            }
        }
        // The counters are published now and then: wait until they account
        // for every datagram the proxy sent (bounded).
        let sent = log.lock().unwrap().datagrams_sent;
        let until = Instant::now() + Duration::from_secs(3);
        let mut stats: Stats = s.stats();
        while stats.packets_received != sent && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
            stats = s.stats();
        }
        while let Some(ev) = events.try_recv() {
            if let Event::Frame(f) = ev {
                frames.push(f);
            }
        }
        s.teardown().await.unwrap();
        (frames, stats)
    });
    let log = setup.log.lock().unwrap().clone();
    if let Some(why) = environmental_loss(&log, stats.packets_received) {
        return Err(why);
    }
    let e = expected(&log);
    let mut delivered = Vec::new();
    for f in &frames {
        assert!(
            mjpegrtsp::container::is_whole_jpeg(&f.jpeg),
            "frame {}..{} is a whole JPEG",
            f.first_seq,
            f.last_seq
        );
        let n = *e
            .frame_of_ts
            .get(&f.rtp_timestamp)
            .unwrap_or_else(|| panic!("timestamp {} is one the proxy forwarded", f.rtp_timestamp));
        assert_eq!(
            (f.pts.as_secs_f64() * 24.0).round() as u64,
            n,
            "pts {:?} is frame {n}'s",
            f.pts
        );
        assert_eq!((f.first_seq, f.last_seq), e.seqs[&n], "frame {n}'s packets");
        assert!(
            jpeg_scan_data(&f.jpeg) == jpeg_scan_data(&file[n as usize]),
            "frame {n} has the scan data of file frame {n}"
        );
        delivered.push((n, f.discont));
    }
    assert_delivered(&delivered, &e);
    assert_eq!(stats.packets_late, 0, "{stats:?}");
    assert_eq!(stats.frames_dropped, 0, "{stats:?}");
    assert_eq!(stats.restarts, 0, "{stats:?}");
    assert_counters(
        &Counters {
            received: stats.packets_received,
            lost: stats.packets_lost,
            duplicated: stats.packets_duplicated,
            reordered: stats.packets_reordered,
            incomplete: stats.frames_incomplete,
            frames: stats.frames,
        },
        &e,
    );
    eprintln!(
        "library: {} frames delivered of {FORWARDED}; proxy dropped {}, duplicated {}, reordered {} packets \
         (longest wait for a reordered one {:?}); {} frames incomplete",
        delivered.len(),
        e.dropped,
        e.duplicated,
        e.reordered,
        log.max_reorder_delay,
        e.with_drop.len()
    );
    Ok(())
}

/// One run of `mjpegrtspsrc protocols=udp` through the proxy.
fn element_run() -> Result<(), String> {
    init();
    let file = &clip().1;
    let by_scan: HashMap<&[u8], u64> = file[..FORWARDED as usize]
        .iter()
        .enumerate()
        .map(|(i, j)| (jpeg_scan_data(j).unwrap(), i as u64))
        .collect();
    assert_eq!(by_scan.len(), FORWARDED as usize, "file frames tell apart");
    let setup = set_up();
    let pipeline = gst::parse::launch(&format!(
        "mjpegrtspsrc name=src location={} protocols=udp ! appsink name=sink sync=false",
        setup.proxy.url("movie.Mjpeg")
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline.by_name("src").unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let buffers = Arc::new(Mutex::new(Vec::<(Vec<u8>, bool)>::new()));
    {
        let buffers = buffers.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let b = sample.buffer().unwrap();
                    buffers.lock().unwrap().push((
                        b.map_readable().unwrap().to_vec(),
                        b.flags().contains(gst::BufferFlags::DISCONT),
                    ));
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let check_bus = || {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos]) {
            panic!("{msg:?}");
        }
    };
    wait_for_gate(&setup.log, check_bus);
    // The stats property is refreshed every second: wait until it accounts
    // for every datagram the proxy sent (bounded).
    let sent = setup.log.lock().unwrap().datagrams_sent;
    let until = Instant::now() + Duration::from_secs(4);
    let mut stats = src.property::<gst::Structure>("stats");
    while stats.get::<u64>("packets-received").unwrap() != sent && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        stats = src.property::<gst::Structure>("stats");
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let log = setup.log.lock().unwrap().clone();
    let get = |name: &str| stats.get::<u64>(name).unwrap();
    if let Some(why) = environmental_loss(&log, get("packets-received")) {
        return Err(why);
    }
    let e = expected(&log);
    let buffers = buffers.lock().unwrap();
    let mut delivered = Vec::new();
    for (jpeg, discont) in buffers.iter() {
        assert!(mjpegrtsp::container::is_whole_jpeg(jpeg), "a whole JPEG");
        let scan = jpeg_scan_data(jpeg).expect("a JPEG with a scan");
        let n = *by_scan
            .get(scan)
            .expect("the scan data of one of the forwarded file frames");
        delivered.push((n, *discont));
    }
    assert_delivered(&delivered, &e);
    assert_counters(
        &Counters {
            received: get("packets-received"),
            lost: get("packets-lost"),
            duplicated: get("packets-duplicated"),
            reordered: get("packets-reordered"),
            incomplete: get("frames-incomplete"),
            frames: get("frames-received"),
        },
        &e,
    );
    assert_eq!(
        get("frames-dropped"),
        get("frames-incomplete"),
        "no frame dropped for a slow consumer: {stats}"
    );
    eprintln!(
        "element: {} frames delivered of {FORWARDED}; {stats}",
        delivered.len()
    );
    Ok(())
}

fn with_retries(name: &str, run: fn() -> Result<(), String>) {
    for attempt in 1..=ATTEMPTS {
        match run() {
            Ok(()) => return,
            Err(why) => eprintln!("{name}: attempt {attempt} spoiled by real loss: {why}"),
        }
    }
    panic!("{name}: real loopback loss in all {ATTEMPTS} attempts");
}

#[test]
fn client_library_through_a_lossy_reordering_proxy() {
    with_retries("library", library_run);
}

#[test]
fn element_through_a_lossy_reordering_proxy() {
    with_retries("element", element_run);
}

#[test]
fn impairer_is_deterministic_and_does_what_it_logs() {
    // The same packets through two impairers with the same seed: the same
    // fates and the same output; every output datagram accounted for.
    let packets: Vec<Vec<u8>> = (0..600u32)
        .map(|i| {
            let mut p = vec![0x80, if i % 5 == 4 { 0x80 | 26 } else { 26 }];
            p.extend_from_slice(&(1000 + i as u16).to_be_bytes());
            p.extend_from_slice(&(3750 * (i / 5)).to_be_bytes());
            p.extend_from_slice(&[0; 4]);
            p.extend_from_slice(&i.to_be_bytes());
            p
        })
        .collect();
    let run = || {
        let (mut imp, log) = Impairer::new(Impairments {
            frames: 0..100,
            forward_frames: Some(110),
            ..impairments()
        });
        let mut sent = Vec::new();
        let mut out = Vec::new();
        for p in &packets {
            imp.on_packet(p.clone(), &mut out);
            for o in out.drain(..) {
                imp.on_sent(&o, Instant::now());
                sent.push(rtp_fields(&o).unwrap().seq);
            }
        }
        imp.on_idle(&mut out);
        assert!(out.is_empty(), "nothing held at the end");
        (sent, log.lock().unwrap().clone())
    };
    let (sent, log) = run();
    let (sent2, log2) = run();
    assert_eq!(sent, sent2);
    assert_eq!(log.packets, log2.packets);
    assert_eq!(log.datagrams_sent, sent.len() as u64);
    let fate = |seq: u16| log.packets.iter().find(|p| p.seq == seq).unwrap().fate;
    let mut count = HashMap::new();
    for &s in &sent {
        *count.entry(s).or_insert(0) += 1;
    }
    for p in &log.packets {
        let expect = match p.fate {
            Fate::Dropped | Fate::Gated => 0,
            Fate::Duplicated => 2,
            Fate::Passed | Fate::Reordered { .. } => 1,
        };
        assert_eq!(count.get(&p.seq).copied().unwrap_or(0), expect, "{p:?}");
        assert_eq!(p.frame, u64::from(p.seq - 1000) / 5);
    }
    assert!(log.packets[..500].iter().all(|p| p.fate != Fate::Gated));
    assert!(log.packets[550..].iter().all(|p| p.fate == Fate::Gated));
    // A reordered packet comes after exactly `after` later packets (counting
    // a duplicated one once).
    let mut distinct: Vec<u16> = Vec::new();
    for &s in &sent {
        if distinct.last() != Some(&s) {
            distinct.push(s);
        }
    }
    for (i, &s) in distinct.iter().enumerate() {
        if let Fate::Reordered { after } = fate(s) {
            let before = &distinct[i - usize::from(after)..i];
            assert!(before.iter().all(|&b| b > s), "{s} after {before:?}");
            assert!(i == usize::from(after) || distinct[i - usize::from(after) - 1] < s);
        }
    }
    for f in [Fate::Dropped, Fate::Duplicated] {
        let n = log.packets.iter().filter(|p| p.fate == f).count();
        assert!((10..=50).contains(&n), "{n} × {f:?} in 500 packets at 5 %");
    }
}
