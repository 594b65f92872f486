// The server-clock filter, the jitter measure, the adaptive render delay and the render clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Jitter, MAX_RATE_CHANGE, RenderClock, ServerClock, renderDelayFor } from '../js/clock.js';

const TICK = 31.25; // 32 Hz: exact in binary, so the sums below are exact

/** A deterministic pseudo-random sequence in [0, 1). */
function rng(seed = 1) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('one late snapshot cannot shift the server clock', () => {
  const clock = new ServerClock(TICK);
  for (let tick = 0; tick < 30; tick++) clock.onSnapshot(tick, 500 + tick * TICK);
  assert.equal(clock.offset, 500);
  const late = clock.onSnapshot(30, 500 + 30 * TICK + 250);
  assert.equal(late, 250, 'the late sample is measured as 250 ms late');
  assert.equal(clock.offset, 500, 'and does not move the estimate');
  clock.onSnapshot(31, 500 + 31 * TICK);
  assert.equal(clock.offset, 500);
});

test('an earlier arrival lowers the estimate at once; a lasting slowdown raises it within the window', () => {
  const clock = new ServerClock(TICK, 2000);
  let now = 0;
  for (let tick = 0; tick < 30; tick++) clock.onSnapshot(tick, (now = 500 + tick * TICK));
  clock.onSnapshot(30, 480 + 30 * TICK);
  assert.equal(clock.offset, 480, 'a faster path shows at once');
  // The link gets 100 ms slower for good: after the window has passed, the estimate follows.
  for (let tick = 31; tick < 31 + 90; tick++) clock.onSnapshot(tick, (now = 600 + tick * TICK));
  assert.ok(now - (480 + 30 * TICK) > 2000);
  assert.equal(clock.offset, 600);
});

test('jitter is a high percentile, so a rare outlier does not count', () => {
  const j = new Jitter(3000, 0.95);
  for (let i = 0; i < 100; i++) j.add(i % 10, i * 10);
  assert.equal(j.ms, 9);
  j.add(400, 1000);
  assert.equal(j.ms, 9, 'one outlier in a hundred is below the 95th percentile');
  j.add(1, 10_000);
  assert.equal(j.count, 1, 'samples older than the window are forgotten');
});

test('the render delay is about two intervals by default, more on a jittery link, less on a clean one', () => {
  assert.equal(renderDelayFor(TICK, null), 2 * TICK, 'nothing measured yet: two intervals');
  const clean = renderDelayFor(TICK, 1);
  const bad = renderDelayFor(TICK, 60);
  assert.ok(clean < 2 * TICK && clean > TICK, `a clean link draws between one and two intervals behind: ${clean}`);
  assert.ok(bad > 2 * TICK, `a jittery link draws further behind: ${bad}`);
  assert.ok(renderDelayFor(1000 / 128, 30) > 30, 'at 128 Hz the jitter, not the interval, sets the delay');
});

test('the render clock never goes backwards and never runs more than 10 % off real time', () => {
  const clock = new RenderClock();
  const r = rng(7);
  let now = 0;
  let prev = clock.advance(0, now);
  for (let frame = 0; frame < 2000; frame++) {
    const dt = 16.7;
    now += dt;
    // A target that wanders by ±40 ms around real time (noisy estimate and delay changes).
    const target = now + (r() - 0.5) * 80 + (frame > 1000 ? 200 : 0);
    const ms = clock.advance(target, now);
    assert.ok(ms > prev, `the render time went backwards at frame ${frame}: ${prev} → ${ms}`);
    const rate = (ms - prev) / dt;
    assert.ok(rate <= 1 + MAX_RATE_CHANGE + 1e-9 && rate >= 1 - MAX_RATE_CHANGE - 1e-9, `rate ${rate} at frame ${frame}`);
    prev = ms;
  }
  assert.ok(Math.abs(prev - (now + 200)) < 60, 'it follows a step of the target within a few seconds');
  assert.equal(clock.jumps + clock.resets, 0);
});

test('the render clock converges on a steady target and does not overshoot on a long frame', () => {
  const clock = new RenderClock();
  clock.advance(0, 0);
  let now = 0;
  for (let i = 0; i < 300; i++) clock.advance((now += 16) - 50, now);
  assert.ok(Math.abs(/** @type {number} */ (clock.ms) - (now - 50)) < 0.5, 'it settles 50 ms behind as asked');
  const before = /** @type {number} */ (clock.ms);
  const ms = clock.advance(now + 400 + 10, now + 400); // a 400 ms frame, target 60 ms ahead of the clock
  assert.ok(ms <= now + 410 + 1e-9 && ms > before, 'a long frame reaches the target without passing it');
});

test('a gross error jumps forward or resets, counted', () => {
  const clock = new RenderClock();
  clock.advance(0, 0);
  assert.equal(clock.advance(5000, 16), 5000);
  assert.equal(clock.jumps, 1);
  assert.equal(clock.advance(0, 32), 0);
  assert.equal(clock.resets, 1);
});
