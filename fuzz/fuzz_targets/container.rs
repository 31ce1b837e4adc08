//! See [`mjpegrtsp::fuzzing::container`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::container(data));
