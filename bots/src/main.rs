//! `arena-bots`: a swarm of headless Arena players for load tests.

use anyhow::Context;
use arena_bots::behaviour::Behaviour;
use arena_bots::bot::LiveCounters;
use arena_bots::report::SwarmReport;
use arena_bots::scenario::{Plan, Scenario};
use arena_bots::swarm::{self, RoomSpread, SimLink, SwarmConfig};
use arena_bots::{loadtest, server_stats, slo};
use clap::Parser;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Connects N bots to an Arena server over real WebSockets; they play until the duration is
/// over, then a report of what they experienced (and, if the server's /stats is reachable, what
/// the server measured) is printed. Exit status: 0 ok, 1 an --slo objective was broken, 2 usage.
#[derive(Debug, Parser)]
#[command(name = "arena-bots", version, about)]
struct Args {
    /// WebSocket URL of the game (`wss://` for a server with --tls-cert).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// A PEM file of certificates to trust for `wss://` besides the usual public roots: the CA
    /// of the server's certificate, or the server's self-signed certificate itself.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The server's join secret (`--join-secret` there): each bot makes its own join token with
    /// it, as a matchmaker would. Prefer the environment variable: flags show up in `ps`.
    #[arg(long, env = "ARENA_JOIN_SECRET", hide_env_values = true)]
    join_secret: Option<String>,
    /// Number of bots.
    #[arg(long, default_value_t = 10)]
    bots: usize,
    /// Total run time, ramp included (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time over which the bots are started evenly.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    ramp: Duration,
    /// How the bots play (patrol: fly straight along x from wall to wall, never fire).
    #[arg(long, value_enum, default_value_t = Behaviour::Mixed)]
    behaviour: Behaviour,
    /// Seed of the bots' random choices, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Objectives the run must meet, e.g. "rtt_p99<50ms, desync=0, disconnects=0, tick_p99<8ms";
    /// metrics: rtt_p50/p99/max, input_ack_p50/p99, input_queue_p99, snapshot_gap_p99, desync,
    /// disconnects, errors, joined, snapshot_rate, kbps_down, and from the server tick_p99,
    /// overruns. Exit 1 if broken.
    #[arg(long, value_parser = slo::parse)]
    slo: Option<slo::Objectives>,
    /// Local addresses to connect from, round robin (comma-separated, e.g.
    /// 127.0.0.1,127.0.0.2): one source address has only ~28k ports.
    #[arg(long, value_delimiter = ',')]
    source_ips: Vec<IpAddr>,
    /// Time between two pings of each bot (each is an RTT sample in the report).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    ping_interval: Duration,
    /// A misbehaviour for a share of the bots (see --chaos-share): slow-reader, silent,
    /// malformed, oversize, flood, reconnect-storm. The report's disconnects show how the server
    /// answered.
    #[arg(long, value_enum)]
    chaos: Option<arena_bots::behaviour::Chaos>,
    /// Share of the bots (0–1) that misbehave with --chaos.
    #[arg(long, default_value_t = 0.1)]
    chaos_share: f64,
    /// Only the first N playing bots decode, apply and verify every snapshot (and measure
    /// input→ack and checksums); the others are light: they read every frame and count bytes,
    /// snapshots, gaps and close codes, and drift, at a fraction of the CPU. To load a server
    /// from one machine. Default: all decode. Overrides a scenario's `decoding`.
    #[arg(long)]
    decoding: Option<usize>,
    /// Put every bot in this room (`Hello.room`; the server makes it if it has room for one).
    /// With --rooms, the stem of the rooms' names. Default: quick play (the server chooses).
    #[arg(long, value_parser = swarm::parse_room_name)]
    room: Option<String>,
    /// Spread the bots round robin over this many rooms, named `<room>-0` … (`swarm-0` … without
    /// --room).
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// A scenario file (TOML: phases of ramp, hold, spike, churn, and behaviour mixes, chaos
    /// included) instead of --bots/--ramp/--duration/--behaviour; see the README.
    #[arg(long, conflicts_with_all = ["bots", "ramp", "duration", "behaviour", "chaos"])]
    scenario: Option<PathBuf>,
    /// Do not read the server's /stats (for servers whose /stats is not reachable; it is read
    /// over plain HTTP only, so never for a `wss://` URL).
    #[arg(long)]
    no_server_stats: bool,
    /// Link conditioner, a development and test tool: one-way latency each bot adds to each
    /// direction of its link (frames keep their order, as over TCP). One value (75ms) or a range
    /// (20ms..200ms) spread evenly over the bots: bot i of n gets min + (max − min)·i/(n − 1).
    /// Adds to whatever the network and the server's own --sim-latency add. Default: off.
    #[arg(long, value_name = "LATENCY")]
    sim_latency: Option<arena_bots::netsim::Latency>,
    /// Link conditioner: jitter each bot adds to every frame's delay, uniformly within ±this
    /// (e.g. 15ms), never reordering frames. Default: off.
    #[arg(long, value_name = "JITTER", value_parser = arena_bots::netsim::parse_jitter)]
    sim_jitter: Option<Duration>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    arena_bots::init_logging();
    if let Some(ca) = &args.tls_ca
        && let Err(e) = arena_bots::tls::trust_pem_file(ca)
    {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    if let Some(secret) = &args.join_secret {
        arena_bots::join::use_secret(secret.as_bytes());
    }
    let config = SwarmConfig {
        url: args.url.clone(),
        bots: args.bots,
        ramp: args.ramp.min(args.duration),
        duration: args.duration,
        behaviour: args.behaviour,
        seed: args.seed,
        source_ips: args.source_ips.clone(),
        chaos: args.chaos.map(|c| (c, args.chaos_share)),
        sim_link: SimLink {
            latency: args.sim_latency.unwrap_or_default(),
            jitter: args.sim_jitter.unwrap_or_default(),
        },
        ping_every: args.ping_interval,
        decoding: args.decoding,
        rooms: RoomSpread { name: args.room.clone(), count: args.rooms },
    };
    // `/stats` is read over plain HTTP: a TLS port would only count a failed handshake.
    let over_tls = args.url.starts_with("wss://");
    let server = if args.no_server_stats || over_tls { None } else { server_stats::server_addr(&args.url).await.ok() };
    let start_stats = match server {
        Some(addr) => server_stats::scrape(addr).await.ok(),
        None => None,
    };
    let (plan, seed, sim_link) = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let scenario = match Scenario::from_toml(&text) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: scenario {}: {e}", path.display());
                    std::process::exit(2);
                }
            };
            let link = scenario.sim_link(args.sim_latency, args.sim_jitter);
            let mut plan = scenario.plan().map_err(anyhow::Error::msg)?;
            plan.decoding = args.decoding.or(plan.decoding);
            plan.rooms = config.rooms.clone();
            (plan, scenario.seed, link)
        }
        None => (swarm::plan(&config), config.seed, config.sim_link),
    };
    let peak = peak_population(&plan);
    let live = Arc::new(LiveCounters::default());
    let progress = tokio::spawn(show_progress(live.clone(), peak, plan.length));
    let cpu_start = loadtest::process_figures(std::process::id()).map_or(0.0, |f| f.0);
    let started = Instant::now();
    let reports =
        swarm::run_plan(&config.url, &plan, seed, &config.source_ips, sim_link, args.ping_interval, live).await;
    progress.abort();
    let mut report = SwarmReport::from_bots(&reports);
    let cpu = loadtest::process_figures(std::process::id()).map_or(0.0, |f| f.0) - cpu_start;
    report.bots_cpu_ms_per_bot_s = Some(cpu * 1000.0 / started.elapsed().as_secs_f64() / peak.max(1) as f64);
    if let (Some(addr), Some(start)) = (server, &start_stats)
        && let Ok(end) = server_stats::scrape(addr).await
    {
        report.server = Some(server_stats::window(start, &end));
    }
    println!("\n{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(slo::Objectives(objectives)) = &args.slo {
        let broken = slo::check_all(objectives, &report);
        for b in &broken {
            eprintln!("{b}");
        }
        if !broken.is_empty() {
            std::process::exit(1);
        }
        println!("all {} objectives met", objectives.len());
    }
    Ok(())
}

/// The most bots a plan has connected at once.
fn peak_population(plan: &Plan) -> usize {
    let mut events: Vec<(Duration, i64)> = plan.bots.iter().flat_map(|b| [(b.start, 1), (b.stop, -1)]).collect();
    events.sort();
    events
        .iter()
        .scan(0i64, |n, (_, d)| {
            *n += d;
            Some(*n)
        })
        .max()
        .unwrap_or(0)
        .max(0) as usize
}

/// A progress bar on a terminal, a plain line a second otherwise.
async fn show_progress(live: Arc<LiveCounters>, target: usize, duration: Duration) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(duration.as_secs());
        let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar
    });
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let (mut last_snaps, mut last_down, mut last_up) = (0, 0, 0);
    loop {
        every.tick().await;
        let snaps = live.snapshots.load(Ordering::Relaxed);
        let down = live.bytes_down.load(Ordering::Relaxed);
        let up = live.bytes_up.load(Ordering::Relaxed);
        let line = format!(
            "connected {}/{target}  snapshots/s {}  down {:.1} kbit/s  up {:.1} kbit/s  rtt p99 {}  desyncs {}  errors {}",
            live.connected.load(Ordering::Relaxed),
            snaps - last_snaps,
            (down - last_down) as f64 * 8.0 / 1000.0,
            (up - last_up) as f64 * 8.0 / 1000.0,
            live.take_rtt_p99_ms().map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
            live.desyncs.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed),
        );
        match &bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(line);
            }
            None => eprintln!("{line}"),
        }
        (last_snaps, last_down, last_up) = (snaps, down, up);
    }
}
