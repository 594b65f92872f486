// The own ship's predictor, with a fake movement step (no wasm needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Predictor, SNAP_DIST } from '../js/predict.js';

const RIGHT = 8;
const LEFT = 4;

/** A toy step: RIGHT adds 1 to the speed, LEFT takes 1; the ship moves by its speed. */
function step(m, buttons) {
  const vx = m.vx + ((buttons & RIGHT) ? 1 : 0) - ((buttons & LEFT) ? 1 : 0);
  return { x: m.x + vx, y: m.y, vx, vy: m.vy };
}

/** The server side of the toy: the own ship after applying `inputs` from rest at `x0`. */
function server(x0, inputs) {
  let m = { x: x0, y: 0, vx: 0, vy: 0 };
  for (const b of inputs) m = step(m, b);
  return { ...m, alive: true };
}

test('inputs are numbered from 1 and move the prediction once the ship is known', () => {
  const p = new Predictor(step);
  assert.equal(p.tick(RIGHT, 0).seq, 1);
  assert.equal(p.cur, null, 'nothing to predict before the first snapshot');
  p.onSnapshot(server(100, []), 0);
  assert.deepEqual(p.cur, { x: 101, y: 0, vx: 1, vy: 0 }, 'the unacknowledged input 1 is replayed');
  p.tick(RIGHT, 0);
  assert.deepEqual(p.cur, { x: 103, y: 0, vx: 2, vy: 0 });
  assert.equal(p.lastSeq, 2);
});

test('a snapshot that agrees with the prediction is no correction', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(0, []), 0);
  const sent = [];
  for (let i = 0; i < 10; i++) sent.push(p.tick(i < 5 ? RIGHT : 0, 0).buttons);
  // The server has applied the first 6 of them.
  p.onSnapshot(server(0, sent.slice(0, 6)), 6);
  assert.equal(p.pending.length, 4, 'acknowledged inputs are forgotten');
  assert.equal(p.lastCorrection, 0);
  assert.equal(p.corrections, 0);
  const { alive: _, ...expected } = server(0, sent);
  assert.deepEqual(p.cur, expected, 'the replay of the unacknowledged inputs is the prediction');
});

test('a small correction is smoothed away, a large one snaps', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(0, []), 0);
  p.tick(0, 0);
  p.onSnapshot({ x: 5, y: 0, vx: 0, vy: 0, alive: true }, 1);
  assert.equal(p.lastCorrection, 5);
  assert.equal(p.corrections, 1);
  const first = p.display(0, 0, 0);
  assert.ok(first);
  assert.equal(first.x, 0, 'right after the correction the ship is drawn where it was');
  let shown = first.x;
  for (let i = 0; i < 60; i++) shown = /** @type {{ x: number }} */ (p.display(0, 0, 16)).x;
  assert.ok(Math.abs(shown - 5) < 0.01, `the offset decays to nothing: ${shown}`);

  p.onSnapshot({ x: 5 + SNAP_DIST + 1, y: 0, vx: 0, vy: 0, alive: true }, 1);
  assert.equal(p.snaps, 1);
  assert.equal(/** @type {{ x: number }} */ (p.display(0, 0, 0)).x, 5 + SNAP_DIST + 1, 'a teleport is not smoothed');
  assert.equal(p.correctionTotal, 5 + SNAP_DIST + 1);
});

test('the ship answers the live buttons within the partial tick', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(100, []), 0);
  const idle = p.display(0.5, 0, 16);
  const pressed = p.display(0.5, RIGHT, 16);
  assert.ok(idle && pressed);
  assert.equal(idle.x, 100, 'with nothing held the ship at rest stays');
  assert.equal(pressed.x, 100.5, 'with RIGHT held it is drawn half way to the next step at once');
  p.tick(RIGHT, 0);
  const after = p.display(0, RIGHT, 16);
  assert.ok(after);
  assert.equal(after.x, 101, 'the tick lands where the extrapolation was heading: no jump');
});

test('a batch is the newest unacknowledged inputs, oldest first', () => {
  const p = new Predictor(step);
  for (let i = 0; i < 6; i++) p.tick(i, 0);
  assert.deepEqual(p.batch(4).map((i) => i.seq), [3, 4, 5, 6]);
  p.onSnapshot(null, 5);
  assert.deepEqual(p.batch(4).map((i) => i.seq), [6], 'only what the server has not acknowledged');
});

test('death and respawn restart the prediction without counting a correction', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(0, []), 0);
  p.tick(RIGHT, 0);
  p.onSnapshot({ x: 0, y: 0, vx: 0, vy: 0, alive: false }, 1);
  p.tick(RIGHT, 0);
  assert.equal(p.cur?.x, 0, 'a dead ship is not moved');
  p.onSnapshot({ x: 900, y: 900, vx: 0, vy: 0, alive: true }, 2);
  assert.equal(p.cur?.x, 900);
  assert.equal(p.corrections, 0);
});

test('a snapshot resting on a speculated input is not reconciled against; the replayed one is', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(0, []), 0);
  const sent = [];
  for (let i = 0; i < 6; i++) sent.push(p.tick(i < 3 ? RIGHT : 0, 0).buttons);
  const predicted = { ...p.cur };
  // Input 4 (no buttons) was late: the server guessed it from input 3 (RIGHT) and says so.
  const guessed = server(0, [...sent.slice(0, 3), RIGHT]);
  p.onSnapshot(guessed, 4, 1);
  assert.deepEqual(p.cur, predicted, 'the guess does not move the prediction');
  assert.equal(p.corrections, 0);
  assert.equal(p.pending.length, 2, 'acknowledged inputs are still forgotten');
  // The real input arrived; the server replayed: its state is what the client predicted.
  p.onSnapshot(server(0, sent.slice(0, 5)), 5, 0);
  assert.deepEqual(p.cur, predicted);
  assert.equal(p.corrections, 0, 'no correction towards the guess and back');
  assert.equal(p.skippedSnapshots, 1);
});

test('a client is not kept from reconciling for ever by speculation', () => {
  const p = new Predictor(step);
  p.onSnapshot(server(0, []), 0);
  p.tick(0, 0);
  for (let i = 0; i < 100; i++) p.onSnapshot(server(50, []), 1, 1);
  assert.equal(p.cur?.x, 50, 'after a run of speculated snapshots the predictor reconciles anyway');
});
