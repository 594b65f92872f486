// @ts-check
/**
 * Input timing: the page's fixed-step input clock and the time dilation that keeps its inputs
 * arriving at the server just in time. Every snapshot says how much earlier than the server wants
 * them this client's inputs arrive (`input_offset`, in 1/16 tick); the clock then runs slightly
 * slower (too early) or faster (too late) until the offset is zero. The rule is the protocol's
 * (`protocol/src/timing.rs`: `dilation_for`, `Dilation::update`), written again here with the same
 * constants, which the page takes from the wasm module's `rules()`. Also turns a fractional render
 * tick into the `ViewTime` an input batch carries. Pure: no DOM, no clock of its own (time comes
 * in as frame lengths), so node's test runner drives it.
 */

/**
 * The protocol's timing constants (`arena_protocol::timing`); the page passes the wasm module's
 * `rules()` values, these defaults are the same numbers for tests.
 * @typedef {{ offsetUnitsPerTick: number, gain: number, maxDilation: number, smoothing: number }} DilationRule
 */

/** @type {DilationRule} */
export const DEFAULT_RULE = Object.freeze({ offsetUnitsPerTick: 16, gain: 0.03, maxDilation: 0.1, smoothing: 0.25 });

/**
 * The rule from the wasm module's `rules()` object (falls back to the defaults field by field).
 * @param {Record<string, number>} rules
 * @returns {DilationRule}
 */
export function ruleFrom(rules) {
  return {
    offsetUnitsPerTick: rules.offset_units_per_tick ?? DEFAULT_RULE.offsetUnitsPerTick,
    gain: rules.dilation_gain ?? DEFAULT_RULE.gain,
    maxDilation: rules.max_dilation ?? DEFAULT_RULE.maxDilation,
    smoothing: rules.dilation_smoothing ?? DEFAULT_RULE.smoothing,
  };
}

/** `f32` rounding, so the controller computes what the protocol's `f32` code computes. */
const f32 = Math.fround;

/**
 * The dilation one snapshot's feedback asks for: the fraction by which the input period should
 * grow (positive: slower) or shrink (negative: faster). `dilation_for` of the protocol.
 * @param {number} inputOffset  the snapshot's `input_offset` (1/16 tick; positive: too early)
 * @param {DilationRule} [rule]
 */
export function dilationFor(inputOffset, rule = DEFAULT_RULE) {
  const ticks = f32(inputOffset / rule.offsetUnitsPerTick);
  const d = f32(ticks * f32(rule.gain));
  return Math.min(f32(rule.maxDilation), Math.max(f32(-rule.maxDilation), d));
}

/** The input clock's rate, following the server's feedback smoothly (`Dilation` of the protocol). */
export class Dilation {
  /** @param {DilationRule} [rule] */
  constructor(rule = DEFAULT_RULE) {
    this.rule = rule;
    /** The dilation in force: the input period is `tickMs × (1 + current)`. */
    this.current = 0;
  }

  /**
   * Takes the feedback of one snapshot; returns the dilation now in force.
   * @param {number} inputOffset
   */
  update(inputOffset) {
    const target = dilationFor(inputOffset, this.rule);
    this.current = f32(this.current + f32(f32(target - this.current) * f32(this.rule.smoothing)));
    return this.current;
  }

  /** The input period for a room ticking every `tickMs`. */
  period(/** @type {number} */ tickMs) {
    return tickMs * (1 + this.current);
  }
}

/**
 * A fixed-step clock: each frame adds its length, and every whole period elapsed is one input to
 * sample and send. The period is the room's tick stretched by the dilation. After a stall longer
 * than `maxSteps` periods the backlog is dropped rather than sent in a burst (the server would
 * only queue it), so input delay does not grow.
 */
export class InputClock {
  /**
   * @param {number} tickMs  the room's tick length
   * @param {Dilation} [dilation]
   * @param {number} [maxSteps]  most inputs one frame may produce
   */
  constructor(tickMs, dilation = new Dilation(), maxSteps = 5) {
    this.tickMs = tickMs;
    this.dilation = dilation;
    this.maxSteps = maxSteps;
    /** Time accumulated towards the next input, in ms. */
    this.acc = 0;
    /** Inputs produced so far. */
    this.steps = 0;
  }

  /** The current period in ms. */
  get periodMs() {
    return this.dilation.period(this.tickMs);
  }

  /**
   * Adds one frame's time; returns how many inputs are due now (0..maxSteps).
   * @param {number} frameMs
   */
  advance(frameMs) {
    this.acc += Math.max(0, frameMs);
    const period = this.periodMs;
    let n = 0;
    while (this.acc >= period && n < this.maxSteps) {
      this.acc -= period;
      n++;
    }
    if (this.acc >= period) this.acc %= period; // a stall: drop the backlog
    this.steps += n;
    return n;
  }

  /** How far towards the next input the clock is, 0..1 (the render's partial tick). */
  get alpha() {
    return Math.min(1, Math.max(0, this.acc / this.periodMs));
  }
}

/**
 * A fractional snapshot tick as the wire's `ViewTime`: whole tick and 1/256ths of the next.
 * @param {number} tick  fractional tick (negative or non-finite becomes 0)
 * @returns {{ tick: number, frac: number }}
 */
export function toViewTime(tick) {
  if (!(tick > 0)) return { tick: 0, frac: 0 };
  const whole = Math.floor(tick);
  const frac = Math.min(255, Math.floor((tick - whole) * 256));
  return { tick: Math.min(whole, 0xffffffff), frac };
}
