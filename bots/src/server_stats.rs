//! The server's own figures for a run window, read from its `/stats` endpoint before and after:
//! exact tick percentiles (the cumulative HDR histograms subtracted) and counter differences.

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// p50 / p99 / p99.9 / max, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct TickPercentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Longest.
    pub max: f64,
}

/// What the server measured about itself over a window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerWindow {
    /// Tick rate.
    pub tick_hz: u64,
    /// Whole-tick durations, milliseconds.
    pub tick_ms: TickPercentiles,
    /// Replicate-phase durations, milliseconds.
    pub replicate_ms: TickPercentiles,
    /// Simulate-phase durations, milliseconds.
    pub simulate_ms: TickPercentiles,
    /// Ticks in the window.
    pub ticks: u64,
    /// Ticks that ended past the next deadline.
    pub overruns: u64,
    /// Ticks skipped after falling far behind.
    pub skipped_ticks: u64,
    /// Payload bytes sent per second.
    pub bytes_sent_per_s: f64,
    /// Snapshots dropped for backpressure.
    pub snapshots_dropped: u64,
    /// Entities in the world at the end.
    pub entities: u64,
    /// Players connected at the end.
    pub clients: u64,
}

/// A plain HTTP/1.0 GET: status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: arena\r\n\r\n").as_bytes()).await?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .context("HTTP request timed out")??;
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    Ok((status, body))
}

/// The server's address from a game URL like `ws://127.0.0.1:8080/ws`.
pub async fn server_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse().with_context(|| format!("bad url {url}"))?;
    let host = uri.host().context("no host in the url")?;
    let port = uri.port_u16().unwrap_or(80);
    tokio::net::lookup_host((host, port)).await?.next().with_context(|| format!("cannot resolve {host}"))
}

/// One reading of `/stats`.
#[derive(Clone, Debug)]
pub struct StatsScrape {
    /// When it was read.
    pub at: Instant,
    /// The JSON.
    pub stats: serde_json::Value,
}

/// Reads `/stats` now.
pub async fn scrape(addr: SocketAddr) -> anyhow::Result<StatsScrape> {
    let (status, body) = http_get(addr, "/stats").await?;
    if status != 200 {
        bail!("/stats answered {status}");
    }
    Ok(StatsScrape { at: Instant::now(), stats: serde_json::from_str(&body).context("/stats is not JSON")? })
}

fn histogram_of(stats: &serde_json::Value, phase: &str) -> Histogram<u64> {
    let mut h = crate::bot::rtt_histogram();
    if let Some(pairs) = stats["phases"][phase]["recorded"].as_array() {
        for p in pairs {
            if let (Some(v), Some(c)) = (p[0].as_u64(), p[1].as_u64()) {
                h.saturating_record_n(v.max(1), c);
            }
        }
    }
    h
}

fn window_percentiles(start: &serde_json::Value, end: &serde_json::Value, phase: &str) -> TickPercentiles {
    let mut h = histogram_of(end, phase);
    let _ = h.subtract(histogram_of(start, phase));
    if h.is_empty() {
        return TickPercentiles::default();
    }
    let ms = |v: u64| v as f64 / 1000.0;
    TickPercentiles {
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// The server's figures between two scrapes.
#[must_use]
pub fn window(start: &StatsScrape, end: &StatsScrape) -> ServerWindow {
    let secs = (end.at - start.at).as_secs_f64().max(1e-3);
    let num = |s: &StatsScrape, k: &str| s.stats[k].as_u64().unwrap_or(0);
    let diff = |k: &str| num(end, k).saturating_sub(num(start, k));
    ServerWindow {
        tick_hz: num(end, "tick_hz"),
        tick_ms: window_percentiles(&start.stats, &end.stats, "total"),
        replicate_ms: window_percentiles(&start.stats, &end.stats, "replicate"),
        simulate_ms: window_percentiles(&start.stats, &end.stats, "simulate"),
        ticks: diff("ticks"),
        overruns: diff("overruns"),
        skipped_ticks: diff("skipped_ticks"),
        bytes_sent_per_s: diff("bytes_sent") as f64 / secs,
        snapshots_dropped: diff("snapshots_dropped"),
        entities: num(end, "entities"),
        clients: num(end, "clients"),
    }
}
