//! Service-level objectives for a swarm run: `--slo "rtt_p99<50ms, desync=0, disconnects=0"`.
//! A run that breaks one exits with status 1.

use crate::report::SwarmReport;
use std::fmt;

/// One objective: a metric, a comparison, a bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    metric: Metric,
    op: Op,
    bound: f64,
    text: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

/// The metrics an objective can name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Metric {
    RttP50,
    RttP99,
    RttMax,
    InputAckP50,
    InputAckP99,
    InputQueueP99,
    SnapshotGapP99,
    Desyncs,
    Disconnects,
    Errors,
    Joined,
    SnapshotRate,
    KbpsDown,
    TickP99,
    Overruns,
}

const METRICS: &[(&str, Metric, &str)] = &[
    ("rtt_p50", Metric::RttP50, "ms"),
    ("rtt_p99", Metric::RttP99, "ms"),
    ("rtt_max", Metric::RttMax, "ms"),
    ("input_ack_p50", Metric::InputAckP50, "ms"),
    ("input_ack_p99", Metric::InputAckP99, "ms"),
    ("input_queue_p99", Metric::InputQueueP99, "inputs"),
    ("snapshot_gap_p99", Metric::SnapshotGapP99, "ms"),
    ("desync", Metric::Desyncs, ""),
    ("desyncs", Metric::Desyncs, ""),
    ("disconnects", Metric::Disconnects, ""),
    ("errors", Metric::Errors, ""),
    ("joined", Metric::Joined, ""),
    ("snapshot_rate", Metric::SnapshotRate, "/s"),
    ("kbps_down", Metric::KbpsDown, "kbit/s"),
    ("tick_p99", Metric::TickP99, "ms (server)"),
    ("overruns", Metric::Overruns, "(server)"),
];

/// A list of objectives, as given to `--slo`.
#[derive(Clone, Debug, PartialEq)]
pub struct Objectives(pub Vec<Objective>);

/// Parses a comma-separated list of objectives.
pub fn parse(spec: &str) -> Result<Objectives, String> {
    spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_one).collect::<Result<_, _>>().map(Objectives)
}

fn parse_one(text: &str) -> Result<Objective, String> {
    let ops =
        [("<=", Op::LessOrEqual), (">=", Op::GreaterOrEqual), ("<", Op::Less), (">", Op::Greater), ("=", Op::Equal)];
    let (at, op_text, op) = ops
        .iter()
        .find_map(|(t, op)| text.find(t).map(|i| (i, *t, *op)))
        .ok_or_else(|| format!("`{text}`: expected a comparison like rtt_p99<50ms"))?;
    let name = text[..at].trim();
    let metric = METRICS.iter().find(|(n, _, _)| *n == name).map(|(_, m, _)| *m).ok_or_else(|| {
        let known: Vec<&str> = METRICS.iter().map(|(n, _, _)| *n).collect();
        format!("`{name}` is not a metric; known: {}", known.join(", "))
    })?;
    let value = text[at + op_text.len()..].trim();
    let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '/');
    let unit = &value[number.len()..];
    let mut bound: f64 = number.trim().parse().map_err(|_| format!("`{text}`: `{value}` is not a number"))?;
    match unit {
        "" | "ms" => {}
        "s" => bound *= 1000.0,
        "us" => bound /= 1000.0,
        _ if matches!(metric, Metric::SnapshotRate | Metric::KbpsDown) => {}
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use ms, s or us)")),
    }
    Ok(Objective { metric, op, bound, text: text.to_owned() })
}

impl Objective {
    fn value(&self, r: &SwarmReport) -> Option<f64> {
        Some(match self.metric {
            Metric::RttP50 => r.rtt_ms.p50,
            Metric::RttP99 => r.rtt_ms.p99,
            Metric::RttMax => r.rtt_ms.max,
            Metric::InputAckP50 => r.input_ack_ms.p50,
            Metric::InputAckP99 => r.input_ack_ms.p99,
            Metric::InputQueueP99 => f64::from(r.input_queue.p99),
            Metric::SnapshotGapP99 => r.snapshot_gap_ms.p99,
            Metric::Desyncs => r.desyncs as f64,
            Metric::Disconnects => r.disconnects.values().sum::<usize>() as f64,
            Metric::Errors => r.errors.values().sum::<usize>() as f64,
            Metric::Joined => r.joined as f64,
            Metric::SnapshotRate => r.snapshots_per_bot_per_s,
            Metric::KbpsDown => r.bytes_down_per_bot_per_s * 8.0 / 1000.0,
            Metric::TickP99 => r.server.as_ref()?.tick_ms.p99,
            Metric::Overruns => r.server.as_ref()?.overruns as f64,
        })
    }

    /// Checks the objective against a report: `Ok` if met, `Err` with what was measured.
    pub fn check(&self, r: &SwarmReport) -> Result<(), Violation> {
        let Some(v) = self.value(r) else {
            return Err(Violation {
                objective: self.text.clone(),
                measured: "no server figures (is /stats reachable?)".into(),
            });
        };
        let ok = match self.op {
            Op::Less => v < self.bound,
            Op::LessOrEqual => v <= self.bound,
            Op::Equal => (v - self.bound).abs() < 1e-9,
            Op::GreaterOrEqual => v >= self.bound,
            Op::Greater => v > self.bound,
        };
        if ok { Ok(()) } else { Err(Violation { objective: self.text.clone(), measured: format!("{v:.3}") }) }
    }
}

/// An objective the run did not meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// The objective as written.
    pub objective: String,
    /// What was measured.
    pub measured: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SLO violated: {} (measured {})", self.objective, self.measured)
    }
}

/// Checks every objective; returns the violations.
#[must_use]
pub fn check_all(objectives: &[Objective], report: &SwarmReport) -> Vec<Violation> {
    objectives.iter().filter_map(|o| o.check(report).err()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_with_units() {
        let o = parse("rtt_p99<50ms, desync=0, disconnects=0, tick_p99<=0.008s").expect("valid").0;
        assert_eq!(o.len(), 4);
        assert_eq!(o[0].bound, 50.0);
        assert_eq!(o[3].bound, 8.0, "seconds become milliseconds");
        assert!(parse("latency<5ms").is_err(), "unknown metrics are refused");
        assert!(parse("rtt_p99 50ms").is_err(), "a comparison is required");
        assert!(parse("rtt_p99<fast").is_err(), "a number is required");
    }

    #[test]
    fn a_report_meets_or_breaks_objectives() {
        let mut r = SwarmReport { joined: 10, ..Default::default() };
        r.rtt_ms.p99 = 12.0;
        r.input_queue.p99 = 2;
        let ok = parse("rtt_p99<50ms, desync=0, joined>=10, input_queue_p99<=2").expect("valid").0;
        assert!(check_all(&ok, &r).is_empty());
        r.desyncs = 2;
        let broken = check_all(&ok, &r);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].to_string().contains("desync=0"), "{}", broken[0]);
        let server = parse("tick_p99<8ms").expect("valid").0;
        assert_eq!(check_all(&server, &r).len(), 1, "server objectives fail without server figures");
    }
}
