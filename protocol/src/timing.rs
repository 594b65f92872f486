//! Input timing on the client side: how a client turns the server's feedback
//! ([`crate::Snapshot::input_offset`]) into *time dilation* of its input clock.
//!
//! The server wants each client's input for a tick to arrive a little before that tick, with a
//! margin that covers the client's jitter, and no earlier (every tick an input waits is a tick of
//! input delay). It measures how early each client's inputs arrive and reports, in every snapshot,
//! the difference from what it wants, in 1/16 tick. The client then runs its input clock slightly
//! slower (too early) or faster (too late) until the offset is zero — the scheme Overwatch's
//! netcode calls time dilation. The controller is proportional with a clamp and a little smoothing:
//! the feedback arrives a round trip late, and a gentle gain keeps that delay from making the clock
//! overshoot. The browser client implements the same rule in `web-client/js/timing.js`.

/// Units of [`crate::Snapshot::input_offset`] per tick.
pub const OFFSET_UNITS_PER_TICK: f32 = 16.0;
/// Dilation per tick of offset: an input clock one tick early runs 3 % slower.
pub const DILATION_GAIN: f32 = 0.03;
/// The input clock never runs more than 10 % slower or faster than the tick rate.
pub const MAX_DILATION: f32 = 0.10;
/// Share of the way from the current dilation to the new target taken per snapshot.
pub const DILATION_SMOOTHING: f32 = 0.25;

/// The dilation the server's feedback asks for: the fraction by which the input period should
/// grow (positive: slower) or shrink (negative: faster).
#[must_use]
pub fn dilation_for(input_offset: i16) -> f32 {
    let ticks = f32::from(input_offset) / OFFSET_UNITS_PER_TICK;
    (ticks * DILATION_GAIN).clamp(-MAX_DILATION, MAX_DILATION)
}

/// A client's input clock rate, following the server's feedback smoothly.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dilation {
    current: f32,
}

impl Dilation {
    /// Takes the feedback of one snapshot; returns the dilation now in force.
    pub fn update(&mut self, input_offset: i16) -> f32 {
        self.current += (dilation_for(input_offset) - self.current) * DILATION_SMOOTHING;
        self.current
    }

    /// The dilation in force: the input period is `tick_period × (1 + dilation)`.
    #[must_use]
    pub fn current(&self) -> f32 {
        self.current
    }

    /// The period of the input clock for a room ticking every `tick` seconds.
    #[must_use]
    pub fn period(&self, tick: f64) -> f64 {
        tick * (1.0 + f64::from(self.current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_inputs_slow_the_clock_and_late_ones_speed_it_up() {
        assert!(dilation_for(16) > 0.0, "one tick early should slow the input clock");
        assert!(dilation_for(-16) < 0.0, "one tick late should speed it up");
        assert_eq!(dilation_for(0), 0.0);
        assert_eq!(dilation_for(i16::MAX), MAX_DILATION, "the dilation is clamped");
        assert_eq!(dilation_for(i16::MIN), -MAX_DILATION);
    }

    #[test]
    fn the_controller_converges_to_the_target_without_jumping() {
        let mut d = Dilation::default();
        let first = d.update(32);
        assert!(first > 0.0 && first < dilation_for(32), "the first step is only part of the way: {first}");
        for _ in 0..50 {
            d.update(32);
        }
        assert!((d.current() - dilation_for(32)).abs() < 1e-4, "it settles on the target");
        assert!((d.period(1.0) - (1.0 + f64::from(dilation_for(32)))).abs() < 1e-4);
    }

    /// A client whose inputs arrive `lead` ticks early, with the server reporting the offset of
    /// inputs sent `delay` snapshots earlier, ends near zero offset without oscillating wildly.
    #[test]
    fn a_delayed_feedback_loop_settles() {
        for delay in [0usize, 5, 10] {
            let mut d = Dilation::default();
            let mut lead = 3.0f64; // ticks early
            let mut history = std::collections::VecDeque::from(vec![lead; delay + 1]);
            let mut worst_after = 0.0f64;
            for step in 0..300 {
                let seen = history.pop_front().unwrap_or(lead);
                let offset = (seen * 16.0).round().clamp(-32768.0, 32767.0) as i16;
                let dil = d.update(offset);
                lead -= f64::from(dil); // a slower clock sends later: one tick × dilation per tick
                history.push_back(lead);
                if step > 150 {
                    worst_after = worst_after.max(lead.abs());
                }
            }
            assert!(
                worst_after < 0.1,
                "with {delay} snapshots of delay the lead should settle near 0, got {worst_after}"
            );
        }
    }
}
