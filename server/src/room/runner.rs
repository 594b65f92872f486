//! The room's OS thread: ticks a [`Room`] on absolute deadlines (`start + k·dt`, so there is no
//! drift), feeding it the commands that arrived since the last tick and timing each phase.
//!
//! Missed-tick policy: a tick that ends after the next deadline is an *overrun*; the loop then
//! runs the next ticks back to back to catch up, but never more than [`MAX_CATCH_UP_TICKS`]: past
//! that it skips the missed ticks and re-anchors its schedule, so a long stall cannot spiral.

use crate::metrics::{ServerStats, TickSummary};
use crate::room::{ClientId, Room, RoomCommand, RoomSettings};
use arena_protocol::{ByeReason, InputFrame};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most ticks the loop runs back to back to catch up before it skips instead.
pub const MAX_CATCH_UP_TICKS: u32 = 3;
/// Inputs that may wait for the room across all clients before new ones are dropped.
pub const INPUT_QUEUE_CAPACITY: usize = 1 << 16;
/// How often the tick timing summary is published and logged.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The sending side of a room, cloned into every connection task.
#[derive(Clone)]
pub struct RoomInbox {
    control: Sender<RoomCommand>,
    inputs: SyncSender<RoomCommand>,
    stats: Arc<ServerStats>,
}

impl RoomInbox {
    /// Sends a control command (join, full-snapshot request); never lost.
    pub fn control(&self, command: RoomCommand) {
        // The room only hangs up when it stops, and then nobody is waiting for the answer.
        let _ = self.control.send(command);
    }

    /// Tells the room that `client` is gone; never lost.
    pub fn leave(&self, client: ClientId) {
        let _ = self.control.send(RoomCommand::Leave { client });
    }

    /// Passes on one input without waiting; if the room is that far behind, the input is dropped
    /// and counted (the client reconciles from the acknowledged sequence number).
    pub fn input(&self, client: ClientId, input: InputFrame) {
        if let Err(TrySendError::Full(_)) = self.inputs.try_send(RoomCommand::Input { client, input }) {
            ServerStats::add(&self.stats.inputs_dropped, 1);
        }
    }
}

/// A running room thread.
pub struct RoomThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl RoomThread {
    /// Asks the room to say goodbye to everyone and stop, and waits for its thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.handle.join().is_err() {
            tracing::error!("the room thread panicked");
        }
    }
}

/// Starts a room on its own thread; returns the inbox for connections and the thread handle.
pub fn spawn(settings: RoomSettings, stats: Arc<ServerStats>) -> std::io::Result<(RoomInbox, RoomThread)> {
    let (control, control_rx) = mpsc::channel();
    let (inputs, inputs_rx) = mpsc::sync_channel(INPUT_QUEUE_CAPACITY);
    let inbox = RoomInbox { control, inputs, stats: stats.clone() };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let handle = std::thread::Builder::new().name("room".into()).spawn(move || {
        run(Room::new(settings, stats.clone()), settings, &stats, &control_rx, &inputs_rx, &stop_flag)
    })?;
    Ok((inbox, RoomThread { stop, handle }))
}

struct PhaseTimes {
    commands: Histogram<u64>,
    simulate: Histogram<u64>,
    replicate: Histogram<u64>,
    total: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits; the bounds are valid constants.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_micros().max(1) as u64);
}

fn run(
    mut room: Room,
    settings: RoomSettings,
    stats: &ServerStats,
    control: &Receiver<RoomCommand>,
    inputs: &Receiver<RoomCommand>,
    stop: &AtomicBool,
) {
    let dt = Duration::from_secs_f64(1.0 / f64::from(settings.sim.tick_hz));
    let mut times =
        PhaseTimes { commands: histogram(), simulate: histogram(), replicate: histogram(), total: histogram() };
    let mut anchor = Instant::now();
    let mut k: u32 = 0;
    let mut last_summary = Instant::now();
    tracing::info!(tick_hz = settings.sim.tick_hz, "room started");
    while !stop.load(Ordering::Relaxed) {
        let deadline = anchor + dt * k;
        let now = Instant::now();
        if now < deadline {
            std::thread::sleep(deadline - now);
        } else if now - deadline > dt * MAX_CATCH_UP_TICKS {
            let missed = ((now - deadline).as_secs_f64() / dt.as_secs_f64()) as u64;
            ServerStats::add(&stats.skipped_ticks, missed);
            tracing::warn!(missed, "room fell behind; skipping ticks");
            anchor = now;
            k = 0;
            continue;
        }

        let t0 = Instant::now();
        while let Ok(cmd) = control.try_recv() {
            room.handle(cmd);
        }
        while let Ok(cmd) = inputs.try_recv() {
            room.handle(cmd);
        }
        let t1 = Instant::now();
        room.simulate();
        let t2 = Instant::now();
        room.replicate();
        let t3 = Instant::now();

        record(&mut times.commands, t1 - t0);
        record(&mut times.simulate, t2 - t1);
        record(&mut times.replicate, t3 - t2);
        record(&mut times.total, t3 - t0);
        if t3 > deadline + dt {
            ServerStats::add(&stats.overruns, 1);
        }
        k += 1;

        if t3 - last_summary >= SUMMARY_EVERY {
            publish(stats, &mut times, room.members());
            last_summary = t3;
        }
    }
    room.close_all(ByeReason::ShuttingDown, "the server is shutting down");
    tracing::info!("room stopped");
}

fn publish(stats: &ServerStats, times: &mut PhaseTimes, members: usize) {
    let t = &times.total;
    let summary = TickSummary {
        count: t.len(),
        p50_us: t.value_at_quantile(0.5),
        p99_us: t.value_at_quantile(0.99),
        max_us: t.max(),
    };
    tracing::info!(
        members,
        ticks = summary.count,
        tick_p50_us = summary.p50_us,
        tick_p99_us = summary.p99_us,
        tick_max_us = summary.max_us,
        replicate_p99_us = times.replicate.value_at_quantile(0.99),
        simulate_p99_us = times.simulate.value_at_quantile(0.99),
        overruns = ServerStats::get(&stats.overruns),
        "tick timings"
    );
    *stats.tick_summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = summary;
    for h in [&mut times.commands, &mut times.simulate, &mut times.replicate, &mut times.total] {
        h.reset();
    }
}
