//! `multipart/x-mixed-replace` of JPEG parts: the MJPEG-over-HTTP stream
//! IP cameras serve and every browser shows in an `<img>` with no script.
//!
//! The body is a run of parts, each a boundary line, its own headers and a
//! JPEG; each part replaces the one before on screen:
//!
//! ```text
//! --mjpegrtsp-frame\r\n
//! Content-Type: image/jpeg\r\n
//! Content-Length: 21337\r\n
//! \r\n
//! <21337 bytes of JPEG>\r\n
//! ```
//!
//! The server writes parts with [`part`] (once per frame, shared by every
//! viewer) and ends a finite stream with [`CLOSING`]; [`PartReader`] reads
//! such a stream back (tests, the load tool), with or without
//! `Content-Length` in the parts.

use std::fmt;

/// The boundary between parts.
pub const BOUNDARY: &str = "mjpegrtsp-frame";

/// The response's `Content-Type`.
pub const CONTENT_TYPE: &str = "multipart/x-mixed-replace; boundary=mjpegrtsp-frame";

/// What ends the stream (after the last part).
pub const CLOSING: &[u8] = b"--mjpegrtsp-frame--\r\n";

/// The largest part head [`PartReader`] takes.
const MAX_HEAD: usize = 4096;

/// One part carrying `jpeg`: boundary line, `Content-Type` and
/// `Content-Length`, a blank line, the JPEG and a line end.
pub fn part(jpeg: &[u8]) -> Vec<u8> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    );
    let mut out = Vec::with_capacity(head.len() + jpeg.len() + 2);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(jpeg);
    out.extend_from_slice(b"\r\n");
    out
}

/// The boundary a `Content-Type` such as [`CONTENT_TYPE`] names, if it is
/// a multipart type with one (quotes removed).
pub fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && !value.is_empty())
            .then(|| value.to_owned())
    })
}

/// One part read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// Why a multipart stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// Something other than a boundary line where one belongs.
    MissingBoundary,
    /// A part head line is not `Name: value`, or is over the limit.
    BadHead,
    /// A part's `Content-Length` is not a number, or over the limit.
    BadLength,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MultipartError::MissingBoundary => "no boundary where a part should begin",
            MultipartError::BadHead => "malformed part head",
            MultipartError::BadLength => "bad part Content-Length",
        })
    }
}

impl std::error::Error for MultipartError {}

/// Reads parts from a multipart body given in pieces as they arrive.
#[derive(Debug)]
pub struct PartReader {
    /// `--` and the boundary.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    max_part: usize,
    ended: bool,
}

impl PartReader {
    /// A reader of parts separated by `boundary`, each at most `max_part`
    /// bytes.
    pub fn new(boundary: &str, max_part: usize) -> PartReader {
        PartReader {
            delimiter: format!("--{boundary}").into_bytes(),
            buf: Vec::new(),
            max_part,
            ended: false,
        }
    }

    /// More of the body.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether the closing delimiter (`--boundary--`) has been read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next whole part, `None` until more bytes come (or after the end).
    pub fn next_part(&mut self) -> Result<Option<Part>, MultipartError> {
        if self.ended {
            return Ok(None);
        }
        // Line ends and a preamble before the first delimiter are skipped.
        let Some(at) = find(&self.buf, &self.delimiter) else {
            let keep = self.delimiter.len();
            if self.buf.len() > keep + MAX_HEAD {
                return Err(MultipartError::MissingBoundary);
            }
            return Ok(None);
        };
        if self.buf[..at].iter().any(|b| !b.is_ascii_whitespace()) && at > MAX_HEAD {
            return Err(MultipartError::MissingBoundary);
        }
        let after = at + self.delimiter.len();
        if self.buf.len() < after + 2 {
            return Ok(None);
        }
        if &self.buf[after..after + 2] == b"--" {
            self.ended = true;
            self.buf.clear();
            return Ok(None);
        }
        let Some(head_end) = find(&self.buf[after..], b"\r\n\r\n").map(|i| after + i + 4) else {
            if self.buf.len() - after > MAX_HEAD {
                return Err(MultipartError::BadHead);
            }
            return Ok(None);
        };
        let head =
            std::str::from_utf8(&self.buf[after..head_end]).map_err(|_| MultipartError::BadHead)?;
        let mut content_type = None;
        let mut length = None;
        for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or(MultipartError::BadHead)?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("Content-Type") {
                content_type = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("Content-Length") {
                let n: usize = value.parse().map_err(|_| MultipartError::BadLength)?;
                if n > self.max_part {
                    return Err(MultipartError::BadLength);
                }
                length = Some(n);
            }
        }
        let body_end = match length {
            Some(n) if self.buf.len() >= head_end + n => head_end + n,
            Some(_) => return Ok(None),
            // No length: the body runs to the line end before the next
            // delimiter.
            None => match find(&self.buf[head_end..], &self.delimiter) {
                Some(i) => {
                    let end = head_end + i;
                    end - usize::from(self.buf[..end].ends_with(b"\r\n")) * 2
                }
                None if self.buf.len() - head_end > self.max_part => {
                    return Err(MultipartError::BadLength);
                }
                None => return Ok(None),
            },
        };
        let body = self.buf[head_end..body_end].to_vec();
        self.buf.drain(..body_end);
        Ok(Some(Part { content_type, body }))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_back_whole_however_the_bytes_are_cut() {
        let frames: Vec<Vec<u8>> = (0..5u8)
            .map(|n| {
                // Bodies that hold line ends and dashes of their own.
                let mut v = vec![0xFF, 0xD8, n];
                v.extend_from_slice(b"\r\n--mjpegrtsp-fr\r\n\r\n");
                v.resize(100 + usize::from(n) * 37, n);
                v
            })
            .collect();
        let mut stream: Vec<u8> = frames.iter().flat_map(|f| part(f)).collect();
        stream.extend_from_slice(CLOSING);
        for cut in [1, 7, 64, stream.len()] {
            let mut reader = PartReader::new(BOUNDARY, 1 << 20);
            let mut got = Vec::new();
            for piece in stream.chunks(cut) {
                reader.push(piece);
                while let Some(p) = reader.next_part().unwrap() {
                    assert_eq!(p.content_type.as_deref(), Some("image/jpeg"));
                    got.push(p.body);
                }
            }
            assert_eq!(got, frames, "cut at {cut}");
            assert!(reader.ended());
        }
    }

    #[test]
    fn parts_without_length_end_at_the_next_boundary() {
        let stream = b"preamble\r\n--b\r\nContent-Type: image/jpeg\r\n\r\nONE\r\n--b\r\n\r\nTWO\r\n--b--\r\n";
        let mut reader = PartReader::new("b", 100);
        reader.push(stream);
        assert_eq!(reader.next_part().unwrap().unwrap().body, b"ONE");
        let two = reader.next_part().unwrap().unwrap();
        assert_eq!((two.body.as_slice(), two.content_type), (&b"TWO"[..], None));
        assert_eq!(reader.next_part().unwrap(), None);
        assert!(reader.ended());
    }

    #[test]
    fn bad_streams_are_errors_not_hangs() {
        let mut r = PartReader::new("b", 10);
        r.push(b"--b\r\nContent-Length: 11\r\n\r\n");
        assert_eq!(r.next_part(), Err(MultipartError::BadLength));
        let mut r = PartReader::new("b", 10);
        r.push(b"--b\r\nno colon\r\n\r\n");
        assert_eq!(r.next_part(), Err(MultipartError::BadHead));
        let mut r = PartReader::new("b", 10);
        r.push(&[b'x'; 5000]);
        assert_eq!(r.next_part(), Err(MultipartError::MissingBoundary));
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(boundary_of(CONTENT_TYPE).as_deref(), Some(BOUNDARY));
        assert_eq!(
            boundary_of("multipart/x-mixed-replace;boundary=\"ffserver\"").as_deref(),
            Some("ffserver")
        );
        assert_eq!(boundary_of("image/jpeg"), None);
        assert_eq!(boundary_of("multipart/x-mixed-replace"), None);
    }
}
