//! Server configuration: every knob as a command-line flag (or `ARENA_*` environment variable),
//! checked once at start so the rest of the server can trust it.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arena's authoritative game server: one port serves the browser client at `/`, the game
/// WebSocket at `/ws` and a liveness probe at `/healthz`.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (HTTP, WebSocket and probes share it).
    #[arg(long, env = "ARENA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Simulation ticks per second (10–128). Clients send one input per tick.
    #[arg(long, env = "ARENA_TICK_HZ", default_value_t = 30, value_parser = clap::value_parser!(u16).range(10..=128))]
    pub tick_hz: u16,

    /// Arena width and height in world units (500–100000).
    #[arg(long, env = "ARENA_SIZE", default_value_t = 4000, value_parser = clap::value_parser!(u32).range(500..=100_000))]
    pub arena_size: u32,

    /// Number of pickup orbs lying in the arena.
    #[arg(long, env = "ARENA_ORBS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub orbs: u32,

    /// Width of the area around its own ship that a client receives, in world units.
    #[arg(long, env = "ARENA_VIEW_WIDTH", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(200..=100_000))]
    pub view_width: u32,

    /// Height of the area around its own ship that a client receives, in world units.
    #[arg(long, env = "ARENA_VIEW_HEIGHT", default_value_t = 1250, value_parser = clap::value_parser!(u32).range(200..=100_000))]
    pub view_height: u32,

    /// Most players in the room at once; further clients are turned away with `ServerFull`.
    #[arg(long, env = "ARENA_MAX_CLIENTS", default_value_t = 10_000)]
    pub max_clients: u32,

    /// Bandwidth budget of snapshots per client in kbit/s: updates beyond it wait, most important
    /// (own ship, spawns, near and long-waiting changes) first. Unlimited if not given.
    #[arg(long, env = "ARENA_MAX_KBPS", value_parser = clap::value_parser!(u32).range(8..))]
    pub max_kbps: Option<u32>,

    /// Close a client whose snapshots have piled up unsent for this long (e.g. `5s`).
    #[arg(long, env = "ARENA_SLOW_CLIENT_TIMEOUT", default_value = "5s", value_parser = humantime_duration)]
    pub slow_client_timeout: Duration,

    /// Kernel send buffer of each client socket in bytes (SO_SNDBUF); default: the OS's own.
    /// Smaller buffers bound memory per connection and let slow readers show up sooner.
    #[arg(long, env = "ARENA_SEND_BUFFER")]
    pub send_buffer: Option<u32>,

    /// Folder of the browser client served at `/` (defaults to the repository's `web-client/`).
    #[arg(long, env = "ARENA_WEB_ROOT")]
    pub web_root: Option<PathBuf>,

    /// Seed of the room's random numbers (orb and respawn spots); random if not given.
    #[arg(long, env = "ARENA_SEED")]
    pub seed: Option<u64>,
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (try 5s or 250ms)"))?;
    if d.is_zero() { Err("must be longer than zero".into()) } else { Ok(d) }
}

impl Config {
    /// The defaults, as if the binary were started with no flags; convenient for tests.
    #[must_use]
    pub fn for_tests() -> Config {
        let mut c = Config::parse_from(["arena-server"]);
        c.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        c
    }

    /// The folder served at `/`: `--web-root`, else `web-client/` next to the server crate.
    #[must_use]
    pub fn web_root(&self) -> PathBuf {
        self.web_root.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-client"))
    }

    /// The snapshot body budget per client per tick implied by `--max-kbps` (a snapshot's
    /// header, about 16 bytes, comes on top).
    #[must_use]
    pub fn snapshot_budget(&self) -> Option<usize> {
        self.max_kbps
            .map(|kbps| (u64::from(kbps) * 1000 / 8 / u64::from(self.tick_hz)).saturating_sub(16).max(16) as usize)
    }

    /// The length of one tick.
    #[must_use]
    pub fn tick_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.tick_hz))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_unitless_garbage_timeouts_are_rejected() {
        assert!(Config::try_parse_from(["arena-server", "--slow-client-timeout", "0s"]).is_err());
        assert!(Config::try_parse_from(["arena-server", "--slow-client-timeout", "3 parsecs"]).is_err());
        let c = Config::try_parse_from(["arena-server", "--slow-client-timeout", "250ms"]);
        assert_eq!(c.map(|c| c.slow_client_timeout).ok(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn out_of_range_tick_rates_are_rejected() {
        assert!(Config::try_parse_from(["arena-server", "--tick-hz", "5"]).is_err());
        assert!(Config::try_parse_from(["arena-server", "--tick-hz", "129"]).is_err());
        assert_eq!(Config::try_parse_from(["arena-server", "--tick-hz", "60"]).map(|c| c.tick_hz).ok(), Some(60));
    }
}
