//! `arena-loadtest`: how many players does this machine hold? Starts `arena-server` on a free
//! loopback port, runs a bot swarm against it, prints server and client figures side by side.

use anyhow::Context;
use arena_bots::behaviour::Behaviour;
use arena_bots::bot::LiveCounters;
use arena_bots::loadtest::{self, LoadTestConfig};
use arena_bots::swarm::{SimLink, SwarmConfig};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Starts the Arena server binary on a free loopback port, runs N bots against it for a while,
/// and prints the server's tick percentiles, overruns, CPU and memory next to what the bots
/// experienced (RTT, bandwidth, snapshot rate, desyncs). Everything stays on this machine.
#[derive(Debug, Parser)]
#[command(name = "arena-loadtest", version, about)]
struct Args {
    /// Number of bots.
    #[arg(long, default_value_t = 100)]
    bots: usize,
    /// Total swarm time, ramp included; the server figures cover the time after the ramp.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time over which the bots are started.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    ramp: Duration,
    /// How the bots play.
    #[arg(long, value_enum, default_value_t = Behaviour::Mixed)]
    behaviour: Behaviour,
    /// Seed of the bots' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only the first N bots decode and verify snapshots; the others are light (they count
    /// frames and bytes, and drift), so one machine can load a server harder. Default: all decode.
    #[arg(long)]
    decoding: Option<usize>,
    /// Put every bot in this room (with --rooms, the stem of the rooms' names). Default: quick
    /// play (the server chooses).
    #[arg(long, value_parser = arena_bots::swarm::parse_room_name)]
    room: Option<String>,
    /// Spread the bots round robin over this many rooms, named `<room>-0` … (`swarm-0` …).
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// Also open this many WebSocket connections that stay idle (no Hello) and report memory
    /// per idle connection.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// The server binary (default: `arena-server` next to this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Write the report as JSON to this file too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Link conditioner on the bots' side, a development and test tool: one-way latency each bot
    /// adds to each direction of its link, one value (75ms) or a range (20ms..200ms) spread evenly
    /// over the bots (as arena-bots --sim-latency). To delay on the server's side instead, pass its
    /// own --sim-latency after `--`. Default: off.
    #[arg(long, value_name = "LATENCY")]
    sim_latency: Option<arena_bots::netsim::Latency>,
    /// Link conditioner on the bots' side: jitter added to every frame's delay, within ±this
    /// (e.g. 15ms), order kept. Default: off.
    #[arg(long, value_name = "JITTER", value_parser = arena_bots::netsim::parse_jitter)]
    sim_jitter: Option<Duration>,
    /// Flags passed to the server, after `--` (e.g. `-- --arena-size 8000 --tick-hz 60`).
    #[arg(last = true)]
    server_args: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    arena_bots::init_logging();
    let server_bin = match args.server_bin {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("arena-server"),
    };
    let config = LoadTestConfig {
        server_bin,
        server_args: args.server_args,
        swarm: SwarmConfig {
            url: String::new(),
            bots: args.bots,
            ramp: args.ramp.min(args.duration),
            duration: args.duration,
            behaviour: args.behaviour,
            seed: args.seed,
            source_ips: Vec::new(),
            chaos: None,
            sim_link: SimLink {
                latency: args.sim_latency.unwrap_or_default(),
                jitter: args.sim_jitter.unwrap_or_default(),
            },
            ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
            decoding: args.decoding,
            rooms: arena_bots::swarm::RoomSpread { name: args.room, count: args.rooms },
        },
        idle: args.idle,
    };
    let live = Arc::new(LiveCounters::default());
    let bots_cpu_start = loadtest::process_figures(std::process::id()).map_or(0.0, |f| f.0);
    let started = std::time::Instant::now();
    let report = loadtest::run(config, live).await?;
    let bots_cpu = loadtest::process_figures(std::process::id()).map_or(0.0, |f| f.0) - bots_cpu_start;
    println!("{report}");
    println!(
        "bots process: {:.1} % of a core over the run ({:.3} ms of CPU per bot per second)",
        bots_cpu / started.elapsed().as_secs_f64() * 100.0,
        bots_cpu * 1000.0 / started.elapsed().as_secs_f64() / report.bots.max(1) as f64
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
