#!/usr/bin/env node
// Measures how the web client feels (for BENCHMARKS.md, not a pass/fail test): joins the page at
// <base-url>, plays a fixed pattern of keys and clicks for a while, and prints one JSON line:
// the HUD ping, corrections per minute and their size, the latency from a keydown to the first
// frame that draws the own ship moved, and the page's work per animation frame.
//
// It reads only what both the current page and the page of earlier versions expose in
// `window.arenaDebug` (`predictedShip`, `corrections`, `lastCorrection`, `ping`, `shipsDrawn`),
// plus `drawnShip` where the page has it (without it, the first-frame latency is measured on the
// predicted position, which the old page drew from the next tick on).
//
// Usage: node tests/browser/measure.mjs <base-url>
// Env:   MEASURE_SECONDS  length of the scripted play (default 60)
//        MEASURE_TRIALS   first-frame trials (default 10)
//        CHROMIUM         browser binary (default /usr/bin/chromium)

import { launch, sleep } from './harness.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node tests/browser/measure.mjs <base-url>');
  process.exit(2);
}
const SECONDS = Number(process.env.MEASURE_SECONDS ?? 60);
const TRIALS = Number(process.env.MEASURE_TRIALS ?? 10);
const pct = (xs, q) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] : null);
const round = (x, n = 2) => (x === null || x === undefined ? null : Math.round(x * 10 ** n) / 10 ** n);

function instrument() {
  window.__frames = [];
  window.__corrections = [];
  window.__keydowns = [];
  let seen = 0;
  addEventListener('keydown', (e) => window.__keydowns.push(performance.now()), true);
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => raf((t) => {
    const start = performance.now();
    cb(t);
    const now = performance.now();
    const d = window.arenaDebug;
    if (!d) return;
    const pos = d.drawnShip ?? d.predictedShip;
    window.__frames.push({ now, work: now - start, x: pos?.x ?? null, y: pos?.y ?? null, ships: d.shipsDrawn });
    if (window.__frames.length > 20000) window.__frames.splice(0, 10000);
    if (d.corrections > seen) {
      window.__corrections.push(d.lastCorrection);
      seen = d.corrections;
    }
  });
}

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.on('pageerror', (e) => console.error(`page error: ${e}`));
await page.addInitScript(instrument);
await page.goto(base, { waitUntil: 'load' });
await page.waitForFunction(() => window.arenaDebug !== undefined, null, { timeout: 15_000 });
await page.locator('#name').fill('measure');
await page.locator('#name').press('Enter');
await page.waitForFunction(() => window.arenaDebug.joined && window.arenaDebug.ownShip, null, { timeout: 15_000 });
await sleep(3000);
const debug = () => page.evaluate(() => window.arenaDebug);

// First-frame latency: at rest, press a key; the first frame that draws the ship moved.
const firstFrame = [];
for (let i = 0; i < TRIALS; i++) {
  await page.waitForFunction(() => {
    const d = window.arenaDebug;
    return d.ownShip?.alive && d.predictedShip && Math.hypot(d.predictedShip.x - d.ownShip.x, d.predictedShip.y - d.ownShip.y) < 0.01;
  }, null, { timeout: 20_000 }).catch(() => {});
  await sleep(300);
  const d = await debug();
  const key = d.ownShip.x < (d.arena?.w ?? 4000) / 2 ? 'd' : 'a';
  const t0 = await page.evaluate(() => performance.now());
  await page.keyboard.down(key);
  await sleep(250);
  await page.keyboard.up(key);
  const r = await page.evaluate((since) => {
    const kd = window.__keydowns.find((k) => k > since);
    const fs = window.__frames.filter((f) => f.now > since - 100);
    const before = fs.filter((f) => f.now < kd).at(-1);
    const moved = fs.find((f) => f.now > kd && before && f.x !== null && Math.abs(f.x - before.x) > 0.01);
    return moved ? { ms: moved.now - kd, frames: fs.filter((f) => f.now > kd && f.now <= moved.now).length } : null;
  }, t0);
  if (r) firstFrame.push(r);
  await sleep(1200);
}

// Scripted play: moves in every direction, turns, fires; corrections and frame work recorded.
const c0 = await page.evaluate(() => window.__corrections.length);
const f0 = await page.evaluate(() => performance.now());
const pattern = [['d', 700], ['s', 500], ['a', 900], ['w', 600], [null, 400], ['d', 300], ['w', 300], [null, 600]];
const end = Date.now() + SECONDS * 1000;
let step = 0;
while (Date.now() < end) {
  const [key, ms] = pattern[step++ % pattern.length];
  if (step % 3 === 0) {
    await page.mouse.move(640 + 200 * Math.cos(step), 400 + 200 * Math.sin(step));
    await page.mouse.down();
    await sleep(20);
    await page.mouse.up();
  }
  if (key) await page.keyboard.down(key);
  await sleep(ms);
  if (key) await page.keyboard.up(key);
}
const minutes = SECONDS / 60;
const res = await page.evaluate(([c0, f0]) => ({
  corrections: window.__corrections.slice(c0),
  works: window.__frames.filter((f) => f.now > f0).map((f) => f.work),
  ships: window.__frames.filter((f) => f.now > f0).map((f) => f.ships),
}), [c0, f0]);
const final = await debug();
console.log(JSON.stringify({
  ping_ms: round(final.ping, 0),
  first_frame_ms_p50: round(pct(firstFrame.map((r) => r.ms), 0.5), 1),
  first_frame_ms_max: round(Math.max(...firstFrame.map((r) => r.ms)), 1),
  first_frame_frames_p50: pct(firstFrame.map((r) => r.frames), 0.5),
  first_frame_trials: firstFrame.length,
  corrections_per_min: round(res.corrections.length / minutes, 1),
  correction_p50: round(pct(res.corrections, 0.5)),
  correction_max: round(res.corrections.length ? Math.max(...res.corrections) : 0),
  correction_units_per_min: round(res.corrections.reduce((a, b) => a + b, 0) / minutes, 1),
  frame_work_ms_p50: round(pct(res.works, 0.5)),
  frame_work_ms_p99: round(pct(res.works, 0.99)),
  ships_drawn_mean: round(res.ships.reduce((a, b) => a + b, 0) / Math.max(1, res.ships.length), 1),
  frames: res.works.length,
}));
await browser.close();
