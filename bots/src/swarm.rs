//! A swarm: many bots started over a ramp, running until a deadline, their reports gathered.

use crate::behaviour::{Behaviour, Brain};
use crate::bot::{self, BotConfig, BotReport, LiveCounters};
use crate::scenario::{Plan, PlannedBot, Role};
use arena_netsim::{Latency, LinkProfile};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::net::IpAddr;
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
    /// The link conditioner on the bots' side (off by default).
    pub sim_link: SimLink,
    /// Time between two pings of each bot ([`crate::bot::DEFAULT_PING_EVERY`] by default).
    pub ping_every: Duration,
    /// Only the first this many bots decode snapshots; the others are light. `None`: all decode.
    pub decoding: Option<usize>,
    /// Which rooms the bots ask for.
    pub rooms: RoomSpread,
}

/// Which room each bot of a swarm names in its `Hello`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomSpread {
    /// `--room`: the room's name (with `count` > 1, the names' stem).
    pub name: Option<String>,
    /// `--rooms`: spread the bots round robin over this many rooms, `<name>-0` to
    /// `<name>-<count − 1>` (`swarm-…` without a name). 0 or 1: one room.
    pub count: usize,
}

/// Parses `--room`: a name the server accepts ([`arena_protocol::valid_room_name`]), with
/// space left for the `-<n>` suffix of `--rooms`.
pub fn parse_room_name(name: &str) -> Result<String, String> {
    let most = arena_protocol::MAX_ROOM_NAME_CHARS - 6;
    if arena_protocol::valid_room_name(name) && name.len() <= most {
        Ok(name.to_owned())
    } else {
        Err(format!("a room name is 1 to {most} characters of A-Z a-z 0-9 - _"))
    }
}

impl RoomSpread {
    /// The room bot `i` asks for; `None` is quick play (the server chooses).
    #[must_use]
    pub fn for_bot(&self, i: usize) -> Option<String> {
        if self.count > 1 {
            Some(format!("{}-{}", self.name.as_deref().unwrap_or("swarm"), i % self.count))
        } else {
            self.name.clone()
        }
    }
}

/// The link conditioner of a swarm, a development and test tool: the one-way latency of each
/// bot (one value, or a range spread evenly over the bots) and the jitter of every link, added to
/// each direction by the bots themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimLink {
    /// One-way latency: bot `i` of `n` gets `latency.spread(i, n)`.
    pub latency: Latency,
    /// Largest deviation from the latency, either way, on every frame.
    pub jitter: Duration,
}

impl SimLink {
    /// The link of bot `i` of `n`.
    #[must_use]
    pub fn profile(&self, i: usize, n: usize) -> LinkProfile {
        LinkProfile { latency: self.latency.spread(i, n), jitter: self.jitter }
    }

    /// Whether it delays nothing.
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.latency.max.is_zero() && self.jitter.is_zero()
    }
}

/// Starts every bot of `config` over the ramp, lets them play until the deadline and returns
/// their reports in bot order. `live` is updated while they run.
pub async fn run(config: &SwarmConfig, live: Arc<LiveCounters>) -> Vec<BotReport> {
    run_plan(&config.url, &plan(config), config.seed, &config.source_ips, config.sim_link, config.ping_every, live)
        .await
}

/// The plan of a plain swarm: everyone joins evenly over the ramp and stays to the end; with
/// `chaos`, every n-th bot misbehaves.
#[must_use]
pub fn plan(config: &SwarmConfig) -> Plan {
    let n = config.bots;
    let bots = (0..n)
        .map(|i| {
            let start = if n > 1 { config.ramp.mul_f64(i as f64 / n as f64) } else { Duration::ZERO };
            let chaos = config.chaos.and_then(|(c, share)| {
                let every = (1.0 / share.clamp(1e-6, 1.0)).round().max(1.0) as usize;
                i.is_multiple_of(every).then_some(c)
            });
            let role = chaos.map_or(Role::Play(config.behaviour), Role::Chaos);
            PlannedBot { start, stop: config.duration, role }
        })
        .collect();
    Plan { bots, length: config.duration, decoding: config.decoding, rooms: config.rooms.clone() }
}

/// Runs every bot of `plan` against `url` at its planned times, bot `i` through
/// `sim_link.profile(i, n)`, and returns their reports in plan order.
pub async fn run_plan(
    url: &str,
    plan: &Plan,
    seed: u64,
    source_ips: &[IpAddr],
    sim_link: SimLink,
    ping_every: Duration,
    live: Arc<LiveCounters>,
) -> Vec<BotReport> {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(plan.bots.len());
    // A benchmarking aid: announce an older version to measure an older server side by side
    // (only frames whose encoding is unchanged between the two will decode).
    let protocol_version = std::env::var("ARENA_BOTS_PROTOCOL_VERSION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(arena_protocol::PROTOCOL_VERSION);
    let mut players = 0;
    for (i, planned) in plan.bots.iter().enumerate() {
        // The first `decoding` playing bots decode; chaos bots are neither.
        let light = matches!(planned.role, Role::Play(_)) && plan.decoding.is_some_and(|n| players >= n);
        players += usize::from(matches!(planned.role, Role::Play(_)));
        let rng = Pcg64Mcg::seed_from_u64(seed.wrapping_add(i as u64));
        let (behaviour, chaos) = match planned.role {
            Role::Play(b) => (b, None),
            Role::Chaos(c) => (Behaviour::Idle, Some(c)),
        };
        let bot = BotConfig {
            url: url.to_owned(),
            name: format!("bot-{i}"),
            protocol_version,
            brain: Brain::new(behaviour, rng),
            stop_at: start + planned.stop,
            chaos,
            source_ip: (!source_ips.is_empty()).then(|| source_ips[i % source_ips.len()]),
            link: sim_link.profile(i, plan.bots.len()),
            ping_every,
            light,
            room: plan.rooms.for_bot(i),
        };
        let live = live.clone();
        let at = start + planned.start;
        handles.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_latency_range_is_spread_evenly_over_the_bots() {
        let link = SimLink { latency: "20ms..200ms".parse().expect("a range"), jitter: ms(15) };
        let lat: Vec<Duration> = (0..5).map(|i| link.profile(i, 5).latency).collect();
        assert_eq!(lat, vec![ms(20), ms(65), ms(110), ms(155), ms(200)], "both ends and even steps between");
        assert!((0..5).all(|i| link.profile(i, 5).jitter == ms(15)), "every bot has the same jitter");
        let one = SimLink { latency: "75ms".parse().expect("a value"), jitter: Duration::ZERO };
        assert!((0..7).all(|i| one.profile(i, 7).latency == ms(75)), "one value applies to every bot");
        assert!(!one.is_off());
        assert!(SimLink::default().is_off(), "off by default");
        assert!(SimLink::default().profile(3, 10).is_off());
    }

    #[test]
    fn bots_name_their_rooms_round_robin() {
        let quick = RoomSpread::default();
        assert_eq!(quick.for_bot(3), None, "quick play by default");
        let one = RoomSpread { name: Some("duel".into()), count: 0 };
        assert_eq!((one.for_bot(0), one.for_bot(9)), (Some("duel".into()), Some("duel".into())));
        let three = RoomSpread { name: None, count: 3 };
        let names: Vec<_> = (0..4).map(|i| three.for_bot(i).expect("named")).collect();
        assert_eq!(names, ["swarm-0", "swarm-1", "swarm-2", "swarm-0"]);
        let named = RoomSpread { name: Some("cup".into()), count: 2 };
        assert_eq!(named.for_bot(1).as_deref(), Some("cup-1"));
        assert!(names.iter().all(|n| arena_protocol::valid_room_name(n)));
    }
}
