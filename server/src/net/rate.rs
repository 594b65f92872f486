//! A token bucket that limits how many messages a client may send.

use std::time::Instant;

/// Allows `rate` messages per second on average with bursts of up to `burst`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket.
    #[must_use]
    pub fn new(rate: f64, burst: f64, now: Instant) -> RateLimit {
        RateLimit { rate, burst, tokens: burst, last: now }
    }

    /// Takes one token at `now`; `false` when the bucket is empty (the client is flooding).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_only_the_rate() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10.0, 5.0, t0);
        assert!((0..5).all(|_| r.allow(t0)), "a full bucket should pass a burst");
        assert!(!r.allow(t0), "an empty bucket should refuse");
        assert!(r.allow(t0 + Duration::from_millis(100)), "one token refills in 1/rate seconds");
        assert!(!r.allow(t0 + Duration::from_millis(100)));
    }
}
