//! Server configuration: every knob as a command-line flag (or `ARENA_*` environment variable),
//! checked once at start so the rest of the server can trust it.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arena's authoritative game server: one port serves the browser client at `/`, the game
/// WebSocket at `/ws` and a liveness probe at `/healthz`.
///
/// Every setting can also come from an `ARENA_*` environment variable or a TOML file given with
/// `--config` (keys are the flag names, e.g. `tick-hz = 60` or `tick_hz = 60`). Precedence: flags,
/// then the file, then the environment, then the defaults.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server", version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// A TOML file of settings (flags given on the command line win over it).
    #[arg(long, env = "ARENA_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "ARENA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

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

    /// Most players in the whole process at once, over all rooms; further clients are turned
    /// away with `ServerFull`.
    #[arg(long, env = "ARENA_MAX_CLIENTS", default_value_t = 10_000)]
    pub max_clients: u32,

    /// Most players in one room. Quick play (a `Hello` naming no room) puts a player in the
    /// fullest room below this, and opens a new room when all are full.
    #[arg(long, env = "ARENA_ROOM_CAPACITY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub room_capacity: u32,

    /// Most rooms open at once (each is one simulation on its own thread); past it, a player who
    /// needs a new room is turned away with `ServerFull`.
    #[arg(long, env = "ARENA_MAX_ROOMS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_rooms: u32,

    /// How long a room stays open with no players (and no ship kept for a lost connection)
    /// before it closes.
    #[arg(long, env = "ARENA_ROOM_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime_duration)]
    pub room_idle_timeout: Duration,

    /// Bandwidth budget of snapshots per client in kbit/s: updates beyond it wait, most important
    /// (own ship, spawns, near and long-waiting changes) first. Unlimited if not given.
    #[arg(long, env = "ARENA_MAX_KBPS", value_parser = clap::value_parser!(u32).range(8..))]
    pub max_kbps: Option<u32>,

    /// Close a client whose snapshots have piled up unsent for this long (e.g. `5s`).
    #[arg(long, env = "ARENA_SLOW_CLIENT_TIMEOUT", default_value = "5s", value_parser = humantime_duration)]
    pub slow_client_timeout: Duration,

    /// How long a new connection may take to send its `Hello` before it is closed.
    #[arg(long, env = "ARENA_HELLO_TIMEOUT", default_value = "5s", value_parser = humantime_duration)]
    pub hello_timeout: Duration,

    /// How long an HTTP client may take to send a complete request head, once it has started
    /// one or has gone idle on a kept-alive connection, before the connection is closed (a
    /// client that trickles its headers would otherwise hold its socket forever).
    #[arg(long, env = "ARENA_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub http_header_timeout: Duration,

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

    /// Lag compensation: how far back in time a shot may be tested against where its shooter saw
    /// the targets (at most 1s; also at most 62 ticks). A player sees others about a round trip
    /// plus the interpolation delay late: ~270 ms at 150 ms of round trip. `0s` turns it off.
    #[arg(long, env = "ARENA_MAX_REWIND", default_value = "300ms", value_parser = rewind_duration)]
    pub max_rewind: Duration,

    /// How long the ship of a player whose connection was lost stays in the world (idle, and
    /// hittable) for the player to resume with the token of its last Welcome. `0s` turns resuming off.
    #[arg(long, env = "ARENA_RESUME_GRACE", default_value = "15s", value_parser = grace_duration)]
    pub resume_grace: Duration,

    /// Threads that encode the members' snapshots each tick, at once (a burst at the start of
    /// every tick, before the connections' writers run); one pool serves every room. `0`: half
    /// the cores, at least two where there are two. `1`: each room's own thread alone.
    #[arg(long, env = "ARENA_REPLICATION_THREADS", default_value_t = 0)]
    pub replication_threads: usize,

    /// Admission control: while the room cannot hold its tick rate (overruns, skipped ticks, or
    /// ticks near the budget over the last 2 s), turn new players away with `ServerBusy` and
    /// answer 503 on `/readyz`. `false` lets everyone in however loaded the room is.
    #[arg(long, env = "ARENA_ADMISSION_CONTROL", default_value_t = true, action = clap::ArgAction::Set)]
    pub admission_control: bool,

    /// Link conditioner (a development and test tool, off by default): delay every frame, in
    /// each direction, by this much (e.g. `75ms` for a 150 ms round trip). A range such as
    /// `20ms..200ms` gives each connection a latency picked at random from it.
    #[arg(long, env = "ARENA_SIM_LATENCY", default_value = "0ms")]
    pub sim_latency: arena_netsim::Latency,

    /// Link conditioner: vary each frame's delay by up to this much either way (uniformly),
    /// keeping the frames' order as TCP does. Off by default.
    #[arg(long, env = "ARENA_SIM_JITTER", default_value = "0ms", value_parser = arena_netsim::parse_jitter)]
    pub sim_jitter: Duration,

    /// Close a player's connection after this long without a single frame from it (the server
    /// sends a WebSocket ping after half of it, which any live client answers).
    #[arg(long, env = "ARENA_IDLE_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub idle_timeout: Duration,

    /// Most WebSocket connections from one IP address (an IPv6 /64) at once; more are refused
    /// with HTTP 429 before the upgrade. `0` means no limit. Loopback addresses are not limited
    /// (local bots; behind a same-host reverse proxy, set `--trusted-proxies`).
    #[arg(long, env = "ARENA_MAX_CONNECTIONS_PER_IP", default_value_t = 32)]
    pub max_connections_per_ip: u32,

    /// Most WebSocket connections at once, players or not; more are refused with HTTP 503 before
    /// the upgrade. Keep it below the process's file descriptor limit (`ulimit -n`).
    #[arg(long, env = "ARENA_MAX_CONNECTIONS", default_value_t = 16_000)]
    pub max_connections: u32,

    /// Web origins allowed to open a game WebSocket (comma-separated, e.g.
    /// `https://play.example.com`); others get HTTP 403. The server's own page is always allowed.
    /// Unset: any origin may connect. Set it on any public server whose players log in or hold
    /// anything worth stealing, so that other sites cannot open sockets from visitors' browsers.
    #[arg(long, env = "ARENA_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Reverse proxies whose `X-Forwarded-For` header names the real client (comma-separated
    /// IPs). Per-IP limits then count the address the proxy saw. Unset: the socket's peer counts.
    #[arg(long, env = "ARENA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// PEM certificate chain: serve HTTPS and WSS on `--bind` (needs `--tls-key`).
    #[arg(long, env = "ARENA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "ARENA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// How long a TLS client may take to complete its handshake (at most 1,024 run at once;
    /// a silent or stalled client is dropped after this and counted as `timeout`).
    #[arg(long, env = "ARENA_TLS_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub tls_handshake_timeout: Duration,

    /// Require a join token in every `Hello`, made with this secret by the operator's matchmaker
    /// (or `arena-server token`). Prefer the environment variable: flags show up in `ps`.
    #[arg(long, env = "ARENA_JOIN_SECRET", global = true, hide_env_values = true)]
    pub join_secret: Option<Secret>,

    /// Run as an Agones game server: `Ready` once listening, `Health` while every room ticks,
    /// players and rooms as labels (and Counters), drain and `Shutdown` when Agones asks or on
    /// SIGTERM. Needs a build with the `agones` feature (the release image has it).
    #[arg(long, env = "ARENA_AGONES")]
    pub agones: bool,

    /// The Agones SDK sidecar's gRPC port (set by Agones in the pod).
    #[arg(long, env = "AGONES_SDK_GRPC_PORT", default_value_t = 9357)]
    pub agones_sdk_port: u16,

    /// End the process (drain, then Agones `Shutdown` with `--agones`) once players have come
    /// and the last one has left: a game server for one match.
    #[arg(long, env = "ARENA_SHUTDOWN_WHEN_EMPTY")]
    pub shutdown_when_empty: bool,

    /// Serve the operator endpoints (`/metrics`, `/stats`, `/rooms`, `/console`) on this
    /// address instead of the game port, so the game port can face the internet and this one
    /// stay private (plain HTTP). Not given: they share the game port.
    #[arg(long, env = "ARENA_ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,

    /// Require `Authorization: Bearer <token>` (or `?token=<token>`) on `/metrics`, `/stats` and
    /// `/rooms`, wherever they are served; open the console as `/console#token=<token>`. Prefer
    /// the environment variable: flags show up in `ps`.
    #[arg(long, env = "ARENA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// `/healthz` fails (503) when a room has not finished a tick for this many tick lengths:
    /// its thread is stuck.
    #[arg(long, env = "ARENA_WATCHDOG_TICKS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub watchdog_ticks: u32,

    /// A tool instead of the server (see `arena-server help token`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools `arena-server` runs instead of serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Prints a join token for one player, made with `--join-secret` (or `ARENA_JOIN_SECRET`):
    /// what a matchmaker hands a player along with the server's address.
    Token {
        /// The player's name; the `Hello` must carry exactly this name.
        #[arg(long)]
        name: String,
        /// How long the token stays valid (e.g. `60s`).
        #[arg(long, default_value = "60s", value_parser = humantime_duration)]
        ttl: Duration,
    },
}

/// A secret from the command line or environment, never printed (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Secret, String> {
        if s.len() < 16 {
            Err("a secret or token must be at least 16 characters (use a random string)".into())
        } else {
            Ok(Secret(s.to_owned()))
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag, an environment variable or a file value is invalid (clap's message says which).
    #[error(transparent)]
    Usage(#[from] clap::Error),
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, or names a setting that does not exist.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Parses `args` (the program name first), merging in the `--config` file if one is given:
    /// each file setting becomes a flag placed before the real ones, so real flags win.
    pub fn load<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let cli = Config::try_parse_from(&args)?;
        let Some(path) = cli.config.clone() else { return Ok(cli) };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let file_error = |message: String| ConfigError::File { path: path.clone(), message };
        let table: toml::Table = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
        let command = <Config as clap::CommandFactory>::command();
        let known: Vec<&str> = command.get_arguments().filter_map(|a| a.get_long()).collect();
        let mut merged: Vec<std::ffi::OsString> = args.iter().take(1).cloned().collect();
        for (key, value) in &table {
            let flag = key.replace('_', "-");
            if flag == "config" || !known.contains(&flag.as_str()) {
                return Err(file_error(format!("unknown setting `{key}` (settings are the flags of --help)")));
            }
            let value = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(file_error(format!("setting `{key}` must be a string, a number or a boolean"))),
            };
            merged.push(format!("--{flag}").into());
            merged.push(value.into());
        }
        merged.extend(args.iter().skip(1).cloned());
        Config::try_parse_from(merged).map_err(|e| file_error(e.kind().to_string() + ": " + &e.to_string()))
    }
}

fn rewind_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (try 200ms)"))?;
    if d > Duration::from_secs(1) { Err("at most 1s".into()) } else { Ok(d) }
}

fn grace_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (try 15s)"))?;
    if d > Duration::from_secs(3600) { Err("at most 1h".into()) } else { Ok(d) }
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

    /// The replication threads to run: `--replication-threads`, or for `0` half the cores and at
    /// least two where there are two.
    #[must_use]
    pub fn replication_threads(&self) -> usize {
        if self.replication_threads > 0 {
            return self.replication_threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        (cores / 2).max(2).min(cores)
    }

    /// The snapshot body budget per client per tick implied by `--max-kbps` (a snapshot's
    /// header, about 16 bytes, comes on top).
    #[must_use]
    pub fn snapshot_budget(&self) -> Option<usize> {
        self.max_kbps
            .map(|kbps| (u64::from(kbps) * 1000 / 8 / u64::from(self.tick_hz)).saturating_sub(16).max(16) as usize)
    }

    /// The lag compensation limit in ticks.
    #[must_use]
    pub fn max_rewind_ticks(&self) -> f32 {
        (self.max_rewind.as_secs_f64() * f64::from(self.tick_hz)) as f32
    }

    /// How long the room may go without finishing a tick before `/healthz` fails.
    #[must_use]
    pub fn watchdog(&self) -> Duration {
        self.tick_interval() * self.watchdog_ticks
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

    fn write_config(text: &str) -> tempfile_free::TempFile {
        tempfile_free::TempFile::new(text)
    }

    /// A file in the system's temp folder, deleted on drop (std only).
    mod tempfile_free {
        pub struct TempFile(pub std::path::PathBuf);
        impl TempFile {
            pub fn new(text: &str) -> TempFile {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let name = format!("arena-config-{}-{}.toml", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
                let path = std::env::temp_dir().join(name);
                std::fs::write(&path, text).expect("the temp folder is writable");
                TempFile(path)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn a_config_file_sets_values_and_flags_win_over_it() {
        let file = write_config("tick-hz = 60\norbs = 12\nslow_client_timeout = \"2s\"\n");
        let path = file.0.to_str().expect("utf-8 temp path");
        let c = Config::load(["arena-server", "--config", path, "--orbs", "7"]).expect("a valid config");
        assert_eq!(c.tick_hz, 60, "the file sets the tick rate");
        assert_eq!(c.orbs, 7, "the flag wins over the file");
        assert_eq!(c.slow_client_timeout, Duration::from_secs(2));
    }

    #[test]
    fn bad_config_files_are_rejected_with_the_reason() {
        let unknown = write_config("tick-rate = 60\n");
        let err =
            Config::load(["arena-server", "--config", unknown.0.to_str().unwrap_or("")]).expect_err("unknown key");
        assert!(err.to_string().contains("unknown setting `tick-rate`"), "{err}");
        let bad = write_config("tick-hz = 500\n");
        let err = Config::load(["arena-server", "--config", bad.0.to_str().unwrap_or("")]).expect_err("out of range");
        assert!(err.to_string().contains("500"), "the message should name the bad value: {err}");
        let missing = Config::load(["arena-server", "--config", "/nonexistent/arena.toml"]).expect_err("missing file");
        assert!(matches!(missing, ConfigError::Read { .. }));
    }

    #[test]
    fn out_of_range_tick_rates_are_rejected() {
        assert!(Config::try_parse_from(["arena-server", "--tick-hz", "5"]).is_err());
        assert!(Config::try_parse_from(["arena-server", "--tick-hz", "129"]).is_err());
        assert_eq!(Config::try_parse_from(["arena-server", "--tick-hz", "60"]).map(|c| c.tick_hz).ok(), Some(60));
    }
}
