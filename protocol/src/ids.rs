//! Newtypes that travel on the wire in place of engine-internal identifiers.

use serde::{Deserialize, Serialize};

/// A simulation tick number. Tick 0 is the first tick a room simulates; at `tick_hz` ticks per
/// second, tick `n` starts `n / tick_hz` seconds after the room started. It wraps after 2³² ticks
/// (over 1.5 years at 128 Hz), which no room lives to see, so plain comparisons are used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick `n` ticks after this one.
    #[must_use]
    pub fn after(self, n: u32) -> Tick {
        Tick(self.0.wrapping_add(n))
    }

    /// Number of ticks from `earlier` to `self`, zero if `earlier` is not earlier.
    #[must_use]
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The network identity of a replicated entity (ship, projectile, orb). Assigned by the server,
/// never reused within a room's lifetime, unrelated to any ECS `Entity`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NetId(pub u32);
