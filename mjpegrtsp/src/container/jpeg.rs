//! Just enough JPEG parsing to describe a frame: its size and coding from the
//! SOF segment.

/// What a JPEG's start-of-frame segment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u16,
    pub height: u16,
    /// Number of colour components (1 grayscale, 3 YCbCr, 4 CMYK).
    pub components: u8,
    /// The SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, …
    pub sof: u8,
}

impl JpegInfo {
    pub fn is_progressive(&self) -> bool {
        matches!(self.sof, 2 | 6 | 10 | 14)
    }
}

/// Walks the marker segments of `data` up to the first SOF and returns what it
/// says. `None` if `data` is not a JPEG or has no readable SOF before the scan.
pub fn parse_info(data: &[u8]) -> Option<JpegInfo> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        // Skip fill bytes before a marker.
        while *data.get(pos)? == 0xFF && *data.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        if *data.get(pos)? != 0xFF {
            return None;
        }
        let marker = *data.get(pos + 1)?;
        pos += 2;
        match marker {
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let seg_len = usize::from(u16::from_be_bytes([*data.get(pos)?, *data.get(pos + 1)?]));
        if seg_len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = data.get(pos + 2..pos + seg_len)?;
            if seg.len() < 6 {
                return None;
            }
            return Some(JpegInfo {
                height: u16::from_be_bytes([seg[1], seg[2]]),
                width: u16::from_be_bytes([seg[3], seg[4]]),
                components: seg[5],
                sof: marker & 0x0F,
            });
        }
        pos += seg_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal header: SOI, an APP0 segment, SOF0 for 640×480×3, then EOI.
    fn header(sof_marker: u8) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB];
        v.extend_from_slice(&[0xFF, sof_marker, 0x00, 0x11, 8, 0x01, 0xE0, 0x02, 0x80, 3]);
        v.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn reads_sof() {
        let info = parse_info(&header(0xC0)).unwrap();
        assert_eq!((info.width, info.height, info.components), (640, 480, 3));
        assert!(!info.is_progressive());
        assert!(parse_info(&header(0xC2)).unwrap().is_progressive());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(parse_info(b""), None);
        assert_eq!(parse_info(&[0xFF, 0xD8]), None);
        assert_eq!(parse_info(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]), None);
        assert_eq!(parse_info(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00]), None);
        let mut h = header(0xC0);
        h.truncate(16);
        assert_eq!(parse_info(&h), None);
    }
}
