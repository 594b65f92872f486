// @ts-check
/**
 * The page's estimate of the server's timeline, for drawing other entities: which (fractional)
 * server tick to draw at a given local time.
 *
 * - {@link ServerClock}: local minus server time, as the minimum of `arrival − tick × tickMs` over
 *   the last two seconds. A snapshot that arrives late raises its own sample, never the minimum,
 *   so one late sample cannot shift the estimate; drift and a lasting change of latency move it
 *   within the window.
 * - {@link Jitter}: how late snapshots arrive compared with that minimum (the 95th percentile
 *   over the last few seconds).
 * - {@link renderDelayFor}: how far behind the server's present to draw so that the snapshot after
 *   the render time has (nearly always) arrived: one snapshot interval plus the jitter, with a
 *   margin; two intervals before anything is measured.
 * - {@link RenderClock}: the render time itself. It follows its target (server time now minus the
 *   delay) by running at most 10 % fast or slow, so changes of the estimate or of the delay are
 *   smooth, and it never goes backwards (except a reset after a gross error of over a second).
 *
 * Pure: time comes in as arguments (`now`, local ms); no DOM.
 */

/** Samples the server clock's minimum is taken over, in ms. */
export const CLOCK_WINDOW_MS = 2000;
/** Samples the jitter percentile is taken over, in ms. */
export const JITTER_WINDOW_MS = 3000;
/** The render clock never runs more than this much faster or slower than real time. */
export const MAX_RATE_CHANGE = 0.1;
/** Rate change per ms of error: 20 ms behind runs 10 % fast (time constant 200 ms). */
const RATE_GAIN_PER_MS = 0.005;
/** An error larger than this (ms) is not slewed: forward, the clock jumps; backward, it resets. */
export const RESET_ERROR_MS = 1000;
/** Extra delay on top of one interval and the jitter, in snapshot intervals. */
const DELAY_MARGIN_INTERVALS = 0.25;
/** The render delay stays within these bounds (ms) whatever is measured. */
const MIN_DELAY_MS = 5;
const MAX_DELAY_MS = 1000;

/** Local minus server time from snapshot arrivals: a sliding-window minimum. */
export class ServerClock {
  /**
   * @param {number} tickMs  the room's tick length
   * @param {number} [windowMs]
   */
  constructor(tickMs, windowMs = CLOCK_WINDOW_MS) {
    this.tickMs = tickMs;
    this.windowMs = windowMs;
    /** Monotonic deque of samples: arrival times increasing, values increasing. */
    /** @type {{ at: number, v: number }[]} */
    this.deque = [];
  }

  /** Local ms minus server ms for the earliest arrival in the window, null before any sample. */
  get offset() {
    return this.deque.length ? this.deque[0].v : null;
  }

  /**
   * Takes the arrival of the snapshot of `tick` at local time `now`; returns how late it arrived
   * compared with the window's earliest (ms, ≥ 0).
   * @param {number} tick
   * @param {number} now
   */
  onSnapshot(tick, now) {
    const v = now - tick * this.tickMs;
    const d = this.deque;
    while (d.length && d[d.length - 1].v >= v) d.pop();
    d.push({ at: now, v });
    while (d.length > 1 && d[0].at < now - this.windowMs) d.shift();
    return v - d[0].v;
  }
}

/** A high percentile of recent lateness samples. */
export class Jitter {
  /**
   * @param {number} [windowMs]
   * @param {number} [percentile]  0..1
   */
  constructor(windowMs = JITTER_WINDOW_MS, percentile = 0.95) {
    this.windowMs = windowMs;
    this.percentile = percentile;
    /** @type {{ at: number, v: number }[]} oldest first */
    this.samples = [];
    this.cached = /** @type {number | null} */ (null);
  }

  /**
   * @param {number} lateMs
   * @param {number} now
   */
  add(lateMs, now) {
    this.samples.push({ at: now, v: lateMs });
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop].at < now - this.windowMs) drop++;
    if (drop) this.samples.splice(0, drop);
    this.cached = null;
  }

  /** Number of samples in the window. */
  get count() {
    return this.samples.length;
  }

  /** The percentile of lateness in ms (0 without samples). */
  get ms() {
    if (this.cached === null) {
      const sorted = this.samples.map((s) => s.v).sort((a, b) => a - b);
      this.cached = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * this.percentile))] : 0;
    }
    return this.cached;
  }
}

/**
 * How far behind the server's present to draw others: one snapshot interval (the gap the next
 * snapshot closes) plus the jitter plus a margin; 2 intervals while nothing is measured yet.
 * @param {number} intervalMs  time between two snapshots
 * @param {number | null} jitterMs  null before enough samples
 */
export function renderDelayFor(intervalMs, jitterMs) {
  const delay = jitterMs === null ? 2 * intervalMs : intervalMs * (1 + DELAY_MARGIN_INTERVALS) + jitterMs;
  return Math.min(MAX_DELAY_MS, Math.max(MIN_DELAY_MS, delay));
}

/**
 * The time others are drawn at, in server ms: follows a target smoothly and monotonically.
 */
export class RenderClock {
  constructor() {
    /** Current render time (server ms), null before the first target. */
    this.ms = /** @type {number | null} */ (null);
    this.lastNow = 0;
    /** The rate used in the last advance (1 = real time). */
    this.rate = 1;
    /** Forward jumps (the target ran away by more than {@link RESET_ERROR_MS}). */
    this.jumps = 0;
    /** Backward resets (the target fell behind by more than {@link RESET_ERROR_MS}). */
    this.resets = 0;
  }

  /**
   * Moves the render time on to local time `now`, towards `target`; returns it.
   * @param {number} target  server ms the page would ideally draw at now
   * @param {number} now  local ms
   */
  advance(target, now) {
    if (this.ms === null) {
      this.ms = target;
      this.lastNow = now;
      return target;
    }
    const dt = Math.max(0, now - this.lastNow);
    this.lastNow = now;
    const error = target - (this.ms + dt);
    if (error > RESET_ERROR_MS) {
      this.jumps++;
      this.rate = 1;
      this.ms = target;
    } else if (error < -RESET_ERROR_MS) {
      this.resets++;
      this.rate = 1;
      this.ms = target;
    } else {
      const change = Math.max(-MAX_RATE_CHANGE, Math.min(MAX_RATE_CHANGE, error * RATE_GAIN_PER_MS));
      // A long frame must not overshoot the target.
      const step = Math.abs(dt * change) > Math.abs(error) ? error : dt * change;
      this.rate = dt > 0 ? 1 + step / dt : 1;
      this.ms += dt + step;
    }
    return this.ms;
  }
}
