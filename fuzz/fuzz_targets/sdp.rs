//! See [`mjpegrtsp::fuzzing::sdp`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::sdp(data));
