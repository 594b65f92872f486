//! Arena's authoritative game server as a library, so tests and benches run it in-process.
//!
//! - [`sim`]: the bevy_ecs world and its fixed-tick schedule (sans-IO, no tokio).
//! - [`replication`]: turning the world into each client's snapshot bytes (sans-IO).
//! - [`room`]: one room's core (commands in, frames out) and the OS thread that ticks it.
//! - [`mailbox`]: the hand-off of frames from a room to a connection's writer.
//! - [`net`]: HTTP, the WebSocket upgrade and the connection tasks (tokio, no bevy).
//! - [`config`]: flags; [`metrics`]: counters and tick timings.

pub mod config;
pub mod sim;
