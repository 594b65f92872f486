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
    /// From sending an input to the snapshot that acknowledges it, milliseconds.
    pub input_ack_ms: Percentiles,
    /// Time between consecutive snapshots, milliseconds.
    pub snapshot_gap_ms: Percentiles,
    /// Bots the server disconnected, by close code and reason.
    pub disconnects: BTreeMap<String, usize>,
    /// CPU of the bots' process per bot per second, milliseconds (filled by the binary).
    pub bots_cpu_ms_per_bot_s: Option<f64>,
    /// The server's own figures for the run, if its `/stats` was reachable.
    pub server: Option<crate::server_stats::ServerWindow>,
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
        let (mut rtt, mut ack, mut gap) = (rtt_histogram(), rtt_histogram(), rtt_histogram());
        let mut out = SwarmReport { bots: reports.len(), min_snapshots_per_s: f64::INFINITY, ..Default::default() };
        let (mut rate_sum, mut down_sum, mut up_sum, mut snaps, mut bytes) = (0.0, 0.0, 0.0, 0u64, 0u64);
        for r in reports {
            if let Some(e) = &r.error {
                *out.errors.entry(e.clone()).or_default() += 1;
            }
            let _ = rtt.add(&r.rtt_us);
            let _ = ack.add(&r.input_ack_us);
            let _ = gap.add(&r.snapshot_gap_us);
            if let Some((code, reason)) = &r.close {
                *out.disconnects.entry(format!("{code} {reason}")).or_default() += 1;
            }
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
        out.rtt_ms = percentiles(&rtt);
        out.input_ack_ms = percentiles(&ack);
        out.snapshot_gap_ms = percentiles(&gap);
        out
    }
}

/// p50/p90/p99/max in milliseconds of a histogram in microseconds.
fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles { count: h.len(), p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: h.max() as f64 / 1000.0 }
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
        let (a, g) = (&self.input_ack_ms, &self.snapshot_gap_ms);
        writeln!(f, "input→ack ms p50/p99   {:>10.2} / {:.2}   (max {:.2})", a.p50, a.p99, a.max)?;
        writeln!(f, "snapshot gap ms p50/p99{:>10.2} / {:.2}   (max {:.2})", g.p50, g.p99, g.max)?;
        writeln!(f, "desyncs                {:>10}   ({} full snapshots)", self.desyncs, self.full_snapshots)?;
        writeln!(f, "kills seen             {:>10}   (top score {})", self.kills_seen, self.top_score)?;
        if self.errors.is_empty() {
            writeln!(f, "errors                 {:>10}", 0)?;
        } else {
            for (e, n) in &self.errors {
                writeln!(f, "error ×{n:<6} {e}")?;
            }
        }
        for (close, n) in &self.disconnects {
            writeln!(f, "disconnected ×{n:<6} close {close}")?;
        }
        if let Some(cpu) = self.bots_cpu_ms_per_bot_s {
            writeln!(f, "bots CPU               {cpu:>10.3} ms per bot per second")?;
        }
        if let Some(s) = &self.server {
            let t = &s.tick_ms;
            writeln!(f, "server tick ms p50/p99/p99.9/max {:.2} / {:.2} / {:.2} / {:.2}", t.p50, t.p99, t.p999, t.max)?;
            writeln!(
                f,
                "server ticks {}  overruns {}  skipped {}  sent {:.0} kB/s  dropped snapshots {}",
                s.ticks,
                s.overruns,
                s.skipped_ticks,
                s.bytes_sent_per_s / 1000.0,
                s.snapshots_dropped
            )?;
        }
        Ok(())
    }
}
