// @ts-check
/**
 * What the page knows about the room: the room's constants from Welcome, a short buffer of
 * snapshots (the whole world in view as the wasm decoder holds it after each one, converted from
 * wire fixed point to world units) with a mapping from server ticks to local time, interpolation of other ships and projectiles ~2 snapshot intervals in the past, the
 * roster of names, the kill feed and the scoreboard. Touches neither the socket nor the canvas.
 */

/**
 * @typedef {{ id: number, x: number, y: number, vx: number, vy: number, aim: number,
 *             hp: number, alive: boolean, score: number, buttons: number }} Ship
 *   `buttons`: the move buttons the ship applied in its last tick (the high nibble of its flags)
 * @typedef {{ id: number, x: number, y: number, vx: number, vy: number, owner: number }} Projectile
 * @typedef {{ id: number, x: number, y: number, kind: string }} Orb
 * @typedef {{ tick: number, ackSeq: number, ships: Map<number, Ship>,
 *             projectiles: Map<number, Projectile>, orbs: Orb[] }} Snap
 * @typedef {{ killer: string, victim: string, mine: boolean, at: number }} Kill
 */

const TURN = Math.PI * 2;
/** Snapshots kept: a little over a second at 30 Hz, enough for any sane render delay. */
const MAX_SNAPSHOTS = 48;
/** How far past the newest snapshot others may be extrapolated, in ms. */
const MAX_EXTRAPOLATION_MS = 100;
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
  /** @param {Record<string, number>} rules  constants from the wasm module */
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
    /** Local ms minus server ms for snapshots that arrived without delay (low envelope). */
    this.clockOffset = /** @type {number | null} */ (null);
    /** Smoothed gap between consecutive snapshots, in ticks (1 unless the server drops some). */
    this.intervalTicks = 1;
    /** @type {Kill[]} newest first */
    this.kills = [];
    this.killsVersion = ++changes;
    this.scoreboard = { playersOnline: 0, top: /** @type {{ id: number, score: number }[]} */ ([]) };
    this.scoreboardVersion = ++changes;
    /** Local time at which the own ship was last seen dying, for the respawn countdown. */
    this.diedAt = /** @type {number | null} */ (null);
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
  }

  /**
   * @param {any} s  an applied Snapshot as the wasm decoder renders it (wire units; not a desync)
   * @param {number} now  local ms (performance.now)
   */
  onSnapshot(s, now) {
    const P = this.posScale;
    const V = this.velScale;
    const A = TURN / this.angleSteps;
    /** @type {Snap} */
    const snap = { tick: s.tick, ackSeq: s.ack_seq, ships: new Map(), projectiles: new Map(), orbs: [] };
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
    if (prev && snap.tick <= prev.tick) return; // TCP keeps order; ignore a repeat
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

    // Clock mapping: follow early arrivals at once, late ones slowly (clock drift), and start
    // over after a long stall (hidden tab, reconnect).
    const sample = now - snap.tick * this.tickMs;
    if (this.clockOffset === null || Math.abs(sample - this.clockOffset) > 1000 || sample < this.clockOffset) {
      this.clockOffset = sample;
    } else {
      this.clockOffset += (sample - this.clockOffset) * 0.02;
    }
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

  /** Render delay behind the newest snapshot, in ms: two snapshot intervals. */
  get renderDelayMs() {
    return 2 * Math.max(1, this.intervalTicks) * this.tickMs;
  }

  /**
   * The world as it should be drawn at local time `now`: other ships (alive ones) and projectiles
   * interpolated between the two snapshots around `now − offset − delay`, orbs from the later one.
   * @param {number} now
   * @returns {{ ships: Ship[], projectiles: Projectile[], orbs: Orb[], renderTick: number } | null}
   */
  sample(now) {
    const snaps = this.snaps;
    if (!snaps.length || this.clockOffset === null) return null;
    const tickMs = this.tickMs;
    const renderMs = now - this.clockOffset - this.renderDelayMs; // in server ms
    const renderTick = renderMs / tickMs;

    // Find a, b with a.tick <= renderTick < b.tick (or clamp to the ends).
    let i = snaps.length - 1;
    while (i > 0 && snaps[i - 1].tick > renderTick) i--;
    const b = snaps[i];
    const a = i > 0 ? snaps[i - 1] : b;
    let alpha = 1;
    let extraMs = 0;
    if (b !== a) {
      alpha = Math.min(1, Math.max(0, (renderTick - a.tick) / (b.tick - a.tick)));
    } else if (renderTick > b.tick) {
      extraMs = Math.min(MAX_EXTRAPOLATION_MS, (renderTick - b.tick) * tickMs);
    }
    const extra = extraMs / 1000;
    const toB = ((b.tick - renderTick) * tickMs) / 1000; // seconds from render time to b

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
        // New in b: fly it back along its velocity to the render time (straight-line motion).
        projectiles.push({ ...pb, x: pb.x - pb.vx * toB, y: pb.y - pb.vy * toB });
      } else {
        projectiles.push({ ...pb, x: pb.x + pb.vx * extra, y: pb.y + pb.vy * extra });
      }
    }
    return { ships, projectiles, orbs: b.orbs, renderTick };
  }
}
