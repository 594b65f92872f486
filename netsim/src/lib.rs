//! A link conditioner: delays a stream of frames as a slow, jittery network would, keeping their
//! order (as TCP does: a frame never overtakes the one sent before it).
//!
//! This is a development and test tool. Arena's tests run on loopback, where nothing is ever late;
//! the server (`--sim-latency`, `--sim-jitter`) and the bots (the same flags) put a [`DelayLine`]
//! on each direction of each connection so that prediction, input timing, interpolation and lag
//! compensation can be tried and tested at 150 ms without a kernel `netem`. It is sans-IO: time
//! comes in as an [`Instant`] argument and the caller sleeps until [`DelayLine::next_due`].

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// One direction of one link: every frame is delayed by `latency`, plus or minus up to `jitter`,
/// but never delivered before the frame sent ahead of it.
///
/// The jitter is a bounded random walk, as queueing delay on a real path is: each frame's delay
/// moves from the previous one's by at most half the jitter, reflecting at ±`jitter`, so it
/// wanders over the whole range within a dozen or so frames. Independent delays per frame would,
/// once order is kept, pile frames sent close together up behind the slowest one and raise the
/// mean delay above `latency`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkProfile {
    /// Mean one-way delay.
    pub latency: Duration,
    /// Largest deviation from `latency`, either way.
    pub jitter: Duration,
}

impl LinkProfile {
    /// Whether the profile delays anything at all.
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.latency.is_zero() && self.jitter.is_zero()
    }
}

/// A one-way latency setting: one value for every link, or a range spread over many links (a swarm
/// playing at a mix of latencies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Lowest latency.
    pub min: Duration,
    /// Highest latency (equal to `min` for a single value).
    pub max: Duration,
}

impl Latency {
    /// Latency of link `i` of `n`: evenly spread from `min` to `max`, so that every part of the
    /// range is represented whatever `n` is.
    #[must_use]
    pub fn spread(&self, i: usize, n: usize) -> Duration {
        if n <= 1 || self.max <= self.min {
            return self.min;
        }
        self.min + (self.max - self.min).mul_f64(i as f64 / (n - 1) as f64)
    }

    /// Whether this is a range rather than one value.
    #[must_use]
    pub fn is_range(&self) -> bool {
        self.max > self.min
    }
}

impl FromStr for Latency {
    type Err = String;

    /// `75ms`, or a range `20ms..200ms`.
    fn from_str(s: &str) -> Result<Latency, String> {
        let one =
            |t: &str| humantime::parse_duration(t.trim()).map_err(|e| format!("`{t}`: {e} (try 75ms or 20ms..200ms)"));
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (one(a)?, one(b)?),
            None => {
                let d = one(s)?;
                (d, d)
            }
        };
        if max < min {
            return Err(format!("`{s}`: the range must go from low to high"));
        }
        if max > Duration::from_secs(10) {
            return Err(format!("`{s}`: at most 10s"));
        }
        Ok(Latency { min, max })
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_range() {
            write!(f, "{}..{}", humantime::format_duration(self.min), humantime::format_duration(self.max))
        } else {
            write!(f, "{}", humantime::format_duration(self.min))
        }
    }
}

/// Parses a jitter such as `15ms` (at most 10 s).
pub fn parse_jitter(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("`{s}`: {e} (try 15ms)"))?;
    if d > Duration::from_secs(10) { Err(format!("`{s}`: at most 10s")) } else { Ok(d) }
}

/// Frames in flight on one direction of a conditioned link, each with the time it is due.
#[derive(Debug)]
pub struct DelayLine<T> {
    profile: LinkProfile,
    in_flight: VecDeque<(Instant, T)>,
    last_due: Option<Instant>,
    /// The current deviation from the latency, in seconds (within ±jitter).
    offset: f64,
    rng: Pcg64Mcg,
}

impl<T> DelayLine<T> {
    /// An empty line with this profile; `seed` makes its jitter repeatable.
    #[must_use]
    pub fn new(profile: LinkProfile, seed: u64) -> DelayLine<T> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let j = profile.jitter.as_secs_f64();
        let offset = if j > 0.0 { rng.random_range(-j..=j) } else { 0.0 };
        DelayLine { profile, in_flight: VecDeque::new(), last_due: None, offset, rng }
    }

    /// The profile this line applies.
    #[must_use]
    pub fn profile(&self) -> LinkProfile {
        self.profile
    }

    /// Sends `item` at `now`; returns when it will be due.
    pub fn push(&mut self, now: Instant, item: T) -> Instant {
        let mut delay = self.profile.latency;
        if !self.profile.jitter.is_zero() {
            let j = self.profile.jitter.as_secs_f64();
            let mut offset = self.offset + self.rng.random_range(-j / 2.0..=j / 2.0);
            if offset > j {
                offset = 2.0 * j - offset;
            } else if offset < -j {
                offset = -2.0 * j - offset;
            }
            self.offset = offset;
            delay = Duration::from_secs_f64((delay.as_secs_f64() + offset).max(0.0));
        }
        let mut due = now + delay;
        if let Some(last) = self.last_due
            && due < last
        {
            due = last; // order kept: no frame overtakes the one ahead of it
        }
        self.last_due = Some(due);
        self.in_flight.push_back((due, item));
        due
    }

    /// When the next frame is due, if any is in flight.
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        self.in_flight.front().map(|(due, _)| *due)
    }

    /// Takes the next frame if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.in_flight.front().is_some_and(|(due, _)| *due <= now) {
            self.in_flight.pop_front().map(|(_, item)| item)
        } else {
            None
        }
    }

    /// Frames in flight.
    #[must_use]
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether nothing is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn latencies_parse_as_values_or_ranges() {
        assert_eq!("75ms".parse::<Latency>(), Ok(Latency { min: ms(75), max: ms(75) }));
        assert_eq!("20ms..200ms".parse::<Latency>(), Ok(Latency { min: ms(20), max: ms(200) }));
        assert!("200ms..20ms".parse::<Latency>().is_err(), "a range must ascend");
        assert!("fast".parse::<Latency>().is_err());
        assert!("11s".parse::<Latency>().is_err(), "absurd latencies are refused");
        let r: Latency = "20ms..200ms".parse().unwrap_or_default();
        assert_eq!((r.spread(0, 10), r.spread(9, 10), r.spread(0, 1)), (ms(20), ms(200), ms(20)));
        assert_eq!(r.to_string(), "20ms..200ms");
    }

    #[test]
    fn frames_are_delayed_by_the_latency_and_jitter_and_never_reordered() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(LinkProfile { latency: ms(75), jitter: ms(15) }, 7);
        let mut dues = Vec::new();
        for i in 0..1000u64 {
            let sent = t0 + ms(i);
            let due = line.push(sent, i);
            assert!(due >= sent + ms(60), "never earlier than latency − jitter");
            dues.push(due);
        }
        assert!(dues.windows(2).all(|w| w[0] <= w[1]), "order must be kept");
        let late = dues.iter().enumerate().map(|(i, d)| (*d - (t0 + ms(i as u64))).as_millis()).max();
        assert!(late.is_some_and(|l| l <= 91), "the jitter bounds the delay (order kept adds nothing past the max)");
        let mut got = Vec::new();
        let end = t0 + Duration::from_secs(2);
        while let Some(i) = line.pop_due(end) {
            got.push(i);
        }
        assert_eq!(got, (0..1000).collect::<Vec<_>>(), "everything arrives, in order");
        assert!(line.is_empty());
    }

    #[test]
    fn the_mean_delay_is_the_latency_even_for_frames_sent_close_together() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(LinkProfile { latency: ms(75), jitter: ms(15) }, 3);
        // Pairs of frames 1 ms apart every 33 ms (a snapshot and a pong, say), for ~10 minutes.
        let mut delays = Vec::new();
        for i in 0..36_000u64 {
            let sent = t0 + ms(33 * (i / 2) + i % 2);
            delays.push((line.push(sent, ()) - sent).as_secs_f64() * 1000.0);
        }
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        assert!((mean - 75.0).abs() < 1.5, "the mean delay should be the latency, got {mean:.1} ms");
        let (lo, hi) = delays.iter().fold((f64::MAX, 0f64), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
        assert!(lo < 62.0 && hi > 88.0, "the delay should wander over the whole ±15 ms: {lo:.1}..{hi:.1}");
    }

    #[test]
    fn nothing_is_delivered_before_it_is_due() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(LinkProfile { latency: ms(50), jitter: Duration::ZERO }, 1);
        line.push(t0, "a");
        assert_eq!(line.pop_due(t0 + ms(49)), None);
        assert_eq!(line.next_due(), Some(t0 + ms(50)));
        assert_eq!(line.pop_due(t0 + ms(50)), Some("a"));
        assert!(LinkProfile::default().is_off());
    }
}
