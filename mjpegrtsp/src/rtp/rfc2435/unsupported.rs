//! Why a JPEG cannot be carried by RFC 2435.

use super::{HuffmanClass, MAX_DIMENSION};
use std::fmt;

/// Why a JPEG cannot be sent as RFC 2435 (or not with this MTU). The
/// [`Display`](fmt::Display) text is meant for people: it says what the JPEG
/// has and what RFC 2435 would need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Not a JPEG, or its marker segments are cut short or inconsistent.
    Malformed { offset: usize, what: &'static str },
    /// A coding process other than baseline or extended sequential Huffman
    /// (progressive, lossless, hierarchical, arithmetic): `marker` is the SOF
    /// (or DHP) marker's second byte.
    Coding { marker: u8 },
    /// The components are R, G, B rather than Y, Cb, Cr (as libjpeg decides:
    /// no JFIF APP0 segment, and an Adobe APP14 segment with transform 0 or
    /// else component ids `R`, `G`, `B`): receivers rebuild headers that say
    /// YCbCr.
    Rgb,
    /// Samples of other than 8 bits.
    SamplePrecision(u8),
    /// Other than 3 colour components: grayscale (1) or CMYK (4) has no
    /// RFC 2435 type.
    Components(u8),
    /// Sampling factors (H<<4 | V of Y, Cb, Cr) other than 4:2:2 (21 11 11)
    /// or 4:2:0 (22 11 11), e.g. 4:4:4.
    Sampling { y: u8, cb: u8, cr: u8 },
    /// Width or height zero (set later by a DNL segment), above 2040 or not a
    /// multiple of 8: the header carries them in 8-pixel units in one byte.
    Dimensions { width: u16, height: u16 },
    /// A 16-bit quantization table (table number `table`).
    QuantPrecision { table: u8 },
    /// Cb and Cr use quantization tables with different contents; RFC 2435
    /// carries one chroma table.
    ChromaQuantTables,
    /// A component's Huffman table is not the standard one of T.81 Annex K.3
    /// that the receiver rebuilds (`component` 0 is Y, 1 Cb, 2 Cr).
    HuffmanTables { component: u8, class: HuffmanClass },
    /// Not one interleaved scan of Y, Cb, Cr over all 64 coefficients
    /// followed by EOI (e.g. separate scans per component, or a DNL).
    ScanLayout { what: &'static str },
    /// Scan data (with EOI) longer than the 24-bit fragment offset can address.
    ScanTooLong { len: usize },
    /// The MTU leaves no room for the first packet's headers and tables.
    MtuTooSmall { mtu: usize, min: usize },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unsupported::Malformed { offset, what } => {
                write!(f, "malformed JPEG at byte {offset}: {what}")
            }
            Unsupported::Coding { marker } => {
                let name = match marker {
                    0xC2 => "progressive",
                    0xC3 => "lossless",
                    0xC9 => "arithmetic-coded",
                    0xCA => "arithmetic-coded progressive",
                    0xCB => "arithmetic-coded lossless",
                    0xC5..=0xC7 | 0xCD..=0xCF | 0xDE => "hierarchical",
                    _ => "non-baseline",
                };
                write!(
                    f,
                    "{name} JPEG (marker FF{marker:02X}): RFC 2435 carries only \
                     baseline sequential Huffman-coded JPEG"
                )
            }
            Unsupported::Rgb => write!(
                f,
                "RGB components: RFC 2435 receivers decode the scan as YCbCr"
            ),
            Unsupported::SamplePrecision(p) => {
                write!(f, "{p}-bit samples: RFC 2435 carries only 8-bit JPEG")
            }
            Unsupported::Components(1) => {
                write!(f, "grayscale JPEG: RFC 2435 has no type for one component")
            }
            Unsupported::Components(n) => {
                write!(f, "{n} colour components: RFC 2435 carries only YCbCr (3)")
            }
            Unsupported::Sampling { y, cb, cr } => write!(
                f,
                "sampling factors Y {}x{}, Cb {}x{}, Cr {}x{}: RFC 2435 carries \
                 only 4:2:2 (Y 2x1) and 4:2:0 (Y 2x2) with Cb, Cr 1x1",
                y >> 4,
                y & 15,
                cb >> 4,
                cb & 15,
                cr >> 4,
                cr & 15
            ),
            Unsupported::Dimensions { width, height } => write!(
                f,
                "{width}x{height} pixels: RFC 2435 needs width and height that \
                 are multiples of 8 from 8 to {MAX_DIMENSION}"
            ),
            Unsupported::QuantPrecision { table } => write!(
                f,
                "16-bit quantization table {table}: only 8-bit tables are sent"
            ),
            Unsupported::ChromaQuantTables => write!(
                f,
                "Cb and Cr use different quantization tables: RFC 2435 carries \
                 one table for both"
            ),
            Unsupported::HuffmanTables { component, class } => {
                let comp = ["Y", "Cb", "Cr"][usize::from(component.min(2))];
                let class = match class {
                    HuffmanClass::Dc => "DC",
                    HuffmanClass::Ac => "AC",
                };
                write!(
                    f,
                    "the {comp} {class} Huffman table is not the standard one \
                     (JPEG Annex K.3) that RFC 2435 receivers assume \
                     (e.g. an optimised table)"
                )
            }
            Unsupported::ScanLayout { what } => {
                write!(
                    f,
                    "scan layout: {what}; RFC 2435 carries one interleaved scan"
                )
            }
            Unsupported::ScanTooLong { len } => write!(
                f,
                "{len} bytes of scan data exceed the 24-bit fragment offset"
            ),
            Unsupported::MtuTooSmall { mtu, min } => write!(
                f,
                "an MTU of {mtu} bytes is too small for RFC 2435 JPEG (at least {min})"
            ),
        }
    }
}

impl std::error::Error for Unsupported {}
