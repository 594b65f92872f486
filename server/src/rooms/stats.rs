//! What one room reports about itself while it runs: players, the last tick (for the watchdog),
//! load, and its tick durations over the last seconds (for `/rooms` and the console). Written by
//! the room's thread after every tick, read by HTTP handlers and the directory, all lock-free but
//! the recent-ticks window (locked once per tick and per read).

use hdrhistogram::Histogram as Hdr;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Seconds of tick durations `/rooms` summarises.
pub const RECENT_SECONDS: u64 = 10;

/// One room's live figures.
#[derive(Debug)]
pub struct RoomStats {
    /// The room's name.
    pub name: Arc<str>,
    /// Most players it takes.
    pub capacity: u32,
    /// Its tick rate.
    pub tick_hz: u16,
    /// When it was opened.
    pub opened: Instant,
    players: AtomicU32,
    suspended: AtomicU32,
    seats: AtomicU32,
    last_tick_us: AtomicU64,
    ticks: AtomicU64,
    overruns: AtomicU64,
    busy: AtomicBool,
    ended: AtomicBool,
    panicked: AtomicBool,
    recent: Mutex<RecentTicks>,
    /// `arena_room_players{room}`.
    players_gauge: Gauge,
    /// `arena_room_tick_duration_seconds{room}`.
    tick_histogram: Histogram,
}

/// What `/rooms` says of one room.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RoomSummary {
    /// The room's name.
    pub name: String,
    /// Players in it now.
    pub players: u32,
    /// Most players it takes.
    pub capacity: u32,
    /// Ships kept for players whose connection was lost.
    pub suspended: u32,
    /// Its tick rate.
    pub tick_hz: u16,
    /// Ticks run in the last [`RECENT_SECONDS`].
    pub recent_ticks: u64,
    /// Median tick duration over the last [`RECENT_SECONDS`], in ms (0 with no tick).
    pub tick_p50_ms: f64,
    /// 99th percentile of the same.
    pub tick_p99_ms: f64,
    /// Longest tick of the same.
    pub tick_max_ms: f64,
    /// Ticks that overran their deadline since the room opened.
    pub overruns: u64,
    /// Ticks since the room opened.
    pub ticks: u64,
    /// Whether the room cannot hold its tick rate with more players.
    pub busy: bool,
    /// Seconds since the room opened.
    pub age_s: u64,
}

impl RoomStats {
    /// Figures of a new room, exporting to the given Prometheus handles.
    #[must_use]
    pub fn new(
        name: Arc<str>,
        capacity: u32,
        tick_hz: u16,
        players_gauge: Gauge,
        tick_histogram: Histogram,
    ) -> RoomStats {
        RoomStats {
            name,
            capacity,
            tick_hz,
            opened: Instant::now(),
            players: AtomicU32::new(0),
            suspended: AtomicU32::new(0),
            seats: AtomicU32::new(0),
            last_tick_us: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            overruns: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            recent: Mutex::new(RecentTicks::default()),
            players_gauge,
            tick_histogram,
        }
    }

    /// The room thread, after each tick: how long it took, whether it overran, and who is in.
    pub fn tick_done(&self, now: Instant, took: Duration, overran: bool, players: usize, suspended: usize) {
        let since = now.saturating_duration_since(self.opened);
        self.last_tick_us.store(since.as_micros().max(1) as u64, Ordering::Relaxed);
        self.ticks.fetch_add(1, Ordering::Relaxed);
        if overran {
            self.overruns.fetch_add(1, Ordering::Relaxed);
        }
        let players = u32::try_from(players).unwrap_or(u32::MAX);
        self.players.store(players, Ordering::Relaxed);
        self.suspended.store(u32::try_from(suspended).unwrap_or(u32::MAX), Ordering::Relaxed);
        self.players_gauge.set(i64::from(players));
        self.tick_histogram.observe(took.as_secs_f64());
        self.recent.lock().unwrap_or_else(PoisonError::into_inner).record(since.as_secs(), took);
    }

    /// The room thread, when it starts: counts as a tick for the watchdog.
    pub fn started(&self) {
        let since = self.opened.elapsed();
        self.last_tick_us.store(since.as_micros().max(1) as u64, Ordering::Relaxed);
    }

    /// Sets the busy verdict; returns the previous one.
    pub fn set_busy(&self, busy: bool) -> bool {
        self.busy.swap(busy, Ordering::Relaxed)
    }

    /// Whether the room cannot hold its tick rate with more players.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// The room thread ended (`panicked`: because a tick panicked).
    pub fn end(&self, panicked: bool) {
        self.panicked.store(panicked, Ordering::Relaxed);
        self.ended.store(true, Ordering::Release);
        self.players_gauge.set(0);
    }

    /// Whether the room thread has ended.
    #[must_use]
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether the room thread ended in a panic.
    #[must_use]
    pub fn panicked(&self) -> bool {
        self.panicked.load(Ordering::Relaxed)
    }

    /// How long ago the room last finished a tick (or started); `None` if it never started.
    #[must_use]
    pub fn since_last_tick(&self, now: Instant) -> Option<Duration> {
        let at = self.last_tick_us.load(Ordering::Relaxed);
        (at > 0).then(|| now.saturating_duration_since(self.opened).saturating_sub(Duration::from_micros(at)))
    }

    /// Players in the room after its last tick.
    #[must_use]
    pub fn players(&self) -> u32 {
        self.players.load(Ordering::Relaxed)
    }

    /// Ships kept for lost connections after the last tick.
    #[must_use]
    pub fn suspended(&self) -> u32 {
        self.suspended.load(Ordering::Relaxed)
    }

    /// Places held by connections sent to this room (joining or playing).
    #[must_use]
    pub fn seats(&self) -> u32 {
        self.seats.load(Ordering::Relaxed)
    }

    /// Holds one more place (the directory does this under its lock).
    pub(crate) fn take_seat(&self) {
        self.seats.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives a place back (its connection ended).
    pub(crate) fn free_seat(&self) {
        self.seats.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether nobody is in, coming, or kept for: the room may close once idle long enough.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seats() == 0 && self.players() == 0 && self.suspended() == 0
    }

    /// The room as `/rooms` shows it, its recent ticks read at `now`.
    #[must_use]
    pub fn summary(&self, now: Instant) -> RoomSummary {
        let since = now.saturating_duration_since(self.opened).as_secs();
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner).window(since);
        let ms = |us: u64| us as f64 / 1000.0;
        RoomSummary {
            name: self.name.to_string(),
            players: self.players(),
            capacity: self.capacity,
            suspended: self.suspended(),
            tick_hz: self.tick_hz,
            recent_ticks: recent.len(),
            tick_p50_ms: ms(recent.value_at_quantile(0.5)),
            tick_p99_ms: ms(recent.value_at_quantile(0.99)),
            tick_max_ms: ms(recent.max()),
            overruns: self.overruns.load(Ordering::Relaxed),
            ticks: self.ticks.load(Ordering::Relaxed),
            busy: self.is_busy(),
            age_s: since,
        }
    }
}

/// An empty histogram for one second of a room's ticks: 1 µs to 60 s at 2 significant digits
/// (1 % is plenty for `/rooms`, and it takes 14 KiB where 3 digits take 130).
fn recent_histogram() -> Hdr<u64> {
    Hdr::new_with_bounds(1, 60_000_000, 2).unwrap_or_else(|_| unreachable!("the bounds are valid constants"))
}

/// Tick durations (µs) by second, the last [`RECENT_SECONDS`] kept.
#[derive(Debug, Default)]
struct RecentTicks {
    seconds: VecDeque<(u64, Hdr<u64>)>,
}

impl RecentTicks {
    /// Records a tick that ended in second `second` (counted from the room's opening).
    fn record(&mut self, second: u64, took: Duration) {
        if self.seconds.back().is_none_or(|(s, _)| *s != second) {
            let reuse = if self.seconds.len() >= RECENT_SECONDS as usize { self.seconds.pop_front() } else { None };
            let mut h = reuse.map_or_else(recent_histogram, |(_, h)| h);
            h.reset();
            self.seconds.push_back((second, h));
        }
        if let Some((_, h)) = self.seconds.back_mut() {
            h.saturating_record(took.as_micros().max(1) as u64);
        }
    }

    /// Every tick of the [`RECENT_SECONDS`] up to and including second `now`, merged.
    fn window(&self, now: u64) -> Hdr<u64> {
        let mut all = recent_histogram();
        for (second, h) in &self.seconds {
            if second + RECENT_SECONDS > now {
                // Same bounds on both sides: adding cannot fail.
                let _ = all.add(h);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> RoomStats {
        RoomStats::new("r".into(), 8, 30, Gauge::default(), Histogram::new([0.01, 0.1]))
    }

    #[test]
    fn the_summary_covers_the_last_ten_seconds_only() {
        let s = stats();
        let t0 = s.opened;
        for i in 0..30 {
            s.tick_done(t0 + Duration::from_millis(33 * i), Duration::from_millis(20), false, 3, 1);
        }
        let now = t0 + Duration::from_secs(1);
        let sum = s.summary(now);
        assert_eq!((sum.players, sum.suspended, sum.capacity, sum.recent_ticks), (3, 1, 8, 30));
        assert!((sum.tick_p50_ms - 20.0).abs() < 0.1, "p50 {}", sum.tick_p50_ms);
        for i in 0..30 {
            s.tick_done(
                t0 + Duration::from_secs(12) + Duration::from_millis(33 * i),
                Duration::from_millis(2),
                true,
                2,
                0,
            );
        }
        let sum = s.summary(t0 + Duration::from_secs(13));
        assert_eq!(sum.recent_ticks, 30, "the ticks of 12 s ago are out of the window");
        assert!((sum.tick_p99_ms - 2.0).abs() < 0.1, "p99 {}", sum.tick_p99_ms);
        assert_eq!((sum.ticks, sum.overruns), (60, 30));
        assert_eq!(s.summary(t0 + Duration::from_secs(30)).recent_ticks, 0, "nothing recent after a long pause");
    }

    #[test]
    fn a_room_is_empty_only_with_no_seat_no_player_and_no_ship_kept() {
        let s = stats();
        assert!(s.is_empty());
        s.take_seat();
        assert!(!s.is_empty(), "a player on the way");
        s.free_seat();
        s.tick_done(s.opened, Duration::from_millis(1), false, 0, 1);
        assert!(!s.is_empty(), "a ship kept for a lost connection");
        s.tick_done(s.opened, Duration::from_millis(1), false, 0, 0);
        assert!(s.is_empty());
    }
}
