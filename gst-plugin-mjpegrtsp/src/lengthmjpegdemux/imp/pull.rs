//! Pull mode: when upstream can be read at random (a file through
//! `filesrc`), the demuxer indexes the stream by hopping over the length
//! prefixes (in a background thread: the first frame comes at once), and
//! plays, seeks and answers queries from the index on its own streaming
//! task.

use super::*;

/// Reads the upstream element at random through the sink pad.
struct PadReader(gst::Pad);

impl ReadAt for PadReader {
    fn size(&self) -> io::Result<u64> {
        self.0
            .peer_query_duration::<gst::format::Bytes>()
            .map(|b| *b)
            .ok_or_else(|| io::Error::other("upstream does not report its size"))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let want = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        match self.0.pull_range(offset, want) {
            Ok(b) => {
                let n = b.size().min(buf.len());
                b.copy_to_slice(0, &mut buf[..n])
                    .map_err(|_| io::Error::other("short buffer from upstream"))?;
                Ok(n)
            }
            Err(gst::FlowError::Eos) => Ok(0),
            Err(e) => Err(io::Error::other(format!(
                "reading upstream at byte {offset}: {e:?}"
            ))),
        }
    }
}

impl LengthMjpegDemux {
    pub(super) fn start_task(&self) -> Result<(), gst::LoggableError> {
        let this = self.downgrade();
        self.sinkpad
            .start_task(move || {
                if let Some(this) = this.upgrade() {
                    this.pull_loop();
                }
            })
            .map_err(|e| gst::loggable_error!(CAT, "could not start the streaming task: {e}"))
    }

    pub(super) fn pull_loop(&self) {
        let flow = self.pull_step();
        let Err(flow) = flow else { return };
        gst::debug!(CAT, imp = self, "pausing task: {flow:?}");
        let _ = self.sinkpad.pause_task();
        match flow {
            gst::FlowError::Flushing => {}
            gst::FlowError::Eos => {
                let (segment, seqnum) = {
                    let state = self.state.lock().unwrap();
                    (state.segment.clone(), state.seqnum)
                };
                if segment.flags().contains(gst::SegmentFlags::SEGMENT) {
                    let pos = if segment.rate() >= 0.0 {
                        segment.stop()
                    } else {
                        segment.start()
                    };
                    let pos = pos.or(segment.position()).unwrap_or(gst::ClockTime::ZERO);
                    let _ = self.obj().post_message(
                        gst::message::SegmentDone::builder(pos)
                            .src(&*self.obj())
                            .seqnum(seqnum)
                            .build(),
                    );
                    self.forward_downstream(
                        gst::event::SegmentDone::builder(pos).seqnum(seqnum).build(),
                    );
                } else {
                    self.forward_downstream(gst::event::Eos::builder().seqnum(seqnum).build());
                }
            }
            _ => {
                if flow != gst::FlowError::Error {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("Internal data stream error."),
                        ["streaming stopped, reason: {flow:?}"]
                    );
                }
                self.forward_downstream(gst::event::Eos::new());
            }
        }
    }

    pub(super) fn pull_step(&self) -> Result<(), gst::FlowError> {
        let started = matches!(
            self.state.lock().unwrap().mode,
            Mode::Pull { playhead: Some(_) }
        );
        if !started {
            self.pull_open()?;
        }
        let srcpad = self.srcpad().ok_or(gst::FlowError::Error)?;
        self.push_segment_if_needed(&srcpad);
        let cue = {
            let mut state = self.state.lock().unwrap();
            let segment = state.segment.clone();
            let Mode::Pull {
                playhead: Some(playhead),
            } = &mut state.mode
            else {
                return Err(gst::FlowError::Flushing);
            };
            match playhead.advance(&segment) {
                Next::Cue(cue) => cue,
                Next::Eos => return Err(gst::FlowError::Eos),
                Next::Wait(n) => {
                    // The index is being built: the task loops again soon.
                    let index = playhead.index().clone();
                    drop(state);
                    index.wait_for(n, Duration::from_millis(50));
                    return Ok(());
                }
            }
        };
        let mut buffer = self.sinkpad.pull_range(cue.entry.offset, cue.entry.len)?;
        let whole = buffer.size() == cue.entry.len as usize
            && buffer.map_readable().is_ok_and(|m| is_whole_jpeg(&m));
        if !whole {
            if let Mode::Pull { playhead: Some(p) } = &mut self.state.lock().unwrap().mode {
                p.mark_discont();
            }
            gst::element_imp_warning!(
                self,
                gst::StreamError::Demux,
                (
                    "frame {} at byte offset {} is not a whole JPEG image (no SOI/EOI marker); skipped",
                    cue.number,
                    cue.entry.header_offset()
                )
            );
            return Ok(());
        }
        cue.stamp(buffer.make_mut());
        srcpad.push(buffer).map(|_| ())
    }

    /// Indexes the stream and exposes the source pad.
    pub(super) fn pull_open(&self) -> Result<(), gst::FlowError> {
        let reader = PadReader(self.sinkpad.clone());
        let fail = |msg: String| {
            gst::element_imp_error!(self, gst::StreamError::Demux, ("{msg}"));
            gst::FlowError::Error
        };
        let size = reader
            .size()
            .map_err(|e| fail(format!("Cannot index the stream: {e}")))?;
        if size == 0 {
            return Err(fail(
                "The stream is empty: a .Mjpeg file needs at least one frame".into(),
            ));
        }
        // Damage is reported, and the duration announced as exact, when the
        // walk over the stream ends (in its own thread).
        let element = self.obj().downgrade();
        let reported = Arc::new(AtomicBool::new(false));
        let reported_at_end = reported.clone();
        let index = SharedIndex::spawn(Arc::new(reader), move |index| {
            let Some(element) = element.upgrade() else {
                return;
            };
            report_anomalies_once(&reported_at_end, &element, "stream", index.anomalies());
            let _ = element.post_message(
                gst::message::DurationChanged::builder()
                    .src(&element)
                    .build(),
            );
        })
        .map_err(|e| fail(format!("Cannot index the stream: {e}")))?;
        let ready = index.wait_ready();
        if let Some(whole) = index.index() {
            report_anomalies_once(&reported, &*self.obj(), "stream", whole.anomalies());
        }
        if !ready {
            return Err(fail("The stream contains no whole .Mjpeg frame".into()));
        }
        let info = index
            .first_frame_where(|d| jpeg::parse_info(&d))
            .ok_or_else(|| {
                fail("No readable JPEG frame header (SOF) in the first frames".into())
            })?;
        let rate = self.state.lock().unwrap().rate;
        let frame_rate = FrameRate::new(rate.numer(), rate.denom())
            .ok_or_else(|| fail(format!("Invalid frame-rate {rate}")))?;
        gst::info!(
            CAT,
            imp = self,
            "{} frames found so far, {}x{}",
            index.frames_found(),
            info.width,
            info.height
        );
        let mut playhead = Playhead::new(index, frame_rate, false);
        {
            let mut state = self.state.lock().unwrap();
            if let Some(ns) = playhead.duration_ns() {
                state
                    .segment
                    .set_duration(gst::ClockTime::from_nseconds(ns));
            }
            let segment = state.segment.clone();
            playhead.seek(&segment);
            state.mode = Mode::Pull {
                playhead: Some(playhead),
            };
        }
        self.add_srcpad(&jpeg_caps(&info, rate))?;
        Ok(())
    }

    pub(super) fn pull_seek(&self, seek: &gst::event::Seek) -> bool {
        let (rate, flags, start_type, start, stop_type, stop) = seek.get();
        // Seeks in frames are turned into seeks in time.
        let to_time = |v: gst::GenericFormattedValue| -> Option<Option<gst::ClockTime>> {
            match v {
                gst::GenericFormattedValue::Time(t) => Some(t),
                gst::GenericFormattedValue::Default(n) => {
                    let r = self.state.lock().unwrap().rate;
                    let r = FrameRate::new(r.numer(), r.denom())?;
                    Some(n.map(|n| gst::ClockTime::from_nseconds(r.frame_start_ns(*n))))
                }
                _ => None,
            }
        };
        let (Some(start), Some(stop)) = (to_time(start), to_time(stop)) else {
            gst::debug!(
                CAT,
                imp = self,
                "refusing seek in format {:?}",
                start.format()
            );
            return false;
        };
        let seqnum = seek.seqnum();
        let flush = flags.contains(gst::SeekFlags::FLUSH);
        if flush {
            self.forward_downstream(gst::event::FlushStart::builder().seqnum(seqnum).build());
        } else {
            let _ = self.sinkpad.pause_task();
        }
        let _stream = self.sinkpad.stream_lock();
        if flush {
            self.forward_downstream(gst::event::FlushStop::builder(true).seqnum(seqnum).build());
        }
        let ok = {
            let mut state = self.state.lock().unwrap();
            let mut segment = state.segment.clone();
            let ok = segment
                .do_seek(rate, flags, start_type, start, stop_type, stop)
                .is_some();
            if ok {
                if let Mode::Pull { playhead: Some(p) } = &mut state.mode {
                    p.seek(&segment);
                }
                state.segment = segment;
                state.need_segment = true;
                state.seqnum = seqnum;
            }
            ok
        };
        gst::debug!(
            CAT,
            imp = self,
            "seek to {start:?}..{stop:?} rate {rate}: {ok}"
        );
        if let Err(e) = self.start_task() {
            e.log_with_imp(self);
            return false;
        }
        ok
    }
}
