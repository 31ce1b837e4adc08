//! `server-cli convert IN OUT.Mjpeg`: any video to a `.Mjpeg` file the
//! server, ffplay and the seed's client all play, with a progress bar on a
//! terminal (plain lines otherwise) and nothing left under OUT when it is
//! stopped with Ctrl+C. The work is `gstmjpegrtsp::convert`.

use gstmjpegrtsp::convert::{
    CLASSIC_MAX_FRAME_LEN, ConvertError, ConvertOptions, Input, Progress, Report, convert,
};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The `convert` subcommand's arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ConvertArgs {
    /// What to convert: a video file (mp4, mkv, avi, mov, … anything
    /// GStreamer decodes), a raw MJPEG stream (JPEGs back to back), a
    /// .Mjpeg file, a folder of .jpg files (in name order), or a glob of
    /// them ('frames/*.jpg', quoted).
    pub input: String,
    /// The .Mjpeg file to write (replaced if it exists, only once the
    /// conversion is whole).
    pub output: PathBuf,
    /// JPEG quality, 1–100.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub quality: i32,
    /// Picture size, WIDTHxHEIGHT (default: the source's).
    #[arg(long, value_name = "WxH", value_parser = parse_size, conflicts_with = "max_width")]
    pub size: Option<(u32, u32)>,
    /// Scale down to at most this width, keeping the aspect ratio.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub max_width: Option<u32>,
    /// Frame rate: 24, 30000/1001 or 29.97 (default: the source's; 24 for
    /// JPEGs and .Mjpeg, which carry none). The .Mjpeg file stores no
    /// rate: serve it with the same --fps.
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<gst::Fraction>,
    /// Who will play it: "standard" (frames up to 99,999 bytes, the
    /// container's limit) or "classic" (the seed's own client: each frame
    /// within one 20,480-byte datagram).
    #[arg(long = "for", value_name = "CLIENTS", default_value = "standard", value_parser = ["standard", "classic"])]
    pub for_clients: String,
    /// Encoding threads (default: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

const EXAMPLES: &str = "\
Examples:
  server-cli convert holiday.mp4 holiday.Mjpeg
  server-cli convert talk.mkv talk.Mjpeg --max-width 1280 --fps 25
  server-cli convert frames/ clip.Mjpeg --fps 30          (frames/*.jpg, in name order)
  server-cli convert 'shots/img_*.jpg' shots.Mjpeg
  server-cli convert camera.mjpeg camera.Mjpeg            (ffmpeg -f mjpeg output)
  server-cli convert movie.mp4 movie.Mjpeg --for classic  (for the seed's Python client)

Frames are baseline 4:2:0 JPEG with the standard tables (what RFC 2435
carries and every player reads). A frame over the size limit is encoded
again at a lower quality (counted at the end), never cut.";

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}': give WIDTHxHEIGHT, e.g. 1280x720"))?;
    let n = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (16..=8192).contains(n))
            .ok_or_else(|| format!("'{v}': a size from 16 to 8192"))
    };
    Ok((n(w)?, n(h)?))
}

fn parse_fps(s: &str) -> Result<gst::Fraction, String> {
    let rate: mjpegrtsp::timing::FrameRate = s.parse().map_err(|e| format!("{e}"))?;
    Ok(gst::Fraction::new(rate.num(), rate.den()))
}

/// Runs the conversion; the process's exit code.
pub fn run(args: &ConvertArgs) -> Result<(), String> {
    let input = Input::of(&args.input).map_err(|e| e.to_string())?;
    let options = ConvertOptions {
        quality: args.quality,
        size: args.size,
        max_width: args.max_width,
        fps: args.fps,
        max_frame_len: if args.for_clients == "classic" {
            CLASSIC_MAX_FRAME_LEN
        } else {
            mjpegrtsp::container::MAX_FRAME_LEN
        },
        threads: args.threads,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    stop_on_ctrl_c(cancel.clone());
    let terminal = std::io::stderr().is_terminal();
    eprintln!(
        "converting {} to {}",
        input.describe(),
        args.output.display()
    );
    // The first line once there is a speed to show.
    let mut shown = Instant::now();
    let report = convert(&input, &args.output, &options, &cancel, |p| {
        let every = if terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        if shown.elapsed() >= every {
            shown = Instant::now();
            show(p, terminal);
        }
    });
    if terminal {
        eprintln!();
    }
    match report {
        Ok(r) => {
            summary(&r, &args.output, args.fps.is_some());
            Ok(())
        }
        Err(ConvertError::Cancelled) => Err(format!(
            "stopped: {} was not written",
            args.output.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// One progress line: a bar on a terminal (redrawn in place), plain text
/// otherwise.
fn show(p: &Progress, terminal: bool) {
    let eta = p
        .eta()
        .map(|d| format!("ETA {}", clock(d)))
        .unwrap_or_default();
    let done = match p.total {
        Some(t) => format!("{}/{t} frames", p.done),
        None => format!("{} frames", p.done),
    };
    let line = format!("{done}  {:.1}× real time  {eta}", p.speed());
    if terminal {
        let bar = match p.total {
            Some(t) if t > 0 => {
                let filled = ((p.done.min(t) * 30) / t) as usize;
                format!("[{}{}] ", "#".repeat(filled), "-".repeat(30 - filled))
            }
            _ => String::new(),
        };
        eprint!("\r\x1b[2K{bar}{line}");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// What was made, and how to serve it.
fn summary(r: &Report, output: &std::path::Path, asked_fps: bool) {
    let secs = r.frames as f64 * r.fps.denom() as f64 / r.fps.numer().max(1) as f64;
    eprintln!(
        "Processed {}/{} frames: {}x{}, {:.1} s of video, {:.1} MB, in {:.1} s ({:.1}× real time)",
        r.frames,
        r.frames,
        r.width,
        r.height,
        secs,
        r.bytes as f64 / 1e6,
        r.elapsed.as_secs_f64(),
        secs / r.elapsed.as_secs_f64().max(1e-3)
    );
    if r.reencoded > 0 {
        eprintln!(
            "{} frames were too large and were encoded again at a lower quality (down to {}){}",
            r.reencoded,
            r.lowest_quality,
            if r.reencoded * 10 > r.frames {
                ": a smaller picture (--max-width) keeps more of it"
            } else {
                ""
            }
        );
    }
    let rate = format!("{}/{}", r.fps.numer(), r.fps.denom());
    let source = if asked_fps {
        "as asked"
    } else if r.fps_from_source {
        "the source's"
    } else {
        "the source has none: 24, or give --fps"
    };
    eprintln!(
        "The .Mjpeg format stores no frame rate: play it at {rate} ({source}), e.g.\n  \
         server-cli --media-dir {} --fps {rate}",
        output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| ".".to_string(), |p| p.display().to_string())
    );
}

/// Sets `cancel` on SIGINT or SIGTERM (the conversion then stops and
/// removes its temporary file).
fn stop_on_ctrl_c(cancel: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(crate::shutdown_signal());
        cancel.store(true, Ordering::Relaxed);
    });
}
