//! Converting any video to a `.Mjpeg` file: what `server-cli convert` does.
//!
//! The input is decoded by GStreamer (a `.Mjpeg` file, JPEGs back to back,
//! a folder or glob of JPEG files, or anything `uridecodebin` plays),
//! scaled and converted to I420, and each frame is encoded on one of
//! several `jpegenc` workers (one per core): baseline JPEG, 4:2:0, the
//! standard Huffman tables — what RFC 2435 carries and every player reads.
//! Frames are written in order through a temporary file in the output's
//! folder, renamed to the output's name only when whole: a conversion
//! stopped or failed leaves nothing under that name. A frame that would not
//! fit the container's five digits (or `--for classic`'s one datagram) is
//! encoded again at a lower quality and counted, never cut.

mod encode;
mod input;

pub use input::Input;

use encode::{Encoded, Encoders};
use gst::prelude::*;
use mjpegrtsp::container::{FrameWriter, MAX_FRAME_LEN};
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// The largest frame the seed's own client reads: one 20,480-byte datagram,
/// less the 12-byte header.
pub const CLASSIC_MAX_FRAME_LEN: usize = 20_480 - 12;

/// How to convert.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertOptions {
    /// JPEG quality, 1–100 (jpegenc's; 85 by default).
    pub quality: i32,
    /// Picture size; `None`: the source's (made even).
    pub size: Option<(u32, u32)>,
    /// Scale down to at most this width, keeping the aspect ratio.
    pub max_width: Option<u32>,
    /// Frame rate; `None`: the source's, or 24 for inputs with none.
    pub fps: Option<gst::Fraction>,
    /// Largest frame in bytes (the container's limit, or the classic
    /// client's).
    pub max_frame_len: usize,
    /// Encoding threads (0: one per core).
    pub threads: usize,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            quality: 85,
            size: None,
            max_width: None,
            fps: None,
            max_frame_len: MAX_FRAME_LEN,
            threads: 0,
        }
    }
}

/// How far a conversion is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Frames written.
    pub done: u64,
    /// Frames expected (from the input's duration or file count), when
    /// known.
    pub total: Option<u64>,
    /// Time since the conversion started.
    pub elapsed: Duration,
    /// The frame rate the output is made for.
    pub fps: gst::Fraction,
}

impl Progress {
    /// Seconds of video written per second of conversion.
    pub fn speed(&self) -> f64 {
        let media = self.done as f64 * self.fps.denom() as f64 / self.fps.numer().max(1) as f64;
        media / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// Time left at the speed so far, when the total is known.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        if self.done == 0 {
            return None;
        }
        let per_frame = self.elapsed.as_secs_f64() / self.done as f64;
        Some(Duration::from_secs_f64(
            per_frame * total.saturating_sub(self.done) as f64,
        ))
    }
}

/// What a conversion made.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Frames written.
    pub frames: u64,
    /// Frames encoded again at a lower quality to fit.
    pub reencoded: u64,
    /// The lowest quality a frame took.
    pub lowest_quality: i32,
    /// Picture size.
    pub width: u32,
    pub height: u32,
    /// The frame rate to play it at (the container stores none).
    pub fps: gst::Fraction,
    /// Whether that rate is the source's own.
    pub fps_from_source: bool,
    /// Bytes written.
    pub bytes: u64,
    /// Time it took.
    pub elapsed: Duration,
}

/// Why a conversion failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvertError {
    /// The input cannot be read or is of no kind known.
    Input(String),
    /// GStreamer could not build or run the pipeline, or decoding failed.
    Pipeline(String),
    /// A frame does not fit even at the lowest quality.
    TooLarge { frame: u64, len: usize, max: usize },
    /// The output cannot be written.
    Output(String),
    /// Stopped (Ctrl+C): nothing was left under the output's name.
    Cancelled,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(why) => write!(f, "cannot read the input: {why}"),
            Self::Pipeline(why) => write!(f, "{why}"),
            Self::TooLarge { frame, len, max } => write!(
                f,
                "frame {frame} is {len} bytes even at the lowest quality, over the {max}-byte \
                 limit: make the picture smaller (--max-width)"
            ),
            Self::Output(why) => write!(f, "cannot write the output: {why}"),
            Self::Cancelled => f.write_str("stopped: no output file was written"),
        }
    }
}

impl std::error::Error for ConvertError {}

/// Converts `input` into the `.Mjpeg` file `output`, calling `progress`
/// (from the writer's thread) after each frame written; the caller
/// throttles its display.
/// Setting `cancel` stops it, leaving no output. GStreamer must be
/// initialised and this plugin registered.
pub fn convert(
    input: &Input,
    output: &Path,
    options: &ConvertOptions,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&Progress) + Send,
) -> Result<Report, ConvertError> {
    let started = Instant::now();
    let source_rate = options.fps.is_none() && input.has_rate();
    let fallback_rate = options.fps.unwrap_or(gst::Fraction::new(24, 1));
    let (pipeline, sink, expand_range) = decoder(input, options, fallback_rate)?;
    // Stopped however this returns.
    let pipeline = Stopping(pipeline);
    let bus = pipeline.0.bus().expect("a pipeline has a bus");
    pipeline
        .0
        .set_state(gst::State::Paused)
        .map_err(|_| pipeline_error(&bus, "the input cannot be opened"))?;
    let first = loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ConvertError::Cancelled);
        }
        if let Some(s) = sink.try_pull_preroll(gst::ClockTime::from_mseconds(100)) {
            break s;
        }
        if let Some(e) = bus_error(&bus) {
            return Err(e);
        }
    };
    let caps = first
        .caps()
        .ok_or_else(|| ConvertError::Pipeline("decoded frames without caps".into()))?
        .to_owned();
    let info = gst_video::VideoInfo::from_caps(&caps)
        .map_err(|e| ConvertError::Pipeline(format!("unexpected decoded format: {e}")))?;
    let fps_from_source = source_rate && info.fps().numer() > 0;
    let fps = if fps_from_source {
        info.fps()
    } else {
        fallback_rate
    };
    let total = pipeline
        .0
        .query_duration::<gst::ClockTime>()
        .map(|d| {
            (d.nseconds() as u128 * fps.numer() as u128
                / (fps.denom() as u128 * 1_000_000_000).max(1)) as u64
        })
        .or(match input {
            Input::Jpegs(files) => Some(files.len() as u64),
            _ => None,
        });
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let (done_tx, done_rx) = sync_channel::<Encoded>(threads * 4);
    let encoders = Encoders::start(
        threads,
        &info,
        expand_range.load(Ordering::Relaxed),
        options.quality,
        options.max_frame_len,
        done_tx,
    )?;
    let out = OutputFile::create(output)?;
    pipeline
        .0
        .set_state(gst::State::Playing)
        .map_err(|_| pipeline_error(&bus, "the input cannot be played"))?;

    // The writer: frames in order, as the workers give them back.
    let writer = std::thread::scope(|scope| {
        let writer =
            scope.spawn(|| write_in_order(out, done_rx, fps, total, started, &mut progress));
        let mut handed = 0u64;
        let mut failure = None;
        loop {
            if cancel.load(Ordering::Relaxed) {
                failure = Some(ConvertError::Cancelled);
                break;
            }
            match sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
                Some(sample) => {
                    let Some(buffer) = sample.buffer_owned() else {
                        continue;
                    };
                    if !encoders.encode(handed, buffer) {
                        break; // a worker failed: the writer says why
                    }
                    handed += 1;
                }
                None if sink.is_eos() => break,
                None => {
                    if let Some(e) = bus_error(&bus) {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        encoders.finish();
        let written = writer.join().expect("the writer does not panic");
        match (failure, written) {
            (Some(e), Ok(out)) => {
                out.discard();
                Err(e)
            }
            (_, Err(e)) => Err(e),
            (None, Ok(out)) => Ok((out, handed)),
        }
    });
    drop(pipeline);
    let (out, handed) = writer?;
    if let Some(e) = bus_error(&bus) {
        out.discard();
        return Err(e);
    }
    let stats = out.stats;
    if stats.frames != handed || stats.frames == 0 {
        out.discard();
        return Err(ConvertError::Pipeline(format!(
            "{} frames decoded but {} written",
            handed, stats.frames
        )));
    }
    let bytes = out.keep()?;
    Ok(Report {
        frames: stats.frames,
        reencoded: stats.reencoded,
        lowest_quality: stats.lowest_quality.min(options.quality),
        width: info.width(),
        height: info.height(),
        fps,
        fps_from_source,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// A pipeline set to NULL when dropped.
struct Stopping(gst::Pipeline);

impl Drop for Stopping {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// The decoding pipeline: `input`, scaled and converted to I420 (and
/// re-timed to `options.fps` when the input has a rate of its own), into an
/// appsink; with a flag set once the input's format is known when its
/// frames come out in limited range and need stretching to JPEG's full
/// range.
fn decoder(
    input: &Input,
    options: &ConvertOptions,
    rate: gst::Fraction,
) -> Result<(gst::Pipeline, gst_app::AppSink, Arc<AtomicBool>), ConvertError> {
    let pipeline = gst::Pipeline::new();
    let convert = input::make("videoconvert")?;
    let scale = input::make("videoscale")?;
    let caps = input::make("capsfilter")?;
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(8)
        .build();
    let mut chain = vec![convert.clone(), scale.clone()];
    if input.has_rate() && options.fps.is_some() {
        chain.push(input::make("videorate")?);
    }
    chain.push(caps.clone());
    chain.push(sink.clone().upcast());
    input::chain(&pipeline, &chain)?;
    // The size and rate are set once the decoded size is known.
    let (size, max_width, fps) = (options.size, options.max_width, options.fps);
    let set_caps = caps.clone();
    let has_rate = input.has_rate();
    let expand = Arc::new(AtomicBool::new(false));
    let expand_range = expand.clone();
    convert
        .static_pad("sink")
        .expect("videoconvert has a sink pad")
        .add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, probe| {
            if let Some(gst::EventView::Caps(c)) = probe.event().map(|e| e.view())
                && let Ok(info) = gst_video::VideoInfo::from_caps(c.caps())
            {
                let (w, h) = target_size(&info, size, max_width);
                // JPEG (JFIF) is full range, BT.601, and jpegenc writes the
                // planes as they are. videoconvert converts both from any
                // other matrix, but from limited-range BT.601 (most video)
                // it changes nothing: then the encoders stretch the range.
                let c = info.colorimetry();
                let limited_601 = info.is_yuv()
                    && c.matrix() == gst_video::VideoColorMatrix::Bt601
                    && c.range() != gst_video::VideoColorRange::Range0_255;
                expand.store(limited_601, Ordering::Relaxed);
                let colorimetry = if limited_601 { "bt601" } else { "1:4:0:0" };
                let mut caps = gst::Caps::builder("video/x-raw")
                    .field("format", "I420")
                    .field("width", w as i32)
                    .field("height", h as i32)
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                    .field("colorimetry", colorimetry);
                if let (true, Some(f)) = (has_rate, fps) {
                    caps = caps.field("framerate", f);
                }
                set_caps.set_property("caps", caps.build());
            }
            gst::PadProbeReturn::Ok
        });
    input.decode_into(&pipeline, &convert, rate)?;
    Ok((pipeline, sink, expand_range))
}

/// The largest width or height RFC 2435 can describe (eight times 255).
pub const MAX_SIDE: u32 = 2040;

/// The output size for a source of `info`: asked, or the source's shrunk
/// to `max_width`; square pixels; within [`MAX_SIDE`] and in multiples of
/// 8, as RFC 2435 describes a picture (the nearest: the aspect ratio
/// changes by under 8 pixels).
fn target_size(
    info: &gst_video::VideoInfo,
    size: Option<(u32, u32)>,
    max_width: Option<u32>,
) -> (u32, u32) {
    let par = info.par();
    let (mut w, mut h) = size.unwrap_or_else(|| {
        let w = info.width() as u64 * par.numer().max(1) as u64 / par.denom().max(1) as u64;
        (w as u32, info.height())
    });
    let limit = max_width.unwrap_or(MAX_SIDE).min(MAX_SIDE);
    if w > limit {
        h = (h as u64 * limit as u64 / w as u64) as u32;
        w = limit;
    }
    if h > MAX_SIDE {
        w = (w as u64 * MAX_SIDE as u64 / h as u64) as u32;
        h = MAX_SIDE;
    }
    let eighth = |v: u32| ((v + 4) / 8 * 8).clamp(8, MAX_SIDE);
    (eighth(w), eighth(h))
}

/// The first error on `bus`, if any.
fn bus_error(bus: &gst::Bus) -> Option<ConvertError> {
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            let from = msg
                .src()
                .map(|s| format!("{}: ", s.name()))
                .unwrap_or_default();
            return Some(ConvertError::Pipeline(format!(
                "{from}{}{}",
                e.error(),
                e.debug().map(|d| format!(" ({d})")).unwrap_or_default()
            )));
        }
    }
    None
}

/// The bus's error, or `what`.
fn pipeline_error(bus: &gst::Bus, what: &str) -> ConvertError {
    bus_error(bus).unwrap_or_else(|| ConvertError::Pipeline(what.into()))
}

/// What the writer counted.
#[derive(Debug, Clone, Copy)]
struct WriteStats {
    frames: u64,
    reencoded: u64,
    lowest_quality: i32,
}

/// The output being written: a temporary file beside it, renamed when
/// whole.
struct OutputFile {
    writer: FrameWriter<BufWriter<std::fs::File>>,
    temp: PathBuf,
    path: PathBuf,
    stats: WriteStats,
}

impl OutputFile {
    fn create(path: &Path) -> Result<OutputFile, ConvertError> {
        let name = path
            .file_name()
            .ok_or_else(|| ConvertError::Output(format!("{}: not a file name", path.display())))?;
        let temp = path.with_file_name(format!(
            ".{}.converting-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = std::fs::File::create(&temp)
            .map_err(|e| ConvertError::Output(format!("{}: {e}", temp.display())))?;
        Ok(OutputFile {
            writer: FrameWriter::new(BufWriter::with_capacity(1 << 20, file)),
            temp,
            path: path.to_path_buf(),
            stats: WriteStats {
                frames: 0,
                reencoded: 0,
                lowest_quality: i32::MAX,
            },
        })
    }

    /// Removes the temporary file.
    fn discard(self) {
        let _ = std::fs::remove_file(&self.temp);
    }

    /// Flushes, syncs and renames it to the output's name; its size.
    fn keep(self) -> Result<u64, ConvertError> {
        let fail =
            |e: std::io::Error| ConvertError::Output(format!("{}: {e}", self.path.display()));
        let file = self
            .writer
            .into_inner()
            .into_inner()
            .map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        let bytes = file.metadata().map_err(fail)?.len();
        if let Err(e) = std::fs::rename(&self.temp, &self.path) {
            let _ = std::fs::remove_file(&self.temp);
            return Err(fail(e));
        }
        Ok(bytes)
    }
}

/// Writes the workers' frames in order; the file (still temporary) when
/// every frame handed out is written, or the first failure (the temporary
/// file then removed).
fn write_in_order(
    mut out: OutputFile,
    done: std::sync::mpsc::Receiver<Encoded>,
    fps: gst::Fraction,
    total: Option<u64>,
    started: Instant,
    progress: &mut impl FnMut(&Progress),
) -> Result<OutputFile, ConvertError> {
    let mut waiting = BTreeMap::new();
    for encoded in done {
        waiting.insert(encoded.number, encoded);
        while let Some(e) = waiting.remove(&out.stats.frames) {
            let jpeg = match e.jpeg {
                Ok(j) => j,
                Err(err) => {
                    out.discard();
                    return Err(err);
                }
            };
            if let Err(err) = out.writer.write_frame(&jpeg) {
                let err = ConvertError::Output(format!("{}: {err}", out.temp.display()));
                out.discard();
                return Err(err);
            }
            out.stats.frames += 1;
            if e.quality < out.stats.lowest_quality {
                out.stats.lowest_quality = e.quality;
            }
            out.stats.reencoded += u64::from(e.reencoded);
            progress(&Progress {
                done: out.stats.frames,
                total,
                elapsed: started.elapsed(),
                fps,
            });
        }
    }
    Ok(out)
}
