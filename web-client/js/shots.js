// @ts-check
/**
 * The own ship's shots, drawn in the present like the own ship. When an input with the fire
 * button goes out and the local cooldown allows (the server's rule: `ceil(fire_cooldown_s ×
 * tick_hz)` ticks, counted down every tick), a local projectile leaves the predicted nose at once
 * and flies with the server's projectile step each tick. When the server's projectile of that
 * shot first appears in a snapshot (a new projectile owned by the player, matched to the oldest
 * unmatched local shot fired at or before the snapshot's `ack_seq`), the local one is retired and
 * the server's is drawn instead, extrapolated from its snapshot to the predicted tick, so it does
 * not jump back; a shot is never drawn twice. A local shot the server never fired (the cooldowns
 * disagreed, the ship was dead) is dropped a few ticks after its input was acknowledged.
 *
 * The spawn and step functions are injected (the wasm module's in the page), so this is pure and
 * runs under node's test runner.
 */

/** @typedef {{ x: number, y: number, vx: number, vy: number }} Motion */
/**
 * @typedef {object} ShotRules
 * @property {(x: number, y: number, aim: number) => Motion} spawn  the projectile a ship at
 *   (x, y) aiming at `aim` (u16) fires
 * @property {(p: Motion) => Motion} step  one tick of flight
 * @property {number} cooldownTicks  ticks between two shots
 * @property {number} lifetimeTicks  ticks a projectile flies
 * @property {number} fireBit  the fire button's bit
 * @property {{ w: number, h: number }} arena
 * @property {number} tickS  seconds per tick
 */
/** @typedef {Motion & { fireSeq: number, age: number }} LocalShot */
/** @typedef {{ id: number, x: number, y: number, vx: number, vy: number, owner: number }} ServerShot */
/** @typedef {{ x: number, y: number, vx: number, vy: number, owner: number, local: boolean }} DrawnShot */

/** Ticks after its input's acknowledgement that an unmatched local shot is kept. */
export const DROP_AFTER_TICKS = 3;

/**
 * A duration as whole ticks the way the server counts it: `ceil(seconds × tick_hz)` in `f32`,
 * at least 1 (`Clock::ticks`).
 * @param {number} seconds
 * @param {number} tickHz
 */
export function ticksFor(seconds, tickHz) {
  return Math.max(1, Math.ceil(Math.fround(Math.fround(seconds) * tickHz)));
}

export class OwnShots {
  /** @param {ShotRules} rules */
  constructor(rules) {
    this.rules = rules;
    /** Local shots not matched yet, oldest first. @type {LocalShot[]} */
    this.local = [];
    /** Own server projectiles seen: id → fire seq of the local shot it replaced (null: none). */
    /** @type {Map<number, number | null>} */
    this.known = new Map();
    /** Ticks until the local cooldown allows another shot. */
    this.cooldown = 0;
    /** Local shots fired. */
    this.predicted = 0;
    /** Local shots replaced by the server's projectile. */
    this.matched = 0;
    /** Local shots dropped with no server projectile. */
    this.dropped = 0;
    /** Own server projectiles that matched no local shot. */
    this.unpredicted = 0;
  }

  /**
   * One tick of the input clock, in the server's order: cooldown, fly, then fire.
   * @param {number} seq  the input's sequence number
   * @param {number} buttons
   * @param {number} aim  wire angle (u16)
   * @param {Motion | null} ship  the predicted ship after this input, null while dead
   */
  onInput(seq, buttons, aim, ship) {
    const { step, lifetimeTicks, arena } = this.rules;
    this.cooldown = Math.max(0, this.cooldown - 1);
    const flying = [];
    for (const shot of this.local) {
      const m = step(shot);
      const next = { ...shot, x: m.x, y: m.y, age: shot.age + 1 };
      if (next.age >= lifetimeTicks || next.x < 0 || next.x > arena.w || next.y < 0 || next.y > arena.h) continue;
      flying.push(next);
    }
    this.local = flying;
    if (ship && (buttons & this.rules.fireBit) !== 0 && this.cooldown === 0) {
      const p = this.rules.spawn(ship.x, ship.y, aim);
      this.local.push({ x: p.x, y: p.y, vx: p.vx, vy: p.vy, fireSeq: seq, age: 0 });
      this.cooldown = this.rules.cooldownTicks;
      this.predicted++;
    }
  }

  /**
   * Matches the own projectiles of a new snapshot to local shots.
   * @param {ServerShot[]} own  the snapshot's projectiles owned by the player, in id order
   * @param {number} ackSeq
   */
  onSnapshot(own, ackSeq) {
    /** @type {Set<number>} */
    const present = new Set();
    for (const p of own) {
      present.add(p.id);
      if (this.known.has(p.id)) continue;
      const first = this.local[0];
      if (first && first.fireSeq <= ackSeq) {
        this.local.shift();
        this.known.set(p.id, first.fireSeq);
        this.matched++;
      } else {
        this.known.set(p.id, null);
        this.unpredicted++;
      }
    }
    for (const id of this.known.keys()) if (!present.has(id)) this.known.delete(id);
    while (this.local.length && this.local[0].fireSeq + DROP_AFTER_TICKS <= ackSeq) {
      this.local.shift();
      this.dropped++;
    }
  }

  /**
   * The own shots to draw at the predicted present, `alpha` of a tick past input `lastSeq`.
   * @param {ServerShot[]} own  the newest snapshot's own projectiles
   * @param {number} ackSeq  that snapshot's `ack_seq`
   * @param {number} lastSeq  the last input sent
   * @param {number} alpha  0..1
   * @param {number} myId
   * @returns {DrawnShot[]}
   */
  draw(own, ackSeq, lastSeq, alpha, myId) {
    const { tickS, lifetimeTicks } = this.rules;
    /** @type {DrawnShot[]} */
    const out = [];
    const ahead = Math.max(0, lastSeq - ackSeq) + alpha;
    for (const p of own) {
      const fireSeq = this.known.get(p.id);
      if (fireSeq !== undefined && fireSeq !== null && lastSeq - fireSeq + alpha >= lifetimeTicks) continue;
      const t = ahead * tickS;
      out.push({ x: p.x + p.vx * t, y: p.y + p.vy * t, vx: p.vx, vy: p.vy, owner: myId, local: false });
    }
    for (const s of this.local) {
      const t = alpha * tickS;
      out.push({ x: s.x + s.vx * t, y: s.y + s.vy * t, vx: s.vx, vy: s.vy, owner: myId, local: true });
    }
    return out;
  }
}
