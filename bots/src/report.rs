//! The swarm's final report: per-bot figures folded into one summary, printed as a table or JSON.

use crate::bot::{BotReport, rtt_histogram};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// p50 / p90 / p99 / max of a distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// The whole swarm's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SwarmReport {
    /// Bots started.
    pub bots: usize,
    /// Bots that got a `Welcome`.
    pub joined: usize,
    /// Bots that failed or were cut off, by error message.
    pub errors: BTreeMap<String, usize>,
    /// Mean snapshots per second per joined bot.
    pub snapshots_per_bot_per_s: f64,
    /// Lowest snapshots-per-second of any joined bot.
    pub min_snapshots_per_s: f64,
    /// Mean payload bytes received per bot per second.
    pub bytes_down_per_bot_per_s: f64,
    /// Mean payload bytes sent per bot per second.
    pub bytes_up_per_bot_per_s: f64,
    /// Mean payload bytes per snapshot (all server frames counted).
    pub bytes_per_snapshot: f64,
    /// Ping round-trip times, milliseconds.
    pub rtt_ms: Percentiles,
    /// Snapshots that failed to apply or whose checksum did not match, all bots together.
    pub desyncs: u64,
    /// Full snapshots received (one per join, plus one per desync).
    pub full_snapshots: u64,
    /// Kill events, as seen by the bot that saw the most.
    pub kills_seen: u64,
    /// Highest scoreboard score seen.
    pub top_score: u32,
}

impl SwarmReport {
    /// Folds the bots' reports into one.
    #[must_use]
    pub fn from_bots(reports: &[BotReport]) -> SwarmReport {
        let mut rtt = rtt_histogram();
        let mut out = SwarmReport { bots: reports.len(), min_snapshots_per_s: f64::INFINITY, ..Default::default() };
        let (mut rate_sum, mut down_sum, mut up_sum, mut snaps, mut bytes) = (0.0, 0.0, 0.0, 0u64, 0u64);
        for r in reports {
            if let Some(e) = &r.error {
                *out.errors.entry(e.clone()).or_default() += 1;
            }
            let _ = rtt.add(&r.rtt_us);
            out.kills_seen = out.kills_seen.max(r.kills_seen);
            out.desyncs += r.desyncs;
            out.full_snapshots += r.full_snapshots;
            out.top_score = out.top_score.max(r.top_score_seen);
            if !r.joined {
                continue;
            }
            out.joined += 1;
            let secs = r.played.as_secs_f64().max(1e-3);
            let rate = r.snapshots as f64 / secs;
            rate_sum += rate;
            out.min_snapshots_per_s = out.min_snapshots_per_s.min(rate);
            down_sum += r.bytes_down as f64 / secs;
            up_sum += r.bytes_up as f64 / secs;
            snaps += r.snapshots;
            bytes += r.bytes_down;
        }
        if out.joined > 0 {
            let n = out.joined as f64;
            out.snapshots_per_bot_per_s = rate_sum / n;
            out.bytes_down_per_bot_per_s = down_sum / n;
            out.bytes_up_per_bot_per_s = up_sum / n;
        } else {
            out.min_snapshots_per_s = 0.0;
        }
        out.bytes_per_snapshot = if snaps > 0 { bytes as f64 / snaps as f64 } else { 0.0 };
        let ms = |q: f64| rtt.value_at_quantile(q) as f64 / 1000.0;
        out.rtt_ms =
            Percentiles { count: rtt.len(), p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: rtt.max() as f64 / 1000.0 };
        out
    }
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bots joined            {:>10} / {}", self.joined, self.bots)?;
        writeln!(
            f,
            "snapshots /bot/s       {:>10.1}   (lowest {:.1})",
            self.snapshots_per_bot_per_s, self.min_snapshots_per_s
        )?;
        writeln!(
            f,
            "down bytes /bot/s      {:>10.0}   ({:.1} kbit/s)",
            self.bytes_down_per_bot_per_s,
            self.bytes_down_per_bot_per_s * 8.0 / 1000.0
        )?;
        writeln!(f, "up bytes /bot/s        {:>10.0}", self.bytes_up_per_bot_per_s)?;
        writeln!(f, "bytes /snapshot        {:>10.0}", self.bytes_per_snapshot)?;
        let r = &self.rtt_ms;
        writeln!(
            f,
            "rtt ms p50/p90/p99/max {:>10.2} / {:.2} / {:.2} / {:.2}   ({} pings)",
            r.p50, r.p90, r.p99, r.max, r.count
        )?;
        writeln!(f, "desyncs                {:>10}   ({} full snapshots)", self.desyncs, self.full_snapshots)?;
        writeln!(f, "kills seen             {:>10}   (top score {})", self.kills_seen, self.top_score)?;
        if self.errors.is_empty() {
            writeln!(f, "errors                 {:>10}", 0)?;
        } else {
            for (e, n) in &self.errors {
                writeln!(f, "error ×{n:<6} {e}")?;
            }
        }
        Ok(())
    }
}
