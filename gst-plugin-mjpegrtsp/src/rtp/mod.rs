//! The 12-byte RTP header (RFC 3550) as plain Rust. Work in progress.
