//! What the server's HTTP port puts on the wire beside ordinary HTTP/1.1
//! messages (which [`crate::rtsp`]'s parser and writer handle, RTSP/1.0
//! having borrowed HTTP's syntax): the `multipart/x-mixed-replace` stream
//! of JPEGs that browsers show in an `<img>` ([`multipart`]).

pub mod multipart;
