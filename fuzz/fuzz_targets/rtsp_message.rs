//! See [`mjpegrtsp::fuzzing::rtsp_message`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mjpegrtsp::fuzzing::rtsp_message(data));
