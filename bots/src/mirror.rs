//! A bot's copy of the world: the protocol's [`ClientWorld`] decoder plus the roster and the
//! room's constants.

use arena_protocol::rules::Arena;
use arena_protocol::{
    ClientWorld, DeltaError, EntityKind, EntityState, GameEvent, NetId, Physics, Snapshot, Tick, ViewTime, Welcome,
};
use std::collections::HashMap;

/// What one client knows of the room, built only from what the server sent it.
#[derive(Clone, Debug)]
pub struct WorldMirror {
    /// The own ship's id (from `Welcome`).
    pub my_id: NetId,
    /// Ticks per second of the room.
    pub tick_hz: u16,
    /// Arena size in world units.
    pub arena: (f32, f32),
    /// Last input `seq` the server acknowledged.
    pub ack_seq: u32,
    /// The entities in view, kept by the protocol's decoder.
    pub world: ClientWorld,
    /// Display names by id.
    pub names: HashMap<NetId, String>,
    /// Tick of the newest snapshot applied without error (the `Welcome`'s tick before the first).
    seen_tick: Tick,
}

impl WorldMirror {
    /// A mirror for the room described by `welcome`.
    #[must_use]
    pub fn new(welcome: &Welcome) -> WorldMirror {
        let arena = Arena { width: welcome.arena_width as f32, height: welcome.arena_height as f32 };
        WorldMirror {
            my_id: welcome.your_id,
            tick_hz: welcome.tick_hz,
            arena: (arena.width, arena.height),
            ack_seq: 0,
            world: ClientWorld::new(Physics::new(welcome.tick_hz, arena)),
            names: welcome.players.iter().map(|p| (p.id, p.name.clone())).collect(),
            seen_tick: welcome.tick,
        }
    }

    /// Applies a snapshot; an error is a desync (the world is then empty until a full snapshot).
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), DeltaError> {
        self.ack_seq = snapshot.ack_seq;
        self.world.apply(snapshot)?;
        self.seen_tick = snapshot.tick;
        Ok(())
    }

    /// Takes note of a snapshot without applying it (a light bot): its tick becomes what the
    /// bot "sees" and its acknowledgement the last one; the world is left as it is.
    pub fn note_snapshot(&mut self, tick: Tick, ack_seq: u32) {
        self.ack_seq = ack_seq;
        self.seen_tick = tick;
    }

    /// What the bot is seeing, for an input's `view`: the tick of the newest snapshot it applied
    /// (a bot draws nothing between snapshots, so the fraction is 0). After a desync it keeps the
    /// last good tick until a full snapshot arrives.
    #[must_use]
    pub fn view(&self) -> ViewTime {
        ViewTime { tick: self.seen_tick, frac: 0 }
    }

    /// The physics the decoder predicts with.
    #[must_use]
    pub fn world_physics(&self) -> &Physics {
        self.world.physics()
    }

    /// Tick of the last snapshot applied.
    #[must_use]
    pub fn tick(&self) -> Option<Tick> {
        self.world.tick()
    }

    /// Keeps the roster up to date.
    pub fn apply_event(&mut self, event: &GameEvent) {
        match event {
            GameEvent::Joined(p) => {
                self.names.insert(p.id, p.name.clone());
            }
            GameEvent::Left { id } => {
                self.names.remove(id);
            }
            GameEvent::Kill { .. } => {}
        }
    }

    /// The own ship.
    #[must_use]
    pub fn me(&self) -> Option<&EntityState> {
        self.world.get(self.my_id)
    }

    /// Other ships in view.
    pub fn others(&self) -> impl Iterator<Item = &EntityState> {
        let me = self.my_id;
        self.world.entities().iter().filter(move |e| e.kind == EntityKind::Ship && e.id != me)
    }
}
