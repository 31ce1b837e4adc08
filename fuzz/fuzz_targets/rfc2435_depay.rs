//! See [`mjpegrtsp::fuzzing::rfc2435_depay`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::rfc2435_depay(data));
