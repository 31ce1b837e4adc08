//! The sink pad every one-in, one-out element of the plugin builds the same
//! way: buffers to `sink_chain`, events to `sink_event`, panics caught.

use gst::subclass::prelude::*;

/// An element that handles its sink pad's buffers and events itself.
pub trait ChainSink: ElementImpl {
    fn sink_chain(
        &self,
        pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError>;
    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool;
}

/// A sink pad from `templ` wired to `T`'s [`ChainSink`] functions.
pub fn chain_sink_pad<T: ChainSink>(templ: &gst::PadTemplate) -> gst::Pad {
    gst::Pad::builder_from_template(templ)
        .chain_function(|pad, parent, buffer| {
            T::catch_panic_pad_function(
                parent,
                || Err(gst::FlowError::Error),
                |imp| imp.sink_chain(pad, buffer),
            )
        })
        .event_function(|pad, parent, event| {
            T::catch_panic_pad_function(parent, || false, |imp| imp.sink_event(pad, event))
        })
        .build()
}

/// The always-present `sink` and `src` pad templates of a one-in, one-out element.
pub fn sink_src_templates(sink: &gst::Caps, src: &gst::Caps) -> Vec<gst::PadTemplate> {
    vec![
        gst::PadTemplate::new(
            "sink",
            gst::PadDirection::Sink,
            gst::PadPresence::Always,
            sink,
        )
        .expect("valid sink pad template"),
        gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, src)
            .expect("valid src pad template"),
    ]
}
