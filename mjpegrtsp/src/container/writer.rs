//! Writing the container.

use super::{MAX_FRAME_LEN, PREFIX_LEN};
use std::{fmt, io};

/// A frame too big for the five-digit length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The frame's number, counting from 1.
    pub frame: u64,
    /// Its size in bytes.
    pub len: usize,
}

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame {} is {} bytes: the .Mjpeg container holds at most {MAX_FRAME_LEN} bytes per frame (lower the JPEG quality or the resolution)",
            self.frame, self.len
        )
    }
}

impl std::error::Error for FrameTooLarge {}

/// The five-digit prefix for a frame of `len` bytes, or `None` if it does not fit.
pub fn encode_prefix(len: usize) -> Option<[u8; PREFIX_LEN]> {
    if len > MAX_FRAME_LEN {
        return None;
    }
    let mut out = [b'0'; PREFIX_LEN];
    let mut n = len;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Some(out)
}

/// Writes frames to any [`io::Write`]. A frame that does not fit is refused
/// before anything of it is written, so the output stays a valid container.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    frames: u64,
}

impl<W: io::Write> FrameWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner, frames: 0 }
    }

    /// Writes one frame. Fails with [`io::ErrorKind::InvalidInput`] wrapping a
    /// [`FrameTooLarge`] if the frame is over [`MAX_FRAME_LEN`] bytes.
    pub fn write_frame(&mut self, jpeg: &[u8]) -> io::Result<()> {
        let prefix = encode_prefix(jpeg.len()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                FrameTooLarge {
                    frame: self.frames + 1,
                    len: jpeg.len(),
                },
            )
        })?;
        self.inner.write_all(&prefix)?;
        self.inner.write_all(jpeg)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::parse_prefix;

    #[test]
    fn prefixes() {
        assert_eq!(&encode_prefix(10528).unwrap(), b"10528");
        assert_eq!(&encode_prefix(7).unwrap(), b"00007");
        assert_eq!(&encode_prefix(99_999).unwrap(), b"99999");
        assert_eq!(encode_prefix(100_000), None);
        for n in [0, 1, 42, 65_507, 99_999] {
            assert_eq!(parse_prefix(&encode_prefix(n).unwrap()), Some(n));
        }
    }

    #[test]
    fn oversized_frame_writes_nothing() {
        let mut w = FrameWriter::new(Vec::new());
        w.write_frame(&[0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
        let err = w.write_frame(&vec![0; 100_000]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("frame 2 is 100000 bytes"), "{err}");
        assert_eq!(w.frames(), 1);
        assert_eq!(w.into_inner().len(), 9);
    }
}
