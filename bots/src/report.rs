//! The swarm's final report: per-bot figures folded into one summary, printed as a table or JSON.

use crate::bot::{BotReport, rtt_histogram};
use crate::timing::{DilationStats, QueueDepths};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Most latency bands a report breaks the bots into.
pub const MAX_BANDS: usize = 5;

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
    /// Playing bots that decoded and verified every snapshot (desync, checksum and input→ack
    /// figures come from these only).
    pub decoding_bots: usize,
    /// Playing bots that only counted frames (`--decoding`).
    pub light_bots: usize,
    /// Bots the server turned away before `Welcome` (a `Bye` such as `ServerBusy` or
    /// `ServerFull`, or HTTP 429/503 at the upgrade), by reason. Not joins, not errors.
    pub refused: BTreeMap<String, usize>,
    /// Bots that failed or were cut off, by error message.
    pub errors: BTreeMap<String, usize>,
    /// Snapshots per second per joined bot: all snapshots over all the seconds the bots were
    /// connected (never above the tick rate over a long run).
    pub snapshots_per_bot_per_s: f64,
    /// Lowest snapshots-per-second of any bot that played at least a second.
    pub min_snapshots_per_s: f64,
    /// Payload bytes received per bot per second: all bytes over all the bots' connected seconds.
    pub bytes_down_per_bot_per_s: f64,
    /// Payload bytes sent per bot per second, the same way.
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
    /// Tick rate of the room (0 if no bot joined).
    pub tick_hz: u16,
    /// The link conditioner on the bots' side, if any bot played through one.
    pub sim_link: Option<LinkFigures>,
    /// The server's queue of each bot's inputs, as every snapshot reported it.
    pub input_queue: QueueFigures,
    /// The dilation of the bots' input clocks, one sample per input: the input period was
    /// `tick × (1 + dilation)` (0.02: 2 % slower than the tick).
    pub dilation: DilationFigures,
    /// The figures per band of configured one-way latency, lowest first, when the bots played at
    /// more than one latency (empty otherwise).
    pub latency_bands: Vec<LatencyBand>,
}

/// Input queue depths, in inputs.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct QueueFigures {
    /// Snapshots that reported a depth.
    pub count: u64,
    /// Mean depth.
    pub mean: f64,
    /// Median depth.
    pub p50: u32,
    /// 99th percentile.
    pub p99: u32,
    /// Deepest.
    pub max: u32,
}

impl QueueFigures {
    fn of(q: &QueueDepths) -> QueueFigures {
        QueueFigures { count: q.count(), mean: q.mean(), p50: q.quantile(0.5), p99: q.quantile(0.99), max: q.max() }
    }
}

/// Mean and extremes of the input clock's dilation (a fraction of the tick: 0.02 is 2 % slower).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct DilationFigures {
    /// Inputs sent.
    pub count: u64,
    /// Mean dilation.
    pub mean: f64,
    /// Lowest (the fastest the clock ran).
    pub min: f64,
    /// Highest (the slowest).
    pub max: f64,
}

impl DilationFigures {
    fn of(d: &DilationStats) -> DilationFigures {
        DilationFigures { count: d.count(), mean: d.mean(), min: f64::from(d.min()), max: f64::from(d.max()) }
    }
}

/// The bots' link conditioner, milliseconds each way.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct LinkFigures {
    /// Lowest one-way latency of a bot.
    pub latency_ms_min: f64,
    /// Highest one-way latency of a bot.
    pub latency_ms_max: f64,
    /// Jitter (the largest of any bot).
    pub jitter_ms: f64,
}

/// The figures of the joined bots whose configured one-way latency lies in one band.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LatencyBand {
    /// Lowest configured one-way latency of a bot in the band, milliseconds.
    pub latency_ms_min: f64,
    /// Highest, milliseconds.
    pub latency_ms_max: f64,
    /// Joined bots in the band.
    pub bots: usize,
    /// Ping round trips, milliseconds.
    pub rtt_ms: Percentiles,
    /// From sending an input to the snapshot that acknowledges it, milliseconds.
    pub input_ack_ms: Percentiles,
    /// Mean input queue depth.
    pub input_queue_mean: f64,
    /// Mean input clock dilation.
    pub dilation_mean: f64,
}

/// Splits bots into bands by their configured one-way latency: one band per distinct latency
/// when there are at most [`MAX_BANDS`], otherwise [`MAX_BANDS`] bands of equal width over the
/// range (empty ones left out). Returns the bots' indices per band, lowest latency first; no band
/// at all when every bot has the same latency.
#[must_use]
pub fn latency_bands(latencies: &[Duration]) -> Vec<Vec<usize>> {
    let mut distinct: Vec<Duration> = latencies.to_vec();
    distinct.sort();
    distinct.dedup();
    let (Some(&lo), Some(&hi)) = (distinct.first(), distinct.last()) else {
        return Vec::new();
    };
    if distinct.len() < 2 {
        return Vec::new();
    }
    let band_of = |l: Duration| -> usize {
        if distinct.len() <= MAX_BANDS {
            distinct.partition_point(|d| *d < l)
        } else {
            let at = (l - lo).as_secs_f64() / (hi - lo).as_secs_f64();
            ((at * MAX_BANDS as f64) as usize).min(MAX_BANDS - 1)
        }
    };
    let mut bands = vec![Vec::new(); distinct.len().min(MAX_BANDS)];
    for (i, l) in latencies.iter().enumerate() {
        bands[band_of(*l)].push(i);
    }
    bands.retain(|b| !b.is_empty());
    bands
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl LatencyBand {
    fn of(bots: &[&BotReport]) -> LatencyBand {
        let (mut rtt, mut ack) = (rtt_histogram(), rtt_histogram());
        let (mut queue, mut dilation) = (QueueDepths::default(), DilationStats::default());
        for r in bots {
            let _ = rtt.add(&r.rtt_us);
            let _ = ack.add(&r.input_ack_us);
            queue.add(&r.input_queue);
            dilation.add(&r.dilation);
        }
        let lat = bots.iter().map(|r| r.link.latency);
        LatencyBand {
            latency_ms_min: lat.clone().min().map_or(0.0, ms),
            latency_ms_max: lat.max().map_or(0.0, ms),
            bots: bots.len(),
            rtt_ms: percentiles(&rtt),
            input_ack_ms: percentiles(&ack),
            input_queue_mean: queue.mean(),
            dilation_mean: dilation.mean(),
        }
    }
}

impl SwarmReport {
    /// Folds the bots' reports into one.
    #[must_use]
    pub fn from_bots(reports: &[BotReport]) -> SwarmReport {
        let (mut rtt, mut ack, mut gap) = (rtt_histogram(), rtt_histogram(), rtt_histogram());
        let mut out = SwarmReport { bots: reports.len(), min_snapshots_per_s: f64::INFINITY, ..Default::default() };
        let (mut played, mut up, mut snaps, mut bytes) = (0.0, 0u64, 0u64, 0u64);
        let (mut queue, mut dilation) = (QueueDepths::default(), DilationStats::default());
        let mut playing: Vec<&BotReport> = Vec::new();
        for r in reports {
            if r.light {
                out.light_bots += 1;
            } else if !r.chaos {
                out.decoding_bots += 1;
            }
            match refusal(r) {
                Some(reason) => *out.refused.entry(reason).or_default() += 1,
                None => {
                    if let Some(e) = &r.error {
                        *out.errors.entry(e.clone()).or_default() += 1;
                    }
                }
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
            out.tick_hz = out.tick_hz.max(r.tick_hz);
            queue.add(&r.input_queue);
            dilation.add(&r.dilation);
            playing.push(r);
            let secs = r.played.as_secs_f64();
            if secs >= 1.0 {
                out.min_snapshots_per_s = out.min_snapshots_per_s.min(r.snapshots as f64 / secs);
            }
            played += secs;
            up += r.bytes_up;
            snaps += r.snapshots;
            bytes += r.bytes_down;
        }
        // Totals over bot-seconds: a bot that played a moment (and got a burst) weighs a moment.
        if played > 0.0 {
            out.snapshots_per_bot_per_s = snaps as f64 / played;
            out.bytes_down_per_bot_per_s = bytes as f64 / played;
            out.bytes_up_per_bot_per_s = up as f64 / played;
        }
        if !out.min_snapshots_per_s.is_finite() {
            out.min_snapshots_per_s = 0.0;
        }
        out.bytes_per_snapshot = if snaps > 0 { bytes as f64 / snaps as f64 } else { 0.0 };
        out.rtt_ms = percentiles(&rtt);
        out.input_ack_ms = percentiles(&ack);
        out.snapshot_gap_ms = percentiles(&gap);
        out.input_queue = QueueFigures::of(&queue);
        out.dilation = DilationFigures::of(&dilation);
        let conditioned: Vec<_> = playing.iter().map(|r| r.link).filter(|l| !l.is_off()).collect();
        if !conditioned.is_empty() {
            let lat = playing.iter().map(|r| r.link.latency);
            out.sim_link = Some(LinkFigures {
                latency_ms_min: lat.clone().min().map_or(0.0, ms),
                latency_ms_max: lat.max().map_or(0.0, ms),
                jitter_ms: conditioned.iter().map(|l| l.jitter).max().map_or(0.0, ms),
            });
        }
        let latencies: Vec<Duration> = playing.iter().map(|r| r.link.latency).collect();
        out.latency_bands = latency_bands(&latencies)
            .iter()
            .map(|band| LatencyBand::of(&band.iter().map(|&i| playing[i]).collect::<Vec<_>>()))
            .collect();
        out
    }
}

/// Why the server turned this bot away before `Welcome`, if it did: the `Bye`'s reason, or the
/// HTTP status of a refused upgrade.
fn refusal(r: &BotReport) -> Option<String> {
    if r.joined {
        return None;
    }
    if let Some(bye) = &r.bye {
        return Some(format!("{:?}", bye.reason));
    }
    let e = r.error.as_deref()?;
    ["429", "503"].iter().find(|code| e.contains("HTTP error") && e.contains(*code)).map(|code| format!("HTTP {code}"))
}

/// The per-latency-band table (nothing when there are no bands).
pub(crate) fn write_bands(f: &mut fmt::Formatter<'_>, bands: &[LatencyBand]) -> fmt::Result {
    if bands.is_empty() {
        return Ok(());
    }
    writeln!(f, "latency band ms   bots   rtt p50/p99 ms   input→ack p50/p99 ms   queue   dilation %")?;
    for b in bands {
        let band = if b.latency_ms_max > b.latency_ms_min {
            format!("{:.0}–{:.0}", b.latency_ms_min, b.latency_ms_max)
        } else {
            format!("{:.0}", b.latency_ms_min)
        };
        let (r, a) = (&b.rtt_ms, &b.input_ack_ms);
        writeln!(
            f,
            "  {band:<13} {:>6}   {:>6.1} / {:<6.1}  {:>8.1} / {:<8.1}   {:>5.2}   {:>+10.2}",
            b.bots,
            r.p50,
            r.p99,
            a.p50,
            a.p99,
            b.input_queue_mean,
            b.dilation_mean * 100.0
        )?;
    }
    Ok(())
}

/// p50/p90/p99/max in milliseconds of a histogram in microseconds.
fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles { count: h.len(), p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: h.max() as f64 / 1000.0 }
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bots joined            {:>10} / {}", self.joined, self.bots)?;
        if self.light_bots > 0 {
            writeln!(
                f,
                "decoding / light bots  {:>10} / {}   (desyncs and input→ack from decoding bots only)",
                self.decoding_bots, self.light_bots
            )?;
        }
        for (reason, n) in &self.refused {
            writeln!(f, "refused ×{n:<6} {reason}")?;
        }
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
        let q = &self.input_queue;
        writeln!(f, "input queue p50/p99    {:>10} / {}   (mean {:.2}, max {})", q.p50, q.p99, q.mean, q.max)?;
        let d = &self.dilation;
        writeln!(
            f,
            "input dilation %       {:>+10.2}   (min {:+.2}, max {:+.2})",
            d.mean * 100.0,
            d.min * 100.0,
            d.max * 100.0
        )?;
        if let Some(l) = &self.sim_link {
            let lat = if l.latency_ms_max > l.latency_ms_min {
                format!("{:.0}..{:.0}", l.latency_ms_min, l.latency_ms_max)
            } else {
                format!("{:.0}", l.latency_ms_min)
            };
            writeln!(f, "link conditioner       {lat:>10} ms ± {:.0} ms each way (bots' side)", l.jitter_ms)?;
        }
        write_bands(f, &self.latency_bands)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use arena_netsim::LinkProfile;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A joined bot at `latency` one way whose pings took `rtt` ms, inputs `ack` ms to be
    /// acknowledged, with the server's queue at `queue` and its clock at `dilation`.
    fn bot(latency: u64, rtt: u64, ack: u64, queue: u8, dilation: f32) -> BotReport {
        let mut r = BotReport::new();
        r.joined = true;
        r.tick_hz = 30;
        r.played = Duration::from_secs(10);
        r.link = LinkProfile { latency: ms(latency), jitter: ms(5) };
        for _ in 0..100 {
            r.rtt_us.saturating_record(rtt * 1000);
            r.input_ack_us.saturating_record(ack * 1000);
            r.input_queue.record(queue);
            r.dilation.record(dilation);
        }
        r
    }

    #[test]
    fn bots_at_one_latency_make_no_bands() {
        assert!(latency_bands(&[]).is_empty());
        assert!(latency_bands(&[ms(75); 10]).is_empty(), "one latency: the summary says it all");
    }

    #[test]
    fn a_few_distinct_latencies_make_one_band_each() {
        let lat = [ms(200), ms(20), ms(75), ms(20), ms(200), ms(75)];
        assert_eq!(latency_bands(&lat), vec![vec![1, 3], vec![2, 5], vec![0, 4]], "lowest latency first");
    }

    #[test]
    fn a_spread_range_is_bucketed_into_five_even_bands() {
        let link: arena_netsim::Latency = "20ms..200ms".parse().expect("a range");
        let lat: Vec<Duration> = (0..100).map(|i| link.spread(i, 100)).collect();
        let bands = latency_bands(&lat);
        assert_eq!(bands.len(), MAX_BANDS);
        assert_eq!(bands.iter().map(Vec::len).sum::<usize>(), 100, "every bot is in a band");
        assert!(
            bands.iter().all(|b| (19..=21).contains(&b.len())),
            "even bands: {:?}",
            bands.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert!(bands.windows(2).all(|w| lat[w[0][w[0].len() - 1]] < lat[w[1][0]]), "bands do not overlap and ascend");
    }

    #[test]
    fn the_report_breaks_figures_down_by_latency_band() {
        let mut bots: Vec<BotReport> = (0..4).map(|_| bot(20, 40, 80, 1, -0.01)).collect();
        bots.extend((0..2).map(|_| bot(100, 200, 240, 3, 0.03)));
        let mut not_joined = BotReport::new();
        not_joined.error = Some("connect failed".into());
        bots.push(not_joined);
        let r = SwarmReport::from_bots(&bots);
        assert_eq!((r.bots, r.joined, r.tick_hz), (7, 6, 30));
        assert_eq!(r.latency_bands.len(), 2, "two latencies, two bands: {:?}", r.latency_bands);
        let (low, high) = (&r.latency_bands[0], &r.latency_bands[1]);
        assert_eq!((low.latency_ms_min, low.latency_ms_max, low.bots), (20.0, 20.0, 4));
        assert_eq!((high.latency_ms_min, high.bots), (100.0, 2), "only joined bots count");
        assert!((low.rtt_ms.p99 - 40.0).abs() < 0.1 && (high.rtt_ms.p50 - 200.0).abs() < 0.5);
        assert!((low.input_ack_ms.p50 - 80.0).abs() < 0.1 && (high.input_ack_ms.p99 - 240.0).abs() < 0.5);
        assert!((low.input_queue_mean - 1.0).abs() < 1e-9 && (high.input_queue_mean - 3.0).abs() < 1e-9);
        assert!((low.dilation_mean + 0.01).abs() < 1e-6 && (high.dilation_mean - 0.03).abs() < 1e-6);

        assert_eq!((r.input_queue.p50, r.input_queue.max, r.input_queue.count), (1, 3, 600));
        assert!((r.input_queue.mean - 10.0 / 6.0).abs() < 1e-9);
        assert!((r.dilation.min + 0.01).abs() < 1e-6 && (r.dilation.max - 0.03).abs() < 1e-6);
        assert!((r.dilation.mean - 0.002 / 0.6).abs() < 1e-6, "mean over inputs: {}", r.dilation.mean);
        let link = r.sim_link.expect("the bots played through a conditioner");
        assert_eq!((link.latency_ms_min, link.latency_ms_max, link.jitter_ms), (20.0, 100.0, 5.0));

        let table = r.to_string();
        for line in ["input queue p50/p99", "input dilation %", "link conditioner", "latency band ms"] {
            assert!(table.contains(line), "the table should show `{line}`:\n{table}");
        }
        for band in ["20 ", "100 "] {
            assert!(table.lines().any(|l| l.trim_start().starts_with(band)), "a row for the {band}ms band:\n{table}");
        }
        let json = serde_json::to_value(&r).expect("the report serializes");
        assert_eq!(json["latency_bands"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["latency_bands"][1]["bots"], 2);
        for key in ["rtt_ms", "input_ack_ms", "input_queue_mean", "dilation_mean", "latency_ms_min", "latency_ms_max"] {
            assert!(json["latency_bands"][0].get(key).is_some(), "a band in the JSON should have `{key}`");
        }
        assert_eq!(json["input_queue"]["p99"], 3);
        assert!(json["dilation"]["mean"].is_number() && json["sim_link"]["jitter_ms"] == 5.0);
    }

    #[test]
    fn without_a_conditioner_the_report_has_no_link_and_no_bands() {
        let bots: Vec<BotReport> = (0..3)
            .map(|_| {
                let mut b = bot(0, 1, 34, 1, 0.0);
                b.link = LinkProfile::default();
                b
            })
            .collect();
        let r = SwarmReport::from_bots(&bots);
        assert!(r.sim_link.is_none() && r.latency_bands.is_empty());
        assert!(!r.to_string().contains("latency band"), "no band table for one latency");
    }

    #[test]
    fn rates_are_totals_over_the_seconds_each_bot_was_connected() {
        // One bot played 10 s at 30 snapshots/s; another joined at the end and got a burst of
        // 3 snapshots in 50 ms. Averaging per-bot rates said (30 + 60) / 2 = 45 snapshots/s.
        let mut long = bot(0, 10, 10, 1, 0.0);
        (long.snapshots, long.bytes_down, long.bytes_up) = (300, 300_000, 12_000);
        let mut short = bot(0, 10, 10, 1, 0.0);
        (short.played, short.snapshots, short.bytes_down, short.bytes_up) = (ms(50), 3, 3_000, 40);
        let report = SwarmReport::from_bots(&[long, short]);
        assert!((report.snapshots_per_bot_per_s - 303.0 / 10.05).abs() < 1e-9, "{}", report.snapshots_per_bot_per_s);
        assert!(report.snapshots_per_bot_per_s <= 30.2, "never far above the tick rate");
        assert!((report.bytes_down_per_bot_per_s - 303_000.0 / 10.05).abs() < 1e-6);
        assert!((report.bytes_up_per_bot_per_s - 12_040.0 / 10.05).abs() < 1e-6);
        assert!((report.min_snapshots_per_s - 30.0).abs() < 1e-9, "the lowest counts bots that played a second");
    }

    #[test]
    fn a_bot_turned_away_counts_as_refused_with_its_reason_not_as_an_error() {
        let mut busy = BotReport::new();
        busy.error = Some("turned away: ServerBusy: the server is busy; try again in 5 s".into());
        busy.bye = Some(arena_protocol::Bye {
            reason: arena_protocol::ByeReason::ServerBusy,
            message: "the server is busy; try again in 5 s".into(),
            retry_after_ms: 5000,
        });
        let mut limited = BotReport::new();
        limited.error = Some("websocket handshake failed: HTTP error: 429 Too Many Requests".into());
        let mut lost = BotReport::new();
        lost.error = Some("connect failed: connection refused".into());
        let mut light = bot(0, 10, 10, 1, 0.0);
        light.light = true;
        let report = SwarmReport::from_bots(&[busy, limited, lost, light, bot(0, 10, 10, 1, 0.0)]);
        assert_eq!(report.joined, 2);
        assert_eq!(report.refused.get("ServerBusy"), Some(&1));
        assert_eq!(report.refused.get("HTTP 429"), Some(&1));
        assert_eq!(report.errors.len(), 1, "only the real failure is an error: {:?}", report.errors);
        assert_eq!((report.decoding_bots, report.light_bots), (4, 1));
        let table = report.to_string();
        assert!(table.contains("refused ×1      ServerBusy"), "{table}");
        assert!(table.contains("decoding / light bots"), "{table}");
    }
}
