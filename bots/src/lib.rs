//! Headless Arena clients that speak the real protocol over real WebSockets.
//!
//! - [`bot`]: one bot: connect, Hello, mirror the world, play, measure.
//! - [`behaviour`]: how a bot plays (pure: mirror in, buttons out); [`chaos`]: how one misbehaves.
//! - [`mirror`]: the bot's copy of the world, built only from what the server sent.
//! - [`swarm`]: many bots over a ramp or a [`scenario`] plan; [`report`]: their figures folded into
//!   one report.
//! - [`loadtest`]: the operator's benchmark: server binary + swarm, figures side by side.
//! - [`server_stats`]: the server's own figures for a window, from `/stats`; [`slo`]: objectives.
//!
//! Every frame is decoded by `arena_protocol`, the same code the server encodes with: there is no
//! second decoder to keep in step.

pub mod behaviour;
pub mod bot;
pub mod chaos;
pub mod loadtest;
pub mod mirror;
pub mod report;
pub mod scenario;
pub mod server_stats;
pub mod slo;
pub mod swarm;
