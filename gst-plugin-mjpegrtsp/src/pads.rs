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
