// The net graph's sample history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetGraph, PLOTS, Series } from '../js/netgraph.js';

test('a series keeps the newest samples, oldest first, with their times', () => {
  const s = new Series(3);
  assert.equal(s.last, null);
  assert.equal(s.max(), 0);
  [1, 5, 2, 4].forEach((v, i) => s.push(v, 1000 * i));
  assert.deepEqual(s.toArray(), [5, 2, 4]);
  assert.equal(s.last, 4);
  assert.equal(s.max(), 5);
  assert.equal(s.max(2000), 4, 'the maximum over a window ignores older samples');
  assert.equal(s.timeAt(0), 1000);
  s.push(NaN, 4000);
  assert.equal(s.last, 0, 'a non-number is plotted as 0');
});

test('the graph has every plot the issue asks for, and F3 toggles it', () => {
  const keys = PLOTS.map((p) => p.key);
  for (const k of ['ping', 'jitter', 'gap', 'queue', 'correction', 'kbps']) assert.ok(keys.includes(k), k);
  const g = new NetGraph();
  g.push('ping', 150, 0);
  g.push('nope', 1, 0);
  assert.equal(g.series.ping.last, 150);
  assert.equal(g.toggle(), true);
  assert.equal(g.toggle(), false);
});
