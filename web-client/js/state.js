// @ts-check
/**
 * What the page knows about the room: the room's constants from Welcome, a short buffer of
 * snapshots (the whole world in view as the wasm decoder holds it after each one, converted from
 * wire fixed point to world units), the timeline that maps local time to the server tick others
 * are drawn at (see clock.js: a filtered server clock, a render delay that follows the measured
 * jitter, a smooth and monotonic render clock), interpolation of other ships and projectiles at
 * that tick (extrapolation past the newest snapshot bounded in ticks), the roster of names, the
 * kill feed, who killed the own ship, and the scoreboard. Touches neither the socket nor the
 * canvas; time comes in as arguments, so node's test runner drives it.
 */

import { Jitter, RenderClock, ServerClock, renderDelayFor } from './clock.js';

/**
 * @typedef {{ id: number, x: number, y: number, vx: number, vy: number, aim: number,
 *             hp: number, alive: boolean, score: number, buttons: number }} Ship
 *   `buttons`: the move buttons the ship applied in its last tick (the high nibble of its flags)
 * @typedef {{ id: number, x: number, y: number, vx: number, vy: number, owner: number }} Projectile
 * @typedef {{ id: number, x: number, y: number, kind: string }} Orb
 * @typedef {{ tick: number, ackSeq: number, inputQueue: number, inputOffset: number,
 *             ships: Map<number, Ship>, projectiles: Map<number, Projectile>, orbs: Orb[] }} Snap
 * @typedef {{ killer: string, victim: string, mine: boolean, at: number }} Kill
 */

const TURN = Math.PI * 2;
/** Snapshots kept: a little over a second at 30 Hz, enough for any sane render delay. */
const MAX_SNAPSHOTS = 48;
/** How far past the newest snapshot others may be extrapolated, in ticks. */
export const MAX_EXTRAPOLATION_TICKS = 3;
/** Lateness samples needed before the render delay follows the measured jitter. */
const MIN_JITTER_SAMPLES = 10;
/** A ship that moves further than this between two snapshots teleported (respawn): no lerp. */
const TELEPORT_DIST = 300;
/**
 * A full snapshot further than this (in seconds of ticks) past the newest buffered one follows a
 * long resync: the buffer is dropped rather than interpolated across the gap.
 */
const MAX_LERP_GAP_S = 0.5;
const KILL_FEED_LEN = 6;
const KILL_FEED_MS = 8000;
/** Source of change counters, global so a fresh state never repeats an old state's numbers. */
let changes = 0;

/** Linear interpolation of angles along the shorter arc. */
function lerpAngle(/** @type {number} */ a, /** @type {number} */ b, /** @type {number} */ t) {
  let d = (b - a) % TURN;
  if (d > Math.PI) d -= TURN;
  if (d < -Math.PI) d += TURN;
  return a + d * t;
}

export class GameState {
  /** @param {Record<string, number>} rules  constants from the wasm module (pos_scale, vel_scale, angle_steps) */
  constructor(rules) {
    this.posScale = rules.pos_scale;
    this.velScale = rules.vel_scale;
    this.angleSteps = rules.angle_steps;
    /** Whether a Welcome arrived on the current connection. */
    this.welcomed = false;
    this.myId = /** @type {number | null} */ (null);
    this.tickHz = 30;
    this.arena = { w: 4000, h: 4000 };
    this.view = { halfW: 1000, halfH: 600 };
    /** @type {Map<number, string>} */
    this.names = new Map();
    /** @type {Snap[]} newest last */
    this.snaps = [];
    this.snapshotsReceived = 0;
    /** Local minus server time (see clock.js); replaced on Welcome, when the tick rate is known. */
    this.clock = new ServerClock(this.tickMs);
    /** How late snapshots arrive compared with the clock's estimate. */
    this.jitter = new Jitter();
    this.renderClock = new RenderClock();
    /** Lateness of the last snapshot (ms), for the net graph. */
    this.lastLateMs = 0;
    /** Local time between the last two snapshot arrivals (ms), for the net graph. */
    this.lastGapMs = 0;
    this.lastArrival = /** @type {number | null} */ (null);
    /** Smoothed gap between consecutive snapshots, in ticks (1 unless the server drops some). */
    this.intervalTicks = 1;
    /** @type {Kill[]} newest first */
    this.kills = [];
    this.killsVersion = ++changes;
    this.scoreboard = { playersOnline: 0, top: /** @type {{ id: number, score: number }[]} */ ([]) };
    this.scoreboardVersion = ++changes;
    /** Local time at which the own ship was last seen dying, for the respawn countdown. */
    this.diedAt = /** @type {number | null} */ (null);
    /** Name of whoever killed the own ship last, while it is dead (from the Kill event). */
    this.killedBy = /** @type {string | null} */ (null);
  }

  /** Milliseconds per tick. */
  get tickMs() {
    return 1000 / this.tickHz;
  }

  /** The newest snapshot, or null. */
  get newest() {
    return this.snaps.length ? this.snaps[this.snaps.length - 1] : null;
  }

  /** The own ship as the newest snapshot has it (world units), or null. */
  get ownServer() {
    const s = this.newest;
    return s && this.myId !== null ? (s.ships.get(this.myId) ?? null) : null;
  }

  /** A player's display name (`#id` if the roster does not know it). */
  nameOf(/** @type {number} */ id) {
    return this.names.get(id) ?? `#${id}`;
  }

  /** Takes the room's constants and roster; call on a fresh state per connection. */
  onWelcome(/** @type {any} */ w) {
    this.welcomed = true;
    this.myId = w.your_id;
    this.tickHz = Math.max(1, w.tick_hz);
    this.arena = { w: w.arena_width, h: w.arena_height };
    this.view = { halfW: w.view_half_width, halfH: w.view_half_height };
    for (const p of w.players) this.names.set(p.id, p.name);
    this.clock = new ServerClock(this.tickMs);
  }

  /**
   * Carries what a resumed player should keep seeing (kill feed, scoreboard) over from the state
   * of the lost connection.
   * @param {GameState} old
   */
  keepFrom(old) {
    this.kills = old.kills;
    this.killsVersion = ++changes;
    this.scoreboard = old.scoreboard;
    this.scoreboardVersion = ++changes;
    this.killedBy = old.killedBy;
  }

  /**
   * @param {any} s  an applied Snapshot as the wasm decoder renders it (wire units; not a desync)
   * @param {number} now  local ms (performance.now)
   * @returns {boolean} whether it was taken (a repeat of an older tick is ignored)
   */
  onSnapshot(s, now) {
    const P = this.posScale;
    const V = this.velScale;
    const A = TURN / this.angleSteps;
    /** @type {Snap} */
    const snap = {
      tick: s.tick, ackSeq: s.ack_seq, inputQueue: s.input_queue ?? 0, inputOffset: s.input_offset ?? 0,
      ships: new Map(), projectiles: new Map(), orbs: [],
    };
    for (const w of s.ships) {
      snap.ships.set(w.id, {
        id: w.id, x: w.x / P, y: w.y / P, vx: w.vx / V, vy: w.vy / V, aim: w.aim * A,
        hp: w.hp, alive: (w.flags & 1) !== 0, score: w.score, buttons: (w.flags >> 4) & 0xf,
      });
    }
    for (const w of s.projectiles) {
      snap.projectiles.set(w.id, { id: w.id, x: w.x / P, y: w.y / P, vx: w.vx / V, vy: w.vy / V, owner: w.owner });
    }
    for (const w of s.orbs) snap.orbs.push({ id: w.id, x: w.x / P, y: w.y / P, kind: w.kind });

    let prev = this.newest;
    if (prev && snap.tick <= prev.tick) return false; // TCP keeps order; ignore a repeat
    if (prev && s.full) {
      // The answer to a RequestFull (or a fresh start): the gap since the last good snapshot is
      // the resync's, not the server's pace, so it does not count towards the interval; after a
      // long one, interpolating from the old states would drag everything across the screen.
      if (snap.tick - prev.tick > MAX_LERP_GAP_S * this.tickHz) {
        this.snaps.length = 0;
        prev = null;
      }
    } else if (prev) {
      const gap = Math.min(10, snap.tick - prev.tick);
      this.intervalTicks += (gap - this.intervalTicks) * 0.1;
    }
    const wasAlive = prev?.ships.get(this.myId ?? -1)?.alive ?? true;
    this.snaps.push(snap);
    if (this.snaps.length > MAX_SNAPSHOTS) this.snaps.shift();
    this.snapshotsReceived++;

    const own = this.ownServer;
    if (own && !own.alive && wasAlive) this.diedAt = now;
    if (own?.alive) this.diedAt = null;
    // Only a respawn forgets the killer: the Kill event may come just before the snapshot that
    // shows the ship dead.
    if (own?.alive && !wasAlive) this.killedBy = null;

    this.lastLateMs = this.clock.onSnapshot(snap.tick, now);
    this.jitter.add(this.lastLateMs, now);
    this.lastGapMs = this.lastArrival === null ? 0 : now - this.lastArrival;
    this.lastArrival = now;
    return true;
  }

  /**
   * @param {any} e  the GameEvent
   * @param {number} now
   */
  onEvent(e, now) {
    if (e.Joined) this.names.set(e.Joined.id, e.Joined.name);
    if (e.Left) this.names.delete(e.Left.id);
    if (e.Kill) {
      const { killer, victim } = e.Kill;
      if (victim === this.myId) this.killedBy = this.nameOf(killer);
      this.kills.unshift({
        killer: this.nameOf(killer),
        victim: this.nameOf(victim),
        mine: killer === this.myId || victim === this.myId,
        at: now,
      });
      this.kills.length = Math.min(this.kills.length, KILL_FEED_LEN);
      this.killsVersion = ++changes;
    }
  }

  /** @param {any} sb  the Scoreboard message */
  onScoreboard(sb) {
    this.scoreboard = { playersOnline: sb.players_online, top: sb.top };
    this.scoreboardVersion = ++changes;
  }

  /** Drops kill-feed lines older than a few seconds. */
  expireKills(/** @type {number} */ now) {
    const keep = this.kills.filter((k) => now - k.at < KILL_FEED_MS);
    if (keep.length !== this.kills.length) {
      this.kills = keep;
      this.killsVersion = ++changes;
    }
  }

  /** Time between two snapshots, in ms. */
  get intervalMs() {
    return Math.max(1, this.intervalTicks) * this.tickMs;
  }

  /** The measured jitter (ms), or null while there are too few samples. */
  get jitterMs() {
    return this.jitter.count >= MIN_JITTER_SAMPLES ? this.jitter.ms : null;
  }

  /** The render delay the clock aims at, in ms behind the server's present (see clock.js). */
  get renderDelayMs() {
    return renderDelayFor(this.intervalMs, this.jitterMs);
  }

  /**
   * The (fractional) server tick to draw others at, at local time `now`; moves on the render
   * clock, so call it once per frame. Null before the first snapshot.
   * @param {number} now
   */
  renderTick(now) {
    const offset = this.clock.offset;
    if (offset === null) return null;
    const target = now - offset - this.renderDelayMs;
    return this.renderClock.advance(target, now) / this.tickMs;
  }

  /**
   * The world as it should be drawn at server tick `renderTick`: other ships (alive ones) and
   * projectiles interpolated between the two snapshots around it, orbs from the later one. Past
   * the newest snapshot they are extrapolated along their velocity, at most
   * {@link MAX_EXTRAPOLATION_TICKS}; `renderTick` in the result is the tick actually drawn.
   * @param {number | null} renderTick
   * @returns {{ ships: Ship[], projectiles: Projectile[], orbs: Orb[], renderTick: number } | null}
   */
  sample(renderTick) {
    const snaps = this.snaps;
    if (!snaps.length || renderTick === null) return null;
    const tickS = this.tickMs / 1000;
    const newest = snaps[snaps.length - 1];
    const at = Math.min(renderTick, newest.tick + MAX_EXTRAPOLATION_TICKS);

    // Find a, b with a.tick <= at < b.tick (or clamp to the ends).
    let i = snaps.length - 1;
    while (i > 0 && snaps[i - 1].tick > at) i--;
    const b = snaps[i];
    const a = i > 0 ? snaps[i - 1] : b;
    let alpha = 1;
    let extra = 0; // seconds past b
    if (b !== a) {
      alpha = Math.min(1, Math.max(0, (at - a.tick) / (b.tick - a.tick)));
    } else if (at > b.tick) {
      extra = (at - b.tick) * tickS;
    }
    const toB = (b.tick - at) * tickS; // seconds from the drawn tick to b

    /** @type {Ship[]} */
    const ships = [];
    for (const sb of b.ships.values()) {
      if (sb.id === this.myId || !sb.alive) continue;
      const sa = a.ships.get(sb.id);
      if (sa && sa.alive && b !== a && Math.hypot(sb.x - sa.x, sb.y - sa.y) < TELEPORT_DIST) {
        ships.push({
          ...sb,
          x: sa.x + (sb.x - sa.x) * alpha,
          y: sa.y + (sb.y - sa.y) * alpha,
          aim: lerpAngle(sa.aim, sb.aim, alpha),
        });
      } else {
        ships.push({ ...sb, x: sb.x + sb.vx * extra, y: sb.y + sb.vy * extra });
      }
    }

    /** @type {Projectile[]} */
    const projectiles = [];
    for (const pb of b.projectiles.values()) {
      const pa = a.projectiles.get(pb.id);
      if (pa && b !== a) {
        projectiles.push({ ...pb, x: pa.x + (pb.x - pa.x) * alpha, y: pa.y + (pb.y - pa.y) * alpha });
      } else if (b !== a) {
        // New in b: fly it back along its velocity to the drawn tick (straight-line motion).
        projectiles.push({ ...pb, x: pb.x - pb.vx * toB, y: pb.y - pb.vy * toB });
      } else {
        projectiles.push({ ...pb, x: pb.x + pb.vx * extra, y: pb.y + pb.vy * extra });
      }
    }
    return { ships, projectiles, orbs: b.orbs, renderTick: at };
  }
}
