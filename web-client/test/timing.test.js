// The input clock's time dilation (the protocol's rule, protocol/src/timing.rs) and the
// fixed-step input clock. Run: node --test web-client/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RULE, Dilation, InputClock, dilationFor, ruleFrom, toViewTime } from '../js/timing.js';

test('early inputs slow the clock and late ones speed it up, within the clamp', () => {
  assert.ok(dilationFor(16) > 0, 'one tick early should slow the input clock');
  assert.ok(dilationFor(-16) < 0, 'one tick late should speed it up');
  assert.equal(dilationFor(0), 0);
  assert.equal(dilationFor(16), Math.fround(0.03), 'one tick of offset is the gain');
  assert.equal(dilationFor(32767), Math.fround(0.1), 'the dilation is clamped');
  assert.equal(dilationFor(-32768), Math.fround(-0.1));
});

test('the controller converges on the target without jumping', () => {
  const d = new Dilation();
  const first = d.update(32);
  assert.ok(first > 0 && first < dilationFor(32), `the first step is only part of the way: ${first}`);
  for (let i = 0; i < 50; i++) d.update(32);
  assert.ok(Math.abs(d.current - dilationFor(32)) < 1e-4, 'it settles on the target');
  assert.ok(Math.abs(d.period(1) - (1 + dilationFor(32))) < 1e-4);
});

test('a delayed feedback loop settles near zero lead (the protocol test, in JS)', () => {
  for (const delay of [0, 5, 10]) {
    const d = new Dilation();
    let lead = 3; // ticks early
    const history = Array(delay + 1).fill(lead);
    let worstAfter = 0;
    for (let step = 0; step < 300; step++) {
      const seen = history.shift() ?? lead;
      const offset = Math.max(-32768, Math.min(32767, Math.round(seen * 16)));
      lead -= d.update(offset);
      history.push(lead);
      if (step > 150) worstAfter = Math.max(worstAfter, Math.abs(lead));
    }
    assert.ok(worstAfter < 0.1, `with ${delay} snapshots of delay the lead should settle near 0, got ${worstAfter}`);
  }
});

test('the rule comes from the wasm rules object', () => {
  assert.deepEqual(
    ruleFrom({ offset_units_per_tick: 16, dilation_gain: 0.03, max_dilation: 0.1, dilation_smoothing: 0.25 }),
    { ...DEFAULT_RULE },
  );
  assert.deepEqual(ruleFrom({}), { ...DEFAULT_RULE }, 'missing constants fall back to the protocol defaults');
});

test('the input clock gives one input per period and stretches the period by the dilation', () => {
  const clock = new InputClock(1000 / 30);
  let inputs = 0;
  for (let frame = 0; frame < 600; frame++) inputs += clock.advance(1000 / 60); // 10 s at 60 fps
  assert.ok(Math.abs(inputs - 300) <= 1, `10 s at 30 Hz is 300 inputs, got ${inputs}`);

  const slow = new InputClock(1000 / 30);
  for (let i = 0; i < 100; i++) slow.dilation.update(32767); // as slow as allowed: +10 %
  inputs = 0;
  for (let frame = 0; frame < 600; frame++) inputs += slow.advance(1000 / 60);
  assert.ok(Math.abs(inputs - 300 / 1.1) <= 1, `a 10 % slower clock sends ${Math.round(300 / 1.1)} inputs, got ${inputs}`);
  assert.ok(Math.abs(slow.periodMs - (1000 / 30) * 1.1) < 0.01);
});

test('a stall drops the backlog instead of bursting it, and alpha is the partial tick', () => {
  const clock = new InputClock(10, undefined, 5);
  assert.equal(clock.advance(1000), 5, 'at most maxSteps inputs in one frame');
  assert.ok(clock.acc < 10, 'the rest of the stall is dropped');
  const fresh = new InputClock(10);
  fresh.advance(2.5);
  assert.equal(fresh.alpha, 0.25);
  assert.equal(fresh.advance(7.5), 1);
  assert.equal(fresh.alpha, 0);
});

test('view times are whole ticks and 1/256ths', () => {
  assert.deepEqual(toViewTime(298.5), { tick: 298, frac: 128 });
  assert.deepEqual(toViewTime(10), { tick: 10, frac: 0 });
  assert.deepEqual(toViewTime(10.99999), { tick: 10, frac: 255 });
  assert.deepEqual(toViewTime(-3), { tick: 0, frac: 0 });
  assert.deepEqual(toViewTime(NaN), { tick: 0, frac: 0 });
});
