//! Every WebSocket frame a client sends, counted and budgeted at the byte level.
//!
//! tungstenite answers pings, takes pongs and joins continuation frames by itself, so a reader
//! that only sees whole messages cannot rate-limit them: a flood of empty continuation frames, or
//! of pings, would never reach it. [`FrameMeter`] parses just the frame headers out of the raw byte
//! stream (sans-IO: bytes in, headers out) and [`FrameBudget`] charges every frame, of any kind,
//! against one token bucket shared with the connection's reader.

use crate::net::rate::RateLimit;
use std::sync::Mutex;
use std::time::Instant;

/// The header of one frame, as RFC 6455 §5.2 lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong; others reserved).
    pub opcode: u8,
    /// The FIN bit.
    pub fin: bool,
    /// Payload length in bytes.
    pub len: u64,
}

/// Finds frame headers in a client's byte stream, fed in pieces of any size.
#[derive(Clone, Debug, Default)]
pub struct FrameMeter {
    /// The bytes of a header read so far (at most 14: 2 + 8 of length + 4 of mask).
    header: [u8; 14],
    have: usize,
    /// Payload bytes still to skip before the next header.
    skip: u64,
}

impl FrameMeter {
    /// How many header bytes a header starting with these two bytes has (with its mask key).
    fn header_len(b0_b1: [u8; 2]) -> usize {
        let masked = if b0_b1[1] & 0x80 != 0 { 4 } else { 0 };
        let ext = match b0_b1[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + masked
    }

    fn parse(&self) -> FrameHeader {
        let h = &self.header;
        let len = match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        FrameHeader { opcode: h[0] & 0x0f, fin: h[0] & 0x80 != 0, len }
    }

    /// Feeds the next bytes of the stream; calls `on_header` for each header completed in them.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_header: impl FnMut(FrameHeader)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip).unwrap_or(usize::MAX).min(bytes.len());
                bytes = &bytes[n..];
                self.skip -= n as u64;
                continue;
            }
            let need = if self.have < 2 { 2 } else { Self::header_len([self.header[0], self.header[1]]) };
            let n = (need - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have >= 2 && self.have == Self::header_len([self.header[0], self.header[1]]) {
                let header = self.parse();
                self.have = 0;
                self.skip = header.len;
                on_header(header);
            }
        }
    }
}

/// What a client's next frame may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget.
    Pass,
    /// Over the budget: a message in such a frame is dropped unread.
    Drop,
    /// Far over the budget for too long: close the connection (1008).
    Close,
}

#[derive(Debug)]
struct BudgetState {
    limit: RateLimit,
    /// Frames dropped and not yet forgiven.
    debt: f64,
    debt_at: Instant,
    over: bool,
    close: bool,
    last_frame: Instant,
    frames: u64,
}

/// One connection's frame budget, shared by the byte-level meter (which charges every frame) and
/// the reader (which drops messages while the client is over budget, and watches for silence).
///
/// `rate` frames per second on average, bursts of up to `burst`; frames past that are dropped.
/// Dropped frames are forgiven at a tenth of `rate`; once `burst` of them are outstanding, the
/// verdict is [`Verdict::Close`]. So a client a little over its rate loses some messages, and one
/// at twice its rate is closed about two seconds after its burst allowance runs out.
#[derive(Debug)]
pub struct FrameBudget {
    state: Mutex<BudgetState>,
    rate: f64,
    burst: f64,
}

impl FrameBudget {
    /// A full budget at `now`.
    #[must_use]
    pub fn new(rate: f64, burst: f64, now: Instant) -> FrameBudget {
        let state = BudgetState {
            limit: RateLimit::new(rate, burst, now),
            debt: 0.0,
            debt_at: now,
            over: false,
            close: false,
            last_frame: now,
            frames: 0,
        };
        FrameBudget { state: Mutex::new(state), rate, burst }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Charges one frame that arrived at `now`.
    pub fn charge(&self, now: Instant) -> Verdict {
        let mut s = self.state();
        s.last_frame = now;
        s.frames += 1;
        let allowed = s.limit.allow(now);
        // Dropped frames are forgiven slowly (a tenth of the rate), so that a client just over its
        // budget only loses messages, while one well over it is closed within a second or two.
        let elapsed = now.saturating_duration_since(s.debt_at).as_secs_f64();
        s.debt = (s.debt - elapsed * self.rate / 10.0).max(0.0);
        s.debt_at = now;
        if !allowed {
            s.debt += 1.0;
        }
        s.over = !allowed;
        if s.debt >= self.burst {
            s.close = true;
        }
        if s.close {
            Verdict::Close
        } else if s.over {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    }

    /// Whether the last frame was over the budget (its message should be dropped).
    #[must_use]
    pub fn over(&self) -> bool {
        self.state().over
    }

    /// Whether the client has been over its budget for so long that it must be closed.
    #[must_use]
    pub fn exhausted(&self) -> bool {
        self.state().close
    }

    /// When the last frame of any kind arrived (or the budget was made).
    #[must_use]
    pub fn last_frame(&self) -> Instant {
        self.state().last_frame
    }

    /// Frames of any kind seen so far.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.state().frames
    }

    /// The average rate allowed, in frames per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A masked client frame with this opcode and payload.
    fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
        out
    }

    fn headers(stream: &[u8], piece: usize) -> Vec<FrameHeader> {
        let mut meter = FrameMeter::default();
        let mut found = Vec::new();
        for chunk in stream.chunks(piece.max(1)) {
            meter.feed(chunk, |h| found.push(h));
        }
        found
    }

    #[test]
    fn finds_every_header_however_the_bytes_are_cut() {
        let mut stream = frame(2, true, &[7; 10]);
        stream.extend(frame(9, true, b""));
        stream.extend(frame(2, false, &[1; 300]));
        stream.extend(frame(0, false, b""));
        stream.extend(frame(0, true, &[2; 70_000]));
        stream.extend(frame(1, true, b"hi"));
        let expected = vec![
            FrameHeader { opcode: 2, fin: true, len: 10 },
            FrameHeader { opcode: 9, fin: true, len: 0 },
            FrameHeader { opcode: 2, fin: false, len: 300 },
            FrameHeader { opcode: 0, fin: false, len: 0 },
            FrameHeader { opcode: 0, fin: true, len: 70_000 },
            FrameHeader { opcode: 1, fin: true, len: 2 },
        ];
        for piece in [1, 2, 3, 7, 14, 100, 4096, stream.len()] {
            assert_eq!(headers(&stream, piece), expected, "cut into pieces of {piece}");
        }
    }

    #[test]
    fn a_huge_declared_length_is_reported_at_once_and_its_payload_skipped() {
        let mut stream = vec![0x82, 0x80 | 127];
        stream.extend_from_slice(&(1u64 << 40).to_be_bytes());
        stream.extend_from_slice(&[0; 4]);
        assert_eq!(headers(&stream, 3), vec![FrameHeader { opcode: 2, fin: true, len: 1 << 40 }]);
    }

    #[test]
    fn a_flood_is_dropped_past_the_burst_then_closed() {
        let t0 = Instant::now();
        let budget = FrameBudget::new(10.0, 5.0, t0);
        let verdicts: Vec<Verdict> = (0..12).map(|_| budget.charge(t0)).collect();
        assert!(verdicts[..5].iter().all(|v| *v == Verdict::Pass), "{verdicts:?}");
        assert!(verdicts[5..9].iter().all(|v| *v == Verdict::Drop), "{verdicts:?}");
        assert!(verdicts[10..].iter().all(|v| *v == Verdict::Close), "{verdicts:?}");
        assert!(budget.exhausted());
    }

    #[test]
    fn a_client_back_under_the_rate_pays_its_debt_and_passes() {
        let t0 = Instant::now();
        let budget = FrameBudget::new(10.0, 5.0, t0);
        for _ in 0..8 {
            budget.charge(t0);
        }
        assert!(budget.over());
        // One frame per 200 ms is half the rate: every frame passes and the debt shrinks.
        let verdicts: Vec<Verdict> = (1..=20).map(|i| budget.charge(t0 + Duration::from_millis(200 * i))).collect();
        assert!(verdicts.iter().all(|v| *v == Verdict::Pass), "{verdicts:?}");
        assert!(!budget.exhausted());
        assert_eq!(budget.frames(), 28);
    }
}
