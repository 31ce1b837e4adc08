//! The consumer's end of a session's events, and the byte budget that bounds
//! the frames waiting in it.
//!
//! The channel holds at most [`ClientOptions::event_capacity`] events, and its
//! frames at most [`ClientOptions::event_bytes`] bytes of JPEG together: the
//! network task reserves a frame's bytes before offering it and drops (and
//! counts) the frame when they do not fit; [`Events`] gives them back as
//! frames are taken. A frame is always let into an empty channel, so that
//! one larger than the budget still reaches the consumer: nothing stalls.
//!
//! [`ClientOptions::event_capacity`]: super::ClientOptions::event_capacity
//! [`ClientOptions::event_bytes`]: super::ClientOptions::event_bytes

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::Event;

/// Bytes of frames waiting for the consumer, shared by the network task
/// (which adds) and [`Events`] (which takes away).
#[derive(Debug, Clone)]
pub(crate) struct FrameBudget {
    queued: Arc<AtomicUsize>,
    max: usize,
}

impl FrameBudget {
    /// A budget of `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            queued: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Reserves `len` bytes: false when they do not fit (unless nothing
    /// waits).
    pub(crate) fn try_reserve(&self, len: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                let total = q.saturating_add(len);
                (q == 0 || total <= self.max).then_some(total)
            })
            .is_ok()
    }

    /// Gives `len` bytes back.
    pub(crate) fn release(&self, len: usize) {
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(len))
            });
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// The consumer's end of a session's events.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
    budget: FrameBudget,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Event>, budget: FrameBudget) -> Self {
        Self { rx, budget }
    }

    fn taken(&self, event: Option<Event>) -> Option<Event> {
        if let Some(Event::Frame(f)) = &event {
            self.budget.release(f.jpeg.len());
        }
        event
    }

    /// The next event; `None` once the session is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        let event = self.rx.recv().await;
        self.taken(event)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        let event = self.rx.try_recv().ok();
        self.taken(event)
    }

    /// The next event, blocking the thread (not for use inside the runtime).
    pub fn blocking_recv(&mut self) -> Option<Event> {
        let event = self.rx.blocking_recv();
        self.taken(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_bounds_bytes_but_always_lets_one_in() {
        let b = FrameBudget::new(100);
        assert!(b.try_reserve(60));
        assert!(b.try_reserve(40));
        assert!(!b.try_reserve(1), "full");
        b.release(60);
        assert!(!b.try_reserve(61));
        assert!(b.try_reserve(60));
        b.release(100);
        assert_eq!(b.queued(), 0);
        // Larger than the budget, into an empty channel: let in.
        assert!(b.try_reserve(1000));
        assert!(!b.try_reserve(1));
        b.release(5000);
        assert_eq!(b.queued(), 0, "never below zero");
    }
}
