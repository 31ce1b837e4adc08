//! See [`mjpegrtsp::fuzzing::rtsp_headers`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::rtsp_headers(data));
