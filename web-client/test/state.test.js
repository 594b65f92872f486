// The interpolation buffer: snapshots in, the world at a render tick out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GameState, MAX_EXTRAPOLATION_TICKS } from '../js/state.js';

const RULES = { pos_scale: 16, vel_scale: 16, angle_steps: 65536 };
const HZ = 30;
const TICK = 1000 / HZ;

/** A ship as the wasm decoder renders it (wire units). */
function ship(id, x, y, { vx = 0, vy = 0, alive = true } = {}) {
  return { id, x: x * 16, y: y * 16, vx: vx * 16, vy: vy * 16, aim: 0, hp: 100, flags: alive ? 1 : 0, score: 0 };
}

function snapshot(tick, ships, projectiles = [], extra = {}) {
  return { tick, ack_seq: 0, input_queue: 0, input_offset: 0, full: false, ships, projectiles, orbs: [], ...extra };
}

function welcomed() {
  const s = new GameState(RULES);
  s.onWelcome({
    your_id: 1, tick_hz: HZ, tick: 0, arena_width: 4000, arena_height: 4000, view_half_width: 1000,
    view_half_height: 600, players: [{ id: 1, name: 'me' }, { id: 2, name: 'bot' }],
  });
  return s;
}

test('others are interpolated between the snapshots around the render tick', () => {
  const s = welcomed();
  s.onSnapshot(snapshot(10, [ship(1, 0, 0), ship(2, 100, 200)]), 0);
  s.onSnapshot(snapshot(11, [ship(1, 0, 0), ship(2, 110, 220)]), TICK);
  const w = s.sample(10.5);
  assert.ok(w);
  assert.equal(w.renderTick, 10.5);
  assert.deepEqual(w.ships.map((sh) => [sh.id, sh.x, sh.y]), [[2, 105, 210]], 'the own ship is not in the list');
});

test('extrapolation past the newest snapshot is bounded in ticks', () => {
  const s = welcomed();
  s.onSnapshot(snapshot(10, [ship(2, 100, 0, { vx: 300 })]), 0);
  const w = s.sample(10 + 2);
  assert.ok(w);
  assert.equal(w.ships[0].x, 100 + 300 * (2 / HZ), 'two ticks ahead along the velocity');
  const far = s.sample(10 + 50);
  assert.ok(far);
  assert.equal(far.renderTick, 10 + MAX_EXTRAPOLATION_TICKS, 'the drawn tick stops a few ticks past the newest');
  assert.equal(far.ships[0].x, 100 + 300 * (MAX_EXTRAPOLATION_TICKS / HZ));
});

test('teleports are not interpolated, dead ships are not drawn, new projectiles are flown back', () => {
  const s = welcomed();
  s.onSnapshot(snapshot(10, [ship(2, 100, 0), ship(3, 50, 50)]), 0);
  s.onSnapshot(
    snapshot(12, [ship(2, 3000, 0), ship(3, 50, 50, { alive: false })], [{ id: 9, x: 200 * 16, y: 0, vx: 900 * 16, vy: 0, owner: 2 }]),
    2 * TICK,
  );
  const w = s.sample(11);
  assert.ok(w);
  assert.deepEqual(w.ships.map((sh) => [sh.id, sh.x]), [[2, 3000]], 'a respawn jumps, a dead ship is gone');
  assert.equal(w.projectiles[0].x, 200 - 900 * (1 / HZ), 'a projectile new in b is flown back one tick');
});

test('a repeated tick is ignored', () => {
  const s = welcomed();
  assert.equal(s.onSnapshot(snapshot(10, []), 0), true);
  assert.equal(s.onSnapshot(snapshot(10, []), 5), false);
  assert.equal(s.onSnapshot(snapshot(9, []), 6), false);
  assert.equal(s.snapshotsReceived, 1);
});

test('with jittery arrivals a ship flying straight is drawn moving forward every frame', () => {
  const s = welcomed();
  let seed = 3;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const speed = 300; // units per second, along +x
  // Snapshots of ticks 0..599 arrive 75 ms ± 15 ms after they were taken, in order (TCP).
  const arrivals = [];
  let last = 0;
  for (let tick = 0; tick < 600; tick++) {
    last = Math.max(last, tick * TICK + 75 + (rand() - 0.5) * 30);
    arrivals.push({ tick, at: last });
  }
  let next = 0;
  let prevX = -Infinity;
  let prevTick = -Infinity;
  let frames = 0;
  for (let now = 0; now < 600 * TICK; now += 1000 / 60) {
    while (next < arrivals.length && arrivals[next].at <= now) {
      const { tick } = arrivals[next++];
      s.onSnapshot(snapshot(tick, [ship(2, 100 + (speed * tick) / HZ, 500, { vx: speed })]), arrivals[next - 1].at);
    }
    const w = s.sample(s.renderTick(now));
    if (!w || !w.ships.length) continue;
    frames++;
    assert.ok(w.renderTick >= prevTick, `the drawn tick went back at ${now.toFixed(1)} ms`);
    assert.ok(w.ships[0].x >= prevX - 1e-9, `the ship was drawn moving backwards at ${now.toFixed(1)} ms: ${prevX} → ${w.ships[0].x}`);
    prevX = w.ships[0].x;
    prevTick = w.renderTick;
  }
  assert.ok(frames > 1000, `most frames drew the ship (${frames})`);
  assert.ok(s.jitterMs !== null && s.jitterMs > 5 && s.jitterMs < 40, `the jitter is measured: ${s.jitterMs}`);
  assert.ok(s.renderDelayMs > TICK && s.renderDelayMs < 3 * TICK, `the delay follows it: ${s.renderDelayMs}`);
});

test('the death screen knows the killer until the respawn', () => {
  const s = welcomed();
  s.onSnapshot(snapshot(10, [ship(1, 0, 0)]), 0);
  s.onEvent({ Kill: { killer: 2, victim: 1 } }, 10);
  assert.equal(s.killedBy, 'bot');
  s.onSnapshot(snapshot(11, [ship(1, 0, 0, { alive: false })]), TICK);
  assert.equal(s.diedAt, TICK);
  assert.equal(s.killedBy, 'bot');
  s.onSnapshot(snapshot(90, [ship(1, 500, 500)]), 80 * TICK);
  assert.equal(s.killedBy, null, 'a respawn forgets the killer');
  assert.equal(s.diedAt, null);
  s.onEvent({ Kill: { killer: 1, victim: 2 } }, 10);
  assert.equal(s.killedBy, null, 'a kill by me is not my death');
});

test('a resumed player keeps the kill feed and scoreboard', () => {
  const old = welcomed();
  old.onEvent({ Kill: { killer: 1, victim: 2 } }, 10);
  old.onScoreboard({ players_online: 2, top: [{ id: 1, score: 10 }] });
  const s = welcomed();
  s.keepFrom(old);
  assert.equal(s.kills.length, 1);
  assert.equal(s.scoreboard.top[0].score, 10);
  assert.notEqual(s.killsVersion, old.killsVersion, 'the HUD redraws the carried-over feed');
});
