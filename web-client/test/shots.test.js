// Own-shot prediction: cooldown, flight, matching to the server's projectiles, never twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_AFTER_TICKS, OwnShots, ticksFor } from '../js/shots.js';

const FIRE = 16;
const HZ = 30;
const ME = 1;

/** Shots fired along +x from 26 units in front of the ship at 900 units/s. */
function rules(overrides = {}) {
  return {
    spawn: (x, y) => ({ x: x + 26, y, vx: 900, vy: 0 }),
    step: (p) => ({ ...p, x: p.x + p.vx / HZ, y: p.y + p.vy / HZ }),
    cooldownTicks: ticksFor(0.22, HZ),
    lifetimeTicks: ticksFor(1.1, HZ),
    fireBit: FIRE,
    arena: { w: 4000, h: 4000 },
    tickS: 1 / HZ,
    ...overrides,
  };
}

const ship = { x: 100, y: 100, vx: 0, vy: 0 };

test('durations in ticks are counted like the server: ceil of the f32 product, at least one', () => {
  assert.equal(ticksFor(0.22, 30), 7);
  assert.equal(ticksFor(1.1, 30), 33);
  assert.equal(ticksFor(0.22, 128), 29);
  assert.equal(ticksFor(0.22, 50), 11, 'f32: 0.22 × 50 rounds to exactly 11');
  assert.equal(ticksFor(0, 30), 1);
});

test('holding fire shoots once per cooldown, from the predicted nose, and the shot flies each tick', () => {
  const s = new OwnShots(rules());
  const fired = [];
  for (let seq = 1; seq <= 15; seq++) {
    const before = s.predicted;
    s.onInput(seq, FIRE, 0, ship);
    if (s.predicted > before) fired.push(seq);
  }
  assert.deepEqual(fired, [1, 8, 15], 'a shot every 7 ticks at 30 Hz');
  const first = s.local[0];
  assert.equal(first.fireSeq, 1);
  assert.equal(first.x, 126 + 14 * (900 / HZ), 'fired at the nose, then flown 14 ticks');
  s.onInput(16, 0, 0, null);
  assert.equal(s.predicted, 3, 'a dead ship does not fire');
});

test('a local shot is matched to the first new server projectile once its input is acknowledged', () => {
  const s = new OwnShots(rules());
  s.onInput(1, FIRE, 0, ship);
  s.onInput(2, 0, 0, ship);
  s.onInput(3, 0, 0, ship);
  // Not acknowledged yet: a new own projectile (fired before, e.g. on the old connection) is not this shot.
  s.onSnapshot([{ id: 40, x: 0, y: 0, vx: 0, vy: 0, owner: ME }], 0);
  assert.equal(s.local.length, 1);
  assert.equal(s.unpredicted, 1);
  s.onSnapshot([{ id: 40, x: 0, y: 0, vx: 0, vy: 0, owner: ME }, { id: 41, x: 126, y: 100, vx: 900, vy: 0, owner: ME }], 1);
  assert.equal(s.local.length, 0, 'the local shot is retired');
  assert.equal(s.matched, 1);
  assert.equal(s.known.get(41), 1);
});

test('a shot is never drawn twice, and does not jump back when the server takes over', () => {
  const s = new OwnShots(rules());
  s.onInput(1, FIRE, 0, ship);
  s.onInput(2, 0, 0, ship);
  s.onInput(3, 0, 0, ship);
  s.onInput(4, 0, 0, ship);
  // Before the server's projectile is seen: the local one, at the present (input 4 + half a tick).
  const local = s.draw([], 0, 4, 0.5, ME);
  assert.equal(local.length, 1);
  assert.ok(local[0].local);
  // The snapshot of the tick that applied input 1 holds the projectile at the nose.
  const server = [{ id: 7, x: 126, y: 100, vx: 900, vy: 0, owner: ME }];
  s.onSnapshot(server, 1);
  const drawn = s.draw(server, 1, 4, 0.5, ME);
  assert.equal(drawn.length, 1, 'one shot, one drawing');
  assert.equal(drawn[0].local, false);
  assert.ok(Math.abs(drawn[0].x - local[0].x) < 1e-9, `the server's shot is drawn where the local one was: ${local[0].x} vs ${drawn[0].x}`);
});

test('a local shot the server never fired is dropped a little after its acknowledgement', () => {
  const s = new OwnShots(rules());
  s.onInput(1, FIRE, 0, ship);
  s.onSnapshot([], 1);
  assert.equal(s.local.length, 1, 'kept: the server may apply a late fire press a tick later');
  s.onSnapshot([], 1 + DROP_AFTER_TICKS);
  assert.equal(s.local.length, 0);
  assert.equal(s.dropped, 1);
});

test('shots expire after their lifetime and at the walls', () => {
  const s = new OwnShots(rules({ lifetimeTicks: 3 }));
  s.onInput(1, FIRE, 0, ship);
  s.onInput(2, 0, 0, ship);
  s.onInput(3, 0, 0, ship);
  assert.equal(s.local.length, 1);
  s.onInput(4, 0, 0, ship);
  assert.equal(s.local.length, 0, 'gone after 3 ticks of flight, like the server');
  const walls = new OwnShots(rules({ arena: { w: 150, h: 4000 } }));
  walls.onInput(1, FIRE, 0, ship);
  walls.onInput(2, 0, 0, ship);
  assert.equal(walls.local.length, 0, 'a shot that leaves the arena is gone');
});

test('a matched server shot is hidden once its lifetime has passed at the predicted time', () => {
  const s = new OwnShots(rules({ lifetimeTicks: 10 }));
  s.onInput(1, FIRE, 0, ship);
  const server = [{ id: 7, x: 126, y: 100, vx: 900, vy: 0, owner: ME }];
  s.onSnapshot(server, 1);
  assert.equal(s.draw(server, 1, 10, 0.5, ME).length, 1);
  assert.equal(s.draw(server, 1, 11, 0, ME).length, 0, 'the server will have removed it by then');
});
