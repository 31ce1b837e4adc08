//! What a conversion reads: which kind of input a path is, and the
//! GStreamer source that decodes it to raw video.

use super::ConvertError;
use gst::prelude::*;
use mjpegrtsp::container::{PREFIX_LEN, SOI, parse_prefix};
use std::path::{Path, PathBuf};

/// The kinds of input a conversion reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A `.Mjpeg` file (five digits, then a JPEG): re-encoded.
    Mjpeg(PathBuf),
    /// JPEGs one after another with nothing between them (ffmpeg's `-f
    /// mjpeg`, a camera's dump), or a single JPEG.
    RawMjpeg(PathBuf),
    /// JPEG files, in this order (a folder's, sorted by name, or a glob's).
    Jpegs(Vec<PathBuf>),
    /// Anything GStreamer decodes (mp4, mkv, avi, mov, …).
    Media(PathBuf),
}

impl Input {
    /// What `arg` names: a folder of JPEGs, a glob of them (`*` and `?` in
    /// the last part), or a file judged by its first bytes.
    pub fn of(arg: &str) -> Result<Input, ConvertError> {
        let path = Path::new(arg);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.contains(['*', '?']) && !path.exists() {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let files = listed(&dir, |f| wildcard(name, f))?;
            if files.is_empty() {
                return Err(ConvertError::Input(format!("{arg}: no file matches")));
            }
            return Ok(Input::Jpegs(files));
        }
        if path.is_dir() {
            let files = listed(path, |f| {
                let f = f.to_ascii_lowercase();
                f.ends_with(".jpg") || f.ends_with(".jpeg")
            })?;
            if files.is_empty() {
                return Err(ConvertError::Input(format!(
                    "{arg}: a folder with no .jpg or .jpeg file"
                )));
            }
            return Ok(Input::Jpegs(files));
        }
        let mut head = [0u8; PREFIX_LEN + 2];
        let n = std::fs::File::open(path)
            .and_then(|f| std::os::unix::fs::FileExt::read_at(&f, &mut head, 0))
            .map_err(|e| ConvertError::Input(format!("{arg}: {e}")))?;
        let head = &head[..n];
        Ok(if head.starts_with(&SOI) {
            Input::RawMjpeg(path.to_path_buf())
        } else if n == head.len() && parse_prefix(head).is_some() && head[PREFIX_LEN..] == SOI {
            Input::Mjpeg(path.to_path_buf())
        } else {
            Input::Media(path.to_path_buf())
        })
    }

    /// How it is described to the user.
    pub fn describe(&self) -> String {
        match self {
            Input::Mjpeg(p) => format!("{} (.Mjpeg)", p.display()),
            Input::RawMjpeg(p) => format!("{} (JPEGs back to back)", p.display()),
            Input::Jpegs(files) => format!("{} JPEG files", files.len()),
            Input::Media(p) => p.display().to_string(),
        }
    }

    /// Whether the input carries its own frame rate (and timestamps).
    pub fn has_rate(&self) -> bool {
        matches!(self, Input::Media(_))
    }

    /// Adds the elements that decode it to `pipeline` and links them to
    /// `sink` (raw video); `rate` times inputs that have no rate of their
    /// own. A JPEG list is pushed by a thread of its own.
    pub fn decode_into(
        &self,
        pipeline: &gst::Pipeline,
        sink: &gst::Element,
        rate: gst::Fraction,
    ) -> Result<(), ConvertError> {
        match self {
            Input::Mjpeg(path) => {
                let src = make("lengthmjpegsrc")?;
                src.set_property("location", path.to_string_lossy().as_ref());
                src.set_property("frame-rate", rate);
                chain(pipeline, &[src, make("jpegdec")?, sink.clone()])
            }
            Input::RawMjpeg(path) => {
                let src = make("filesrc")?;
                src.set_property("location", path.to_string_lossy().as_ref());
                let caps = make("capsfilter")?;
                caps.set_property(
                    "caps",
                    gst::Caps::builder("image/jpeg")
                        .field("framerate", rate)
                        .build(),
                );
                // jpegparse times the frames at the rate upstream says.
                let parse = make("jpegparse")?;
                chain(
                    pipeline,
                    &[src, caps, parse, make("jpegdec")?, sink.clone()],
                )
            }
            Input::Jpegs(files) => {
                let src = gst_app::AppSrc::builder()
                    .caps(
                        &gst::Caps::builder("image/jpeg")
                            .field("framerate", rate)
                            .build(),
                    )
                    .format(gst::Format::Time)
                    .max_bytes(8 << 20)
                    .block(true)
                    .build();
                let parse = make("jpegparse")?;
                chain(
                    pipeline,
                    &[src.clone().upcast(), parse, make("jpegdec")?, sink.clone()],
                )?;
                push_files(src, files.clone(), rate);
                Ok(())
            }
            Input::Media(path) => {
                let abs = std::path::absolute(path)
                    .map_err(|e| ConvertError::Input(format!("{}: {e}", path.display())))?;
                let uri = glib::filename_to_uri(&abs, None)
                    .map_err(|e| ConvertError::Input(format!("{}: {e}", path.display())))?;
                let src = make("uridecodebin")?;
                src.set_property("uri", uri.as_str());
                pipeline
                    .add(&src)
                    .map_err(|e| ConvertError::Pipeline(e.to_string()))?;
                let sink = sink.clone();
                // The first video pad goes to the sink; others (audio) are
                // left unlinked.
                src.connect_pad_added(move |_, pad| {
                    let is_video = pad
                        .current_caps()
                        .or_else(|| Some(pad.query_caps(None)))
                        .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                        .unwrap_or(false);
                    let Some(sinkpad) = sink.static_pad("sink") else {
                        return;
                    };
                    if is_video && !sinkpad.is_linked() {
                        let _ = pad.link(&sinkpad);
                    }
                });
                Ok(())
            }
        }
    }
}

/// Files in `dir` whose names `keep` accepts, sorted by name.
fn listed(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ConvertError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ConvertError::Input(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Pushes each file as one timestamped buffer, then EOS; a file that cannot
/// be read ends the stream with an error message on the bus.
fn push_files(src: gst_app::AppSrc, files: Vec<PathBuf>, rate: gst::Fraction) {
    std::thread::spawn(move || {
        let frame_ns =
            |n: u64| n * 1_000_000_000 * rate.denom() as u64 / rate.numer().max(1) as u64;
        for (n, file) in (0u64..).zip(&files) {
            let data = match std::fs::read(file) {
                Ok(d) => d,
                Err(e) => {
                    gst::element_error!(src, gst::ResourceError::Read, ("{}: {e}", file.display()));
                    return;
                }
            };
            let mut buffer = gst::Buffer::from_mut_slice(data);
            {
                let b = buffer.get_mut().expect("new buffer");
                b.set_pts(gst::ClockTime::from_nseconds(frame_ns(n)));
                b.set_duration(gst::ClockTime::from_nseconds(frame_ns(n + 1) - frame_ns(n)));
            }
            if src.push_buffer(buffer).is_err() {
                return; // stopped
            }
        }
        let _ = src.end_of_stream();
    });
}

/// A new element of `factory`, or why not (a plugin is missing).
pub(super) fn make(factory: &str) -> Result<gst::Element, ConvertError> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        ConvertError::Pipeline(format!(
            "the GStreamer element {factory} is missing (Debian: gstreamer1.0-plugins-good, \
             -base, and gstreamer1.0-libav for H.264 and other video codecs)"
        ))
    })
}

/// Adds `elements` to `pipeline` and links them in order.
pub(super) fn chain(
    pipeline: &gst::Pipeline,
    elements: &[gst::Element],
) -> Result<(), ConvertError> {
    for e in elements {
        if e.parent().is_none() {
            pipeline
                .add(e)
                .map_err(|err| ConvertError::Pipeline(err.to_string()))?;
        }
    }
    gst::Element::link_many(elements).map_err(|e| ConvertError::Pipeline(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.jpg", "a.jpg"));
        assert!(wildcard("frame_???.jpg", "frame_001.jpg"));
        assert!(!wildcard("frame_???.jpg", "frame_0001.jpg"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }

    #[test]
    fn inputs_are_told_apart_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let m = write("a.Mjpeg", b"00010\xFF\xD8xxxxxxxx");
        let r = write("b.mjpeg", b"\xFF\xD8\xFF\xE0rest");
        let v = write("c.mp4", b"\0\0\0\x20ftypisom");
        assert_eq!(Input::of(m.to_str().unwrap()).unwrap(), Input::Mjpeg(m));
        assert_eq!(Input::of(r.to_str().unwrap()).unwrap(), Input::RawMjpeg(r));
        assert_eq!(Input::of(v.to_str().unwrap()).unwrap(), Input::Media(v));
        let jpegs = dir.path().join("jpegs");
        std::fs::create_dir(&jpegs).unwrap();
        for n in [2, 1, 10] {
            std::fs::write(jpegs.join(format!("f{n:02}.JPG")), b"\xFF\xD8").unwrap();
        }
        std::fs::write(jpegs.join("notes.txt"), b"x").unwrap();
        let Input::Jpegs(files) = Input::of(jpegs.to_str().unwrap()).unwrap() else {
            panic!()
        };
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["f01.JPG", "f02.JPG", "f10.JPG"]);
        let glob = format!("{}/f0?.JPG", jpegs.display());
        let Input::Jpegs(files) = Input::of(&glob).unwrap() else {
            panic!()
        };
        assert_eq!(files.len(), 2);
        assert!(Input::of(&format!("{}/none*.jpg", jpegs.display())).is_err());
        assert!(Input::of(dir.path().join("missing.mp4").to_str().unwrap()).is_err());
    }
}
