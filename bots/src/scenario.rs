//! Scenario files: a load test as phases over time, written in TOML.
//!
//! ```toml
//! seed = 7
//! sim-latency = "20ms..200ms" # optional link conditioner: one-way latency, spread over the bots
//! sim-jitter = "15ms"         # and jitter (both as the --sim-latency/--sim-jitter flags)
//! decoding = 100        # optional: only 100 bots decode snapshots, the rest are light
//!                       # (they count frames and bytes, and drift; as --decoding)
//! [mix]                 # behaviour shares for every phase (names: wander, chase, kite, idle,
//! wander = 0.6          # patrol, drift, mixed, and the chaos kinds: slow-reader, silent, malformed,
//! chase = 0.3           # oversize, flood, reconnect-storm)
//! idle = 0.1
//!
//! [[phase]]
//! kind = "ramp"         # bots join evenly over the phase until `bots` are in
//! bots = 100
//! duration = "10s"
//!
//! [[phase]]
//! kind = "hold"         # nothing changes
//! duration = "20s"
//!
//! [[phase]]
//! kind = "spike"        # the population jumps to `bots` for the phase, then falls back
//! bots = 300
//! duration = "5s"
//! mix = { chase = 1.0 } # a phase may have its own mix
//!
//! [[phase]]
//! kind = "churn"        # `rate` bots a second leave and others join; the population holds
//! rate = 10
//! duration = "15s"
//! ```
//!
//! A scenario is turned into a [`Plan`] — when each bot starts, when it stops, how it behaves —
//! before anything connects, so it is deterministic for a seed and tested without sockets.

use crate::behaviour::{Behaviour, Chaos};
use crate::swarm::SimLink;
use arena_netsim::Latency;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A scenario as written in its TOML file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of the bots' choices.
    #[serde(default)]
    pub seed: u64,
    /// Behaviour shares for phases without their own.
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// Link conditioner: the bots' one-way latency, one value or a range spread over every bot
    /// of the plan (`"75ms"`, `"20ms..200ms"`); the `--sim-latency` flag overrides it.
    #[serde(default, rename = "sim-latency", deserialize_with = "humantime_serde_compat::latency")]
    pub sim_latency: Option<Latency>,
    /// Link conditioner: the jitter of every bot's link (`"15ms"`); `--sim-jitter` overrides it.
    #[serde(default, rename = "sim-jitter", deserialize_with = "humantime_serde_compat::jitter")]
    pub sim_jitter: Option<Duration>,
    /// Only the first this many playing bots decode snapshots, the others are light
    /// (`decoding = 100`); `--decoding` overrides it. Absent: all decode.
    #[serde(default)]
    pub decoding: Option<usize>,
    /// The phases, in order.
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
}

/// One phase of a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// `ramp`, `hold`, `spike` or `churn`.
    pub kind: PhaseKind,
    /// How long it lasts (`10s`, `2m`).
    #[serde(with = "humantime_serde_compat")]
    pub duration: Duration,
    /// Target population (ramp) or peak population (spike).
    #[serde(default)]
    pub bots: Option<usize>,
    /// Bots replaced per second (churn).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Behaviour shares for the bots this phase starts.
    #[serde(default)]
    pub mix: Option<BTreeMap<String, f64>>,
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
}

/// What a phase does to the population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseKind {
    /// Bots join evenly until the target is reached.
    Ramp,
    /// Nothing changes.
    Hold,
    /// Extra bots for the length of the phase.
    Spike,
    /// Bots leave and others join at a steady rate.
    Churn,
}

mod humantime_serde_compat {
    use arena_netsim::Latency;
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    pub fn latency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Latency>, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }

    pub fn jitter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        arena_netsim::parse_jitter(&s).map(Some).map_err(serde::de::Error::custom)
    }
}

/// How one planned bot behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// Plays.
    Play(Behaviour),
    /// Misbehaves.
    Chaos(Chaos),
}

/// One bot of a plan: when it starts and stops (from the scenario's start) and what it does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedBot {
    /// Start offset.
    pub start: Duration,
    /// Stop offset.
    pub stop: Duration,
    /// What it does.
    pub role: Role,
}

/// Every bot of a scenario, and its total length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The bots, by start time.
    pub bots: Vec<PlannedBot>,
    /// When the last phase ends.
    pub length: Duration,
    /// Only the first this many playing bots decode snapshots; the others are light (see
    /// [`crate::bot::BotConfig::light`]). `None`: all decode.
    pub decoding: Option<usize>,
    /// Which rooms the bots ask for (quick play by default).
    pub rooms: crate::swarm::RoomSpread,
}

fn role(name: &str) -> Option<Role> {
    Some(match name {
        "wander" => Role::Play(Behaviour::Wander),
        "chase" => Role::Play(Behaviour::Chase),
        "kite" => Role::Play(Behaviour::Kite),
        "idle" => Role::Play(Behaviour::Idle),
        "mixed" => Role::Play(Behaviour::Mixed),
        "patrol" => Role::Play(Behaviour::Patrol),
        "drift" => Role::Play(Behaviour::Drift),
        "slow-reader" => Role::Chaos(Chaos::SlowReader),
        "silent" => Role::Chaos(Chaos::Silent),
        "malformed" => Role::Chaos(Chaos::Malformed),
        "oversize" => Role::Chaos(Chaos::Oversize),
        "flood" => Role::Chaos(Chaos::Flood),
        "reconnect-storm" => Role::Chaos(Chaos::ReconnectStorm),
        _ => return None,
    })
}

fn pick(mix: &[(Role, f64)], rng: &mut Pcg64Mcg) -> Role {
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
    for (role, w) in mix {
        if x < *w {
            return *role;
        }
        x -= w;
    }
    mix.last().map_or(Role::Play(Behaviour::Mixed), |(r, _)| *r)
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn from_toml(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.check()?;
        Ok(s)
    }

    fn mix_of(&self, phase: &Phase) -> Result<Vec<(Role, f64)>, String> {
        let mix = phase.mix.as_ref().unwrap_or(&self.mix);
        if mix.is_empty() {
            return Ok(vec![(Role::Play(Behaviour::Mixed), 1.0)]);
        }
        mix.iter()
            .map(|(name, w)| {
                let r = role(name).ok_or_else(|| format!("unknown behaviour `{name}` in a mix"))?;
                if *w < 0.0 || !w.is_finite() {
                    return Err(format!("share of `{name}` must be a number ≥ 0"));
                }
                Ok((r, *w))
            })
            .collect()
    }

    fn check(&self) -> Result<(), String> {
        if self.phases.is_empty() {
            return Err("a scenario needs at least one [[phase]]".into());
        }
        for (i, p) in self.phases.iter().enumerate() {
            self.mix_of(p)?;
            let need = |what: bool, msg: &str| if what { Ok(()) } else { Err(format!("phase {}: {msg}", i + 1)) };
            match p.kind {
                PhaseKind::Ramp | PhaseKind::Spike => need(p.bots.is_some(), "`bots` is required")?,
                PhaseKind::Churn => need(p.rate.is_some_and(|r| r > 0.0), "`rate` (bots per second, > 0) is required")?,
                PhaseKind::Hold => {}
            }
        }
        Ok(())
    }

    /// The link conditioner the scenario asks for; `latency` and `jitter`, when given (the
    /// command line's flags), take precedence over the file's.
    #[must_use]
    pub fn sim_link(&self, latency: Option<Latency>, jitter: Option<Duration>) -> SimLink {
        SimLink {
            latency: latency.or(self.sim_latency).unwrap_or_default(),
            jitter: jitter.or(self.sim_jitter).unwrap_or_default(),
        }
    }

    /// Turns the phases into a plan of bots.
    pub fn plan(&self) -> Result<Plan, String> {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed);
        let mut bots: Vec<PlannedBot> = Vec::new();
        // Indices into `bots` of the bots present now, oldest first.
        let mut present: Vec<usize> = Vec::new();
        let end: Duration = self.phases.iter().map(|p| p.duration).sum();
        let mut t = Duration::ZERO;
        for phase in &self.phases {
            let mix = self.mix_of(phase)?;
            let d = phase.duration;
            match phase.kind {
                PhaseKind::Ramp => {
                    let target = phase.bots.unwrap_or(0);
                    if target < present.len() {
                        // Ramping down: the newest leave evenly over the phase.
                        let leaving = present.len() - target;
                        for k in 0..leaving {
                            if let Some(i) = present.pop() {
                                bots[i].stop = t + d.mul_f64((k + 1) as f64 / leaving as f64);
                            }
                        }
                    } else {
                        let joining = target - present.len();
                        for k in 0..joining {
                            let start = t + d.mul_f64(k as f64 / joining as f64);
                            present.push(bots.len());
                            bots.push(PlannedBot { start, stop: end, role: pick(&mix, &mut rng) });
                        }
                    }
                }
                PhaseKind::Hold => {}
                PhaseKind::Spike => {
                    let extra = phase.bots.unwrap_or(0).saturating_sub(present.len());
                    for _ in 0..extra {
                        bots.push(PlannedBot { start: t, stop: t + d, role: pick(&mix, &mut rng) });
                    }
                }
                PhaseKind::Churn => {
                    let rate = phase.rate.unwrap_or(1.0);
                    let swaps = (d.as_secs_f64() * rate).floor() as usize;
                    for k in 0..swaps {
                        let at = t + Duration::from_secs_f64(k as f64 / rate);
                        if !present.is_empty() {
                            let i = present.remove(0);
                            bots[i].stop = at;
                        }
                        present.push(bots.len());
                        bots.push(PlannedBot { start: at, stop: end, role: pick(&mix, &mut rng) });
                    }
                }
            }
            t += d;
        }
        bots.sort_by_key(|b| b.start);
        Ok(Plan { bots, length: end, decoding: self.decoding, rooms: crate::swarm::RoomSpread::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        seed = 7
        [mix]
        wander = 0.5
        chase = 0.5

        [[phase]]
        kind = "ramp"
        bots = 100
        duration = "10s"

        [[phase]]
        kind = "hold"
        duration = "5s"

        [[phase]]
        kind = "spike"
        bots = 150
        duration = "5s"
        mix = { flood = 1.0 }

        [[phase]]
        kind = "churn"
        rate = 4
        duration = "5s"
    "#;

    fn present_at(plan: &Plan, t: Duration) -> usize {
        plan.bots.iter().filter(|b| b.start <= t && t < b.stop).count()
    }

    #[test]
    fn phases_shape_the_population() {
        let plan = Scenario::from_toml(EXAMPLE).expect("valid").plan().expect("plans");
        assert_eq!(plan.length, Duration::from_secs(25));
        assert_eq!(present_at(&plan, Duration::from_millis(4_990)), 50, "halfway up the ramp");
        assert_eq!(present_at(&plan, Duration::from_secs(12)), 100, "holding");
        assert_eq!(present_at(&plan, Duration::from_secs(17)), 150, "spiking");
        assert_eq!(present_at(&plan, Duration::from_secs(22)), 100, "churn keeps the population");
        assert_eq!(plan.bots.len(), 100 + 50 + 20, "churn adds one bot per swap");
        let spikers: Vec<_> = plan.bots.iter().filter(|b| b.start == Duration::from_secs(15)).collect();
        assert!(spikers.iter().all(|b| b.role == Role::Chaos(Chaos::Flood)), "a phase's mix applies to its bots");
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let plan =
            Scenario::from_toml(include_str!("../scenarios/example.toml")).expect("valid").plan().expect("plans");
        assert_eq!(plan.length, Duration::from_secs(50));
    }

    #[test]
    fn a_scenario_may_set_the_link_conditioner_and_flags_override_it() {
        let ms = Duration::from_millis;
        let text = format!("sim-latency = \"20ms..200ms\"\nsim-jitter = \"15ms\"\n{EXAMPLE}");
        let s = Scenario::from_toml(&text).expect("valid");
        let link = s.sim_link(None, None);
        assert_eq!((link.latency.min, link.latency.max, link.jitter), (ms(20), ms(200), ms(15)));
        let flag: Latency = "75ms".parse().expect("a latency");
        let link = s.sim_link(Some(flag), Some(Duration::ZERO));
        assert_eq!((link.latency, link.jitter), (flag, Duration::ZERO), "the flags win over the file");
        let plain = Scenario::from_toml(EXAMPLE).expect("valid");
        assert!(plain.sim_link(None, None).is_off(), "no conditioner unless asked for");
        let bad = format!("sim-latency = \"200ms..20ms\"\n{EXAMPLE}");
        assert!(Scenario::from_toml(&bad).is_err(), "a descending range is refused");
    }

    #[test]
    fn plans_are_deterministic_for_a_seed() {
        let a = Scenario::from_toml(EXAMPLE).expect("valid").plan();
        let b = Scenario::from_toml(EXAMPLE).expect("valid").plan();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_reason() {
        assert!(Scenario::from_toml("").expect_err("no phases").contains("phase"));
        let e = Scenario::from_toml("[[phase]]\nkind = \"ramp\"\nduration = \"1s\"\n").expect_err("no bots");
        assert!(e.contains("bots"), "{e}");
        let e = Scenario::from_toml("[mix]\ndance = 1.0\n[[phase]]\nkind = \"hold\"\nduration = \"1s\"\n")
            .expect_err("bad mix");
        assert!(e.contains("dance"), "{e}");
        assert!(Scenario::from_toml("[[phase]]\nkind = \"jump\"\nduration = \"1s\"\n").is_err());
        assert!(Scenario::from_toml("[[phase]]\nkind = \"hold\"\nduration = \"soon\"\n").is_err());
    }
}
