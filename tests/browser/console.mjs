#!/usr/bin/env node
// The operator console in headless Chromium against a running server with bots in two rooms.
//
// Usage: node tests/browser/console.mjs <console-url>   (e.g. http://127.0.0.1:18081/console#token=…)
// Env:   ARENA_ROOMS        comma-separated room names the console must show (e.g. "red,blue")
//        CHROMIUM, ARENA_SCREENSHOT, ARENA_TIMEOUT_MS as in play.mjs
//
// It opens the console, waits until it has drawn a few updates, and checks that every expected
// room has a row, that the rooms' players add up to the players figure, that the process figures
// (tick percentiles, CPU) are numbers, and that its numbers change while the bots play (ticks go
// on, so the tick rate and the rooms' data are fresh). Page and console errors fail it. Prints
// one JSON line on success.

import { Session, sleep } from './harness.mjs';

const TOTAL_MS = Number(process.env.ARENA_TIMEOUT_MS ?? 60_000);
const url = process.argv[2];
if (!url) {
  console.error('usage: node tests/browser/console.mjs <console-url>');
  process.exit(2);
}
const expected = (process.env.ARENA_ROOMS ?? '').split(',').filter(Boolean);

const session = new Session('console.mjs', TOTAL_MS);
const view = () => session.page.evaluate(() => (window.arenaConsole === undefined ? null : window.arenaConsole));

async function until(what, ok, ms) {
  const end = Date.now() + ms;
  let last = null;
  for (;;) {
    last = await view();
    if (last && ok(last)) return last;
    session.checkErrors(`while waiting until ${what}`);
    if (Date.now() >= end) throw new Error(`${what} did not happen within ${ms} ms; last view: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

try {
  const page = await session.open();
  await page.goto(url);
  const first = await until(
    'the console shows every room with its players',
    (v) => v.updates >= 3 && expected.every((r) => v.rows.includes(r)) && v.rooms.every((r) => r.players > 0),
    20_000,
  );
  const players = first.rooms.reduce((s, r) => s + r.players, 0);
  if (String(players) !== first.players) throw new Error(`the rooms' players (${players}) are not the players figure (${first.players})`);
  if (!first.rates || !(first.rates.ticksPerS > 0)) throw new Error(`no tick rate: ${JSON.stringify(first.rates)}`);
  if (first.rates.tickP99Ms === null || first.rates.cpuCores === null) throw new Error(`missing figures: ${JSON.stringify(first.rates)}`);
  const before = await page.evaluate(() => document.getElementById('chart-tick').toDataURL());
  await sleep(2500);
  const later = await until('the console keeps updating', (v) => v.updates >= first.updates + 2, 10_000);
  const after = await page.evaluate(() => document.getElementById('chart-tick').toDataURL());
  if (before === after) throw new Error('the tick sparkline did not change while the bots played');
  const rows = await page.evaluate(() => document.querySelectorAll('#room-table tbody tr').length);
  const closes = await page.evaluate(() => document.querySelectorAll('#close-table tbody tr').length);
  session.checkErrors('at the end');
  await session.finish({ updates: later.updates, rooms: later.rows, players: later.players, tick: later.tickNow, rows, closes, status: later.status });
} catch (e) {
  await session.fail(e instanceof Error ? e.message : String(e));
}
