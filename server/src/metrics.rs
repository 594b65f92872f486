//! What operators watch: the server's counters and gauges, per-phase tick durations, process CPU
//! and memory — exported at `/metrics` in the Prometheus text format — and precise cumulative
//! tick histograms for `/stats` and the load test.
//!
//! Counters are atomics (prometheus-client's own types), so the network tasks and the room thread
//! update them without locks; the tick histograms are observed once per phase per tick.

use hdrhistogram::Histogram as Hdr;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The phases of a tick, as labelled in `arena_tick_duration_seconds{phase}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Draining the commands (joins, inputs, leaves) that arrived since the last tick.
    Inputs,
    /// Running the ECS schedule and broadcasting its events.
    Simulate,
    /// Quantizing the world, interest, deltas and encoding each client's snapshot.
    Replicate,
    /// Putting snapshots into the clients' mailboxes (and the scoreboard, and slow-client closes).
    Handoff,
    /// The whole tick.
    Total,
}

impl Phase {
    /// Every phase, in tick order, `Total` last.
    pub const ALL: [Phase; 5] = [Phase::Inputs, Phase::Simulate, Phase::Replicate, Phase::Handoff, Phase::Total];

    /// The label value.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Phase::Inputs => "inputs",
            Phase::Simulate => "simulate",
            Phase::Replicate => "replicate",
            Phase::Handoff => "handoff",
            Phase::Total => "total",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

/// Makes tick histograms with the room's bucket bounds.
#[derive(Clone, Debug)]
struct TickBuckets(Vec<f64>);

impl MetricConstructor<Histogram> for TickBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A room's name as a label: bounded, since a room's series are removed when it closes and at
/// most `--max-rooms` are open.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoomLabel {
    room: String,
}

/// Process-wide counters, gauges and tick histograms (the sums over every room), and each open
/// room's series labelled with its name.
pub struct ServerStats {
    /// Players in all rooms now.
    pub clients: Gauge,
    /// WebSocket connections open now (handshaking or playing).
    pub connections: Gauge,
    /// Replicated entities in all rooms' worlds after their last ticks.
    pub entities: Gauge,
    /// Rooms open now.
    pub rooms_open: Gauge,
    /// Rooms opened since the process started.
    pub rooms_opened: Counter,
    /// Ticks simulated.
    pub ticks: Counter,
    /// Ticks that finished after the next tick's deadline.
    pub overruns: Counter,
    /// Ticks started late, back to back, to catch up after an overrun.
    pub catch_up_ticks: Counter,
    /// Ticks skipped because the room fell too far behind its schedule.
    pub skipped_ticks: Counter,
    /// Payload bytes written to clients (WebSocket frame payloads).
    pub bytes_sent: Counter,
    /// Payload bytes received from clients.
    pub bytes_received: Counter,
    /// Snapshots handed to writers.
    pub snapshots_sent: Counter,
    /// Snapshots retracted before their writer took them (backpressure).
    pub snapshots_dropped: Counter,
    /// Inputs dropped because the room's input channel was full.
    pub inputs_dropped: Counter,
    /// Full snapshots clients asked for after their world stopped matching (desyncs).
    pub desyncs_reported: Counter,
    /// Ships kept for players whose connection was lost (the resume grace).
    pub suspended: Gauge,
    /// Rooms that cannot hold their tick rate with more players now (admission control: while
    /// any is, new players are turned away with `ServerBusy` and `/readyz` answers 503).
    pub busy: Gauge,
    /// Players who came back with their resume token.
    pub resumes: Counter,
    /// Ticks whose input had not arrived and was speculated from the last one.
    pub inputs_speculated: Counter,
    /// Late inputs whose buttons differed from the speculation (a correction for that client).
    pub inputs_mispredicted: Counter,
    /// Ticks that applied two inputs of one client to drain a backlog.
    pub inputs_drained: Counter,
    /// Projectiles fired.
    pub shots_fired: Counter,
    /// Shots whose shooter saw the targets further back than `--max-rewind` (rewound only that far).
    pub shots_rewind_capped: Counter,
    /// Sum of the rewinds shooters asked for, in ticks (divide by `shots_fired` for the mean).
    pub shots_rewind_wanted_ticks: Counter<f64, std::sync::atomic::AtomicU64>,
    /// Client messages dropped because the client was over its message budget.
    pub messages_dropped: Counter,
    /// `RequestFull` messages ignored because the client had one served moments before.
    pub full_requests_ignored: Counter,
    /// Times a room thread panicked.
    pub room_panics: Counter,
    /// Health pings sent to the Agones sidecar (`--agones`).
    pub agones_health_pings: Counter,
    closed: Family<ReasonLabel, Counter>,
    rooms_closed: Family<ReasonLabel, Counter>,
    room_players: Family<RoomLabel, Gauge>,
    room_tick: Family<RoomLabel, Histogram, TickBuckets>,
    refused: Family<ReasonLabel, Counter>,
    tls_handshake_failures: Family<ReasonLabel, Counter>,
    tick_duration: Family<PhaseLabel, Histogram, TickBuckets>,
    /// The family's histograms, looked up once (a handle shares the family's data).
    phase_histograms: Vec<Histogram>,
    process_cpu: Counter<f64, AtomicU64>,
    process_memory: Gauge,
    heap_live: Gauge,
    tokio_tasks: Gauge,
    registry: Registry,
    hdr: Mutex<TickHistograms>,
    /// The close and refusal reasons seen so far (for `/stats`: the families cannot be listed).
    labels: Mutex<(std::collections::BTreeSet<&'static str>, std::collections::BTreeSet<&'static str>)>,
}

/// Cumulative HDR histograms of phase durations in microseconds, over every room's ticks since
/// the process started.
#[derive(Clone, Debug)]
pub struct TickHistograms {
    /// One per [`Phase::ALL`], same order.
    pub phases: Vec<Hdr<u64>>,
}

impl Default for TickHistograms {
    fn default() -> Self {
        TickHistograms { phases: Phase::ALL.iter().map(|_| micros_histogram()).collect() }
    }
}

/// An empty histogram of 1 µs .. 60 s at 3 significant digits.
#[must_use]
pub fn micros_histogram() -> Hdr<u64> {
    Hdr::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("the bounds are valid constants"))
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats::new(30)
    }
}

impl std::fmt::Debug for ServerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStats").field("clients", &self.clients.get()).field("ticks", &self.ticks.get()).finish()
    }
}

/// Histogram bucket bounds in seconds with the tick budget (`1 / tick_hz`) on a boundary, fine
/// below it (where healthy ticks live) and a few above (where overruns show).
#[must_use]
pub fn tick_buckets(tick_hz: u16) -> Vec<f64> {
    let budget = 1.0 / f64::from(tick_hz.max(1));
    [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5, 2.0, 4.0]
        .iter()
        .map(|f| f * budget)
        .collect()
}

impl ServerStats {
    /// Stats for a room ticking at `tick_hz`, registered under the `arena_` prefix.
    #[must_use]
    pub fn new(tick_hz: u16) -> ServerStats {
        let buckets = tick_buckets(tick_hz);
        let stats = ServerStats {
            clients: Gauge::default(),
            connections: Gauge::default(),
            entities: Gauge::default(),
            rooms_open: Gauge::default(),
            rooms_opened: Counter::default(),
            ticks: Counter::default(),
            overruns: Counter::default(),
            catch_up_ticks: Counter::default(),
            skipped_ticks: Counter::default(),
            bytes_sent: Counter::default(),
            bytes_received: Counter::default(),
            snapshots_sent: Counter::default(),
            snapshots_dropped: Counter::default(),
            inputs_dropped: Counter::default(),
            desyncs_reported: Counter::default(),
            suspended: Gauge::default(),
            busy: Gauge::default(),
            resumes: Counter::default(),
            inputs_speculated: Counter::default(),
            inputs_mispredicted: Counter::default(),
            inputs_drained: Counter::default(),
            shots_fired: Counter::default(),
            shots_rewind_capped: Counter::default(),
            shots_rewind_wanted_ticks: Counter::default(),
            messages_dropped: Counter::default(),
            full_requests_ignored: Counter::default(),
            room_panics: Counter::default(),
            agones_health_pings: Counter::default(),
            closed: Family::default(),
            rooms_closed: Family::default(),
            room_players: Family::default(),
            room_tick: Family::new_with_constructor(TickBuckets(buckets.clone())),
            refused: Family::default(),
            tls_handshake_failures: Family::default(),
            tick_duration: Family::new_with_constructor(TickBuckets(buckets)),
            phase_histograms: Vec::new(),
            process_cpu: Counter::default(),
            process_memory: Gauge::default(),
            heap_live: Gauge::default(),
            tokio_tasks: Gauge::default(),
            registry: Registry::default(),
            hdr: Mutex::new(TickHistograms::default()),
            labels: Mutex::default(),
        };
        stats.registered()
    }

    fn registered(mut self) -> ServerStats {
        self.phase_histograms = Phase::ALL
            .iter()
            .map(|p| self.tick_duration.get_or_create(&PhaseLabel { phase: p.label() }).clone())
            .collect();
        let r = &mut self.registry;
        let arena = r.sub_registry_with_prefix("arena");
        arena.register("clients_connected", "Players in all rooms", self.clients.clone());
        arena.register(
            "room_busy",
            "Rooms that cannot hold their tick rate with more players (new ones are refused while any is)",
            self.busy.clone(),
        );
        arena.register("rooms_open", "Rooms open now", self.rooms_open.clone());
        arena.register("rooms_opened", "Rooms opened since the process started", self.rooms_opened.clone());
        arena.register("rooms_closed", "Rooms closed, by reason: idle, panic, shutdown", self.rooms_closed.clone());
        arena.register("room_players", "Players in each open room", self.room_players.clone());
        arena.register_with_unit(
            "room_tick_duration",
            "Duration of each open room's whole ticks",
            Unit::Seconds,
            self.room_tick.clone(),
        );
        arena.register(
            "connections_open",
            "WebSocket connections open (handshaking or playing)",
            self.connections.clone(),
        );
        arena.register("entities", "Replicated entities in the world", self.entities.clone());
        arena.register("ticks", "Ticks simulated", self.ticks.clone());
        arena.register("tick_overruns", "Ticks that ended after the next tick's deadline", self.overruns.clone());
        arena.register("tick_catch_ups", "Ticks run late, back to back, to catch up", self.catch_up_ticks.clone());
        arena.register("ticks_skipped", "Ticks skipped after falling too far behind", self.skipped_ticks.clone());
        arena.register("bytes_sent", "Payload bytes written to clients", self.bytes_sent.clone());
        arena.register("bytes_received", "Payload bytes read from clients", self.bytes_received.clone());
        arena.register("snapshots_sent", "Snapshots handed to connection writers", self.snapshots_sent.clone());
        arena.register(
            "snapshots_dropped",
            "Snapshots replaced before a slow client's writer took them (backpressure)",
            self.snapshots_dropped.clone(),
        );
        arena.register(
            "inputs_dropped",
            "Inputs dropped because the room's queue was full",
            self.inputs_dropped.clone(),
        );
        arena.register(
            "desyncs_reported",
            "Full snapshots clients asked for after a checksum mismatch",
            self.desyncs_reported.clone(),
        );
        arena.register("players_suspended", "Ships kept for players whose connection was lost", self.suspended.clone());
        arena.register("resumes", "Players who came back with their resume token", self.resumes.clone());
        arena.register(
            "inputs_speculated",
            "Ticks whose input had not arrived in time and was speculated from the last one",
            self.inputs_speculated.clone(),
        );
        arena.register(
            "inputs_mispredicted",
            "Late inputs whose buttons differed from the speculation",
            self.inputs_mispredicted.clone(),
        );
        arena.register(
            "inputs_drained",
            "Ticks that applied two inputs of one client to drain a backlog",
            self.inputs_drained.clone(),
        );
        arena.register("shots_fired", "Projectiles fired", self.shots_fired.clone());
        arena.register(
            "shots_rewind_capped",
            "Shots whose shooter saw the targets further back than --max-rewind (lag compensation capped)",
            self.shots_rewind_capped.clone(),
        );
        arena.register(
            "shots_rewind_wanted_ticks",
            "Sum of the rewinds shooters asked for, in ticks (over shots_fired: the mean)",
            self.shots_rewind_wanted_ticks.clone(),
        );
        arena.register(
            "connections_closed",
            "Connections that ended, by reason: the Bye reasons of the protocol, or client_left",
            self.closed.clone(),
        );
        arena.register(
            "connections_refused",
            "WebSocket upgrades refused before a connection existed, by reason",
            self.refused.clone(),
        );
        arena.register(
            "tls_handshake_failures",
            "TLS handshakes that failed on the --tls-cert port, by reason: not_tls, closed, timeout, error",
            self.tls_handshake_failures.clone(),
        );
        arena.register(
            "messages_dropped",
            "Client messages dropped because the client was over its message budget",
            self.messages_dropped.clone(),
        );
        arena.register(
            "full_requests_ignored",
            "RequestFull messages ignored because one was served moments before",
            self.full_requests_ignored.clone(),
        );
        arena.register("room_panics", "Times a room thread panicked", self.room_panics.clone());
        arena.register(
            "agones_health_pings",
            "Health pings sent to the Agones sidecar (stop while a room is stuck)",
            self.agones_health_pings.clone(),
        );
        arena.register("tokio_tasks", "Tokio tasks alive in the server's runtime", self.tokio_tasks.clone());
        if crate::heap::live_bytes().is_some() {
            arena.register_with_unit(
                "heap_live",
                "Heap bytes in use (only with the heap-stats feature)",
                Unit::Bytes,
                self.heap_live.clone(),
            );
        }
        arena.register_with_unit(
            "tick_duration",
            "Duration of each tick phase",
            Unit::Seconds,
            self.tick_duration.clone(),
        );
        let process = r.sub_registry_with_prefix("process");
        process.register_with_unit(
            "cpu",
            "User and system CPU time of the process",
            Unit::Seconds,
            self.process_cpu.clone(),
        );
        process.register_with_unit(
            "resident_memory",
            "Resident set size of the process",
            Unit::Bytes,
            self.process_memory.clone(),
        );
        self
    }

    /// Counts a connection closed with a `Bye` of this reason.
    pub fn count_close(&self, label: &'static str) {
        self.closed.get_or_create(&ReasonLabel { reason: label }).inc();
        self.labels.lock().unwrap_or_else(PoisonError::into_inner).0.insert(label);
    }

    /// Connections closed so far, by reason (only reasons that happened).
    #[must_use]
    pub fn closed_counts(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let seen = self.labels.lock().unwrap_or_else(PoisonError::into_inner).0.clone();
        seen.into_iter().map(|l| (l, self.closed_with(l))).collect()
    }

    /// Upgrades refused so far, by reason (only reasons that happened).
    #[must_use]
    pub fn refused_counts(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let seen = self.labels.lock().unwrap_or_else(PoisonError::into_inner).1.clone();
        seen.into_iter().map(|l| (l, self.refused_with(l))).collect()
    }

    /// How many connections were closed with a `Bye` of this reason.
    #[must_use]
    pub fn closed_with(&self, label: &'static str) -> u64 {
        self.closed.get_or_create(&ReasonLabel { reason: label }).get()
    }

    /// Counts an upgrade refused before the connection existed, for this reason.
    pub fn count_refusal(&self, label: &'static str) {
        self.refused.get_or_create(&ReasonLabel { reason: label }).inc();
        self.labels.lock().unwrap_or_else(PoisonError::into_inner).1.insert(label);
    }

    /// How many upgrades were refused for this reason.
    #[must_use]
    pub fn refused_with(&self, label: &'static str) -> u64 {
        self.refused.get_or_create(&ReasonLabel { reason: label }).get()
    }

    /// Counts a TLS handshake that failed for this reason (see `net::tls::HandshakeFailure`).
    pub fn count_tls_handshake_failure(&self, label: &'static str) {
        self.tls_handshake_failures.get_or_create(&ReasonLabel { reason: label }).inc();
    }

    /// How many TLS handshakes failed for this reason.
    #[must_use]
    pub fn tls_handshake_failures_with(&self, label: &'static str) -> u64 {
        self.tls_handshake_failures.get_or_create(&ReasonLabel { reason: label }).get()
    }

    /// Whether any room is too loaded to take more players (see `room::load`).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.busy.get() > 0
    }

    /// The series of a room opening now: its players gauge and its tick histogram.
    #[must_use]
    pub fn room_series(&self, room: &str) -> (Gauge, Histogram) {
        let label = RoomLabel { room: room.to_owned() };
        self.rooms_open.inc();
        self.rooms_opened.inc();
        (self.room_players.get_or_create(&label).clone(), self.room_tick.get_or_create(&label).clone())
    }

    /// Removes a closed room's series and counts why it closed (`idle`, `panic`, `shutdown`).
    pub fn room_closed(&self, room: &str, reason: &'static str) {
        let label = RoomLabel { room: room.to_owned() };
        self.room_players.remove(&label);
        self.room_tick.remove(&label);
        self.rooms_open.dec();
        self.rooms_closed.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// How many rooms closed for this reason.
    #[must_use]
    pub fn rooms_closed_with(&self, reason: &'static str) -> u64 {
        self.rooms_closed.get_or_create(&ReasonLabel { reason }).get()
    }

    /// Records how long a phase of one tick took (Prometheus only).
    pub fn observe(&self, phase: Phase, took: Duration) {
        if let Some(h) = self.phase_histograms.get(phase as usize) {
            h.observe(took.as_secs_f64());
        }
    }

    /// Records one tick of a room, phase by phase, into the Prometheus histograms and the
    /// cumulative HDR histograms of `/stats` (one lock per tick; every room records into the
    /// same ones, so they hold every room's ticks).
    pub fn record_tick(&self, phases: [(Phase, Duration); 5]) {
        for (phase, took) in phases {
            self.observe(phase, took);
        }
        let mut all = self.hdr.lock().unwrap_or_else(PoisonError::into_inner);
        for (phase, took) in phases {
            if let Some(h) = all.phases.get_mut(phase as usize) {
                h.saturating_record(took.as_micros().max(1) as u64);
            }
        }
    }

    /// A copy of the last published cumulative tick histograms.
    #[must_use]
    pub fn tick_histograms(&self) -> TickHistograms {
        self.hdr.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The Prometheus text exposition of everything, process figures read now.
    #[must_use]
    pub fn render(&self) -> String {
        if let Some(p) = crate::process::sample() {
            let cpu = p.cpu_seconds - self.process_cpu.get();
            if cpu > 0.0 {
                self.process_cpu.inc_by(cpu);
            }
            self.process_memory.set(p.resident_bytes as i64);
        }
        if let Some(live) = crate::heap::live_bytes() {
            self.heap_live.set(live as i64);
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.tokio_tasks.set(runtime.metrics().num_alive_tasks() as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
