//! The room's OS thread: ticks a [`Room`] when its [`TickSchedule`] says (absolute deadlines,
//! catch-up and skips are decided there, from the time this loop reads), feeding it the commands
//! that arrived since the last tick and timing each phase.

use crate::mailbox::Mailbox;
use crate::metrics::{Phase, ServerStats};
use crate::room::load::LoadGauge;
use crate::room::post::Post;
use crate::room::schedule::{Step, TickSchedule};
use crate::room::{ClientId, Room, RoomCommand, RoomSettings};
use crate::rooms::stats::RoomStats;
use arena_protocol::{ByeReason, InputBatch, ResumeToken};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most ticks the loop runs back to back to catch up before it skips instead.
pub const MAX_CATCH_UP_TICKS: u32 = 3;
/// Input messages per member a room's input queue holds before new ones are dropped: two
/// seconds of one per tick at 30 Hz. The queue's slots are allocated up front (about 100 bytes
/// each), so it is sized by the room's capacity, not for the largest room there could be.
pub const INPUTS_PER_MEMBER: usize = 64;
/// The least input queue a room has, however small.
pub const MIN_INPUT_QUEUE: usize = 1024;

/// The input queue of a room of `capacity` players.
#[must_use]
pub fn input_queue_capacity(capacity: u32) -> usize {
    (capacity as usize).saturating_mul(INPUTS_PER_MEMBER).clamp(MIN_INPUT_QUEUE, 1 << 20)
}
/// How often the tick timing summary is logged.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// A control command, with the mailbox of a joining client.
type Control = (RoomCommand, Option<Arc<Mailbox>>);

/// The sending side of a room, cloned into every connection task.
#[derive(Clone)]
pub struct RoomInbox {
    control: Sender<Control>,
    inputs: SyncSender<RoomCommand>,
    faults: Sender<Fault>,
    stats: Arc<ServerStats>,
}

/// A failure injected into a room thread, so tests can prove that the watchdog and the panic
/// handling work. Only reachable in-process (there is no wire message for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The room thread sleeps this long in the middle of a tick (a stuck room).
    Stall(Duration),
    /// The room thread panics in the middle of a tick.
    Panic,
}

impl RoomInbox {
    /// Asks the room for a ship for `client`, whose frames go to `mailbox` (see
    /// [`RoomCommand::Join`]); never lost while the room runs. `false` if the room has stopped
    /// (shut down, or its thread died).
    pub fn join(
        &self,
        client: ClientId,
        name: String,
        mailbox: Arc<Mailbox>,
        resume: Option<ResumeToken>,
        require_resume: bool,
    ) -> bool {
        let command = RoomCommand::Join { client, name, resume, require_resume };
        self.control.send((command, Some(mailbox))).is_ok()
    }

    /// Sends a control command (a full-snapshot request); never lost while the room runs.
    /// `false` if the room has stopped (shut down, or its thread died).
    pub fn control(&self, command: RoomCommand) -> bool {
        self.control.send((command, None)).is_ok()
    }

    /// Tells the room that `client` is gone (`lost`: without a goodbye, so its ship waits for it
    /// to resume); never lost.
    pub fn leave(&self, client: ClientId, lost: bool) {
        let _ = self.control.send((RoomCommand::Leave { client, lost }, None));
    }

    /// Injects a fault into the room thread (tests only; see [`Fault`]).
    #[doc(hidden)]
    pub fn inject(&self, fault: Fault) {
        let _ = self.faults.send(fault);
    }

    /// Passes on one input message without waiting; if the room is that far behind, it is
    /// dropped and counted (the next message repeats its inputs).
    pub fn input(&self, client: ClientId, batch: InputBatch, received: Instant) {
        if let Err(TrySendError::Full(_)) = self.inputs.try_send(RoomCommand::Input { client, batch, received }) {
            self.stats.inputs_dropped.inc_by(1);
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
        self.signal_stop();
        self.join();
    }

    /// Asks the room to stop without waiting (it stops within a tick, or within
    /// [`IDLE_WAKE`] if it is paused): signal many rooms, then [`RoomThread::join`] each.
    pub fn signal_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the room's thread to end.
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("the room thread panicked");
        }
    }
}

/// How often a paused room (nobody in it, no ship kept) wakes to stamp the watchdog and look at
/// its stop flag and faults.
pub const IDLE_WAKE: Duration = Duration::from_millis(100);

/// Starts the room `room.name` on its own thread, encoding on `pool` if given; returns the inbox
/// for connections and the thread handle. `room` is where the thread reports its ticks.
pub fn spawn(
    settings: RoomSettings,
    stats: Arc<ServerStats>,
    room: Arc<RoomStats>,
    pool: Option<Arc<rayon::ThreadPool>>,
) -> std::io::Result<(RoomInbox, RoomThread)> {
    let (control, control_rx) = mpsc::channel();
    let (inputs, inputs_rx) = mpsc::sync_channel(input_queue_capacity(settings.max_clients));
    let (faults, faults_rx) = mpsc::channel();
    let inbox = RoomInbox { control, inputs, faults, stats: stats.clone() };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let thread_name = format!("room-{}", room.name);
    let handle = std::thread::Builder::new().name(thread_name).spawn(move || {
        let channels = Channels { control: control_rx, inputs: inputs_rx, faults: faults_rx };
        let shell = Shell { settings, stats: &stats, room: &room, channels: &channels, stop: &stop_flag };
        run(Room::named(room.name.clone(), settings, stats.clone(), pool), &shell);
    })?;
    Ok((inbox, RoomThread { stop, handle }))
}

/// What the loop around a [`Room`] works with.
struct Shell<'a> {
    settings: RoomSettings,
    stats: &'a ServerStats,
    room: &'a RoomStats,
    channels: &'a Channels,
    stop: &'a AtomicBool,
}

/// The receiving sides of a room's inbox.
struct Channels {
    control: Receiver<Control>,
    inputs: Receiver<RoomCommand>,
    faults: Receiver<Fault>,
}

/// Runs the room until stopped. If a tick panics, the room is beyond trust: everyone still
/// connected is told (`ServerError`), the panic is counted, and the thread ends, so the watchdog
/// turns `/healthz` to 503 and connections find the room gone.
fn run(mut room: Room, shell: &Shell<'_>) {
    let mut post = Post::default();
    let stats = shell.stats;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tick_loop(&mut room, &mut post, shell);
    }));
    if shell.room.set_busy(false) {
        stats.busy.dec();
    }
    if outcome.is_err() {
        stats.room_panics.inc();
        tracing::error!(room = %shell.room.name, "the room thread panicked; closing every connection");
        let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            room.close_all(ByeReason::ServerError, "the room stopped because of a server error");
            post.deliver(&mut room);
        }));
        if told.is_err() {
            tracing::error!(room = %shell.room.name, "the room could not tell its players; they will find it gone");
        }
    }
    shell.room.end(outcome.is_err());
}

fn tick_loop(room: &mut Room, post: &mut Post, shell: &Shell<'_>) {
    let Shell { settings, stats, room: room_stats, channels, stop } = *shell;
    let Channels { control, inputs, faults } = channels;
    let dt = Duration::from_secs_f64(1.0 / f64::from(settings.sim.tick_hz));
    let mut schedule = TickSchedule::new(Instant::now(), dt, MAX_CATCH_UP_TICKS);
    let mut load = LoadGauge::for_tick_rate(settings.sim.tick_hz);
    let mut last_summary = Instant::now();
    tracing::info!(room = %room_stats.name, tick_hz = settings.sim.tick_hz, "room started");
    room_stats.started();
    // A command that woke a paused room, handled first in the next tick.
    let mut woken_by: Option<Control> = None;
    while !stop.load(Ordering::Relaxed) {
        if room.members() == 0 && room.suspended() == 0 {
            // Nobody to simulate for: wait for a command instead of ticking (an empty room then
            // costs a wake-up every IDLE_WAKE, not a tick every 1/tick_hz). Its world stands still.
            match control.recv_timeout(IDLE_WAKE) {
                Ok(command) => {
                    woken_by = Some(command);
                    schedule = TickSchedule::new(Instant::now(), dt, MAX_CATCH_UP_TICKS);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    room_stats.started();
                    if let Ok(fault) = faults.try_recv() {
                        apply(fault);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let now = Instant::now();
        match schedule.poll(now) {
            Step::WaitUntil(deadline) => {
                std::thread::sleep(deadline - now);
                continue;
            }
            Step::Skip { missed } => {
                stats.skipped_ticks.inc_by(missed);
                set_busy(stats, room_stats, load.skipped(missed));
                tracing::warn!(room = %room_stats.name, missed, "room fell behind; skipping ticks");
                continue;
            }
            Step::Run { catching_up, .. } => {
                if catching_up {
                    stats.catch_up_ticks.inc();
                }
            }
        }

        let t0 = Instant::now();
        room.begin_tick(t0);
        while let Some((cmd, mailbox)) = woken_by.take().or_else(|| control.try_recv().ok()) {
            match (&cmd, mailbox) {
                (RoomCommand::Join { client, .. }, Some(mailbox)) => post.open(*client, mailbox),
                (RoomCommand::Leave { client, .. }, _) => post.forget(*client),
                _ => {}
            }
            room.handle(cmd);
        }
        while let Ok(cmd) = inputs.try_recv() {
            room.handle(cmd);
        }
        while let Ok(fault) = faults.try_recv() {
            apply(fault);
        }
        let t1 = Instant::now();
        room.simulate();
        let t2 = Instant::now();
        post.settle(room);
        room.replicate();
        let t3 = Instant::now();
        post.deliver(room);
        let t4 = Instant::now();

        stats.record_tick([
            (Phase::Inputs, t1 - t0),
            (Phase::Simulate, t2 - t1),
            (Phase::Replicate, t3 - t2),
            (Phase::Handoff, t4 - t3),
            (Phase::Total, t4 - t0),
        ]);
        let overran = schedule.finished(t4);
        if overran {
            stats.overruns.inc();
        }
        room_stats.tick_done(t4, t4 - t0, overran, room.members(), room.suspended());
        set_busy(stats, room_stats, load.tick(t4 - t0, overran));

        if t4 - last_summary >= SUMMARY_EVERY {
            let recent = room_stats.summary(t4);
            tracing::info!(
                room = %room_stats.name,
                members = room.members(),
                ticks = recent.recent_ticks,
                tick_p50_ms = recent.tick_p50_ms,
                tick_p99_ms = recent.tick_p99_ms,
                tick_max_ms = recent.tick_max_ms,
                overruns = recent.overruns,
                "tick timings"
            );
            last_summary = t4;
        }
    }
    room.close_all(ByeReason::ShuttingDown, "the server is shutting down");
    post.deliver(room);
    tracing::info!(room = %room_stats.name, "room stopped");
}

/// Does what an injected fault says.
fn apply(fault: Fault) {
    match fault {
        Fault::Stall(how_long) => std::thread::sleep(how_long),
        Fault::Panic => panic!("injected fault: the room panics"),
    }
}

/// Records the room's busy verdict, and the process's count of busy rooms when it changes.
fn set_busy(stats: &ServerStats, room: &RoomStats, busy: bool) {
    if room.set_busy(busy) != busy {
        if busy {
            stats.busy.inc();
        } else {
            stats.busy.dec();
        }
    }
}
