//! Encoding raw frames to JPEG on every core: one `jpegenc` per worker
//! thread (libjpeg: baseline, 4:2:0 from I420, the standard Huffman
//! tables), frames handed out as they come and given back numbered, so
//! that the writer puts them in order. A frame over the size limit is
//! encoded again at a lower quality, never cut.

use super::ConvertError;
use super::input::{chain, make};
use gst::prelude::*;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The lowest quality tried for a frame that is too large.
const MIN_QUALITY: i32 = 5;

/// A frame encoded: its number, its JPEG, and the quality it took (lower
/// than asked when it had to be encoded again to fit).
pub(super) struct Encoded {
    pub number: u64,
    pub jpeg: Result<Vec<u8>, ConvertError>,
    pub quality: i32,
    /// Encoded more than once to fit.
    pub reencoded: bool,
}

/// Worker threads encoding raw frames of one format.
pub(super) struct Encoders {
    work: Option<SyncSender<(u64, gst::Buffer)>>,
    threads: Vec<JoinHandle<()>>,
}

impl Encoders {
    /// `threads` workers encoding frames of `info` (raw I420; limited
    /// range stretched to full first when `expand_range`) at `quality`, none
    /// larger than `max_len`; results go to `done`.
    pub(super) fn start(
        threads: usize,
        info: &gst_video::VideoInfo,
        expand_range: bool,
        quality: i32,
        max_len: usize,
        done: SyncSender<Encoded>,
    ) -> Result<Encoders, ConvertError> {
        let (work, queue) = sync_channel::<(u64, gst::Buffer)>(threads * 2);
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::new();
        let caps = info
            .to_caps()
            .map_err(|e| ConvertError::Pipeline(format!("unexpected raw format: {e}")))?;
        let stretch = expand_range.then(|| Stretch::new(info));
        for _ in 0..threads.max(1) {
            let encoder = Encoder::new(&caps, quality, stretch.clone())?;
            let queue = queue.clone();
            let done = done.clone();
            handles.push(
                std::thread::Builder::new()
                    .name("mjpeg-encode".into())
                    .spawn(move || encoder.serve(&queue, max_len, &done))
                    .map_err(|e| ConvertError::Pipeline(format!("cannot start a thread: {e}")))?,
            );
        }
        Ok(Encoders {
            work: Some(work),
            threads: handles,
        })
    }

    /// Hands frame `number` to the next free worker (waits while all are
    /// busy and the queue is full). `false` if the workers have stopped.
    pub(super) fn encode(&self, number: u64, frame: gst::Buffer) -> bool {
        self.work
            .as_ref()
            .is_some_and(|w| w.send((number, frame)).is_ok())
    }

    /// Lets the workers finish the frames handed out, and waits for them.
    pub(super) fn finish(mut self) {
        self.work = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Limited-range I420 planes stretched to full range, in place: what
/// videoconvert leaves undone between limited and full BT.601.
#[derive(Clone)]
struct Stretch {
    planes: Vec<Plane>,
}

/// Where a plane lies in a frame, and the table its samples go through.
#[derive(Clone)]
struct Plane {
    offset: usize,
    stride: usize,
    width: usize,
    height: usize,
    table: Arc<[u8; 256]>,
}

impl Stretch {
    fn new(info: &gst_video::VideoInfo) -> Stretch {
        let table = |low: f64, span: f64, mid: f64| -> Arc<[u8; 256]> {
            let mut t = [0u8; 256];
            for (v, out) in t.iter_mut().enumerate() {
                *out = (mid + (v as f64 - low) * 255.0 / span)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
            Arc::new(t)
        };
        let luma = table(16.0, 219.0, 0.0);
        let chroma = table(128.0, 224.0, 128.0);
        let (w, h) = (info.width() as usize, info.height() as usize);
        let planes = (0..3)
            .map(|i| {
                let (pw, ph, t) = if i == 0 {
                    (w, h, luma.clone())
                } else {
                    (w.div_ceil(2), h.div_ceil(2), chroma.clone())
                };
                Plane {
                    offset: info.offset()[i],
                    stride: info.stride()[i] as usize,
                    width: pw,
                    height: ph,
                    table: t,
                }
            })
            .collect();
        Stretch { planes }
    }

    /// Stretches `frame`'s planes (a copy when it is shared).
    fn apply(&self, mut frame: gst::Buffer) -> Result<gst::Buffer, ConvertError> {
        {
            let buffer = frame.make_mut();
            let mut map = buffer
                .map_writable()
                .map_err(|_| ConvertError::Pipeline("unwritable raw frame".into()))?;
            let data = map.as_mut_slice();
            for p in &self.planes {
                for row in 0..p.height {
                    let start = p.offset + row * p.stride;
                    let Some(line) = data.get_mut(start..start + p.width) else {
                        return Err(ConvertError::Pipeline("short raw frame".into()));
                    };
                    for px in line {
                        *px = p.table[usize::from(*px)];
                    }
                }
            }
        }
        Ok(frame)
    }
}

/// One `appsrc ! jpegenc ! appsink` pipeline, fed one frame at a time.
struct Encoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    enc: gst::Element,
    sink: gst_app::AppSink,
    quality: i32,
    stretch: Option<Stretch>,
}

impl Encoder {
    fn new(
        caps: &gst::Caps,
        quality: i32,
        stretch: Option<Stretch>,
    ) -> Result<Encoder, ConvertError> {
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(caps)
            .format(gst::Format::Time)
            .build();
        let enc = make("jpegenc")?;
        enc.set_property("quality", quality);
        let sink = gst_app::AppSink::builder().sync(false).build();
        chain(
            &pipeline,
            &[src.clone().upcast(), enc.clone(), sink.clone().upcast()],
        )?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| ConvertError::Pipeline(format!("cannot start jpegenc: {e}")))?;
        Ok(Encoder {
            pipeline,
            src,
            enc,
            sink,
            quality,
            stretch,
        })
    }

    /// Encodes frames from `queue` until it closes.
    fn serve(
        self,
        queue: &Mutex<Receiver<(u64, gst::Buffer)>>,
        max_len: usize,
        done: &SyncSender<Encoded>,
    ) {
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok((number, frame)) = next else {
                break;
            };
            let frame = match &self.stretch {
                Some(s) => s.apply(frame),
                None => Ok(frame),
            };
            let encoded = match frame {
                Ok(frame) => self.fitted(number, &frame, max_len),
                Err(e) => Encoded {
                    number,
                    jpeg: Err(e),
                    quality: self.quality,
                    reencoded: false,
                },
            };
            if done.send(encoded).is_err() {
                break;
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }

    /// Frame `number` at the asked quality, or lower until it fits.
    fn fitted(&self, number: u64, frame: &gst::Buffer, max_len: usize) -> Encoded {
        let mut quality = self.quality;
        loop {
            let jpeg = self.once(frame, quality);
            match jpeg {
                Ok(j) if j.len() > max_len && quality > MIN_QUALITY => {
                    // Down by a fifth at least: a few tries at most.
                    quality = (quality * 4 / 5).min(quality - 5).max(MIN_QUALITY);
                }
                Ok(j) if j.len() > max_len => {
                    return Encoded {
                        number,
                        jpeg: Err(ConvertError::TooLarge {
                            frame: number,
                            len: j.len(),
                            max: max_len,
                        }),
                        quality,
                        reencoded: true,
                    };
                }
                other => {
                    return Encoded {
                        number,
                        jpeg: other,
                        quality,
                        reencoded: quality != self.quality,
                    };
                }
            }
        }
    }

    /// Encodes `frame` at `quality`.
    fn once(&self, frame: &gst::Buffer, quality: i32) -> Result<Vec<u8>, ConvertError> {
        if self.enc.property::<i32>("quality") != quality {
            self.enc.set_property("quality", quality);
        }
        self.src
            .push_buffer(frame.clone())
            .map_err(|e| ConvertError::Pipeline(format!("jpegenc refused a frame: {e}")))?;
        let sample = self
            .sink
            .pull_sample()
            .map_err(|_| ConvertError::Pipeline("jpegenc stopped".into()))?;
        let buffer = sample
            .buffer()
            .ok_or_else(|| ConvertError::Pipeline("jpegenc gave no buffer".into()))?;
        let map = buffer
            .map_readable()
            .map_err(|_| ConvertError::Pipeline("unreadable JPEG buffer".into()))?;
        Ok(map.to_vec())
    }
}
