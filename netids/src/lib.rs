//! Net ids for one room: handed out to new entities, freed when they leave the world, and
//! recycled only when no client can still hold the old entity.
//!
//! A recycled id is a plain `u32` with no generation bits: ids stay below the peak number of
//! entities in flight (live, still held by a client, or in quarantine), so their varints on the
//! wire stay short. 2,000 ships firing spawn ~9,000 projectiles a second, ~10,000 in the air:
//! recycled ids stay below 16,384 (two-byte varints), where ids that only grow pass 2²¹ (four
//! bytes) after four minutes and 2²⁸ (five bytes) after eight hours, and wrap after six days.
//!
//! **The rule.** An id goes back into use only when
//! 1. its entity is gone from the world ([`NetIdPool::free`]),
//! 2. no client holds it any more: every [`NetIdPool::hold`] (a client's replica started holding
//!    the entity) has been matched by a [`NetIdPool::release`] (the despawn went out, or the
//!    replica was dropped), and
//! 3. at least the quarantine (a few ticks, counted by [`NetIdPool::advance`]) has passed since
//!    1 and 2 both became true,
//!
//! oldest such id first. Fresh ids (never used) are handed out only when no freed id is ready.
//! If every id from 1 to the highest is live, held or in quarantine, [`NetIdPool::allocate`]
//! returns `None`: the caller goes without (no projectile, no join), it never gets a live id.
//!
//! Sans-IO and clockless: the owner calls [`NetIdPool::advance`] once per tick. No operation
//! panics; nothing overflows (see each counter's comment). Every operation is O(1) (amortized),
//! but for one that should never happen (see [`NetIdPool::hold`]).
//!
//! This crate stands alone so that it can be optimized in dev and test builds (the workspace's
//! `[profile.dev.package.arena-netids]`): its test runs the pool through more than 2³² allocations.

use arena_protocol::NetId;
use std::collections::VecDeque;

/// Ticks a freed, unheld id waits before it is handed out again. One would do while the room
/// captures every tick (the replicator links this tick's entities to last tick's by id, and an id
/// freed in tick `t` is absent from every capture after `t`); a few more cost nothing (a handful
/// of extra ids in flight) and cover a capture that was skipped.
pub const DEFAULT_QUARANTINE_TICKS: u32 = 4;

/// The highest id handed out by default. `0` means "no entity" on the wire (a ship's projectile
/// owner), and `u32::MAX` is kept free as a sentinel, so a room has `u32::MAX - 1` ids.
pub const MAX_ID: u32 = u32::MAX - 1;

/// A slot's bits: an entity has the id now.
const LIVE: u32 = 1 << 31;
/// A slot's bits: the id is in the queue (no entity, no holders).
const QUEUED: u32 = 1 << 30;
/// A slot's bits: how many clients hold the id. The count saturates, and a saturated count
/// sticks (the id is never reused): it counts replicas, and a billion clients will not come.
const HOLDERS: u32 = QUEUED - 1;

/// Figures for metrics and tests (counted on demand: the hot paths keep no tallies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Ids with an entity now.
    pub live: u32,
    /// Ids whose entity is gone but which some client still holds.
    pub held_after_free: u32,
    /// Ids free of entity and holders, waiting in the queue (in quarantine or ready).
    pub queued: u32,
    /// The highest id handed out so far (0: none).
    pub highest: u32,
    /// Allocations refused because every id was in use.
    pub refused: u64,
}

/// Hands out net ids and takes them back safely; see the [crate docs](crate) for the rule.
#[derive(Clone, Debug)]
pub struct NetIdPool {
    /// Per id, its state as [`LIVE`], [`QUEUED`] and [`HOLDERS`] bits; one word each, so that
    /// the hot paths read and write one `u32`. Slot 0 stands for id 0, which is never handed
    /// out; `slots.len()` is the next fresh id.
    slots: Vec<u32>,
    /// Ids free of entity and holders, oldest first, with the tick they became so. Stamps never
    /// decrease along the queue, so its front is the first to leave quarantine.
    queue: VecDeque<(u32, u64)>,
    /// Ticks since the pool was made. A `u64` of ticks does not wrap in practice (at 1000 Hz,
    /// after 584 million years); `advance` saturates, so it would stop rather than wrap, and a
    /// stopped clock only keeps new frees in quarantine for good (fresh ids are used instead).
    now: u64,
    quarantine: u64,
    max_id: u32,
    /// Allocations refused; saturating (a `u64` of refusals cannot fill up in practice anyway).
    refused: u64,
}

impl Default for NetIdPool {
    fn default() -> Self {
        NetIdPool::new(DEFAULT_QUARANTINE_TICKS)
    }
}

impl NetIdPool {
    /// A pool of ids `1..=MAX_ID` whose freed ids wait `quarantine_ticks` before reuse.
    #[must_use]
    pub fn new(quarantine_ticks: u32) -> NetIdPool {
        NetIdPool::with_max_id(quarantine_ticks, MAX_ID)
    }

    /// A pool of ids `1..=max_id` (a small id space, to see what happens when it runs out).
    #[must_use]
    pub fn with_max_id(quarantine_ticks: u32, max_id: u32) -> NetIdPool {
        NetIdPool {
            slots: vec![0],
            queue: VecDeque::new(),
            now: 0,
            quarantine: u64::from(quarantine_ticks),
            max_id: max_id.min(MAX_ID),
            refused: 0,
        }
    }

    /// One tick has passed.
    #[inline]
    pub fn advance(&mut self) {
        self.now = self.now.saturating_add(1);
    }

    /// An id for a new entity: the oldest freed id whose quarantine is over, else a fresh one.
    /// `None` when every id is live, held or in quarantine (counted in [`PoolStats::refused`]).
    #[inline]
    pub fn allocate(&mut self) -> Option<NetId> {
        while let Some(&(id, since)) = self.queue.front() {
            // `now >= since` always (stamps are taken from `now`, which never decreases).
            if self.now.saturating_sub(since) < self.quarantine {
                break;
            }
            self.queue.pop_front();
            // Every entry's slot is exactly `QUEUED` (`hold` takes an id out of the queue);
            // checked anyway, as the price of handing out a wrong id is a desync.
            if let Some(slot) = self.slots.get_mut(id as usize)
                && *slot == QUEUED
            {
                *slot = LIVE;
                return Some(NetId(id));
            }
        }
        let fresh = u32::try_from(self.slots.len()).ok().filter(|&id| id <= self.max_id);
        let Some(id) = fresh else {
            self.refused = self.refused.saturating_add(1);
            return None;
        };
        self.slots.push(LIVE);
        Some(NetId(id))
    }

    /// The entity with `id` left the world. Ids that are not live (never handed out, or freed
    /// already) are ignored.
    #[inline]
    pub fn free(&mut self, id: NetId) {
        let Some(slot) = slot_mut(&mut self.slots, id) else { return };
        if *slot & LIVE == 0 {
            return;
        }
        *slot &= !LIVE;
        if *slot == 0 {
            *slot = QUEUED;
            self.queue.push_back((id.0, self.now));
        }
    }

    /// A client's replica started holding `id` (a spawn of it was sent). Ids never handed out
    /// are not tracked (they cannot be reused either).
    ///
    /// Holding an id whose entity is gone should not happen (replicas spawn live entities only).
    /// If it does, the id stops counting as free: it leaves the queue (a search, O(queue): the
    /// one operation that is not O(1), on a path that is not taken) and comes back with a new
    /// quarantine on its last release.
    pub fn hold(&mut self, id: NetId) {
        let Some(slot) = slot_mut(&mut self.slots, id) else { return };
        if *slot & QUEUED != 0 {
            *slot &= !QUEUED;
            if let Some(at) = self.queue.iter().position(|&(queued, _)| queued == id.0) {
                self.queue.remove(at);
            }
        }
        if *slot & HOLDERS < HOLDERS {
            *slot += 1;
        }
    }

    /// A client's replica stopped holding `id` (its despawn was sent, or the replica is gone).
    /// Unmatched releases are ignored.
    #[inline]
    pub fn release(&mut self, id: NetId) {
        let Some(slot) = slot_mut(&mut self.slots, id) else { return };
        let holders = *slot & HOLDERS;
        if holders == 0 || holders == HOLDERS {
            return;
        }
        *slot -= 1;
        if *slot == 0 {
            *slot = QUEUED;
            self.queue.push_back((id.0, self.now));
        }
    }

    /// How many clients hold `id`.
    #[must_use]
    pub fn holders(&self, id: NetId) -> u32 {
        self.slots.get(id.0 as usize).map_or(0, |s| s & HOLDERS)
    }

    /// Whether an entity has `id` now.
    #[must_use]
    pub fn is_live(&self, id: NetId) -> bool {
        self.slots.get(id.0 as usize).is_some_and(|s| s & LIVE != 0)
    }

    /// Counts of ids by state, and refusals. O(ids handed out): for metrics and tests, not for
    /// every tick.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            highest: u32::try_from(self.slots.len().saturating_sub(1)).unwrap_or(u32::MAX),
            refused: self.refused,
            ..PoolStats::default()
        };
        // Each count is at most the number of slots, which is at most `MAX_ID`: no overflow.
        for &slot in self.slots.iter().skip(1) {
            if slot & LIVE != 0 {
                stats.live += 1;
            } else if slot & HOLDERS != 0 {
                stats.held_after_free += 1;
            } else if slot & QUEUED != 0 {
                stats.queued += 1;
            }
        }
        stats
    }
}

/// The slot of an id handed out at least once; never slot 0 (id 0 is not an entity's).
fn slot_mut(slots: &mut [u32], id: NetId) -> Option<&mut u32> {
    if id.0 == 0 { None } else { slots.get_mut(id.0 as usize) }
}

#[cfg(test)]
mod tests;
