//! The operator's benchmark: start the server binary on a free loopback port, run a swarm
//! against it, read the server's own figures for the run window from `/stats`, and put server
//! and client figures side by side.

use crate::bot::LiveCounters;
use crate::report::{Percentiles, SwarmReport};
use crate::server_stats::{ServerWindow, StatsScrape, TickPercentiles, http_get, scrape, window};
use crate::swarm::{self, SwarmConfig};
use anyhow::{Context, bail};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What the load test is told to do.
#[derive(Clone, Debug)]
pub struct LoadTestConfig {
    /// The `arena-server` binary to start.
    pub server_bin: PathBuf,
    /// Extra flags for the server (e.g. `--arena-size 8000`).
    pub server_args: Vec<String>,
    /// The swarm (its `url` is filled in once the server is up).
    pub swarm: SwarmConfig,
    /// WebSocket connections to open and leave idle (no `Hello`) before the swarm starts.
    pub idle: usize,
}

/// Server and client figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct LoadTestReport {
    /// Bots asked for.
    pub bots: usize,
    /// Idle connections held open.
    pub idle_connections: usize,
    /// Length of the measured window (after the ramp), seconds.
    pub window_s: f64,
    /// The server's own figures for the window.
    pub server: ServerFigures,
    /// What the bots experienced.
    pub clients: SwarmReport,
    /// Whether the server exited with status 0 after SIGTERM.
    pub server_exited_cleanly: bool,
}

/// What the server measured about itself: its `/stats` window plus process figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerFigures {
    /// Tick percentiles, counters and rates over the window.
    #[serde(flatten)]
    pub window: ServerWindow,
    /// Server CPU over the window, percent of one core.
    pub cpu_percent: f64,
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
    /// Memory per idle connection (RSS growth while opening them / their number), KiB.
    pub kib_per_idle_connection: Option<f64>,
    /// Memory per connection, idle and playing together (RSS growth from the empty server to the
    /// end of the run / connections), KiB.
    pub kib_per_connection: f64,
}

/// Picks a free loopback port (bound and released; the server binds it right after).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(l.local_addr()?)
}

/// One scrape of `/stats` plus the server process's CPU and memory.
struct Scrape {
    stats: StatsScrape,
    cpu_s: f64,
    rss: u64,
}

async fn scrape_with_process(addr: SocketAddr, pid: u32) -> anyhow::Result<Scrape> {
    let stats = scrape(addr).await?;
    let (cpu_s, rss) = process_figures(pid).unwrap_or((0.0, 0));
    Ok(Scrape { stats, cpu_s, rss })
}

/// CPU seconds and RSS bytes of a process, from `/proc`.
pub fn process_figures(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let cpu = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some((cpu / 100.0, rss_kb * 1024))
}

struct ServerProcess {
    child: Child,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ServerProcess {
    /// Sends SIGTERM and waits (bounded) for a clean exit.
    fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// Opens `n` WebSocket connections that never say `Hello`, spread over a short time.
async fn open_idle(
    addr: SocketAddr,
    n: usize,
) -> anyhow::Result<Vec<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>> {
    let url = format!("ws://{addr}/ws");
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let mut tasks = Vec::new();
        for _ in chunk {
            let url = url.clone();
            tasks.push(tokio::spawn(async move { tokio_tungstenite::connect_async(url).await }));
        }
        for t in tasks {
            let (ws, _) = t.await?.context("an idle connection failed")?;
            out.push(ws);
        }
    }
    Ok(out)
}

/// Runs the whole load test.
pub async fn run(mut config: LoadTestConfig, live: Arc<LiveCounters>) -> anyhow::Result<LoadTestReport> {
    let addr = free_port()?;
    let mut args = vec!["--bind".to_owned(), addr.to_string()];
    if config.idle > 0 {
        args.extend(["--hello-timeout".to_owned(), "1h".to_owned()]);
    }
    args.extend(config.server_args.iter().cloned());
    let child = Command::new(&config.server_bin)
        .args(&args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!("cannot start {} (build it: cargo build --release -p arena-server)", config.server_bin.display())
        })?;
    let mut server = ServerProcess { child };
    let pid = server.child.id();

    let up_by = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok((200, _)) = http_get(addr, "/healthz").await {
            break;
        }
        if Instant::now() > up_by {
            bail!("the server did not answer /healthz on {addr} within 15 s");
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!("the server exited at start with {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let empty_rss = process_figures(pid).map_or(0, |f| f.1);
    let mut kib_per_idle = None;
    let _idle = if config.idle > 0 {
        let before = process_figures(pid).map_or(0, |f| f.1);
        let idle = open_idle(addr, config.idle).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = process_figures(pid).map_or(0, |f| f.1);
        kib_per_idle = Some(after.saturating_sub(before) as f64 / 1024.0 / config.idle as f64);
        idle
    } else {
        Vec::new()
    };

    config.swarm.url = format!("ws://{addr}/ws");
    let ramp = config.swarm.ramp;
    let swarm_config = config.swarm.clone();
    let run = tokio::spawn(async move { swarm::run(&swarm_config, live).await });
    tokio::time::sleep(ramp).await;
    let start = scrape_with_process(addr, pid).await?;
    let bots = run.await.context("the swarm task failed")?;
    let end = scrape_with_process(addr, pid).await?;
    let clean = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap_or(false);

    let secs = (end.stats.at - start.stats.at).as_secs_f64().max(1e-3);
    let figures = ServerFigures {
        window: window(&start.stats, &end.stats),
        cpu_percent: (end.cpu_s - start.cpu_s) / secs * 100.0,
        rss_mib: end.rss as f64 / (1 << 20) as f64,
        kib_per_idle_connection: kib_per_idle,
        kib_per_connection: end.rss.saturating_sub(empty_rss) as f64
            / 1024.0
            / (config.swarm.bots + config.idle).max(1) as f64,
    };
    Ok(LoadTestReport {
        bots: config.swarm.bots,
        idle_connections: config.idle,
        window_s: secs,
        server: figures,
        clients: SwarmReport::from_bots(&bots),
        server_exited_cleanly: clean,
    })
}

impl std::fmt::Display for LoadTestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.server.window;
        let p = &self.server;
        let c = &self.clients;
        let pct = |p: &TickPercentiles| format!("{:.2} / {:.2} / {:.2} / {:.2}", p.p50, p.p99, p.p999, p.max);
        let rtt = |p: &Percentiles| format!("{:.2} / {:.2} / {:.2}", p.p50, p.p99, p.max);
        writeln!(
            f,
            "window {:.1} s, {} bots, {} idle connections, {} Hz",
            self.window_s, self.bots, self.idle_connections, s.tick_hz
        )?;
        writeln!(f, "{:<44} {:<44}", "SERVER", "CLIENTS")?;
        let rows = [
            (format!("tick ms p50/p99/p99.9/max {}", pct(&s.tick_ms)), {
                let refused: Vec<String> = c.refused.iter().map(|(why, n)| format!("{n} {why}")).collect();
                if refused.is_empty() {
                    format!("joined {} / {}", c.joined, c.bots)
                } else {
                    format!("joined {} / {}  refused {}", c.joined, c.bots, refused.join(", "))
                }
            }),
            (
                format!("  replicate p99 {:.2} ms, simulate p99 {:.2}", s.replicate_ms.p99, s.simulate_ms.p99),
                format!("rtt ms p50/p99/max {}", rtt(&c.rtt_ms)),
            ),
            (
                format!("ticks {}  overruns {}  skipped {}", s.ticks, s.overruns, s.skipped_ticks),
                format!("snapshots /bot/s {:.1} (lowest {:.1})", c.snapshots_per_bot_per_s, c.min_snapshots_per_s),
            ),
            (
                format!(
                    "cpu {:.1} % of a core  rss {:.1} MiB ({:.0} KiB/conn)",
                    p.cpu_percent, p.rss_mib, p.kib_per_connection
                ),
                format!("down {:.0} B/bot/s  up {:.0} B/bot/s", c.bytes_down_per_bot_per_s, c.bytes_up_per_bot_per_s),
            ),
            (
                format!("sent {:.0} kB/s  dropped snapshots {}", s.bytes_sent_per_s / 1000.0, s.snapshots_dropped),
                format!("desyncs {}  errors {}", c.desyncs, c.errors.values().sum::<usize>()),
            ),
            (
                p.kib_per_idle_connection.map_or(format!("entities {}", s.entities), |k| {
                    format!("entities {}  {:.1} KiB / idle connection", s.entities, k)
                }),
                format!("input→ack ms p50/p99 {:.2} / {:.2}", c.input_ack_ms.p50, c.input_ack_ms.p99),
            ),
            (
                String::new(),
                format!(
                    "input queue p50/p99 {} / {}  dilation {:+.2} % ({:+.2}..{:+.2})",
                    c.input_queue.p50,
                    c.input_queue.p99,
                    c.dilation.mean * 100.0,
                    c.dilation.min * 100.0,
                    c.dilation.max * 100.0
                ),
            ),
            (String::new(), format!("server exit clean: {}", self.server_exited_cleanly)),
        ];
        for (l, r) in rows {
            writeln!(f, "{l:<44} {r}")?;
        }
        crate::report::write_bands(f, &c.latency_bands)
    }
}
