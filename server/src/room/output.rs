//! What a room sends: the frames of a tick (or of a command, such as a `Welcome`), per member,
//! as plain data. [`Room`](super::Room) writes nothing anywhere; whoever drives it takes its
//! [`Output`] and delivers it ([`Post`](super::post::Post) into the connections' mailboxes, tests
//! and benches wherever they like).

use arena_protocol::Bye;
use tokio_tungstenite::tungstenite::Bytes;

use super::ClientId;

/// The frames a room produced since it was last taken, in the order they must be delivered:
/// first `closes`, then `direct` frames, then `broadcast` to every member, then `snapshots`.
/// The vectors keep their capacity from tick to tick (taken by swapping, cleared after use).
#[derive(Debug, Default)]
pub struct Output {
    /// Connections to end with this goodbye (refused joins, replaced, too slow, shutdown). They
    /// are no longer members: nothing else in this output is for them.
    pub closes: Vec<(ClientId, Bye)>,
    /// Frames for one member that go out at once (a `Welcome`).
    pub direct: Vec<(ClientId, Bytes)>,
    /// Frames for every member (a tick's events, the scoreboard), to queue before its snapshot
    /// without a wake of their own: they go out in the snapshot's write.
    pub broadcast: Vec<Bytes>,
    /// Each member's snapshot of this tick (one per member due one), in client order.
    pub snapshots: Vec<(ClientId, Bytes)>,
}

impl Output {
    /// Empties every list, keeping the capacity.
    pub fn clear(&mut self) {
        self.closes.clear();
        self.direct.clear();
        self.broadcast.clear();
        self.snapshots.clear();
    }

    /// Whether there is nothing to deliver.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.closes.is_empty() && self.direct.is_empty() && self.broadcast.is_empty() && self.snapshots.is_empty()
    }
}
