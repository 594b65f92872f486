//! `arena-bots`: a swarm of headless Arena players for load tests.

use anyhow::Context;
use arena_bots::behaviour::Behaviour;
use arena_bots::bot::LiveCounters;
use arena_bots::report::SwarmReport;
use arena_bots::swarm::{self, SwarmConfig};
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Connects N bots to an Arena server over real WebSockets; they play until the duration is
/// over, then a report of what they experienced is printed.
#[derive(Debug, Parser)]
#[command(name = "arena-bots", version, about)]
struct Args {
    /// WebSocket URL of the game.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Number of bots.
    #[arg(long, default_value_t = 10)]
    bots: usize,
    /// Total run time, ramp included (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time over which the bots are started evenly.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    ramp: Duration,
    /// How the bots play.
    #[arg(long, value_enum, default_value_t = Behaviour::Mixed)]
    behaviour: Behaviour,
    /// Seed of the bots' random choices, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let config = SwarmConfig {
        url: args.url.clone(),
        bots: args.bots,
        ramp: args.ramp.min(args.duration),
        duration: args.duration,
        behaviour: args.behaviour,
        seed: args.seed,
    };
    let live = Arc::new(LiveCounters::default());
    let progress = tokio::spawn(print_progress(live.clone(), args.bots));
    let reports = swarm::run(&config, live).await;
    progress.abort();
    let report = SwarmReport::from_bots(&reports);
    println!("\n{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

async fn print_progress(live: Arc<LiveCounters>, target: usize) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let (mut last_snaps, mut last_bytes) = (0, 0);
    loop {
        every.tick().await;
        let snaps = live.snapshots.load(Ordering::Relaxed);
        let bytes = live.bytes_down.load(Ordering::Relaxed);
        eprintln!(
            "connected {}/{target}  snapshots/s {}  down {:.1} kbit/s  desyncs {}  errors {}",
            live.connected.load(Ordering::Relaxed),
            snaps - last_snaps,
            (bytes - last_bytes) as f64 * 8.0 / 1000.0,
            live.desyncs.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed),
        );
        let _ = std::io::stderr().flush();
        (last_snaps, last_bytes) = (snaps, bytes);
    }
}
