//! Whether the room can take more players: a sans-IO judgement over its recent ticks, fed by the
//! room thread after every tick and read by `/readyz` and the `Hello` handler (admission control
//! instead of collapse).
//!
//! The room is *busy* when, over the last `window` ticks, at least a tenth overran, any was
//! skipped, or the ticks took on average more than [`BUSY_SHARE`] of the budget (so it turns
//! busy just before it starts missing deadlines, not only after; until a window has passed, the
//! missing ticks count as idle). It stays busy until `hold`
//! ticks in a row were calm, so readiness does not flap while players come and go.

use std::collections::VecDeque;
use std::time::Duration;

/// The share of the tick budget that, spent on average, makes the room busy.
pub const BUSY_SHARE: f64 = 0.85;
/// When a player turned away because the room is busy should try again (the least time the
/// room stays busy).
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// One tick as the load gauge sees it.
#[derive(Clone, Copy, Debug)]
struct TickLoad {
    took: Duration,
    overran: bool,
    skipped: u64,
}

/// The room's recent load and the busy verdict drawn from it.
#[derive(Debug)]
pub struct LoadGauge {
    budget: Duration,
    window: usize,
    hold: u32,
    recent: VecDeque<TickLoad>,
    took_sum: Duration,
    overruns: usize,
    skipped: u64,
    busy: bool,
    calm_in_row: u32,
}

impl LoadGauge {
    /// A gauge for ticks of `budget`, judging the last `window` ticks and staying busy until
    /// `hold` calm ticks in a row.
    #[must_use]
    pub fn new(budget: Duration, window: usize, hold: u32) -> LoadGauge {
        LoadGauge {
            budget,
            window: window.max(1),
            hold,
            recent: VecDeque::with_capacity(window.max(1)),
            took_sum: Duration::ZERO,
            overruns: 0,
            skipped: 0,
            busy: false,
            calm_in_row: 0,
        }
    }

    /// The gauge a room at `tick_hz` uses: a 2-second window, busy for at least 5 seconds.
    #[must_use]
    pub fn for_tick_rate(tick_hz: u16) -> LoadGauge {
        let hz = u32::from(tick_hz.max(1));
        LoadGauge::new(Duration::from_secs(1) / hz, 2 * hz as usize, 5 * hz)
    }

    /// Records a tick that took `took` and whether it `overran`; returns the verdict.
    pub fn tick(&mut self, took: Duration, overran: bool) -> bool {
        self.push(TickLoad { took, overran, skipped: 0 })
    }

    /// Records that the room skipped `missed` ticks (it fell too far behind); returns the
    /// verdict (busy).
    pub fn skipped(&mut self, missed: u64) -> bool {
        self.push(TickLoad { took: Duration::ZERO, overran: true, skipped: missed })
    }

    /// Whether the room should take no more players now.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.busy
    }

    fn push(&mut self, t: TickLoad) -> bool {
        if self.recent.len() == self.window
            && let Some(old) = self.recent.pop_front()
        {
            self.took_sum -= old.took;
            self.overruns -= usize::from(old.overran);
            self.skipped -= old.skipped;
        }
        self.took_sum += t.took;
        self.overruns += usize::from(t.overran);
        self.skipped += t.skipped;
        self.recent.push_back(t);
        let heavy = self.skipped > 0
            || self.overruns * 10 >= self.window
            || self.took_sum.as_secs_f64() > BUSY_SHARE * self.budget.as_secs_f64() * self.window as f64;
        if heavy {
            self.busy = true;
            self.calm_in_row = 0;
        } else if self.busy {
            self.calm_in_row += 1;
            if self.calm_in_row >= self.hold {
                self.busy = false;
            }
        }
        self.busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_micros(33_333);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_room_well_within_its_budget_is_never_busy() {
        let mut g = LoadGauge::for_tick_rate(30);
        for k in 0..10_000u64 {
            // Up to 20 ms, with a rare overrun (under a tenth of any window).
            let overran = k % 100 == 0;
            assert!(!g.tick(ms(5 + k % 16), overran), "tick {k}");
        }
    }

    #[test]
    fn overruns_in_a_tenth_of_the_window_make_it_busy() {
        let mut g = LoadGauge::new(BUDGET, 60, 150);
        for _ in 0..5 {
            assert!(!g.tick(ms(40), true));
            for _ in 0..9 {
                assert!(!g.tick(ms(5), false));
            }
        }
        assert!(g.tick(ms(40), true), "the sixth overrun in 60 ticks");
    }

    #[test]
    fn a_skip_makes_it_busy_at_once() {
        let mut g = LoadGauge::new(BUDGET, 60, 150);
        g.tick(ms(5), false);
        assert!(g.skipped(12));
        assert!(g.busy());
    }

    #[test]
    fn ticks_close_to_the_budget_make_it_busy_before_any_deadline_is_missed() {
        let mut g = LoadGauge::new(BUDGET, 60, 150);
        for k in 0..59 {
            assert!(!g.tick(ms(25), false), "25 ms of 33 is 75 %: tick {k}");
        }
        let mut turned = None;
        for k in 0..60 {
            if g.tick(ms(31), false) {
                turned = Some(k);
                break;
            }
        }
        assert!(turned.is_some(), "31 ms of 33 (93 %) on average turns it busy");
    }

    #[test]
    fn it_stays_busy_until_the_hold_has_passed_calmly_then_recovers() {
        let mut g = LoadGauge::new(BUDGET, 60, 150);
        assert!(g.skipped(5));
        // The skip stays in the window for 60 ticks, then 150 calm ticks are needed.
        for k in 0..(59 + 149) {
            assert!(g.tick(ms(5), false), "still busy at calm tick {k}");
        }
        assert!(!g.tick(ms(5), false), "ready again");
        // And a calm tick in the middle of a heavy stretch does not reset it.
        assert!(g.skipped(1));
        assert!(g.tick(ms(5), false));
    }
}
