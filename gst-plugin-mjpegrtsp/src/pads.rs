//! The pads every one-in, one-out element of the plugin builds the same
//! way: a sink pad whose buffers go to `sink_chain` and events to
//! `sink_event` (panics caught), a src pad, both from the class's templates.

use gst::prelude::*;
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

/// The class's template called `name` (`sink` or `src`), which
/// [`sink_src_templates`] registered.
pub fn class_template<C: IsA<gst::Element> + glib::object::IsClass>(
    klass: &glib::object::Class<C>,
    name: &str,
) -> gst::PadTemplate {
    klass
        .pad_template(name)
        .unwrap_or_else(|| panic!("the {name} pad template is registered"))
}

/// A sink pad wired to `T`'s [`ChainSink`] functions and a plain src pad,
/// from the class's `sink` and `src` templates.
pub fn chain_pads<T>(klass: &glib::object::Class<T::Type>) -> (gst::Pad, gst::Pad)
where
    T: ChainSink,
    T::Type: IsA<gst::Element>,
{
    let sinkpad = chain_sink_pad::<T>(&class_template(klass, "sink"));
    let srcpad = gst::Pad::builder_from_template(&class_template(klass, "src")).build();
    (sinkpad, srcpad)
}

/// Adds a new element's pads.
pub fn add_pads(element: &impl IsA<gst::Element>, pads: &[&gst::Pad]) {
    for pad in pads {
        element
            .add_pad(*pad)
            .expect("a new element accepts its pads");
    }
}

/// A pad template; its name and caps are the element's own constants, so a
/// failure is a bug.
pub fn template(
    name: &str,
    direction: gst::PadDirection,
    presence: gst::PadPresence,
    caps: &gst::Caps,
) -> gst::PadTemplate {
    gst::PadTemplate::new(name, direction, presence, caps)
        .unwrap_or_else(|e| panic!("pad template {name}: {e}"))
}

/// The always-present `sink` and `src` pad templates of a one-in, one-out element.
pub fn sink_src_templates(sink: &gst::Caps, src: &gst::Caps) -> Vec<gst::PadTemplate> {
    vec![
        template(
            "sink",
            gst::PadDirection::Sink,
            gst::PadPresence::Always,
            sink,
        ),
        template("src", gst::PadDirection::Src, gst::PadPresence::Always, src),
    ]
}

/// The one always-present `src` template of a source of whole JPEG images.
pub fn jpeg_src_templates() -> Vec<gst::PadTemplate> {
    vec![template(
        "src",
        gst::PadDirection::Src,
        gst::PadPresence::Always,
        &crate::playhead::jpeg_template_caps(),
    )]
}
