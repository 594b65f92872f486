// @ts-check
/**
 * Client-side prediction of the own ship. Each tick of the input clock the page's input gets a
 * sequence number (from 1), is kept until the server acknowledges it, and moves the predicted
 * ship with the server's own movement step (wasm, injected as a function). On each snapshot the
 * prediction restarts from the server's state of the own ship and replays the inputs the server
 * has not applied yet (seq > ack_seq). A small correction is not shown as a jump: the difference
 * is kept as a visual offset that decays; a large one (a teleport, a respawn) snaps.
 *
 * The ship is drawn in the present: between the last predicted tick and the next one, which is
 * stepped with the buttons held *now*, so a key press moves the ship in the very next animation
 * frame, not a tick later. Knows nothing of sockets, the canvas or the wasm module.
 */

/** @typedef {{ x: number, y: number, vx: number, vy: number }} Motion */
/** @typedef {{ seq: number, buttons: number, aim: number }} Input */
/** @typedef {(m: Motion, buttons: number) => Motion} StepFn  one movement step of the room */

/** Unacknowledged inputs kept at most (several seconds even at 128 Hz). */
const MAX_PENDING = 1024;
/** Time constant of the visual correction's decay, in ms. */
export const SMOOTH_MS = 90;
/**
 * Snapshots in a row whose own-ship state rests on speculated inputs that the predictor skips
 * before it reconciles anyway (half a second at 30 Hz).
 */
export const MAX_UNCONFIRMED_SNAPSHOTS = 15;
/** A correction larger than this is a teleport (respawn, wall): snap instead of smoothing. */
export const SNAP_DIST = 200;

export class Predictor {
  /**
   * A fresh predictor per connection (sequence numbers start at 1 again).
   * @param {StepFn} step  the server's movement step for this room (tick rate and arena bound)
   */
  constructor(step) {
    this.step = step;
    this.nextSeq = 1;
    /** Inputs sent and not yet acknowledged, oldest first. @type {Input[]} */
    this.pending = [];
    /** Predicted state after the last input. @type {Motion | null} */
    this.cur = null;
    this.alive = false;
    this.err = { x: 0, y: 0 };
    /** Size of the last correction, in world units, for the HUD and tests. */
    this.lastCorrection = 0;
    /** Snapshots whose replayed state differed from the prediction (a misprediction). */
    this.corrections = 0;
    /** Sum of the sizes of all corrections (world units), snaps included. */
    this.correctionTotal = 0;
    /** Corrections large enough to snap. */
    this.snaps = 0;
    this.lastAck = 0;
    /** Snapshots in a row skipped because their own-ship state rested on speculated inputs. */
    this.unconfirmedRun = 0;
    /** Snapshots skipped that way in all. */
    this.skippedSnapshots = 0;
    /** The next state under the live buttons, cached per (cur, buttons). */
    this.ahead = /** @type {{ from: Motion, buttons: number, next: Motion } | null} */ (null);
  }

  /** Sequence number of the last input (0 before the first). */
  get lastSeq() {
    return this.nextSeq - 1;
  }

  /**
   * One tick of the input clock: numbers the input, keeps it, and advances the prediction.
   * @param {number} buttons
   * @param {number} aim  wire angle (u16)
   * @returns {Input} the input to send
   */
  tick(buttons, aim) {
    const input = { seq: this.nextSeq++, buttons, aim };
    this.pending.push(input);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    if (this.cur && this.alive) this.cur = this.step(this.cur, buttons);
    return input;
  }

  /**
   * The newest inputs to send, oldest first, ending with the last one: the redundancy of an input
   * batch (all of them unacknowledged).
   * @param {number} max
   * @returns {Input[]}
   */
  batch(max) {
    return this.pending.slice(-Math.max(1, max));
  }

  /**
   * Reconciles with the server's view of the own ship.
   * @param {{ x: number, y: number, vx: number, vy: number, alive: boolean } | null} own  world units
   * @param {number} ackSeq  last input the server applied
   * @param {number} [speculated]  how many of the acknowledged inputs the server speculated
   *   (the snapshot's `ack_speculated`): above zero, the snapshot is not reconciled against
   */
  onSnapshot(own, ackSeq, speculated = 0) {
    this.lastAck = ackSeq;
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= ackSeq) drop++;
    if (drop) this.pending.splice(0, drop);
    if (!own) return;
    // The server applied some of the acknowledged inputs before they arrived (speculated): the
    // ship's state here rests on its guess, and once the real inputs arrive it replays them. Keep
    // predicting instead of being corrected towards the guess and back; but not forever.
    if (speculated > 0 && own.alive && this.alive && this.cur && this.unconfirmedRun < MAX_UNCONFIRMED_SNAPSHOTS) {
      this.unconfirmedRun++;
      this.skippedSnapshots++;
      return;
    }
    this.unconfirmedRun = 0;

    /** @type {Motion} */
    let m = { x: own.x, y: own.y, vx: own.vx, vy: own.vy };
    const wasAlive = this.alive;
    this.alive = own.alive;
    if (own.alive) for (const input of this.pending) m = this.step(m, input.buttons);

    if (!this.cur || !own.alive || !wasAlive) {
      this.cur = m;
      this.err = { x: 0, y: 0 };
      this.lastCorrection = 0;
      return;
    }
    const dx = this.cur.x - m.x;
    const dy = this.cur.y - m.y;
    this.lastCorrection = Math.hypot(dx, dy);
    this.cur = m;
    if (this.lastCorrection === 0) return;
    this.corrections++;
    this.correctionTotal += this.lastCorrection;
    if (this.lastCorrection > SNAP_DIST) {
      this.snaps++;
      this.err = { x: 0, y: 0 };
    } else {
      this.err = { x: this.err.x + dx, y: this.err.y + dy };
    }
  }

  /**
   * Where to draw the own ship now: `alpha` of the way from the last predicted tick to the next
   * one as the buttons held now would make it, plus the decaying correction.
   * @param {number} alpha  0..1, how far the input clock is towards its next tick
   * @param {number} liveButtons  the buttons held now
   * @param {number} frameMs  time since the last frame, for the decay
   * @returns {{ x: number, y: number } | null}
   */
  display(alpha, liveButtons, frameMs) {
    const cur = this.cur;
    if (!cur) return null;
    const k = Math.exp(-Math.max(0, frameMs) / SMOOTH_MS);
    this.err.x *= k;
    this.err.y *= k;
    if (Math.abs(this.err.x) < 0.01) this.err.x = 0;
    if (Math.abs(this.err.y) < 0.01) this.err.y = 0;
    let next = cur;
    if (this.alive) {
      if (!this.ahead || this.ahead.from !== cur || this.ahead.buttons !== liveButtons) {
        this.ahead = { from: cur, buttons: liveButtons, next: this.step(cur, liveButtons) };
      }
      next = this.ahead.next;
    }
    const a = Math.min(1, Math.max(0, alpha));
    return {
      x: cur.x + (next.x - cur.x) * a + this.err.x,
      y: cur.y + (next.y - cur.y) * a + this.err.y,
    };
  }
}
