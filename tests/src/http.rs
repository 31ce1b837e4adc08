//! A small HTTP/1.1 client for the tests of the server's HTTP port, over
//! std sockets: replies are read with the project's own parser
//! (`rtsp::Parser` reads HTTP heads, the syntax RTSP borrowed) and MJPEG
//! streams with `http::multipart::PartReader`.

use mjpegrtsp::http::multipart::{PartReader, boundary_of};
use mjpegrtsp::rtsp::{Item, Parsed, Parser, Response};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Sends `head` (a whole request, blank line included) and reads one reply
/// (its body by `Content-Length`).
pub fn request(addr: SocketAddr, head: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the HTTP port");
    stream.write_all(head.as_bytes()).unwrap();
    read_reply(&mut stream, &mut Vec::new())
}

/// `GET path` on a connection of its own.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// The value of each sample of metric `family` in a Prometheus text page,
/// in order.
pub fn metric_samples(page: &str, family: &str) -> Vec<f64> {
    page.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// Reads one reply from `stream`; `buf` keeps what came after it.
pub fn read_reply(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Response {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut chunk = [0u8; 16 * 1024];
    let parser = Parser::with_limits(mjpegrtsp::rtsp::Limits {
        max_body: 64 << 20,
        ..Default::default()
    });
    loop {
        if let Parsed::Complete(Item::Response(r), used) = parser.parse(buf, false) {
            buf.drain(..used);
            return r;
        }
        let n = stream.read(&mut chunk).expect("a reply");
        assert!(
            n > 0,
            "connection closed before a whole reply: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A `/stream/...` being read.
pub struct MjpegStream {
    stream: TcpStream,
    parts: PartReader,
    /// The reply's head.
    pub head: Response,
}

impl MjpegStream {
    /// Opens `path`: the stream, or the reply refusing it.
    pub fn open(addr: SocketAddr, path: &str) -> Result<MjpegStream, Response> {
        let mut stream = TcpStream::connect(addr).expect("connect to the HTTP port");
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .unwrap();
        let mut rest = Vec::new();
        let head = read_reply(&mut stream, &mut rest);
        let Some(boundary) = head.headers.get("Content-Type").and_then(boundary_of) else {
            return Err(head);
        };
        let mut parts = PartReader::new(&boundary, 16 << 20);
        parts.push(&rest);
        Ok(MjpegStream {
            stream,
            parts,
            head,
        })
    }

    /// The next part's body, within `timeout`; `None` at the end of the
    /// stream or on timeout. Panics on a malformed stream.
    pub fn next_frame(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + timeout;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(part) = self
                .parts
                .next_part()
                .expect("a well-formed multipart stream")
            {
                return Some(part.body);
            }
            if self.parts.ended() {
                return None;
            }
            let left = end.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.parts.push(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Whether the server ended the stream with its closing boundary.
    pub fn ended(&self) -> bool {
        self.parts.ended()
    }
}
