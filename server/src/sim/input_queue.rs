//! One client's input queue: which input each tick applies, and how early the client's inputs
//! arrive (the feedback its input clock follows).
//!
//! Sans-IO and clock-free: [`InputQueue::push`] takes a batch with its *age* (how long before
//! the tick that drains it, in ticks, it arrived), [`InputQueue::consume`] is called once per tick.
//!
//! - **One input per tick, in `seq` order.** The client predicted its ship one step per input;
//!   the server steps it the same way, so the two agree.
//! - **Speculation instead of a stale repeat.** When a tick's input has not arrived, the server
//!   applies the last input's buttons *as that sequence number* (fire released) and acknowledges
//!   it. If the real input then arrives with the same buttons — a key held through a late packet,
//!   the common case — nothing was lost and the client sees no correction; if it differs, it is
//!   counted as a misprediction, and a fire press it carried is applied on the next tick. After
//!   [`MAX_SPECULATED`] ticks without input the ship just keeps its last input without consuming
//!   sequence numbers (the client is stalled), so a client that lost time does not stay behind.
//! - **Draining.** More than a few ticks of inputs waiting (a burst after a stall) are applied two
//!   per tick until the queue is back near its target, so input delay never stays high.
//! - **Feedback.** Each tick it keeps one sample: how many ticks before its tick the newest input
//!   that arrived since the last tick came (negative: after its tick, i.e. speculated). Over the
//!   last [`WINDOW`] samples the 10th percentile should sit at [`SAFETY_MARGIN`]; the difference is
//!   reported to the client in every snapshot (`input_offset`, 1/16 tick), which runs its input
//!   clock slower or faster until it is zero ([`arena_protocol::timing`]). Aiming at a low
//!   percentile rather than the mean makes the queue's depth follow the client's jitter: a steady
//!   link keeps inputs a fraction of a tick ahead, a jittery one as far ahead as its jitter needs.

use arena_protocol::InputFrame;
use arena_protocol::rules::Buttons;
use std::collections::VecDeque;

/// Most inputs that may wait; past this the oldest are dropped so input delay stays bounded.
pub const MAX_QUEUED_INPUTS: usize = 16;
/// Most consecutive ticks the server speculates a missing input before it holds instead.
pub const MAX_SPECULATED: u32 = 15;
/// Samples the feedback looks at (one per tick with an arrival).
pub const WINDOW: usize = 32;
/// How many ticks early the 10th percentile of arrivals should be.
pub const SAFETY_MARGIN: f32 = 0.2;
/// Ticks late an input may be and still keep the speculation going.
const LATE_BUT_ALIVE: u32 = 2;
/// Ticks between two computations of the feedback.
const STATS_EVERY: u32 = 4;
/// Inputs waiting beyond the target (in ticks, on top of the jitter) before two are applied per tick.
const DRAIN_ABOVE: f32 = 3.0;

/// What one tick applies: one input, or two while draining a backlog (oldest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The input of this tick (the second one when draining).
    pub input: InputFrame,
    /// An earlier input applied in the same tick, before `input` (draining a backlog).
    pub before: Option<InputFrame>,
    /// Whether `input` was speculated (the client's input had not arrived).
    pub speculated: bool,
}

/// Counts of what happened to this client's inputs, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Ticks whose input was speculated.
    pub speculated: u64,
    /// Late inputs whose buttons differed from the speculation (the client sees a correction).
    pub mispredicted: u64,
    /// Ticks on which the ship held its last input without consuming a sequence number.
    pub held: u64,
    /// Ticks that applied two inputs to drain a backlog.
    pub drained: u64,
    /// Inputs dropped because the queue was full.
    pub dropped: u64,
}

/// One client's pending inputs and their timing (see the module docs).
#[derive(Clone, Debug)]
pub struct InputQueue {
    waiting: VecDeque<InputFrame>,
    /// The sequence number the next tick applies; 0 until the first input arrives.
    next_seq: u32,
    last: InputFrame,
    /// Speculated sequence numbers not yet confirmed by the real input, with the buttons used.
    speculated: VecDeque<(u32, Buttons)>,
    spec_run: u32,
    carry_fire: bool,
    pending_sample: Option<f32>,
    samples: [f32; WINDOW],
    filled: usize,
    at: usize,
    ticks: u32,
    offset: i16,
    jitter: f32,
    counts: QueueCounts,
    /// Late inputs whose move buttons differ from what was speculated for them, not yet taken by
    /// [`InputQueue::take_mispredictions`].
    mispredictions: Vec<(u32, Buttons)>,
    /// The highest `seq` received so far.
    newest: u32,
}

impl Default for InputQueue {
    fn default() -> InputQueue {
        InputQueue {
            waiting: VecDeque::new(),
            next_seq: 0,
            last: InputFrame::default(),
            speculated: VecDeque::new(),
            spec_run: 0,
            carry_fire: false,
            pending_sample: None,
            samples: [0.0; WINDOW],
            filled: 0,
            at: 0,
            ticks: 0,
            offset: 0,
            jitter: 0.0,
            counts: QueueCounts::default(),
            mispredictions: Vec::new(),
            newest: 0,
        }
    }
}

impl InputQueue {
    /// Takes the frames of one input message (oldest first, as [`arena_protocol::InputBatch::frames`]
    /// gives them) that arrived `age` ticks before the tick about to be simulated.
    pub fn push(&mut self, frames: impl IntoIterator<Item = InputFrame>, age: f32) {
        let mut newest = None;
        for frame in frames {
            if frame.seq == 0 {
                continue;
            }
            if self.next_seq == 0 {
                self.next_seq = frame.seq;
            }
            newest = Some(newest.map_or(frame.seq, |n: u32| n.max(frame.seq)));
            let fresh = frame.seq > self.newest;
            self.newest = self.newest.max(frame.seq);
            if frame.seq < self.next_seq {
                // Redundant copies of inputs already applied arrive here too; only a fresh one
                // (first seen now) was speculated for.
                if fresh {
                    self.late(frame);
                }
            } else if self.waiting.back().is_none_or(|w| frame.seq > w.seq) {
                self.waiting.push_back(frame);
            }
            // Otherwise a redundant copy of an input already waiting.
        }
        while self.waiting.len() > MAX_QUEUED_INPUTS {
            self.waiting.pop_front();
            self.counts.dropped += 1;
        }
        if let Some(seq) = newest {
            // Ticks from this tick to the one that applies `seq` (negative: it already passed).
            let ahead = i64::from(seq) - i64::from(self.next_seq);
            let sample = (ahead as f32 + age.max(0.0)).clamp(-4.0, 16.0);
            self.pending_sample = Some(sample);
        }
    }

    fn late(&mut self, frame: InputFrame) {
        // A client whose inputs come just a little late is alive: keep speculating for it (its
        // feedback makes it catch up). One far behind was stalled: let the hold resynchronise it.
        if self.next_seq - frame.seq <= LATE_BUT_ALIVE {
            self.spec_run = 0;
        }
        while let Some(&(seq, buttons)) = self.speculated.front() {
            if seq > frame.seq {
                break;
            }
            self.speculated.pop_front();
            if seq == frame.seq {
                let fire = Buttons::FIRE;
                if buttons.0 & !fire != frame.buttons.0 & !fire {
                    self.counts.mispredicted += 1;
                    self.mispredictions.push((seq, frame.buttons));
                }
                // A shot the speculation missed is fired on the next tick instead of lost.
                self.carry_fire |= frame.buttons.has(fire);
            }
        }
        // Late inputs come in order: the newest one is the best guess for ticks still to speculate.
        self.last.buttons = Buttons(frame.buttons.0 & !Buttons::FIRE);
        self.last.aim = frame.aim;
    }

    /// The input for this tick. Call once per tick, after this tick's [`InputQueue::push`]es.
    pub fn consume(&mut self) -> Applied {
        if let Some(sample) = self.pending_sample.take() {
            self.samples[self.at] = sample;
            self.at = (self.at + 1) % WINDOW;
            self.filled = (self.filled + 1).min(WINDOW);
        }
        self.ticks += 1;
        if self.ticks.is_multiple_of(STATS_EVERY) {
            self.recompute();
        }
        if let Some(first) = self.pop_real() {
            let mut applied = Applied { input: first, before: None, speculated: false };
            if self.waiting.len() as f32 > DRAIN_ABOVE + self.jitter.ceil()
                && let Some(second) = self.pop_real()
            {
                self.counts.drained += 1;
                applied = Applied { input: second, before: Some(first), speculated: false };
            }
            self.last = applied.input;
            return applied;
        }
        let mut input = self.last;
        input.buttons = Buttons(input.buttons.0 & !Buttons::FIRE);
        input.view = input.view.after(1);
        if self.next_seq != 0 && self.spec_run < MAX_SPECULATED {
            input.seq = self.next_seq;
            self.speculated.push_back((input.seq, input.buttons));
            if self.speculated.len() > MAX_SPECULATED as usize {
                self.speculated.pop_front();
            }
            self.next_seq += 1;
            self.spec_run += 1;
            self.counts.speculated += 1;
            self.last = input;
            return Applied { input, before: None, speculated: true };
        }
        self.counts.held += 1;
        Applied { input, before: None, speculated: true }
    }

    fn pop_real(&mut self) -> Option<InputFrame> {
        let mut frame = self.waiting.pop_front()?;
        // A gap (inputs the client never sent, e.g. after a stall of its own): start from here.
        self.next_seq = frame.seq + 1;
        self.spec_run = 0;
        if std::mem::take(&mut self.carry_fire) {
            frame.buttons = Buttons(frame.buttons.0 | Buttons::FIRE);
        }
        Some(frame)
    }

    fn recompute(&mut self) {
        if self.filled < 8 {
            return;
        }
        let mut sorted = self.samples;
        let sorted = &mut sorted[..self.filled];
        sorted.sort_unstable_by(f32::total_cmp);
        let at = |q: f32| sorted[((sorted.len() - 1) as f32 * q).round() as usize];
        let (p10, p90) = (at(0.1), at(0.9));
        self.jitter = (p90 - p10).clamp(0.0, 8.0);
        let offset = ((p10 - SAFETY_MARGIN) * arena_protocol::timing::OFFSET_UNITS_PER_TICK).round();
        self.offset = offset.clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
    }

    /// The speculated inputs that turned out wrong since the last call: their `seq` and real
    /// buttons. The simulation replays the ship's last ticks with them
    /// ([`crate::sim::Sim::push_inputs`]), so what the client predicted becomes what happened.
    pub fn take_mispredictions(&mut self) -> std::vec::Drain<'_, (u32, Buttons)> {
        self.mispredictions.drain(..)
    }

    /// Speculated inputs whose real input has not arrived yet.
    #[must_use]
    pub fn unconfirmed(&self) -> usize {
        self.speculated.len()
    }

    /// Inputs waiting after this tick's.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.waiting.len()
    }

    /// The feedback for the client's input clock, in 1/16 tick (see the module docs).
    #[must_use]
    pub fn offset(&self) -> i16 {
        self.offset
    }

    /// The spread of this client's arrival times (10th to 90th percentile), in ticks.
    #[must_use]
    pub fn jitter(&self) -> f32 {
        self.jitter
    }

    /// What happened to this client's inputs so far.
    #[must_use]
    pub fn counts(&self) -> QueueCounts {
        self.counts
    }

    /// Forgets every input and starts over (a resumed player's new connection numbers its inputs
    /// from 1 again); the last input's aim is kept, its buttons released.
    pub fn restart(&mut self) {
        let aim = self.last.aim;
        *self = InputQueue::default();
        self.last.aim = aim;
    }

    /// Releases every button (the player's connection was lost): the ship idles.
    pub fn release(&mut self) {
        self.waiting.clear();
        self.speculated.clear();
        self.mispredictions.clear();
        self.carry_fire = false;
        self.last.buttons = Buttons(0);
        self.spec_run = MAX_SPECULATED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::{Tick, ViewTime};

    fn frame(seq: u32, buttons: u8) -> InputFrame {
        InputFrame { seq, buttons: Buttons(buttons), aim: 0, view: ViewTime { tick: Tick(seq), frac: 0 } }
    }

    /// A client that sends input `seq` every tick, arriving `age` ticks before the tick drains it,
    /// `late_by` ticks late on top (0: on time).
    fn steady(q: &mut InputQueue, ticks: u32, first_seq: u32, age: f32) -> Vec<Applied> {
        (0..ticks)
            .map(|i| {
                q.push([frame(first_seq + i, Buttons::RIGHT)], age);
                q.consume()
            })
            .collect()
    }

    #[test]
    fn inputs_apply_one_per_tick_in_order() {
        let mut q = InputQueue::default();
        let applied = steady(&mut q, 5, 1, 0.5);
        let seqs: Vec<u32> = applied.iter().map(|a| a.input.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert!(applied.iter().all(|a| !a.speculated && a.before.is_none()));
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn redundant_copies_are_ignored() {
        let mut q = InputQueue::default();
        q.push([frame(1, 0), frame(2, 0)], 0.0);
        q.push([frame(1, 0), frame(2, 0), frame(3, 0)], 0.0);
        assert_eq!(q.depth(), 3);
        assert_eq!(q.consume().input.seq, 1);
    }

    #[test]
    fn a_late_input_is_speculated_and_a_held_key_costs_nothing() {
        let mut q = InputQueue::default();
        q.push([frame(1, Buttons::RIGHT)], 0.5);
        assert_eq!(q.consume().input.seq, 1);
        // Input 2 is late: the tick applies 2 speculatively with the same buttons.
        let a = q.consume();
        assert!(a.speculated);
        assert_eq!((a.input.seq, a.input.buttons), (2, Buttons(Buttons::RIGHT)));
        assert_eq!(q.unconfirmed(), 1, "snapshots say the ship rests on a guess");
        // It arrives with input 3; 2 is confirmed (same buttons), 3 applies on time.
        q.push([frame(2, Buttons::RIGHT), frame(3, Buttons::RIGHT)], 0.5);
        assert_eq!(q.consume().input.seq, 3);
        assert_eq!(q.counts().mispredicted, 0, "a held key through a late packet is no misprediction");
        assert_eq!(q.unconfirmed(), 0, "the late input confirmed the guess");
        assert_eq!(q.counts().speculated, 1);
    }

    #[test]
    fn a_late_input_that_differs_is_counted_and_its_shot_is_not_lost() {
        let mut q = InputQueue::default();
        q.push([frame(1, 0)], 0.5);
        q.consume();
        let a = q.consume();
        assert!(a.speculated && !a.input.buttons.has(Buttons::FIRE), "speculation never fires");
        q.push([frame(2, Buttons::FIRE | Buttons::UP), frame(3, 0)], 0.5);
        let next = q.consume();
        assert_eq!(next.input.seq, 3);
        assert!(next.input.buttons.has(Buttons::FIRE), "the late input's shot is fired one tick later");
        assert_eq!(q.counts().mispredicted, 1);
        let wrong: Vec<_> = q.take_mispredictions().collect();
        assert_eq!(wrong, vec![(2, Buttons(Buttons::FIRE | Buttons::UP))], "the correction is handed on for a replay");
    }

    #[test]
    fn a_long_silence_holds_the_ship_without_consuming_sequence_numbers() {
        let mut q = InputQueue::default();
        q.push([frame(1, Buttons::LEFT)], 0.5);
        q.consume();
        let applied: Vec<Applied> = (0..MAX_SPECULATED + 10).map(|_| q.consume()).collect();
        let last_seq = applied.iter().map(|a| a.input.seq).max();
        assert_eq!(last_seq, Some(1 + MAX_SPECULATED), "speculation stops after MAX_SPECULATED ticks");
        assert_eq!(q.counts().held, 10);
        // The client comes back with its next inputs: they apply at once (it is not left behind).
        let back = 1 + MAX_SPECULATED + 1;
        q.push([frame(back, 0)], 0.5);
        assert_eq!(q.consume().input.seq, back);
    }

    #[test]
    fn a_burst_after_a_stall_drains_within_a_second() {
        let mut q = InputQueue::default();
        steady(&mut q, 60, 1, 0.5);
        // 20 inputs arrive at once (the uplink stalled for 20 ticks while the server held).
        let frames: Vec<InputFrame> = (61..81).map(|s| frame(s, Buttons::RIGHT)).collect();
        for _ in 0..MAX_SPECULATED + 5 {
            q.consume();
        }
        q.push(frames, 0.5);
        let mut ticks = 0;
        let mut seq = 81;
        while q.depth() > 4 && ticks < 100 {
            q.push([frame(seq, Buttons::RIGHT)], 0.5);
            seq += 1;
            q.consume();
            ticks += 1;
        }
        assert!(ticks <= 30, "a backlog of ~16 inputs should drain within a second at 30 Hz, took {ticks} ticks");
        assert!(q.counts().drained > 0);
    }

    #[test]
    fn the_feedback_says_slow_down_when_inputs_come_early_and_hurry_when_late() {
        let mut early = InputQueue::default();
        // Every input arrives 3.5 ticks before its tick: the queue holds three more.
        early.push((1..=3).map(|s| frame(s, 0)), 0.5);
        for s in 4..60 {
            early.push([frame(s, 0)], 0.5);
            early.consume();
        }
        assert!(early.offset() > 16 * 2, "3+ ticks early should ask to slow down, got {}", early.offset());

        let mut late = InputQueue::default();
        late.push([frame(1, 0)], 0.5);
        late.consume();
        // From now on every input arrives one tick after its tick.
        for s in 2..60 {
            late.consume();
            late.push([frame(s, 0)], 0.5);
        }
        assert!(late.offset() < 0, "late inputs should ask to speed up, got {}", late.offset());

        let mut right = InputQueue::default();
        for s in 1..60 {
            right.push([frame(s, 0)], SAFETY_MARGIN);
            right.consume();
        }
        assert_eq!(right.offset(), 0, "inputs arriving just in time need no change");
    }

    /// The whole loop with a fake clock: a client that starts 4 ticks early with jittery arrivals
    /// follows the feedback (through `arena_protocol::timing`, delayed by a round trip) until its
    /// inputs wait about a tick at most, and almost none is late.
    #[test]
    fn a_jittery_client_converges_to_a_small_queue_with_few_misses() {
        use arena_protocol::timing::Dilation;
        let mut rng = 12345u64;
        let mut noise = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 1000) as f64 / 1000.0
        };
        let mut q = InputQueue::default();
        let mut dilation = Dilation::default();
        let jitter = 0.9; // ticks, peak to peak (±15 ms at 30 Hz)
        let rtt_ticks = 5;
        let mut feedback = VecDeque::from(vec![0i16; rtt_ticks]);
        let mut send_time = -4.0f64; // the client's clock: when input `seq` is sent, in server ticks
        let mut in_flight: Vec<(f64, u32)> = Vec::new();
        let mut seq = 1u32;
        let mut late_after_warmup = 0;
        let mut depth_sum = 0usize;
        for tick in 0..900u32 {
            let now = f64::from(tick);
            while send_time <= now + 1.0 {
                in_flight.push((send_time + 1.0 + noise() * jitter, seq));
                seq += 1;
                send_time += dilation.period(1.0);
            }
            in_flight.sort_by(|a, b| a.0.total_cmp(&b.0));
            let arrived: Vec<(f64, u32)> = in_flight.iter().copied().filter(|(at, _)| *at <= now).collect();
            in_flight.retain(|(at, _)| *at > now);
            // Order kept, one batch per arrival; the newest arrival sets the sample.
            for (at, s) in arrived {
                q.push([frame(s, Buttons::RIGHT)], (now - at) as f32);
            }
            let applied = q.consume();
            feedback.push_back(q.offset());
            let offset = feedback.pop_front().unwrap_or(0);
            dilation.update(offset);
            if tick > 450 {
                late_after_warmup += u32::from(applied.speculated);
                depth_sum += q.depth();
            }
        }
        let mean_depth = depth_sum as f64 / 449.0;
        assert!(mean_depth < 1.5, "the queue should settle near its target, mean depth {mean_depth}");
        assert!(late_after_warmup < 15, "few inputs should miss their tick once settled, got {late_after_warmup}");
    }
}
