//! See [`mjpegrtsp::fuzzing::reassembly`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::reassembly(data));
