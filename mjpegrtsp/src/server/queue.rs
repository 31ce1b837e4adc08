//! A control connection's outgoing queue: replies and TCP-interleaved media
//! on their way to one client, bounded in bytes.
//!
//! Replies are never dropped: they wait for room in the channel (a client
//! that sends requests without reading the answers stops being read). Media
//! is never waited for: a frame that does not fit under the byte budget is
//! dropped and counted by the sender, so a client that reads slowly loses
//! frames and never holds more than about a second of media in the server.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Budget of a connection before any TCP session sets it (replies only).
pub const MIN_QUEUE_BYTES: usize = 256 * 1024;
/// The most media one connection may have queued, whatever its bitrate.
pub const MAX_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Messages the channel holds (replies wait for room beyond it).
const QUEUE_MESSAGES: usize = 1024;

#[derive(Debug)]
struct Budget {
    queued: AtomicUsize,
    limit: AtomicUsize,
}

/// The sending side, shared by the connection (replies) and the media engine
/// (interleaved packets).
#[derive(Debug, Clone)]
pub struct Outgoing {
    tx: mpsc::Sender<Bytes>,
    budget: Arc<Budget>,
}

/// The receiving side, read by the task that writes to the socket.
#[derive(Debug)]
pub struct Incoming {
    rx: mpsc::Receiver<Bytes>,
    budget: Arc<Budget>,
}

/// A new queue with the [`MIN_QUEUE_BYTES`] budget.
pub fn queue() -> (Outgoing, Incoming) {
    let (tx, rx) = mpsc::channel(QUEUE_MESSAGES);
    let budget = Arc::new(Budget {
        queued: AtomicUsize::new(0),
        limit: AtomicUsize::new(MIN_QUEUE_BYTES),
    });
    (
        Outgoing {
            tx,
            budget: budget.clone(),
        },
        Incoming { rx, budget },
    )
}

impl Outgoing {
    /// Queues a reply, waiting for room in the channel; false once the
    /// connection is gone.
    pub async fn send_reply(&self, bytes: impl Into<Bytes>) -> bool {
        let bytes = bytes.into();
        let len = bytes.len();
        self.budget.queued.fetch_add(len, Ordering::Relaxed);
        if self.tx.send(bytes).await.is_err() {
            self.budget.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Queues media if it fits under the budget; false (nothing queued) if
    /// it does not or the connection is gone. Never waits. A shared
    /// [`Bytes`] (one frame sent to many connections) is not copied.
    pub fn try_send_media(&self, bytes: impl Into<Bytes>) -> bool {
        let bytes = bytes.into();
        let len = bytes.len();
        let limit = self.budget.limit.load(Ordering::Relaxed);
        let fits = self
            .budget
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                (q + len <= limit).then_some(q + len)
            })
            .is_ok();
        if !fits {
            return false;
        }
        if self.tx.try_send(bytes).is_err() {
            self.budget.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Raises the budget to `bytes` (clamped to [`MIN_QUEUE_BYTES`] ..=
    /// [`MAX_QUEUE_BYTES`]); it never shrinks while the connection lives.
    pub fn allow(&self, bytes: usize) {
        let bytes = bytes.clamp(MIN_QUEUE_BYTES, MAX_QUEUE_BYTES);
        self.budget.limit.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Bytes queued and not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.budget.queued.load(Ordering::Relaxed)
    }
}

/// Writes what `incoming` gives to `writer` until every sender is gone or
/// a write fails, then shuts the writer down.
pub fn spawn_writer<W>(mut writer: W, mut incoming: Incoming) -> tokio::task::JoinHandle<()>
where
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    use tokio::io::AsyncWriteExt;
    tokio::spawn(async move {
        while let Some(bytes) = incoming.recv().await {
            let ok = writer.write_all(&bytes).await.is_ok();
            incoming.written(bytes.len());
            if !ok {
                break;
            }
        }
        let _ = writer.shutdown().await;
    })
}

impl Incoming {
    /// The next bytes to write; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    /// Tells the budget that `len` bytes taken by [`recv`](Self::recv) were
    /// written (or given up on).
    pub fn written(&self, len: usize) {
        self.budget.queued.fetch_sub(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn media_is_dropped_past_the_budget_and_replies_are_not() {
        let (out, mut inc) = queue();
        let frame = vec![0u8; 100 * 1024];
        assert!(out.try_send_media(frame.clone()));
        assert!(out.try_send_media(frame.clone()));
        assert!(!out.try_send_media(frame.clone()), "256 KiB budget");
        assert_eq!(out.queued_bytes(), 200 * 1024);
        // A reply goes in even though media filled the budget.
        assert!(out.send_reply(b"RTSP/1.0 200 OK\r\n\r\n".to_vec()).await);
        // The budget follows the bitrate, within its bounds.
        out.allow(1 << 30);
        for _ in 0..38 {
            assert!(out.try_send_media(frame.clone()));
        }
        assert!(!out.try_send_media(frame.clone()), "at most 4 MiB");
        // Written bytes free the budget again.
        let first = inc.recv().await.unwrap();
        inc.written(first.len());
        assert!(out.try_send_media(frame));
    }
}
