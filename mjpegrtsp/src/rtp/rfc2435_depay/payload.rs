//! One RFC 2435 payload read (main, restart and quantization table headers),
//! the tables a Q factor stands for, and the JPEG headers a receiver writes
//! in front of the scan data.

use super::{DepayError, QUANT_TABLE_HEADER_LEN};
use crate::container::jpeg::tables::{
    STD_CHROMA_QUANT, STD_HUFFMAN, STD_LUMA_QUANT, ZIGZAG_TO_NATURAL,
};
use crate::container::jpeg::{SOI, marker, write_segment};
use crate::rtp::rfc2435::{MAIN_HEADER_LEN, RESTART_HEADER_LEN};

/// One quantization table in zigzag order, as a DQT segment carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum QuantTable {
    Bits8([u8; 64]),
    /// Big-endian 16-bit values.
    Bits16([u8; 128]),
}

impl QuantTable {
    pub(super) fn len(&self) -> usize {
        match self {
            QuantTable::Bits8(_) => 64,
            QuantTable::Bits16(_) => 128,
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            QuantTable::Bits8(t) => t,
            QuantTable::Bits16(t) => t,
        }
    }

    /// Pq of the DQT segment: 0 for 8-bit, 1 for 16-bit.
    pub(super) fn precision(&self) -> u8 {
        match self {
            QuantTable::Bits8(_) => 0,
            QuantTable::Bits16(_) => 1,
        }
    }
}

/// The luma and chroma tables of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QuantTables {
    pub(super) luma: QuantTable,
    pub(super) chroma: QuantTable,
}

/// The tables for Q 1‥=99: T.81 tables K.1 and K.2 scaled as in RFC 2435
/// Appendix A (`MakeTables`), written in zigzag order.
pub(super) fn tables_for_q(q: u8) -> QuantTables {
    let factor = u32::from(q.clamp(1, 99));
    let scale = if factor < 50 {
        5000 / factor
    } else {
        200 - 2 * factor
    };
    let scaled = |standard: &[u8; 64]| {
        let mut table = [0u8; 64];
        for (value, &natural) in table.iter_mut().zip(&ZIGZAG_TO_NATURAL) {
            let v = (u32::from(standard[natural]) * scale + 50) / 100;
            *value = v.clamp(1, 255) as u8;
        }
        QuantTable::Bits8(table)
    };
    QuantTables {
        luma: scaled(&STD_LUMA_QUANT),
        chroma: scaled(&STD_CHROMA_QUANT),
    }
}

/// The fields of the main JPEG header (and restart marker header) that must
/// be the same in every packet of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameKey {
    pub(super) rtp_type: u8,
    pub(super) q: u8,
    pub(super) width: u8,
    pub(super) height: u8,
    pub(super) restart_interval: u16,
}

impl FrameKey {
    /// Type 0/64 is 4:2:2, type 1/65 is 4:2:0.
    pub(super) fn luma_sampling(&self) -> u8 {
        if self.rtp_type & 0x3F == 0 {
            0x21
        } else {
            0x22
        }
    }
}

/// One parsed payload.
pub(super) struct Payload<'a> {
    pub(super) key: FrameKey,
    pub(super) offset: usize,
    /// For Q ≥ 128 at offset 0: the tables, or `None` for a length of 0.
    pub(super) tables: Option<QuantTables>,
    pub(super) data: &'a [u8],
}

pub(super) fn too_short(what: &'static str, needed: usize, len: usize) -> DepayError {
    DepayError::TooShort { what, needed, len }
}

/// Parses the RFC 2435 headers of one payload. Never panics.
pub(super) fn parse_payload(payload: &[u8]) -> Result<Payload<'_>, DepayError> {
    let len = payload.len();
    let main = payload
        .get(..MAIN_HEADER_LEN)
        .ok_or_else(|| too_short("main JPEG header", MAIN_HEADER_LEN, len))?;
    let offset = usize::from(main[1]) << 16 | usize::from(main[2]) << 8 | usize::from(main[3]);
    let (rtp_type, q, width, height) = (main[4], main[5], main[6], main[7]);
    if !matches!(rtp_type, 0 | 1 | 64 | 65) {
        return Err(DepayError::UnsupportedType(rtp_type));
    }
    if q == 0 || (100..128).contains(&q) {
        return Err(DepayError::ReservedQ(q));
    }
    let mut pos = MAIN_HEADER_LEN;
    let mut restart_interval = 0;
    if rtp_type >= 64 {
        let end = pos + RESTART_HEADER_LEN;
        let header = payload
            .get(pos..end)
            .ok_or_else(|| too_short("restart marker header", end, len))?;
        restart_interval = u16::from_be_bytes([header[0], header[1]]);
        pos = end;
    }
    let mut tables = None;
    if q >= 128 && offset == 0 {
        let end = pos + QUANT_TABLE_HEADER_LEN;
        let header = payload
            .get(pos..end)
            .ok_or_else(|| too_short("quantization table header", end, len))?;
        let precision = header[1];
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        pos = end;
        let end = pos + length;
        let data = payload
            .get(pos..end)
            .ok_or_else(|| too_short("quantization tables", end, len))?;
        pos = end;
        if length == 0 {
            if q == 255 {
                return Err(DepayError::MissingTables { q });
            }
        } else {
            tables = Some(parse_tables(precision, data)?);
        }
    }
    Ok(Payload {
        key: FrameKey {
            rtp_type,
            q,
            width,
            height,
            restart_interval,
        },
        offset,
        tables,
        data: &payload[pos..],
    })
}

/// The first two tables of the table data: bit i of `precision` says whether
/// table i has 16-bit values. Further tables (for other types) are ignored.
/// Data of exactly one table is that table for luma and chroma alike: what
/// ffmpeg's MJPEG encoder (one table for every component) sends.
pub(super) fn parse_tables(precision: u8, data: &[u8]) -> Result<QuantTables, DepayError> {
    let size = |i: u8| if precision >> i & 1 == 0 { 64 } else { 128 };
    let needed = size(0) + size(1);
    if data.len() == size(0) {
        let table = parse_tables(precision, &[data, data].concat())?.luma;
        return Ok(QuantTables {
            chroma: table.clone(),
            luma: table,
        });
    }
    if data.len() < needed {
        return Err(DepayError::TablesTooShort {
            length: data.len(),
            needed,
        });
    }
    let table = |bytes: &[u8]| {
        if let Ok(t) = <[u8; 64]>::try_from(bytes) {
            QuantTable::Bits8(t)
        } else {
            let mut t = [0u8; 128];
            t.copy_from_slice(bytes);
            QuantTable::Bits16(t)
        }
    };
    Ok(QuantTables {
        luma: table(&data[..size(0)]),
        chroma: table(&data[size(0)..needed]),
    })
}

/// Writes the JPEG headers from SOI to SOS for a frame.
pub(super) fn write_headers(
    out: &mut Vec<u8>,
    key: FrameKey,
    width: u16,
    height: u16,
    tables: &QuantTables,
) {
    out.extend_from_slice(&SOI);
    let mut segment = |marker: u8, body: &[&[u8]]| write_segment(out, marker, body);
    segment(
        marker::DQT,
        &[
            &[tables.luma.precision() << 4],
            tables.luma.bytes(),
            &[tables.chroma.precision() << 4 | 1],
            tables.chroma.bytes(),
        ],
    );
    // Baseline needs 8-bit tables; 16-bit ones make it extended sequential.
    let sof = if tables.luma.len() == 64 && tables.chroma.len() == 64 {
        marker::SOF0
    } else {
        marker::SOF1
    };
    let [h1, h0] = height.to_be_bytes();
    let [w1, w0] = width.to_be_bytes();
    segment(
        sof,
        &[&[
            8,
            h1,
            h0,
            w1,
            w0,
            3,
            1,
            key.luma_sampling(),
            0,
            2,
            0x11,
            1,
            3,
            0x11,
            1,
        ]],
    );
    for table in &STD_HUFFMAN {
        segment(
            marker::DHT,
            &[&[table.class_id], &table.counts, table.symbols],
        );
    }
    if key.restart_interval > 0 {
        segment(marker::DRI, &[&key.restart_interval.to_be_bytes()]);
    }
    segment(marker::SOS, &[&[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]]);
}
