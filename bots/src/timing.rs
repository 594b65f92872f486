//! A bot's input timing: the input clock that the server's feedback dilates, the redundant input
//! batches it sends, and the figures it keeps about both (the queue depths the server reported and
//! the dilation the bot used).
//!
//! Pure: time comes in as an [`Instant`] argument and nothing here touches a socket, so it is
//! tested without sleeping. The rule that turns the server's `input_offset` into a dilation is the
//! protocol's ([`arena_protocol::timing::Dilation`]), shared with the browser.

use arena_protocol::{InputBatch, InputCmd, ViewTime};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most commands a bot puts in one [`InputBatch`]: the newest and up to three unacknowledged ones
/// before it, so one late or lost message never leaves the server without an input.
pub const REDUNDANCY: usize = 4;

/// When the next input is due: one tick after the last, stretched or shrunk by the dilation the
/// server's feedback asks for.
///
/// The deadline advances from the previous deadline, not from when the bot got round to sending,
/// so the clock does not drift with the scheduler's lateness. A clock that fell a whole period
/// behind (the bot's task stalled) starts again one period from now instead of sending the inputs
/// it missed in a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputClock {
    due: Instant,
    tick: Duration,
}

impl InputClock {
    /// A clock whose first input is due at `first`, in a room ticking every `tick`.
    #[must_use]
    pub fn new(first: Instant, tick: Duration) -> InputClock {
        InputClock { due: first, tick }
    }

    /// When the next input is due.
    #[must_use]
    pub fn due(&self) -> Instant {
        self.due
    }

    /// The input period at `dilation`: `tick × (1 + dilation)`.
    #[must_use]
    pub fn period(&self, dilation: f32) -> Duration {
        // The protocol clamps a dilation to ±10 %; the clamp here only keeps `mul_f64` positive.
        self.tick.mul_f64(1.0 + f64::from(dilation).clamp(-0.5, 0.5))
    }

    /// The input due now has been sent at `now`: schedules the next one a dilated period later and
    /// returns when it is due.
    pub fn advance(&mut self, now: Instant, dilation: f32) -> Instant {
        let period = self.period(dilation);
        self.due += period;
        if self.due <= now {
            self.due = now + period;
        }
        self.due
    }
}

/// The commands the server has not acknowledged yet, and the batch to send each tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputLog {
    seq: u32,
    /// The last commands sent, oldest first; the last has sequence number `seq`.
    recent: VecDeque<InputCmd>,
}

impl InputLog {
    /// Sequence number of the last command (0 before the first).
    #[must_use]
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// Numbers `cmd` (one more than the last) and returns the batch that carries it: the commands
    /// after `acked` (the server's `ack_seq`), at most [`REDUNDANCY`], oldest first, the new one
    /// last; `view` is what the bot saw when it chose `cmd`.
    pub fn next(&mut self, cmd: InputCmd, acked: u32, view: ViewTime) -> InputBatch {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.recent.push_back(cmd);
        let unacked = self.seq.saturating_sub(acked).max(1) as usize;
        let keep = unacked.min(REDUNDANCY);
        while self.recent.len() > keep {
            self.recent.pop_front();
        }
        InputBatch::new(self.seq, view, self.recent.iter().copied().collect())
    }
}

/// How often each input-queue depth was reported: the server's
/// [`arena_protocol::Snapshot::input_queue`], one count per snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    counts: Vec<u64>,
}

impl QueueDepths {
    /// Counts one snapshot that reported `depth`.
    pub fn record(&mut self, depth: u8) {
        let d = usize::from(depth);
        if self.counts.len() <= d {
            self.counts.resize(d + 1, 0);
        }
        self.counts[d] += 1;
    }

    /// Adds another bot's counts.
    pub fn add(&mut self, other: &QueueDepths) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Snapshots counted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Mean depth (0 when nothing was counted).
    #[must_use]
    pub fn mean(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let sum: u64 = self.counts.iter().enumerate().map(|(d, c)| d as u64 * c).sum();
        sum as f64 / n as f64
    }

    /// The smallest depth that at least a share `q` (0–1) of the snapshots did not exceed
    /// (0 when nothing was counted).
    #[must_use]
    pub fn quantile(&self, q: f64) -> u32 {
        let n = self.count();
        let want = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (d, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return d as u32;
            }
        }
        0
    }

    /// Deepest queue reported (0 when nothing was counted).
    #[must_use]
    pub fn max(&self) -> u32 {
        self.counts.iter().rposition(|&c| c > 0).map_or(0, |d| d as u32)
    }
}

/// Count, mean and extremes of the dilation a bot's input clock ran at, one sample per input.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DilationStats {
    count: u64,
    sum: f64,
    min: f32,
    max: f32,
}

impl DilationStats {
    /// Counts one input sent at `dilation`.
    pub fn record(&mut self, dilation: f32) {
        if self.count == 0 {
            (self.min, self.max) = (dilation, dilation);
        } else {
            self.min = self.min.min(dilation);
            self.max = self.max.max(dilation);
        }
        self.count += 1;
        self.sum += f64::from(dilation);
    }

    /// Adds another bot's samples.
    pub fn add(&mut self, other: &DilationStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Inputs counted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean dilation (0 when nothing was counted).
    #[must_use]
    pub fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum / self.count as f64 }
    }

    /// Lowest dilation (fastest clock).
    #[must_use]
    pub fn min(&self) -> f32 {
        self.min
    }

    /// Highest dilation (slowest clock).
    #[must_use]
    pub fn max(&self) -> f32 {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::Tick;
    use arena_protocol::rules::Buttons;

    fn cmd(b: u8) -> InputCmd {
        InputCmd { buttons: Buttons(b), aim: u16::from(b) }
    }

    fn view(t: u32) -> ViewTime {
        ViewTime { tick: Tick(t), frac: 0 }
    }

    #[test]
    fn a_batch_carries_the_newest_command_last_and_only_unacknowledged_ones_before_it() {
        let mut log = InputLog::default();
        let b = log.next(cmd(1), 0, view(10));
        assert_eq!((b.seq, b.cmds.clone()), (1, vec![cmd(1)]), "the first batch holds the first command");
        assert_eq!(b.validate(), Ok(()));
        log.next(cmd(2), 0, view(11));
        let b = log.next(cmd(3), 0, view(12));
        assert_eq!(b.seq, 3);
        assert_eq!(b.cmds, vec![cmd(1), cmd(2), cmd(3)], "nothing acknowledged: all three, oldest first");
        assert_eq!(b.view, view(12), "the view is that of the newest command");
        let b = log.next(cmd(4), 2, view(13));
        assert_eq!(b.cmds, vec![cmd(3), cmd(4)], "seq 1 and 2 are acknowledged: only 3 and 4 go");
        let frames: Vec<u32> = b.frames().map(|f| f.seq).collect();
        assert_eq!(frames, vec![3, 4], "the protocol numbers them back from `seq`");
    }

    #[test]
    fn a_batch_never_holds_more_than_four_commands() {
        let mut log = InputLog::default();
        let mut last = InputBatch::default();
        for i in 1..=10 {
            last = log.next(cmd(i), 0, view(u32::from(i)));
            assert!(last.cmds.len() <= REDUNDANCY, "at most {REDUNDANCY} commands, got {}", last.cmds.len());
            assert_eq!(last.validate(), Ok(()));
        }
        assert_eq!(last.seq, 10);
        assert_eq!(last.cmds, vec![cmd(7), cmd(8), cmd(9), cmd(10)], "the newest four");
        let b = log.next(cmd(11), 11, view(11));
        assert_eq!(b.cmds, vec![cmd(11)], "an ack past the newest still sends the newest");
    }

    #[test]
    fn the_input_clock_follows_the_dilation_without_drifting() {
        let t0 = Instant::now();
        let tick = Duration::from_millis(30);
        let mut clock = InputClock::new(t0, tick);
        assert_eq!(clock.due(), t0);
        // Sent a little late every time: the deadlines still step by exactly one period.
        for i in 1..=100u32 {
            let sent = clock.due() + Duration::from_millis(2);
            clock.advance(sent, 0.0);
            assert_eq!(clock.due(), t0 + tick * i, "no drift from late sends");
        }
        let close = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_micros(1);
        let before = clock.due();
        clock.advance(before, 0.1);
        assert!(close(clock.due() - before, Duration::from_millis(33)), "10 % slower: 33 ms");
        let before = clock.due();
        clock.advance(before, -0.1);
        assert!(close(clock.due() - before, Duration::from_millis(27)), "10 % faster: 27 ms");
    }

    #[test]
    fn a_stalled_input_clock_skips_ahead_instead_of_bursting() {
        let t0 = Instant::now();
        let tick = Duration::from_millis(30);
        let mut clock = InputClock::new(t0, tick);
        let woke = t0 + Duration::from_millis(200);
        let next = clock.advance(woke, 0.0);
        assert_eq!(next, woke + tick, "one period after the late input, not a burst of the missed ones");
    }

    #[test]
    fn queue_depths_give_mean_and_quantiles() {
        let mut q = QueueDepths::default();
        assert_eq!((q.count(), q.mean(), q.quantile(0.99), q.max()), (0, 0.0, 0, 0));
        for _ in 0..98 {
            q.record(1);
        }
        q.record(2);
        q.record(9);
        assert_eq!(q.count(), 100);
        assert_eq!(q.quantile(0.5), 1);
        assert_eq!(q.quantile(0.99), 2);
        assert_eq!(q.quantile(1.0), 9);
        assert_eq!(q.max(), 9);
        assert!((q.mean() - 1.09).abs() < 1e-9);
        let mut all = QueueDepths::default();
        all.add(&q);
        all.add(&q);
        assert_eq!((all.count(), all.max()), (200, 9));
    }

    #[test]
    fn dilation_stats_keep_mean_and_extremes() {
        let mut d = DilationStats::default();
        d.record(0.05);
        d.record(-0.02);
        d.record(0.0);
        assert_eq!((d.count(), d.min(), d.max()), (3, -0.02, 0.05));
        assert!((d.mean() - 0.01).abs() < 1e-6);
        let mut all = DilationStats::default();
        all.add(&DilationStats::default());
        all.add(&d);
        let mut other = DilationStats::default();
        other.record(-0.08);
        all.add(&other);
        assert_eq!((all.count(), all.min(), all.max()), (4, -0.08, 0.05));
    }
}
