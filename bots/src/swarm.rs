//! A swarm: many bots started over a ramp, running until a deadline, their reports gathered.

use crate::behaviour::{Behaviour, Brain};
use crate::bot::{self, BotConfig, BotReport, LiveCounters};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What a swarm is told to do.
#[derive(Clone, Debug)]
pub struct SwarmConfig {
    /// WebSocket URL of the game.
    pub url: String,
    /// How many bots.
    pub bots: usize,
    /// Time over which bots are started evenly.
    pub ramp: Duration,
    /// Total run time from the first bot's start (ramp included).
    pub duration: Duration,
    /// How the bots play.
    pub behaviour: Behaviour,
    /// Seed of the bots' random numbers.
    pub seed: u64,
    /// Local addresses the bots connect from, round robin (empty: the OS chooses).
    pub source_ips: Vec<std::net::IpAddr>,
    /// A misbehaviour for a share of the bots, and that share (0–1).
    pub chaos: Option<(crate::behaviour::Chaos, f64)>,
}

/// Starts every bot of `config` over the ramp, lets them play until the deadline and returns
/// their reports in bot order. `live` is updated while they run.
pub async fn run(config: &SwarmConfig, live: Arc<LiveCounters>) -> Vec<BotReport> {
    let start = Instant::now();
    let stop_at = start + config.duration;
    let mut handles = Vec::with_capacity(config.bots);
    for i in 0..config.bots {
        let offset = if config.bots > 1 { config.ramp.mul_f64(i as f64 / config.bots as f64) } else { Duration::ZERO };
        let rng = Pcg64Mcg::seed_from_u64(config.seed.wrapping_add(i as u64));
        let bot = BotConfig {
            url: config.url.clone(),
            name: format!("bot-{i}"),
            protocol_version: arena_protocol::PROTOCOL_VERSION,
            brain: Brain::new(config.behaviour, rng),
            stop_at,
            chaos: config.chaos.and_then(|(c, share)| {
                let every = (1.0 / share.clamp(1e-6, 1.0)).round().max(1.0) as usize;
                i.is_multiple_of(every).then_some(c)
            }),
            source_ip: (!config.source_ips.is_empty()).then(|| config.source_ips[i % config.source_ips.len()]),
        };
        let live = live.clone();
        handles.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + offset).await;
            bot::run(bot, live).await
        }));
    }
    let mut reports = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(r) => reports.push(r),
            Err(e) => tracing::error!(error = %e, "a bot task failed"),
        }
    }
    reports
}
