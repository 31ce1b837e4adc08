//! Playback position over an indexed `.Mjpeg` file, shared by the file source
//! and the demuxer: which frame comes next, seeking, and the duration,
//! position and conversion queries, all frame-accurate once the file is
//! indexed.
//!
//! The index may still be being built ([`SharedIndex`]): until then the
//! duration is an estimate, and a frame the walk has not reached is one
//! found near it; once the walk gets there the same frame number names the
//! exact frame, so playback after a seek is corrected to the exact frames
//! (the first corrected buffer is marked DISCONT).

use gst::prelude::*;
use mjpegrtsp::container::{Anomaly, FrameEntry, Located, SharedIndex, jpeg::JpegInfo};
use mjpegrtsp::timing::FrameRate;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Problems posted one by one as warnings before the rest are only counted.
const MAX_REPORTED_ANOMALIES: usize = 16;

/// The next frame to output and how to stamp it.
#[derive(Debug, Clone, Copy)]
pub struct Cue {
    /// Play frame number (counts on across loops).
    pub number: u64,
    pub entry: FrameEntry,
    pub pts: gst::ClockTime,
    pub duration: gst::ClockTime,
    pub discont: bool,
}

impl Cue {
    /// Sets timestamps, frame offsets and the DISCONT flag on `buffer`.
    pub fn stamp(&self, buffer: &mut gst::BufferRef) {
        buffer.set_pts(self.pts);
        buffer.set_duration(self.duration);
        buffer.set_offset(self.number);
        buffer.set_offset_end(self.number + 1);
        if self.discont {
            buffer.set_flags(gst::BufferFlags::DISCONT);
        }
    }
}

/// What comes next.
#[derive(Debug)]
pub enum Next {
    /// This frame.
    Cue(Cue),
    /// The frame is not found yet: wait for the index and ask again.
    Wait(u64),
    /// The end of the segment or the file.
    Eos,
}

#[derive(Debug)]
pub struct Playhead {
    index: Arc<SharedIndex>,
    rate: FrameRate,
    looping: bool,
    /// The next play frame; frame `n` of the file is `next % frames`.
    /// Negative only when reverse playback ran off the start.
    next: i64,
    /// Whether the next buffer follows a jump (seek or skipped frame).
    discont: bool,
    /// Whether the last frame output was an estimate.
    estimated: bool,
}

impl Playhead {
    pub fn new(index: Arc<SharedIndex>, rate: FrameRate, looping: bool) -> Self {
        Self {
            index,
            rate,
            looping,
            next: 0,
            discont: true,
            estimated: false,
        }
    }

    /// The index played from.
    pub fn index(&self) -> &Arc<SharedIndex> {
        &self.index
    }

    /// Frames in the file: exact once indexed, an estimate until then.
    fn frames(&self) -> u64 {
        self.index.count().map_or(0, |c| c.frames)
    }

    /// Duration of the file (an estimate until it is indexed), or `None`
    /// when looping (endless).
    pub fn duration_ns(&self) -> Option<u64> {
        (!self.looping).then(|| self.rate.frame_start_ns(self.frames()))
    }

    /// Marks that the next frame does not follow on from the last one output.
    pub fn mark_discont(&mut self) {
        self.discont = true;
    }

    /// Takes the next frame to output in `segment`.
    pub fn advance(&mut self, segment: &gst::FormattedSegment<gst::ClockTime>) -> Next {
        let n = self.next;
        if n < 0 {
            return Next::Eos;
        }
        let number = n as u64;
        let total = self.index.count().filter(|c| c.exact).map(|c| c.frames);
        if total.is_some_and(|t| t == 0 || (!self.looping && number >= t)) {
            return Next::Eos;
        }
        // Until the count is exact, a looping file does not wrap yet.
        let in_file = total.map_or(number, |t| number % t);
        let (entry, estimated) = match self.index.locate(in_file) {
            Located::Exact(e) => (e, false),
            Located::Estimated(e) => (e, true),
            Located::NotYet => return Next::Wait(in_file),
            Located::End => return Next::Eos,
        };
        let pts = self.rate.frame_start_ns(number);
        let duration = self.rate.frame_duration_ns(number);
        let reverse = segment.rate() < 0.0;
        let outside = if reverse {
            segment
                .start()
                .is_some_and(|s| pts + duration <= s.nseconds())
        } else {
            segment.stop().is_some_and(|s| pts >= s.nseconds())
        };
        if outside {
            return Next::Eos;
        }
        self.next += if reverse { -1 } else { 1 };
        // Corrected from an estimate to the exact frame: a jump.
        let corrected = self.estimated && !estimated;
        self.estimated = estimated;
        Next::Cue(Cue {
            number,
            entry,
            pts: gst::ClockTime::from_nseconds(pts),
            duration: gst::ClockTime::from_nseconds(duration),
            discont: std::mem::take(&mut self.discont) || corrected,
        })
    }

    /// Moves to the first frame of `segment` (its last, when playing in
    /// reverse). `false` if the segment cannot be played.
    pub fn seek(&mut self, segment: &gst::FormattedSegment<gst::ClockTime>) -> bool {
        let next = if segment.rate() >= 0.0 {
            self.rate
                .frame_at_ns(segment.start().map_or(0, |s| s.nseconds()))
        } else {
            // Reverse: from the frame shown just before the stop (or the end).
            let end = segment
                .stop()
                .map(|s| s.nseconds())
                .or_else(|| self.duration_ns());
            match end.and_then(|e| e.checked_sub(1)) {
                Some(last) => self.rate.frame_at_ns(last),
                None => return false,
            }
        };
        self.next = i64::try_from(next).unwrap_or(i64::MAX);
        self.discont = true;
        true
    }

    /// Answers duration, position and conversion queries in time and in
    /// frames (`GST_FORMAT_DEFAULT`). `false` for anything else.
    pub fn answer_query(&self, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Duration(q) => match q.format() {
                gst::Format::Time => match self.duration_ns() {
                    Some(ns) => {
                        q.set(gst::ClockTime::from_nseconds(ns));
                        true
                    }
                    None => false,
                },
                gst::Format::Default if !self.looping => {
                    q.set(gst::format::Default::from_u64(self.frames()));
                    true
                }
                _ => false,
            },
            gst::QueryViewMut::Position(q) => {
                let next = self.next.max(0) as u64;
                match q.format() {
                    gst::Format::Time => {
                        q.set(gst::ClockTime::from_nseconds(
                            self.rate.frame_start_ns(next),
                        ));
                        true
                    }
                    gst::Format::Default => {
                        q.set(gst::format::Default::from_u64(next));
                        true
                    }
                    _ => false,
                }
            }
            gst::QueryViewMut::Convert(q) => {
                let (src, dest_format) = q.get();
                let dest = match (src, dest_format) {
                    (gst::GenericFormattedValue::Time(Some(t)), gst::Format::Default) => {
                        gst::format::Default::from_u64(self.rate.frame_at_ns(t.nseconds())).into()
                    }
                    (gst::GenericFormattedValue::Default(Some(n)), gst::Format::Time) => {
                        gst::ClockTime::from_nseconds(self.rate.frame_start_ns(*n)).into()
                    }
                    (v, f) if v.format() == f => v,
                    _ => return false,
                };
                q.set(src, dest);
                true
            }
            _ => false,
        }
    }
}

/// The output caps for frames like `info` at `rate`.
pub fn jpeg_caps(info: &JpegInfo, rate: gst::Fraction) -> gst::Caps {
    gst::Caps::builder("image/jpeg")
        .field("parsed", true)
        .field("width", i32::from(info.width))
        .field("height", i32::from(info.height))
        .field("framerate", rate)
        .build()
}

/// Pad template caps for parsed JPEG output of any size.
pub fn jpeg_template_caps() -> gst::Caps {
    gst::Caps::builder("image/jpeg")
        .field("parsed", true)
        .field("width", gst::IntRange::new(1, 65535))
        .field("height", gst::IntRange::new(1, 65535))
        .field(
            "framerate",
            gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
        )
        .build()
}

/// [`report_anomalies`], once for all callers sharing `reported`: the
/// opener, when the index is complete at open (a small file: its warnings
/// come before the first frame, as they always did), or the walk's end.
pub fn report_anomalies_once(
    reported: &AtomicBool,
    element: &impl IsA<gst::Element>,
    what: &str,
    anomalies: &[Anomaly],
) {
    if !reported.swap(true, Ordering::AcqRel) {
        report_anomalies(element, what, anomalies);
    }
}

/// Posts one warning per problem found in `what` (a file name or stream),
/// then a count of the rest.
pub fn report_anomalies(element: &impl IsA<gst::Element>, what: &str, anomalies: &[Anomaly]) {
    for a in anomalies.iter().take(MAX_REPORTED_ANOMALIES) {
        gst::element_warning!(element, gst::StreamError::Demux, ("{what}: {a}"));
    }
    if anomalies.len() > MAX_REPORTED_ANOMALIES {
        gst::element_warning!(
            element,
            gst::StreamError::Demux,
            (
                "{what}: {} more problems not reported one by one",
                anomalies.len() - MAX_REPORTED_ANOMALIES
            )
        );
    }
}
