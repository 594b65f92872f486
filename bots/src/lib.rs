//! Headless Arena clients that speak the real protocol over real WebSockets.
//!
//! - [`bot`]: one bot: connect, Hello, mirror the world, play, measure.
//! - [`behaviour`]: how a bot plays (pure: mirror in, buttons out); [`chaos`]: how one misbehaves.
//! - [`mirror`]: the bot's copy of the world, built only from what the server sent.
//! - [`swarm`]: many bots over a ramp or a [`scenario`] plan; [`report`]: their figures folded into
//!   one report.
//! - [`loadtest`]: the operator's benchmark: server binary + swarm, figures side by side.
//! - [`server_stats`]: the server's own figures for a window, from `/stats`; [`slo`]: objectives.
//! - [`timing`]: the input clock the server's feedback dilates, and redundant input batches.
//! - [`tls`]: `wss://` URLs: the rustls client setup and the extra roots of `--tls-ca`.
//! - [`netsim`]: the link conditioner (re-exported `arena-netsim`), which a bot may put on its
//!   own link ([`bot::BotConfig::link`]).
//!
//! Every frame is decoded by `arena_protocol`, the same code the server encodes with: there is no
//! second decoder to keep in step.

pub mod behaviour;
pub mod bot;
pub mod chaos;
pub mod join;
pub mod loadtest;
pub mod mirror;
pub mod report;
pub mod scenario;
pub mod server_stats;
pub mod slo;
pub mod swarm;
pub mod timing;
pub mod tls;

/// The link conditioner ([`arena_netsim`]), re-exported so that code setting up bots needs no
/// dependency of its own.
pub use arena_netsim as netsim;

/// Logs of the bots' binaries: to stderr (stdout is for the report), `warn` unless `RUST_LOG`
/// says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
}
