//! When the room ticks: a sans-IO scheduler over absolute deadlines (`anchor + k·dt`, so there
//! is no drift), with `now` passed in, as quinn-proto passes time. The room thread asks it what
//! to do at each instant and tells it when a tick ended; tests drive it with a made-up clock.
//!
//! Missed-tick policy: a tick that ends after the next deadline is an *overrun*; the next ticks
//! then run back to back to catch up, but never more than `max_catch_up` ticks behind: past that
//! the missed ticks are skipped and the schedule re-anchored at `now`, so a long stall (a paused
//! VM, a swapped-out process) cannot spiral into ever more catching up.

use std::time::{Duration, Instant};

/// What the room thread should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet: sleep until this instant, then ask again.
    WaitUntil(Instant),
    /// Run the tick that was due at `deadline`.
    Run {
        /// When the tick was due.
        deadline: Instant,
        /// It starts more than a tenth of a tick late: a catch-up tick.
        catching_up: bool,
    },
    /// The room fell more than `max_catch_up` ticks behind: this many ticks are dropped and the
    /// schedule starts again at `now` (ask again to run the next tick).
    Skip {
        /// Whole ticks dropped.
        missed: u64,
    },
}

/// Deadlines of a fixed-rate loop, as a pure function of the times it is given.
#[derive(Clone, Debug)]
pub struct TickSchedule {
    dt: Duration,
    max_catch_up: u32,
    anchor: Instant,
    k: u32,
}

impl TickSchedule {
    /// A schedule of ticks every `dt` whose first tick is due at `start`; it catches up at most
    /// `max_catch_up` ticks before it skips.
    #[must_use]
    pub fn new(start: Instant, dt: Duration, max_catch_up: u32) -> TickSchedule {
        TickSchedule { dt, max_catch_up, anchor: start, k: 0 }
    }

    /// When the next tick is due.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.anchor + self.dt * self.k
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Instant) -> Step {
        let deadline = self.deadline();
        if now < deadline {
            return Step::WaitUntil(deadline);
        }
        let late = now - deadline;
        if late > self.dt * self.max_catch_up {
            let missed = (late.as_secs_f64() / self.dt.as_secs_f64()) as u64;
            self.anchor = now;
            self.k = 0;
            return Step::Skip { missed };
        }
        Step::Run { deadline, catching_up: late > self.dt / 10 }
    }

    /// The tick that [`TickSchedule::poll`] said to run ended at `now`; returns whether it
    /// overran (ended after the next tick was due).
    pub fn finished(&mut self, now: Instant) -> bool {
        let overran = now > self.deadline() + self.dt;
        self.k += 1;
        overran
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: Duration = Duration::from_millis(30);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs one tick at `now` if it is due, taking `took`; returns the step and the overrun flag.
    fn tick(s: &mut TickSchedule, now: Instant, took: Duration) -> (Step, bool) {
        let step = s.poll(now);
        let overran = matches!(step, Step::Run { .. }) && s.finished(now + took);
        (step, overran)
    }

    #[test]
    fn on_time_ticks_wait_for_absolute_deadlines_without_drift() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, DT, 3);
        assert_eq!(s.poll(t0), Step::Run { deadline: t0, catching_up: false });
        assert!(!s.finished(t0 + ms(7)));
        // Asked early, it says when; asked a little late (under dt/10), it runs on schedule.
        assert_eq!(s.poll(t0 + ms(7)), Step::WaitUntil(t0 + DT));
        assert_eq!(s.poll(t0 + ms(31)), Step::Run { deadline: t0 + DT, catching_up: false });
        assert!(!s.finished(t0 + ms(40)));
        // The next deadline is anchor + 2·dt, not "finish + dt": lateness does not accumulate.
        assert_eq!(s.poll(t0 + ms(41)), Step::WaitUntil(t0 + ms(60)));
        for k in 2..1000u32 {
            let due = t0 + DT * k;
            assert_eq!(s.poll(due), Step::Run { deadline: due, catching_up: false });
            assert!(!s.finished(due + ms(5)));
        }
        assert_eq!(s.deadline(), t0 + DT * 1000);
    }

    #[test]
    fn an_overrun_is_caught_up_back_to_back() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, DT, 3);
        // A 70 ms tick: it ends after the next deadline (30) and the one after (60).
        let (_, overran) = tick(&mut s, t0, ms(70));
        assert!(overran);
        // Ticks 1 and 2 run at once, late; each takes 5 ms.
        assert_eq!(s.poll(t0 + ms(70)), Step::Run { deadline: t0 + ms(30), catching_up: true });
        assert!(s.finished(t0 + ms(75)), "tick 1 ends after tick 2 was due (60): an overrun");
        assert_eq!(s.poll(t0 + ms(75)), Step::Run { deadline: t0 + ms(60), catching_up: true });
        assert!(!s.finished(t0 + ms(80)), "tick 2 ends before tick 3 is due (90): on time");
        // Caught up: tick 3 waits for its deadline.
        assert_eq!(s.poll(t0 + ms(80)), Step::WaitUntil(t0 + ms(90)));
    }

    #[test]
    fn a_long_stall_skips_and_re_anchors_instead_of_spiralling() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, DT, 3);
        let (_, overran) = tick(&mut s, t0, ms(1000));
        assert!(overran);
        // 970 ms behind tick 1's deadline: over 3 ticks, so skip 32 whole ticks and start again.
        let now = t0 + ms(1000);
        assert_eq!(s.poll(now), Step::Skip { missed: 32 });
        assert_eq!(s.poll(now), Step::Run { deadline: now, catching_up: false });
        assert!(!s.finished(now + ms(5)));
        assert_eq!(s.poll(now + ms(5)), Step::WaitUntil(now + DT));
    }

    #[test]
    fn exactly_max_catch_up_behind_still_catches_up() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, DT, 3);
        let (_, overran) = tick(&mut s, t0, ms(120));
        assert!(overran);
        // Tick 1 was due at 30: 90 ms = 3 ticks late, the most that is caught up.
        assert_eq!(s.poll(t0 + ms(120)), Step::Run { deadline: t0 + ms(30), catching_up: true });
        assert!(s.finished(t0 + ms(121)), "tick 1 ends after tick 2's deadline + dt");
        assert_eq!(s.poll(t0 + ms(121)), Step::Run { deadline: t0 + ms(60), catching_up: true });
    }

    #[test]
    fn a_steady_overload_overruns_every_tick_and_skips_now_and_then() {
        // Every tick takes 1.5 dt: the loop can never catch up; it must keep skipping rather
        // than fall further and further behind.
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, DT, 3);
        let mut now = t0;
        let (mut ran, mut skipped, mut overruns) = (0u64, 0u64, 0u64);
        while now < t0 + Duration::from_secs(10) {
            match s.poll(now) {
                Step::WaitUntil(at) => now = at,
                Step::Skip { missed } => skipped += missed,
                Step::Run { .. } => {
                    ran += 1;
                    now += ms(45);
                    overruns += u64::from(s.finished(now));
                }
            }
            assert!(now.saturating_duration_since(s.deadline()) <= DT * 5, "the schedule never drifts far behind");
        }
        assert!((221..=223).contains(&ran), "10 s at 45 ms a tick: {ran}");
        // The 333 ticks of 10 s are run or skipped, less the fraction of a tick each re-anchoring
        // drops (under half a tick a skip) and the few still owed; none is counted twice.
        assert!(skipped >= 80, "about a third of the ticks are skipped: {skipped}");
        assert!((300..=334).contains(&(ran + skipped)), "every tick is run or skipped once: {}", ran + skipped);
        assert!(overruns > ran / 2, "{overruns} overruns of {ran}");
    }
}
