//! Delivery of a room's [`Output`] into its members' [`Mailbox`]es: the one place where the
//! sans-IO room meets the writers' hand-off. The room thread runs it after each tick (the
//! `handoff` phase); tests and benches use it to drive a room as the server does.

use super::output::Output;
use super::{ClientId, Room};
use crate::mailbox::{Closing, Mailbox};
use arena_protocol::ByeReason;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The mailboxes of a room's connections, by client.
#[derive(Default)]
pub struct Post {
    mailboxes: BTreeMap<ClientId, Arc<Mailbox>>,
    out: Output,
    slow: Vec<ClientId>,
}

impl Post {
    /// Where `client`'s frames go from now on (its `Join` is being handled).
    pub fn open(&mut self, client: ClientId, mailbox: Arc<Mailbox>) {
        self.mailboxes.insert(client, mailbox);
    }

    /// Forgets `client` (its connection ended; the room was told with a `Leave`).
    pub fn forget(&mut self, client: ClientId) {
        self.mailboxes.remove(&client);
    }

    /// Mailboxes open now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.mailboxes.len()
    }

    /// Whether no mailbox is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mailboxes.is_empty()
    }

    /// Before a tick's [`Room::replicate`]: takes back every snapshot a writer has not taken
    /// yet and tells the room, so the next one is encoded against what the client really has.
    pub fn settle(&self, room: &mut Room) {
        for (client, mailbox) in &self.mailboxes {
            if mailbox.retract_snapshot() {
                room.snapshot_dropped(*client);
            }
        }
    }

    /// Delivers everything the room produced: goodbyes, direct frames (with a wake), the tick's
    /// broadcast frames queued for every member (one lock each, no wake) and each member's
    /// snapshot (one wake). A member whose reliable backlog is full is expelled from the room
    /// as too slow, and its goodbye delivered too.
    pub fn deliver(&mut self, room: &mut Room) {
        room.take_output(&mut self.out);
        while !self.out.is_empty() {
            for (client, bye) in self.out.closes.drain(..) {
                if let Some(mailbox) = self.mailboxes.remove(&client) {
                    mailbox.close(Closing::Bye(bye));
                }
            }
            for (client, frame) in self.out.direct.drain(..) {
                if let Some(mailbox) = self.mailboxes.get(&client)
                    && mailbox.send_reliable(frame).is_err()
                {
                    self.slow.push(client);
                }
            }
            if !self.out.broadcast.is_empty() {
                for (client, mailbox) in &self.mailboxes {
                    if mailbox.queue_reliable_all(&self.out.broadcast).is_err() {
                        self.slow.push(*client);
                    }
                }
                self.out.broadcast.clear();
            }
            // Both are in client order (the room encodes its members in order): walk them together.
            let mut mailboxes = self.mailboxes.iter().peekable();
            for (client, frame) in self.out.snapshots.drain(..) {
                while mailboxes.next_if(|(c, _)| **c < client).is_some() {}
                if let Some((_, mailbox)) = mailboxes.next_if(|(c, _)| **c == client) {
                    mailbox.offer_snapshot(frame);
                }
            }
            for client in self.slow.drain(..) {
                room.expel(client, ByeReason::TooSlow, "too many unread events");
            }
            room.take_output(&mut self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::Batch;
    use crate::metrics::ServerStats;
    use crate::room::RoomCommand;
    use crate::room::tests::settings;
    use arena_protocol::{ServerMsg, decode_server};
    use futures_util::FutureExt;
    use tokio_tungstenite::tungstenite::Bytes;

    fn join(room: &mut Room, post: &mut Post, i: u64) -> Arc<Mailbox> {
        let mailbox = Arc::new(Mailbox::default());
        post.open(ClientId(i), mailbox.clone());
        room.handle(RoomCommand::Join {
            client: ClientId(i),
            name: format!("p{i}"),
            resume: None,
            require_resume: false,
        });
        mailbox
    }

    fn tick(room: &mut Room, post: &mut Post) {
        room.simulate();
        post.settle(room);
        room.replicate();
        post.deliver(room);
    }

    #[test]
    fn a_ticks_events_wait_for_its_snapshot_one_wake_per_member() {
        let mut room = Room::new(settings(1), Arc::new(ServerStats::default()));
        let mut post = Post::default();
        let first = join(&mut room, &mut post, 0);
        tick(&mut room, &mut post);
        let mut batch = Batch::default();
        first.take(&mut batch);
        batch.frames.clear();
        assert!(first.wait().now_or_never().is_some(), "last tick's wake");

        // The second player's arrival is an event for the first: queued, not woken for.
        let _second = join(&mut room, &mut post, 1);
        room.simulate();
        post.settle(&mut room);
        room.replicate();
        assert!(first.wait().now_or_never().is_none(), "the room itself writes nothing");
        post.deliver(&mut room);
        assert!(first.wait().now_or_never().is_some(), "the snapshot wakes the writer");
        assert!(first.wait().now_or_never().is_none(), "once");
        first.take(&mut batch);
        let kinds: Vec<_> = batch
            .frames
            .iter()
            .map(|f| match decode_server(f).expect("decodes") {
                ServerMsg::Event(_) => "event",
                ServerMsg::Snapshot(_) => "snapshot",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["event", "snapshot"], "the event goes out in the same write, before the snapshot");
    }

    #[test]
    fn a_member_whose_events_pile_up_is_closed_as_too_slow() {
        let mut room = Room::new(settings(1), Arc::new(ServerStats::default()));
        let mut post = Post::default();
        let reader = join(&mut room, &mut post, 0);
        let stuck = join(&mut room, &mut post, 1);
        let filler = Bytes::from(vec![0u8; crate::mailbox::RELIABLE_BACKLOG_LIMIT]);
        stuck.send_reliable(filler).expect("exactly the limit fits");
        let mut batch = Batch::default();
        // Joins and leaves are events: sooner or later one does not fit in the stuck backlog.
        for i in 2..6 {
            let _ = join(&mut room, &mut post, i);
            tick(&mut room, &mut post);
            reader.take(&mut batch);
        }
        assert_eq!(room.members(), 5, "the stuck member is gone, the others play on");
        assert!(stuck.is_closing());
        assert_eq!(post.len(), 5);
        stuck.take(&mut batch);
        match batch.closing {
            Some(Closing::Bye(b)) => assert_eq!(b.reason, ByeReason::TooSlow),
            other => panic!("expected a TooSlow Bye, got {other:?}"),
        }
    }
}
