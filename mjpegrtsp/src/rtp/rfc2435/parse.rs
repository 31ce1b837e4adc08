//! Reading a JPEG for RFC 2435: its size, sampling, quantisation tables and
//! scan data, and whether its Huffman tables are the standard ones.

use super::{FrameInfo, HuffmanClass, MAX_DIMENSION, Subsampling, Unsupported};
use crate::container::jpeg::tables::{
    HuffmanTable, STD_CHROMA_AC, STD_CHROMA_DC, STD_LUMA_AC, STD_LUMA_DC,
};
use crate::container::jpeg::{Component, SegmentError, Sof, marker, segments};

/// What [`parse`] takes from the JPEG.
pub(super) struct Parsed {
    pub(super) info: FrameInfo,
    pub(super) luma_table: [u8; 64],
    pub(super) chroma_table: [u8; 64],
    /// The entropy-coded data, without EOI and trailing fill bytes.
    pub(super) scan: std::ops::Range<usize>,
}

fn malformed(offset: usize, what: &'static str) -> Unsupported {
    Unsupported::Malformed { offset, what }
}

impl From<SegmentError> for Unsupported {
    fn from(e: SegmentError) -> Self {
        malformed(e.offset(), e.what())
    }
}

/// Walks the marker segments up to SOS, checks everything RFC 2435 needs and
/// finds the scan data.
pub(super) fn parse(data: &[u8]) -> Result<Parsed, Unsupported> {
    // Definitions in force, by table number: quantization tables (offset of
    // the 64 bytes), Huffman tables (DC, AC) as slices of the DHT segment.
    let mut quant: [Option<usize>; 4] = [None; 4];
    let mut huffman: [[Option<&[u8]>; 4]; 2] = [[None; 4]; 2];
    let mut frame: Option<(u16, u16, [Component; 3])> = None;
    let mut restart_interval = 0u16;
    let mut adobe_transform = None;
    let mut jfif = false;

    for segment in segments(data) {
        let segment = segment?;
        let (seg, marker_pos, seg_start) = (segment.body, segment.offset, segment.body_offset());
        match segment.marker {
            marker::SOF0 | marker::SOF1 => {
                if frame.is_some() {
                    return Err(malformed(marker_pos, "second SOF segment"));
                }
                frame = Some(parse_sof(segment.marker, seg, marker_pos)?);
            }
            m if marker::is_sof(m) || m == marker::DHP => {
                return Err(Unsupported::Coding { marker: m });
            }
            marker::DHT => parse_dht(seg, marker_pos, &mut huffman)?,
            marker::DQT => parse_dqt(seg, seg_start, &mut quant)?,
            marker::DRI => {
                if seg.len() < 2 {
                    return Err(malformed(marker_pos, "DRI segment too short"));
                }
                restart_interval = u16::from_be_bytes([seg[0], seg[1]]);
            }
            marker::SOS => {
                let (width, height, comps) =
                    frame.ok_or_else(|| malformed(marker_pos, "SOS before SOF"))?;
                let ids = [comps[0].id, comps[1].id, comps[2].id];
                let rgb = match adobe_transform {
                    _ if jfif => false,
                    Some(transform) => transform == 0,
                    None => ids == *b"RGB",
                };
                if rgb {
                    return Err(Unsupported::Rgb);
                }
                check_sos(seg, marker_pos, &comps, &huffman)?;
                let table = |c: &Component| {
                    quant
                        .get(usize::from(c.quant_table))
                        .copied()
                        .flatten()
                        .ok_or_else(|| malformed(marker_pos, "a component's DQT table is missing"))
                };
                let (y, cb, cr) = (table(&comps[0])?, table(&comps[1])?, table(&comps[2])?);
                if data[cb..cb + 64] != data[cr..cr + 64] {
                    return Err(Unsupported::ChromaQuantTables);
                }
                let subsampling = if comps[0].sampling == 0x21 {
                    Subsampling::Yuv422
                } else {
                    Subsampling::Yuv420
                };
                let mut luma_table = [0; 64];
                luma_table.copy_from_slice(&data[y..y + 64]);
                let mut chroma_table = [0; 64];
                chroma_table.copy_from_slice(&data[cb..cb + 64]);
                return Ok(Parsed {
                    info: FrameInfo {
                        subsampling,
                        width,
                        height,
                        restart_interval,
                    },
                    luma_table,
                    chroma_table,
                    scan: find_scan_end(data, segment.end())?,
                });
            }
            marker::APP0 if seg.starts_with(b"JFIF\0") => jfif = true,
            marker::APP14 if seg.len() >= 12 && seg.starts_with(b"Adobe") => {
                adobe_transform = Some(seg[11]);
            }
            // APPn, COM, DAC and the rest carry nothing RFC 2435 needs.
            _ => {}
        }
    }
    // The walk ends at SOS, which returned above, or with an error.
    Err(malformed(data.len(), "data ends inside the headers"))
}

fn parse_sof(marker: u8, seg: &[u8], at: usize) -> Result<(u16, u16, [Component; 3]), Unsupported> {
    let sof = Sof::parse(marker, seg).ok_or_else(|| malformed(at, "SOF segment too short"))?;
    if sof.precision != 8 {
        return Err(Unsupported::SamplePrecision(sof.precision));
    }
    let (width, height) = (sof.width, sof.height);
    if sof.components != 3 {
        return Err(Unsupported::Components(sof.components));
    }
    let comp = |i: usize| {
        sof.component(i)
            .ok_or_else(|| malformed(at, "SOF segment too short for 3 components"))
    };
    let comps = [comp(0)?, comp(1)?, comp(2)?];
    let (y, cb, cr) = (comps[0].sampling, comps[1].sampling, comps[2].sampling);
    if !matches!(y, 0x21 | 0x22) || cb != 0x11 || cr != 0x11 {
        return Err(Unsupported::Sampling { y, cb, cr });
    }
    let ok = |d: u16| d > 0 && d <= MAX_DIMENSION && d.is_multiple_of(8);
    if !ok(width) || !ok(height) {
        return Err(Unsupported::Dimensions { width, height });
    }
    Ok((width, height, comps))
}

fn parse_dqt(
    seg: &[u8],
    seg_start: usize,
    quant: &mut [Option<usize>; 4],
) -> Result<(), Unsupported> {
    let mut i = 0;
    while i < seg.len() {
        let (precision, id) = (seg[i] >> 4, seg[i] & 0x0F);
        if precision != 0 {
            return Err(Unsupported::QuantPrecision { table: id });
        }
        if id > 3 {
            return Err(malformed(
                seg_start + i,
                "quantization table number above 3",
            ));
        }
        if seg.len() < i + 65 {
            return Err(malformed(seg_start + i, "DQT segment too short"));
        }
        quant[usize::from(id)] = Some(seg_start + i + 1);
        i += 65;
    }
    Ok(())
}

fn parse_dht<'a>(
    seg: &'a [u8],
    at: usize,
    huffman: &mut [[Option<&'a [u8]>; 4]; 2],
) -> Result<(), Unsupported> {
    let mut i = 0;
    while i < seg.len() {
        let (class, id) = (usize::from(seg[i] >> 4), usize::from(seg[i] & 0x0F));
        if class > 1 || id > 3 {
            return Err(malformed(at, "bad Huffman table class or number"));
        }
        let counts = seg
            .get(i + 1..i + 17)
            .ok_or_else(|| malformed(at, "DHT segment too short"))?;
        let symbols: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let table = seg
            .get(i + 1..i + 17 + symbols)
            .ok_or_else(|| malformed(at, "DHT segment too short"))?;
        huffman[class][id] = Some(table);
        i += 17 + symbols;
    }
    Ok(())
}

/// Checks that the scan is one interleaved scan of the frame's components in
/// order, with the standard Huffman tables.
fn check_sos(
    seg: &[u8],
    at: usize,
    comps: &[Component; 3],
    huffman: &[[Option<&[u8]>; 4]; 2],
) -> Result<(), Unsupported> {
    let ns = *seg
        .first()
        .ok_or_else(|| malformed(at, "empty SOS segment"))?;
    if ns != 3 {
        return Err(Unsupported::ScanLayout {
            what: "the first scan does not hold all three components",
        });
    }
    if seg.len() < 1 + 2 * 3 + 3 {
        return Err(malformed(at, "SOS segment too short"));
    }
    for (i, comp) in comps.iter().enumerate() {
        let (id, tables) = (seg[1 + 2 * i], seg[2 + 2 * i]);
        if id != comp.id {
            return Err(Unsupported::ScanLayout {
                what: "the scan's components are not those of the frame, in order",
            });
        }
        let (dc, ac): (&HuffmanTable, &HuffmanTable) = if i == 0 {
            (&STD_LUMA_DC, &STD_LUMA_AC)
        } else {
            (&STD_CHROMA_DC, &STD_CHROMA_AC)
        };
        let checks = [
            (HuffmanClass::Dc, tables >> 4, dc),
            (HuffmanClass::Ac, tables & 0x0F, ac),
        ];
        for (class, table, standard) in checks {
            let defined = huffman[class as usize].get(usize::from(table));
            // Never defined: the Motion-JPEG convention for the standard tables.
            let is_standard = defined.is_some_and(|t| t.is_none_or(|t| standard.is_defined_by(t)));
            if !is_standard {
                return Err(Unsupported::HuffmanTables {
                    component: i as u8,
                    class,
                });
            }
        }
    }
    let spectral = &seg[1 + 2 * 3..1 + 2 * 3 + 3];
    if spectral != [0, 63, 0] {
        return Err(Unsupported::ScanLayout {
            what: "the scan does not cover coefficients 0 to 63 in one pass",
        });
    }
    Ok(())
}

/// Finds the end of the entropy-coded data that starts at `start`: the EOI
/// marker (or the end of `data`), without fill bytes before it. Restart
/// markers and stuffed `FF 00` pairs belong to the scan; any other marker
/// means a layout RFC 2435 cannot carry.
fn find_scan_end(data: &[u8], start: usize) -> Result<std::ops::Range<usize>, Unsupported> {
    let mut pos = start;
    let mut end = data.len();
    while let Some(found) = data[pos..].iter().position(|&b| b == 0xFF) {
        let ff = pos + found;
        match data.get(ff + 1) {
            None => break,
            Some(0x00 | 0xD0..=0xD7) => pos = ff + 2,
            Some(0xFF) => pos = ff + 1,
            Some(&marker::EOI) => {
                end = ff;
                break;
            }
            Some(_) => {
                return Err(Unsupported::ScanLayout {
                    what: "a marker other than RST or EOI follows the scan data \
                           (another scan, DNL or DHT)",
                });
            }
        }
    }
    while end > start && data[end - 1] == 0xFF {
        end -= 1;
    }
    if end == start {
        return Err(malformed(start, "no scan data"));
    }
    Ok(start..end)
}
