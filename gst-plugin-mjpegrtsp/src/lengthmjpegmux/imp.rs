// SPDX-License-Identifier: MIT OR Apache-2.0

use crate::CONTAINER_CAPS_NAME;
/**
 * element-lengthmjpegmux:
 *
 * Writes a stream of JPEG images as the length-prefixed `.Mjpeg` container:
 * each frame becomes five ASCII decimal digits giving the JPEG's size in bytes
 * (zero padded, `00042` … `99999`) followed by the JPEG itself. There is no
 * file header, index or trailer.
 *
 * The output is a byte stream in a BYTES segment, meant for `filesink` or any
 * other byte sink. The JPEG data is not copied: each output buffer is a small
 * memory holding the prefix followed by the input buffer's memories.
 *
 * The container cannot represent every input, and a hole in the file would
 * corrupt its timing, so these are errors that stop the stream (nothing of the
 * offending frame is written, the file stays valid up to the previous frame):
 *
 * - a JPEG over 99,999 bytes (lower the encoder's quality or the resolution);
 * - a buffer that is not a whole JPEG (it must start with `FF D8` and end with
 *   `FF D9`, or readers of the container would skip it).
 *
 * ## Example launch line
 *
 * ```shell
 * gst-launch-1.0 videotestsrc num-buffers=240 ! video/x-raw,format=I420 ! jpegenc ! lengthmjpegmux ! filesink location=out.Mjpeg
 * ```
 */
use crate::pads::{ChainSink, add_pads, chain_sink_pad, class_template, sink_src_templates};
use gst::prelude::*;
use gst::subclass::prelude::*;
use mjpegrtsp::container::{EOI, FrameTooLarge, SOI, encode_prefix};
use std::sync::{LazyLock, Mutex, MutexGuard};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "lengthmjpegmux",
        gst::DebugColorFlags::empty(),
        Some("Length-prefixed MJPEG container muxer"),
    )
});

/// Where the output stream stands.
#[derive(Debug, Default)]
struct State {
    /// Input buffers received, counting the one being processed; names frames
    /// in error messages (counting from 1).
    received: u64,
    /// Frames pushed downstream.
    frames: u64,
    /// Byte offset of the next output buffer.
    offset: u64,
    /// Whether downstream has our BYTES segment (cleared by a flush).
    segment_sent: bool,
}

pub struct LengthMjpegMux {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    state: Mutex<State>,
}

fn container_caps() -> gst::Caps {
    gst::Caps::new_empty_simple(CONTAINER_CAPS_NAME)
}

impl LengthMjpegMux {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave `State` half-updated in a way that
        // matters more than stopping the stream would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a BYTES segment starting at the current output offset, so a
    /// restart after a flush continues the file instead of overwriting it.
    fn push_segment(&self) -> bool {
        let offset = self.state().offset;
        let mut segment = gst::FormattedSegment::<gst::format::Bytes>::new();
        segment.set_start(gst::format::Bytes::from_u64(offset));
        segment.set_position(gst::format::Bytes::from_u64(offset));
        gst::debug!(
            CAT,
            imp = self,
            "Sending BYTES segment from offset {offset}"
        );
        let ok = self.srcpad.push_event(gst::event::Segment::new(&segment));
        if ok {
            self.state().segment_sent = true;
        }
        ok
    }

    /// Makes sure downstream has caps and a segment before the first buffer,
    /// even if upstream skipped them.
    fn ensure_sticky_events(&self) -> Result<(), gst::FlowError> {
        if self.srcpad.current_caps().is_none()
            && !self
                .srcpad
                .push_event(gst::event::Caps::new(&container_caps()))
        {
            return Err(gst::FlowError::NotNegotiated);
        }
        let segment_sent = self.state().segment_sent;
        if !segment_sent && !self.push_segment() {
            return Err(gst::FlowError::Error);
        }
        Ok(())
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if let gst::EventView::Seek(seek) = event.view()
            && seek.start().format() != gst::Format::Time
        {
            gst::debug!(
                CAT,
                obj = pad,
                "Refusing seek in {:?}",
                seek.start().format()
            );
            return false;
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Position(q) = query.view_mut()
            && q.format() == gst::Format::Bytes
        {
            let offset = self.state().offset;
            q.set(gst::format::Bytes::from_u64(offset));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

impl ChainSink for LengthMjpegMux {
    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let frame = {
            let mut state = self.state();
            state.received += 1;
            state.received
        };
        let len = buffer.size();

        let mut head = [0u8; 2];
        let mut tail = [0u8; 2];
        let whole_jpeg = len >= SOI.len() + EOI.len()
            && buffer.copy_to_slice(0, &mut head).is_ok()
            && buffer.copy_to_slice(len - EOI.len(), &mut tail).is_ok()
            && head == SOI
            && tail == EOI;
        if !whole_jpeg {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("frame {frame} ({len} bytes) is not a whole JPEG image: it must start with FF D8 and end with FF D9"),
                ["starts with {head:02X?}, ends with {tail:02X?}"]
            );
            return Err(gst::FlowError::Error);
        }

        let Some(prefix) = encode_prefix(len) else {
            let err = FrameTooLarge { frame, len };
            gst::element_imp_error!(self, gst::StreamError::Mux, ("{err}"));
            return Err(gst::FlowError::Error);
        };

        self.ensure_sticky_events()?;

        let offset = self.state().offset;
        let total = (prefix.len() + len) as u64;
        let mut out = gst::Buffer::from_slice(prefix);
        {
            let meta = out.make_mut();
            meta.set_pts(buffer.pts());
            meta.set_dts(buffer.dts());
            meta.set_duration(buffer.duration());
            meta.set_offset(offset);
            meta.set_offset_end(offset + total);
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                meta.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        // Takes references to the JPEG's memories: no copy of the data.
        out.append(buffer);

        gst::log!(
            CAT,
            imp = self,
            "Frame {frame}: {len} bytes at offset {offset}, pts {}",
            out.pts().display()
        );
        let res = self.srcpad.push(out);
        if res.is_ok() {
            let mut state = self.state();
            state.offset += total;
            state.frames += 1;
        }
        res
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;

        gst::log!(CAT, obj = pad, "Handling event {event:?}");
        match event.view() {
            // The sink template only accepts image/jpeg; whatever its
            // resolution, the output is the container.
            EventView::Caps(_) => self
                .srcpad
                .push_event(gst::event::Caps::new(&container_caps())),
            // Upstream's TIME segment becomes our BYTES segment. Later segments
            // without a flush in between would only move the write position
            // backwards, so they are dropped.
            EventView::Segment(_) => {
                let segment_sent = self.state().segment_sent;
                segment_sent || self.push_segment()
            }
            // A gap carries no data, and the byte stream has no timeline.
            EventView::Gap(_) => true,
            EventView::FlushStop(_) => {
                self.state().segment_sent = false;
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::Eos(_) => {
                let state = self.state();
                gst::debug!(
                    CAT,
                    imp = self,
                    "EOS after {} frames, {} bytes",
                    state.frames,
                    state.offset
                );
                drop(state);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for LengthMjpegMux {
    const NAME: &'static str = "GstLengthMjpegMux";
    type Type = super::LengthMjpegMux;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = chain_sink_pad::<Self>(&class_template(klass, "sink"));
        let srcpad = gst::Pad::builder_from_template(&class_template(klass, "src"))
            .event_function(|pad, parent, event| {
                LengthMjpegMux::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                LengthMjpegMux::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .flags(gst::PadFlags::FIXED_CAPS)
            .build();

        Self {
            sinkpad,
            srcpad,
            state: Mutex::new(State::default()),
        }
    }
}

impl ObjectImpl for LengthMjpegMux {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt64::builder("frames")
                    .nick("Frames")
                    .blurb("Number of frames written since the element last started")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "frames" => self.state().frames.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        add_pads(&*self.obj(), &[&self.sinkpad, &self.srcpad]);
    }
}

impl GstObjectImpl for LengthMjpegMux {}

impl ElementImpl for LengthMjpegMux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Length-prefixed MJPEG muxer",
                "Codec/Muxer",
                "Writes JPEG images as the .Mjpeg container: each frame is its size as \
                 five decimal digits followed by the JPEG (at most 99,999 bytes per frame)",
                "The mjpegrtsp developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            sink_src_templates(
                &gst::Caps::new_empty_simple("image/jpeg"),
                &container_caps(),
            )
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            *self.state() = State::default();
        }
        let res = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            // Keep the frame count readable after stopping; forget the rest.
            let mut state = self.state();
            *state = State {
                frames: state.frames,
                ..State::default()
            };
        }
        Ok(res)
    }
}
