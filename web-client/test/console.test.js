// Unit tests of the operator console's arithmetic (web-client/console/model.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERIES_LENGTH, closesByCount, pushPoint, rates, sparkline, windowQuantile } from '../console/model.js';

const phase = (recorded) => ({ count: recorded.reduce((s, [, n]) => s + n, 0), recorded });

test('tick percentiles come from the ticks between two scrapes only', () => {
  const before = phase([[1000, 90], [20000, 10]]);
  const after = phase([[1000, 90], [2000, 99], [20000, 11]]);
  // Between them: 99 ticks of 2 ms and 1 of 20 ms.
  assert.equal(windowQuantile(before, after, 0.5), 2000);
  assert.equal(windowQuantile(before, after, 0.99), 2000);
  assert.equal(windowQuantile(before, after, 1), 20000);
  assert.equal(windowQuantile(after, after, 0.5), null, 'no tick in between');
  assert.equal(windowQuantile(undefined, before, 0.5), 1000, 'the first scrape counts from zero');
});

test('rates are per second and never negative', () => {
  const base = {
    ticks: 0, overruns: 0, skipped_ticks: 0, clients: 0, connections: 0, rooms: 1,
    bytes_sent: 0, bytes_received: 0, process_cpu_seconds: 1.0, process_resident_bytes: 1,
    connections_closed: {}, phases: { total: phase([[1500, 30]]) },
  };
  const later = {
    ...base, ticks: 60, overruns: 2, bytes_sent: 250_000, bytes_received: 5000, process_cpu_seconds: 1.5,
    phases: { total: phase([[1500, 80], [9000, 10]]) },
  };
  const r = rates(base, later, 2);
  assert.equal(r.ticksPerS, 30);
  assert.equal(r.overrunsPerS, 1);
  assert.equal(r.kbpsOut, 1000);
  assert.equal(r.kbpsIn, 20);
  assert.equal(r.cpuCores, 0.25);
  assert.equal(r.tickP50Ms, 1.5);
  assert.equal(r.tickP99Ms, 9);
  const restarted = rates(later, base, 2);
  assert.equal(restarted.ticksPerS, 0, 'a counter that went back (a restart) gives 0, not a negative rate');
  assert.equal(rates(base, { ...later, process_cpu_seconds: null }, 2).cpuCores, null, 'no CPU figure: null');
});

test('series keep the last points and sparklines scale to their maximum', () => {
  let s = [];
  for (let i = 0; i < SERIES_LENGTH + 5; i++) s = pushPoint(s, i);
  assert.equal(s.length, SERIES_LENGTH);
  assert.equal(s[0], 5);
  const runs = sparkline([0, 5, null, 10], 100, 20);
  assert.equal(runs.length, 2, 'a null point splits the line');
  const [first, second] = runs;
  assert.deepEqual(first.map(([, y]) => y), [20, 10], 'zero on the bottom, half way at half the maximum');
  assert.deepEqual(second.map(([, y]) => y), [0], 'the maximum at the top');
  assert.equal(second[0][0], 100, 'the newest point on the right edge');
  assert.deepEqual(sparkline([0, 0], 100, 20).flat().map(([, y]) => y), [20, 20], 'all zero stays flat at the bottom');
});

test('closes are listed most first', () => {
  assert.deepEqual(closesByCount({ client_left: 3, too_slow: 0, idle_timeout: 5, malformed: 3 }), [
    ['idle_timeout', 5], ['client_left', 3], ['malformed', 3],
  ]);
});
