//! The rooms of one process: where each new player goes (a room it names, or quick play), when a
//! room opens and when it closes. Each room is a [`Room`](crate::room::Room) on its own thread
//! (`room::runner`); they share nothing mutable but the process-wide counters and the
//! replication worker pool. The directory is the only place that knows them all.
//!
//! Placement is decided under one lock over *seats*: a seat is taken when a `Hello` is placed and
//! given back when that connection ends, so two players arriving at once cannot both take a
//! room's last place, and a room someone is joining is never closed as idle.

pub mod stats;

use crate::metrics::ServerStats;
use crate::room::RoomSettings;
use crate::room::runner::{self, RoomInbox, RoomThread};
use arena_protocol::{Bye, ByeReason};
use stats::{RoomStats, RoomSummary};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How rooms are made and filled.
#[derive(Clone, Copy, Debug)]
pub struct RoomsConfig {
    /// The settings of every room (`max_clients` is the room's capacity).
    pub room: RoomSettings,
    /// Most rooms open at once.
    pub max_rooms: u32,
    /// Most players in the process at once, over all rooms.
    pub max_players: u32,
    /// How long an empty room stays open.
    pub idle_timeout: Duration,
}

/// One open room: its inbox, its figures and its thread.
pub struct OpenRoom {
    /// Where its players' commands go.
    pub inbox: RoomInbox,
    /// Its live figures.
    pub stats: Arc<RoomStats>,
    thread: Mutex<Option<RoomThread>>,
}

impl OpenRoom {
    /// Asks the room's thread to stop (its players are told `ShuttingDown`).
    fn signal_stop(&self) {
        if let Some(thread) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            thread.signal_stop();
        }
    }

    /// Waits for the room's thread to end. Blocks.
    fn join(&self) {
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            thread.join();
        }
    }
}

/// A place in a room, held by one connection from its placement until it ends.
pub struct Seat {
    room: Arc<OpenRoom>,
}

impl Seat {
    /// The room's inbox.
    #[must_use]
    pub fn inbox(&self) -> &RoomInbox {
        &self.room.inbox
    }

    /// The room's name.
    #[must_use]
    pub fn room(&self) -> &str {
        &self.room.stats.name
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.stats.free_seat();
    }
}

#[derive(Default)]
struct Directory {
    rooms: BTreeMap<Arc<str>, Arc<OpenRoom>>,
    /// When each empty room became empty.
    empty_since: BTreeMap<Arc<str>, Instant>,
    /// Names given to quick-play rooms so far.
    next_auto: u64,
    /// The last room that panicked, and when.
    last_panic: Option<(Arc<str>, Instant)>,
    /// No new room opens and no player is placed (the process is shutting down).
    closed: bool,
}

impl Directory {
    /// The rooms whose thread still runs (a panicked one waits for the sweep).
    fn live(&self) -> impl Iterator<Item = &Arc<OpenRoom>> {
        self.rooms.values().filter(|r| !r.stats.has_ended())
    }

    /// Places held over all rooms.
    fn seated(&self) -> u64 {
        self.rooms.values().map(|r| u64::from(r.stats.seats())).sum()
    }
}

/// What `/healthz` needs to know of the rooms.
#[derive(Debug, Default)]
pub struct Health {
    /// Open rooms.
    pub rooms: usize,
    /// Players in them.
    pub players: u64,
    /// Rooms that have not finished a tick within the watchdog's time, and how long ago they did.
    pub stuck: Vec<(String, Duration)>,
    /// The last room that panicked (and was closed), and how long ago.
    pub last_panic: Option<(String, Duration)>,
}

/// Every room of the process.
pub struct Rooms {
    config: RoomsConfig,
    stats: Arc<ServerStats>,
    pool: Option<Arc<rayon::ThreadPool>>,
    directory: Mutex<Directory>,
}

fn full(message: String) -> Bye {
    Bye { reason: ByeReason::ServerFull, message, retry_after_ms: 0 }
}

impl Rooms {
    /// No rooms yet; they open as players arrive.
    #[must_use]
    pub fn new(config: RoomsConfig, stats: Arc<ServerStats>, pool: Option<Arc<rayon::ThreadPool>>) -> Rooms {
        Rooms { config, stats, pool, directory: Mutex::new(Directory::default()) }
    }

    fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rooms' settings.
    #[must_use]
    pub fn config(&self) -> &RoomsConfig {
        &self.config
    }

    /// Places a new connection: in the room `wanted` (opened if there is none of that name), or
    /// with `None` in the fullest room with a free place (quick play; a new room if all are
    /// full). A `resuming` player may take a room's last place even if its old connection still
    /// holds one (the room itself decides, as it knows the ship). Refusals are the `Bye` to send.
    pub fn place(&self, wanted: Option<&str>, resuming: bool) -> Result<Seat, Bye> {
        let mut dir = self.directory();
        if dir.closed {
            return Err(Bye {
                reason: ByeReason::ShuttingDown,
                message: "the server is shutting down".into(),
                retry_after_ms: 0,
            });
        }
        let capacity = self.config.room.max_clients;
        if dir.seated() >= u64::from(self.config.max_players) && !resuming {
            return Err(full(format!("the server is full ({} players)", self.config.max_players)));
        }
        let room = match wanted {
            Some(name) => match dir.rooms.get(name).filter(|r| !r.stats.has_ended()) {
                Some(room) if resuming || room.stats.seats() < capacity => room.clone(),
                Some(_) => return Err(full(format!("room {name} is full ({capacity} players)"))),
                None => self.open(&mut dir, name.into())?,
            },
            None => {
                let fullest = dir
                    .live()
                    .filter(|r| r.stats.seats() < capacity)
                    .max_by_key(|r| (r.stats.seats(), std::cmp::Reverse(r.stats.opened)));
                match fullest {
                    Some(room) => room.clone(),
                    None => {
                        let name = loop {
                            dir.next_auto += 1;
                            let name = format!("room-{}", dir.next_auto);
                            if !dir.rooms.contains_key(name.as_str()) {
                                break name;
                            }
                        };
                        self.open(&mut dir, name.into())?
                    }
                }
            }
        };
        room.stats.take_seat();
        dir.empty_since.remove(&room.stats.name);
        Ok(Seat { room })
    }

    /// Opens the room `name` (under the directory's lock).
    fn open(&self, dir: &mut Directory, name: Arc<str>) -> Result<Arc<OpenRoom>, Bye> {
        let open = dir.live().count();
        if open >= self.config.max_rooms as usize {
            return Err(full(format!("no room for another room ({} rooms are open)", self.config.max_rooms)));
        }
        // A room of that name whose thread ended is replaced.
        if let Some(ended) = dir.rooms.remove(&name) {
            if ended.stats.panicked() {
                dir.last_panic = Some((name.clone(), Instant::now()));
            }
            dir.empty_since.remove(&name);
            self.forget(&ended);
        }
        let settings = self.config.room;
        let (players, tick) = self.stats.room_series(&name);
        let stats = Arc::new(RoomStats::new(name.clone(), settings.max_clients, settings.sim.tick_hz, players, tick));
        let (inbox, thread) =
            runner::spawn(settings, self.stats.clone(), stats.clone(), self.pool.clone()).map_err(|e| {
                tracing::error!(room = %name, error = %e, "cannot start a room thread");
                self.stats.room_closed(&name, "error");
                Bye { reason: ByeReason::ServerError, message: "cannot open a room".into(), retry_after_ms: 0 }
            })?;
        tracing::info!(room = %name, rooms = open + 1, "room opened");
        let room = Arc::new(OpenRoom { inbox, stats, thread: Mutex::new(Some(thread)) });
        dir.rooms.insert(name, room.clone());
        Ok(room)
    }

    /// Takes a closed room's series out of the metrics, counting why it closed.
    fn forget(&self, room: &OpenRoom) {
        let reason = if room.stats.panicked() { "panic" } else { "idle" };
        self.stats.room_closed(&room.stats.name, reason);
    }

    /// The room called `name`, if open.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<OpenRoom>> {
        self.directory().rooms.get(name).cloned()
    }

    /// Closes the rooms that stayed empty for the idle timeout and forgets those whose thread
    /// ended (a panic); returns the rooms to stop (their threads are joined by the caller, off
    /// the lock: [`Rooms::stop_rooms`]).
    #[must_use]
    pub fn sweep(&self, now: Instant) -> Vec<Arc<OpenRoom>> {
        let mut dir = self.directory();
        let mut gone = Vec::new();
        let names: Vec<Arc<str>> = dir.rooms.keys().cloned().collect();
        for name in names {
            let Some(room) = dir.rooms.get(&name).cloned() else { continue };
            if room.stats.has_ended() {
                if room.stats.panicked() {
                    dir.last_panic = Some((name.clone(), now));
                }
                tracing::warn!(room = %name, panicked = room.stats.panicked(), "room thread ended; room closed");
            } else if room.stats.is_empty() {
                let since = *dir.empty_since.entry(name.clone()).or_insert(now);
                if now.saturating_duration_since(since) < self.config.idle_timeout {
                    continue;
                }
                tracing::info!(room = %name, "room idle; closing it");
            } else {
                dir.empty_since.remove(&name);
                continue;
            }
            dir.rooms.remove(&name);
            dir.empty_since.remove(&name);
            self.forget(&room);
            gone.push(room);
        }
        gone
    }

    /// Stops the threads of rooms taken out of the directory. Blocks until they end.
    pub fn stop_rooms(rooms: Vec<Arc<OpenRoom>>) {
        // All at once, then wait for each: paused rooms take up to a wake-up to notice.
        for room in &rooms {
            room.signal_stop();
        }
        for room in rooms {
            room.join();
        }
    }

    /// Takes no more players and stops every room (their players are told `ShuttingDown`).
    /// Blocks until every room thread has ended.
    pub fn close_all(&self) {
        let rooms: Vec<Arc<OpenRoom>> = {
            let mut dir = self.directory();
            dir.closed = true;
            dir.empty_since.clear();
            std::mem::take(&mut dir.rooms).into_values().collect()
        };
        for room in &rooms {
            self.stats.room_closed(&room.stats.name, "shutdown");
        }
        Rooms::stop_rooms(rooms);
    }

    /// Every open room as `/rooms` shows it, by name.
    #[must_use]
    pub fn summaries(&self, now: Instant) -> Vec<RoomSummary> {
        self.directory().live().map(|r| r.stats.summary(now)).collect()
    }

    /// The rooms' health: which are stuck (no tick within `watchdog`), and the last panic.
    #[must_use]
    pub fn health(&self, now: Instant, watchdog: Duration) -> Health {
        let dir = self.directory();
        let mut health = Health::default();
        for room in dir.live() {
            health.rooms += 1;
            health.players += u64::from(room.stats.players());
            match room.stats.since_last_tick(now) {
                Some(ago) if ago <= watchdog => {}
                // A room whose thread has not started yet counts from its opening.
                ago => {
                    let ago = ago.unwrap_or_else(|| now.saturating_duration_since(room.stats.opened));
                    if ago > watchdog {
                        health.stuck.push((room.stats.name.to_string(), ago));
                    }
                }
            }
        }
        health.last_panic =
            dir.last_panic.as_ref().map(|(name, at)| (name.to_string(), now.saturating_duration_since(*at)));
        health
    }

    /// Whether a quick-play player would find a place now (a room with a free place, or room
    /// for a new one, and the process below its player limit).
    #[must_use]
    pub fn has_room(&self) -> bool {
        let dir = self.directory();
        dir.seated() < u64::from(self.config.max_players)
            && (dir.live().count() < self.config.max_rooms as usize
                || dir.live().any(|r| r.stats.seats() < self.config.room.max_clients))
    }

    /// Players placed in rooms now (joining or playing), over all rooms.
    #[must_use]
    pub fn seated(&self) -> u64 {
        self.directory().seated()
    }
}
