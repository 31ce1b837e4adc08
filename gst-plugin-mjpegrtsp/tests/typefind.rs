//! Tests of the `.Mjpeg` type finder, on its own and among all installed ones.

use gst::TypeFindProbability as P;
use gst::prelude::*;
use gstmjpegrtsp::CONTAINER_CAPS_NAME;
use mjpegrtsp::container::{self, FrameWriter};
use proptest::prelude::*;
use std::io::Read;
use std::sync::Once;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegrtsp::plugin_register_static().expect("register the mjpegrtsp plugin");
    });
}

/// What our type finder alone suggests for `data`.
fn ours(data: &[u8]) -> Option<P> {
    init();
    let factory = gst::TypeFindFactory::factories()
        .into_iter()
        .find(|f| f.name() == CONTAINER_CAPS_NAME)
        .expect("the container's type finder is registered");
    let mut find = gst::SliceTypeFind::new(data);
    factory.call_function(&mut find);
    if let Some(caps) = &find.caps {
        assert_eq!(caps.structure(0).unwrap().name(), CONTAINER_CAPS_NAME);
    }
    find.probability
}

/// What all installed type finders together decide for `data`.
fn found_by_all(data: &[u8]) -> Option<(String, P)> {
    init();
    gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, data)
        .ok()
        .map(|(caps, prob)| (caps.structure(0).unwrap().name().to_string(), prob))
}

fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    let mut v = vec![fill; len];
    v[..2].copy_from_slice(&container::SOI);
    v[2..4].copy_from_slice(&[0xFF, 0xE0]);
    v[len - 2..].copy_from_slice(&container::EOI);
    v
}

fn two_frames() -> Vec<u8> {
    let mut w = FrameWriter::new(Vec::new());
    w.write_frame(&jpeg(1, 1000)).unwrap();
    w.write_frame(&jpeg(2, 700)).unwrap();
    w.into_inner()
}

/// The start of the project's sample clip: real JPEGs from `jpegenc`, framed
/// by `lengthmjpegmux`.
#[test]
fn real_file_start_is_found_with_maximum_probability() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.Mjpeg");
    gstmjpegrtsp::sample::write_sample(&path).unwrap();
    let mut head = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .unwrap();
    assert_eq!(head.len(), 64 * 1024);
    let head = &head[..];
    assert_eq!(ours(head), Some(P::Maximum));
    assert_eq!(
        found_by_all(head),
        Some((CONTAINER_CAPS_NAME.to_string(), P::Maximum))
    );
}

#[test]
fn synthetic_two_frames_are_found_with_maximum_probability() {
    let data = two_frames();
    assert_eq!(ours(&data), Some(P::Maximum));
    assert_eq!(
        found_by_all(&data),
        Some((CONTAINER_CAPS_NAME.to_string(), P::Maximum))
    );
    // Only the first header and the second's seven bytes are needed.
    assert_eq!(ours(&data[..1005 + 7]), Some(P::Maximum));
}

#[test]
fn first_header_alone_is_likely() {
    let data = two_frames();
    // The second header is cut short, or the data ends with the first frame.
    assert_eq!(ours(&data[..1005 + 6]), Some(P::Likely));
    assert_eq!(ours(&data[..1005]), Some(P::Likely));
    assert_eq!(ours(&data[..7]), Some(P::Likely));
}

#[test]
fn prefix_pointing_at_non_header_is_only_possible() {
    let mut data = two_frames();
    data[1005 + 5] = 0x00; // the second frame's SOI
    assert_eq!(ours(&data), Some(P::Possible));
    let mut data = two_frames();
    data[1005 + 2] = b'x'; // the second frame's prefix
    assert_eq!(ours(&data), Some(P::Possible));
}

#[test]
fn plain_jpeg_is_left_to_the_jpeg_type_finder() {
    let data = jpeg(0, 2000);
    assert_eq!(ours(&data), None);
    let (name, _) = found_by_all(&data).expect("some type finder knows JPEG");
    assert_eq!(name, "image/jpeg");
}

#[test]
fn text_starting_with_digits_is_not_claimed() {
    for text in [
        &b"12345 is a number, and so is 67890\n"[..],
        b"2024-01-01 log line\n",
        b"00000\xFF\xD8 zero length",
        b"00003\xFF\xD8\xFF\xD9 too short to be a JPEG",
        b"1234\xFF\xD8\xFF\xD9 four digits",
        b" 1234\xFF\xD8\xFF\xD9 leading space",
    ] {
        assert_eq!(ours(text), None, "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn short_buffers_are_not_claimed() {
    let data = two_frames();
    for n in 0..=6 {
        assert_eq!(ours(&data[..n]), None, "{n} bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Integration tests have no lib.rs for proptest to keep failures beside.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn only_data_starting_with_a_header_is_claimed(
        data in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            // Digits and often an SOI, to exercise the near misses too.
            (0u32..100_000, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
                |(len, soi, rest)| {
                    let mut v = format!("{len:05}").into_bytes();
                    if soi {
                        v.extend_from_slice(&container::SOI);
                    }
                    v.extend(rest);
                    v
                }
            ),
        ]
    ) {
        let claimed = ours(&data);
        let header = data.len() >= 7
            && container::parse_prefix(&data).is_some_and(|len| len >= 4)
            && data[5..7] == container::SOI;
        prop_assert_eq!(claimed.is_some(), header);
    }

    #[test]
    fn written_containers_are_found(lens in proptest::collection::vec(4usize..3000, 2..5)) {
        let mut w = FrameWriter::new(Vec::new());
        for (i, &len) in lens.iter().enumerate() {
            w.write_frame(&jpeg(i as u8, len)).unwrap();
        }
        prop_assert_eq!(ours(&w.into_inner()), Some(P::Maximum));
    }
}
