//! The hand-off of outgoing frames from a room thread to one connection's writer task.
//!
//! Two lanes: *reliable* frames (welcome, events, scoreboard, pongs) queue in order and are never
//! dropped; the *snapshot* lane holds one frame and the latest wins, so a slow reader gets fewer
//! snapshots instead of a growing backlog, and the room never waits for a socket. Both sides are
//! plain synchronous calls except [`Mailbox::wait`], so the room thread needs no async runtime.

use arena_protocol::Bye;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Bytes;
use tokio_util::sync::CancellationToken;

/// Most bytes of reliable frames that may wait for one client before it counts as too slow.
pub const RELIABLE_BACKLOG_LIMIT: usize = 256 * 1024;

/// The reliable lane of a client is over [`RELIABLE_BACKLOG_LIMIT`]: the client cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than {RELIABLE_BACKLOG_LIMIT} bytes of reliable frames are waiting")]
pub struct BacklogFull;

#[derive(Default)]
struct Lanes {
    reliable: VecDeque<Bytes>,
    reliable_bytes: usize,
    snapshot: Option<Bytes>,
    closing: Option<Closing>,
    ping: bool,
}

/// How a connection is to end.
#[derive(Clone, Debug, PartialEq)]
pub enum Closing {
    /// Send this `Bye` and a matching close frame, then stop.
    Bye(Bye),
    /// The peer is gone or the reader stopped: stop without a word.
    Quietly,
}

/// One client's outgoing frames, shared by the room (producer) and the writer (consumer).
#[derive(Default)]
pub struct Mailbox {
    lanes: Mutex<Lanes>,
    wake: Notify,
    closed: CancellationToken,
}

/// What the writer took out of a mailbox.
#[derive(Debug, Default)]
pub struct Batch {
    /// Frames to send, in order (reliable ones first, then the latest snapshot).
    pub frames: Vec<Bytes>,
    /// Set when the connection should end after `frames`.
    pub closing: Option<Closing>,
    /// Send a WebSocket ping first (the client has been silent for a while).
    pub ping: bool,
}

impl Mailbox {
    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        // A panic while holding this lock leaves plain queues behind, still usable.
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame that must arrive and wakes the writer. Fails (and queues nothing) when the
    /// client's backlog is already too large, or the mailbox is closing.
    pub fn send_reliable(&self, frame: Bytes) -> Result<(), BacklogFull> {
        self.queue_reliable(frame)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Queues a frame that must arrive *without* waking the writer: it goes out with the next
    /// snapshot (the room queues a tick's events and scoreboard this way, so each client costs
    /// one wake and one write per tick). Fails like [`Mailbox::send_reliable`].
    pub fn queue_reliable(&self, frame: Bytes) -> Result<(), BacklogFull> {
        let mut lanes = self.lanes();
        if lanes.closing.is_some() {
            return Ok(());
        }
        if lanes.reliable_bytes + frame.len() > RELIABLE_BACKLOG_LIMIT {
            return Err(BacklogFull);
        }
        lanes.reliable_bytes += frame.len();
        lanes.reliable.push_back(frame);
        Ok(())
    }

    /// [`Mailbox::queue_reliable`] for several frames under one lock: a tick's events. All are
    /// queued, or none if they would go past the backlog limit.
    pub fn queue_reliable_all(&self, frames: &[Bytes]) -> Result<(), BacklogFull> {
        let mut lanes = self.lanes();
        if lanes.closing.is_some() {
            return Ok(());
        }
        let bytes: usize = frames.iter().map(Bytes::len).sum();
        if lanes.reliable_bytes + bytes > RELIABLE_BACKLOG_LIMIT {
            return Err(BacklogFull);
        }
        lanes.reliable_bytes += bytes;
        lanes.reliable.extend(frames.iter().cloned());
        Ok(())
    }

    /// Puts the latest snapshot in the snapshot lane. Returns `true` if it replaced one the
    /// writer had not taken yet (a snapshot dropped for backpressure).
    pub fn offer_snapshot(&self, frame: Bytes) -> bool {
        let mut lanes = self.lanes();
        if lanes.closing.is_some() {
            return false;
        }
        let replaced = lanes.snapshot.replace(frame).is_some();
        drop(lanes);
        self.wake.notify_one();
        replaced
    }

    /// Takes back the snapshot the writer has not taken yet. Returns `true` if there was one: it
    /// will never be sent, so the next snapshot must not assume the client has it.
    pub fn retract_snapshot(&self) -> bool {
        self.lanes().snapshot.take().is_some()
    }

    /// Asks the writer to end the connection after what is already queued. The first call wins.
    pub fn close(&self, closing: Closing) {
        let mut lanes = self.lanes();
        if lanes.closing.is_none() {
            lanes.closing = Some(closing);
        }
        drop(lanes);
        self.closed.cancel();
        self.wake.notify_one();
    }

    /// Resolves once [`Mailbox::close`] has been called: a writer stuck on a full socket uses it
    /// to give up instead of hanging on a client that stopped reading.
    pub async fn closed(&self) {
        self.closed.cancelled().await;
    }

    /// Whether [`Mailbox::close`] was called.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.lanes().closing.is_some()
    }

    /// Waits until something was put in the mailbox since the last [`Mailbox::take`].
    pub async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Moves everything waiting into `batch` (whose `frames` should be empty).
    pub fn take(&self, batch: &mut Batch) {
        let mut lanes = self.lanes();
        batch.frames.extend(lanes.reliable.drain(..));
        lanes.reliable_bytes = 0;
        batch.frames.extend(lanes.snapshot.take());
        batch.closing = lanes.closing.clone();
        batch.ping = std::mem::take(&mut lanes.ping);
    }

    /// Asks the writer to send a WebSocket ping (the connection's reader heard nothing for a
    /// while; any live client answers with a pong).
    pub fn ping(&self) {
        self.lanes().ping = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::ByeReason;

    #[test]
    fn the_latest_snapshot_wins_and_reliable_frames_all_arrive_first() {
        let mb = Mailbox::default();
        assert!(!mb.offer_snapshot(Bytes::from_static(b"s1")));
        mb.send_reliable(Bytes::from_static(b"r1")).expect("room in the backlog");
        assert!(mb.offer_snapshot(Bytes::from_static(b"s2")), "an untaken snapshot should be reported as replaced");
        mb.send_reliable(Bytes::from_static(b"r2")).expect("room in the backlog");
        let mut batch = Batch::default();
        mb.take(&mut batch);
        assert_eq!(batch.frames, vec![&b"r1"[..], &b"r2"[..], &b"s2"[..]]);
        assert_eq!(batch.closing, None);
        assert!(!mb.offer_snapshot(Bytes::from_static(b"s3")), "after a take nothing is replaced");
    }

    #[test]
    fn a_full_backlog_is_refused() {
        let mb = Mailbox::default();
        let big = Bytes::from(vec![0u8; RELIABLE_BACKLOG_LIMIT]);
        mb.send_reliable(big).expect("exactly the limit fits");
        assert_eq!(mb.send_reliable(Bytes::from_static(b"x")), Err(BacklogFull));
    }

    #[test]
    fn the_first_close_wins() {
        let mb = Mailbox::default();
        let bye = Bye { reason: ByeReason::TooSlow, message: "slow".into(), retry_after_ms: 0 };
        mb.close(Closing::Bye(bye.clone()));
        mb.close(Closing::Quietly);
        let mut batch = Batch::default();
        mb.take(&mut batch);
        assert_eq!(batch.closing, Some(Closing::Bye(bye)));
    }
}
