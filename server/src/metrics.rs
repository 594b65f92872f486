//! Counters shared by the room thread and the network tasks, and the room's tick timings.
//!
//! Counters are relaxed atomics: each is exact on its own, and a reader sees a recent value.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Players in the room now.
    pub clients: AtomicU64,
    /// WebSocket connections open now (handshaking or playing).
    pub connections: AtomicU64,
    /// Ticks simulated.
    pub ticks: AtomicU64,
    /// Ticks that finished after the next tick's deadline.
    pub overruns: AtomicU64,
    /// Ticks skipped because the room fell too far behind its schedule.
    pub skipped_ticks: AtomicU64,
    /// Payload bytes written to clients (WebSocket frame payloads).
    pub bytes_sent: AtomicU64,
    /// Payload bytes received from clients.
    pub bytes_received: AtomicU64,
    /// Snapshots handed to writers.
    pub snapshots_sent: AtomicU64,
    /// Snapshots replaced before their writer took them (backpressure).
    pub snapshots_dropped: AtomicU64,
    /// Full snapshots clients asked for after their world stopped matching (desyncs).
    pub desyncs_reported: AtomicU64,
    /// Inputs dropped because the room's input channel was full.
    pub inputs_dropped: AtomicU64,
    /// Connections the server closed with a `Bye`, by reason label.
    pub closed: Mutex<Vec<(&'static str, u64)>>,
    /// Latest tick timing summary of the room.
    pub tick_summary: Mutex<TickSummary>,
}

impl ServerStats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    #[must_use]
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts a connection closed with a `Bye` of this reason.
    pub fn count_close(&self, label: &'static str) {
        let mut closed = self.closed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match closed.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => closed.push((label, 1)),
        }
    }

    /// How many connections were closed with a `Bye` of this reason.
    #[must_use]
    pub fn closed_with(&self, label: &str) -> u64 {
        let closed = self.closed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        closed.iter().find(|(l, _)| *l == label).map_or(0, |(_, n)| *n)
    }
}

/// Percentiles of whole-tick durations over the room's last reporting window, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickSummary {
    /// Ticks in the window.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Longest.
    pub max_us: u64,
}
