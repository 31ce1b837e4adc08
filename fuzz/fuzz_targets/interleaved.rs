//! See [`mjpegrtsp::fuzzing::interleaved`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::interleaved(data));
