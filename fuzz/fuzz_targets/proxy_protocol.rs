//! See [`mjpegrtsp::fuzzing::proxy_protocol`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::proxy_protocol(data));
