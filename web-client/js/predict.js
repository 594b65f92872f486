// @ts-check
/**
 * Client-side prediction of the own ship. Each fixed tick the page's input gets a sequence number
 * (from 1), is kept until the server acknowledges it, and moves the predicted ship with the
 * server's own movement step (wasm). On each snapshot the prediction restarts from the server's
 * state of the own ship and replays the inputs the server has not applied yet (seq > ack_seq). A
 * correction is not shown as a jump: the difference is kept as a visual offset that decays.
 * Knows nothing of sockets or the canvas.
 */

/** @typedef {import('./wasm.js').Codec} Codec */
/** @typedef {import('./wasm.js').Motion} Motion */
/** @typedef {{ seq: number, buttons: number, aim: number }} Input */

/** Unacknowledged inputs kept at most (several seconds even at 128 Hz). */
const MAX_PENDING = 1024;
/** Time constant of the visual correction's decay, in ms. */
const SMOOTH_MS = 90;
/** A correction larger than this is a teleport (respawn, wall): snap instead of smoothing. */
const SNAP_DIST = 200;

export class Predictor {
  /**
   * A fresh predictor per connection (sequence numbers start at 1 again).
   * @param {Codec} codec
   * @param {number} tickHz
   * @param {{ w: number, h: number }} arena
   */
  constructor(codec, tickHz, arena) {
    this.codec = codec;
    this.tickHz = tickHz;
    this.arena = arena;
    this.nextSeq = 1;
    /** @type {Input[]} */
    this.pending = [];
    /** Predicted state after the last input, and the one before (for render interpolation). */
    this.cur = /** @type {Motion | null} */ (null);
    this.prev = /** @type {Motion | null} */ (null);
    this.alive = false;
    this.err = { x: 0, y: 0 };
    /** Size of the last correction, in world units, for the HUD and tests. */
    this.lastCorrection = 0;
    /** Snapshots whose replayed state differed from the prediction (a misprediction). */
    this.corrections = 0;
    this.lastAck = 0;
  }

  /** @private */
  step(/** @type {Motion} */ m, /** @type {number} */ buttons) {
    return this.codec.stepShip(m, buttons, this.tickHz, this.arena.w, this.arena.h);
  }

  /**
   * One fixed tick: numbers the input, keeps it, and advances the prediction.
   * @param {number} buttons
   * @param {number} aim  wire angle (u16)
   * @returns {Input} the input to send
   */
  tick(buttons, aim) {
    const input = { seq: this.nextSeq++, buttons, aim };
    this.pending.push(input);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    if (this.cur && this.alive) {
      this.prev = this.cur;
      this.cur = this.step(this.cur, buttons);
    } else {
      this.prev = this.cur;
    }
    return input;
  }

  /**
   * Reconciles with the server's view of the own ship.
   * @param {{ x: number, y: number, vx: number, vy: number, alive: boolean } | null} own  world units
   * @param {number} ackSeq  last input the server applied
   */
  onSnapshot(own, ackSeq) {
    this.lastAck = ackSeq;
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= ackSeq) drop++;
    if (drop) this.pending.splice(0, drop);
    if (!own) return;

    /** @type {Motion} */
    let m = { x: own.x, y: own.y, vx: own.vx, vy: own.vy };
    const wasAlive = this.alive;
    this.alive = own.alive;
    if (own.alive) for (const input of this.pending) m = this.step(m, input.buttons);

    if (!this.cur || !this.prev || !own.alive || !wasAlive) {
      this.cur = m;
      this.prev = m;
      this.err = { x: 0, y: 0 };
      this.lastCorrection = 0;
      return;
    }
    const dx = this.cur.x - m.x;
    const dy = this.cur.y - m.y;
    this.lastCorrection = Math.hypot(dx, dy);
    if (this.lastCorrection > 0) this.corrections++;
    this.cur = m;
    this.prev = { ...this.prev, x: this.prev.x - dx, y: this.prev.y - dy };
    if (this.lastCorrection > SNAP_DIST) {
      this.prev = m;
      this.err = { x: 0, y: 0 };
    } else {
      this.err = { x: this.err.x + dx, y: this.err.y + dy };
    }
  }

  /**
   * Where to draw the own ship: between the last two predicted ticks by `alpha` (the fixed-step
   * accumulator's fraction), plus the decaying correction.
   * @param {number} alpha  0..1
   * @param {number} frameMs  time since the last frame, for the decay
   * @returns {{ x: number, y: number } | null}
   */
  display(alpha, frameMs) {
    if (!this.cur || !this.prev) return null;
    const k = Math.exp(-frameMs / SMOOTH_MS);
    this.err.x *= k;
    this.err.y *= k;
    if (Math.abs(this.err.x) < 0.01) this.err.x = 0;
    if (Math.abs(this.err.y) < 0.01) this.err.y = 0;
    return {
      x: this.prev.x + (this.cur.x - this.prev.x) * alpha + this.err.x,
      y: this.prev.y + (this.cur.y - this.prev.y) * alpha + this.err.y,
    };
  }
}
