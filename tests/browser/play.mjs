#!/usr/bin/env node
// End-to-end test of the web client in headless Chromium against a running server.
//
// Usage: node tests/browser/play.mjs <base-url>      (e.g. http://127.0.0.1:18080)
// Env:   CHROMIUM          browser binary (default /usr/bin/chromium)
//        ARENA_SCREENSHOT  write a PNG of the final frame (or of the failure) to this path
//        ARENA_TIMEOUT_MS  overall limit (default 60000)
//        ARENA_ROOM        the room the page must be in (the base URL's ?room=): checked in the
//                          page's state and on screen
//
// It joins with a name, checks that snapshots arrive, holds a move key and checks that both the
// server's and the predicted position of the own ship moved, waits for another ship (the runner
// starts bots in the room) to be drawn, fires and checks that a projectile shows up. Page errors
// fail the test; console errors are forwarded to stderr. Snapshots are deltas against the page's
// copy of the world: over TCP not one may fail to apply (arenaDebug.desyncs must stay 0), and at
// least one full snapshot (the first) must have arrived. Prints one JSON line on success.

import { Session, sleep } from './harness.mjs';

const TOTAL_MS = Number(process.env.ARENA_TIMEOUT_MS ?? 60_000);
const MOVE_HOLD_MS = 1500;
/** Units the ship must travel while the key is held: it covers 400+ in 1.5 s. */
const MIN_MOVE = 150;

const base = process.argv[2];
if (!base) {
  console.error('usage: node tests/browser/play.mjs <base-url>');
  process.exit(2);
}

const started = Date.now();
const session = new Session('play.mjs', TOTAL_MS);
/** @type {import('playwright-core').Page} */
let page;
const debug = () => session.debug();
// Console errors are forwarded and counted here, not fatal; page errors are.
const until = (what, ok, ms, everyMs = 100) => session.until(what, ok, ms, everyMs, false);

/**
 * Holds a move key and returns how far the ship went by the server and by the prediction.
 * Moves towards the side with more room, so a spawn next to a wall cannot fail the test.
 */
async function moveOnce() {
  const before = await until('the own ship is alive', (d) => d.ownShip?.alive && d.predictedShip, 10_000);
  const right = before.ownShip.x < before.arena.w / 2 + 200;
  const key = right ? 'd' : 'a';
  const sign = right ? 1 : -1;
  await page.keyboard.down(key);
  await sleep(MOVE_HOLD_MS);
  await page.keyboard.up(key);
  // The server's position lags by a round trip plus the render of a snapshot: poll briefly.
  const after = await until(
    `the own ship moves ${MIN_MOVE}+ units ${right ? 'right' : 'left'}`,
    (d) => !d.ownShip?.alive || sign * (d.ownShip.x - before.ownShip.x) > MIN_MOVE,
    3000,
  );
  return {
    key,
    alive: after.ownShip?.alive ?? false,
    server: after.ownShip ? sign * (after.ownShip.x - before.ownShip.x) : 0,
    predicted: after.predictedShip ? sign * (after.predictedShip.x - before.predictedShip.x) : 0,
  };
}

async function main() {
  page = await session.open();

  const response = await page.goto(base, { waitUntil: 'load', timeout: 15_000 });
  if (!response || !response.ok()) throw new Error(`GET ${base} answered ${response?.status()}`);

  const name = `e2e-${process.pid % 10000}`;
  await page.locator('#name').fill(name, { timeout: 10_000 });
  await page.locator('#name').press('Enter');
  const t0 = Date.now();
  const joined = await until(
    'joined with snapshots arriving',
    (d) => d.connected && d.joined && d.myId !== null && d.snapshots >= 5 && d.ownShip !== null,
    10_000,
  );
  const joinMs = Date.now() - t0;
  const room = process.env.ARENA_ROOM;
  if (room) {
    if (joined.room !== room) throw new Error(`the page is in room ${joined.room}, not ${room} (its ?room=)`);
    const shown = await page.locator('#room').textContent();
    if (!shown?.includes(room)) throw new Error(`the page shows "${shown}" where the room's name should be`);
  }

  // Movement, server-confirmed and predicted. Bots may shoot us down meanwhile: try again once.
  let move = await moveOnce();
  if (!move.alive) move = await moveOnce();
  if (!(move.server > MIN_MOVE)) {
    throw new Error(`holding '${move.key}' for ${MOVE_HOLD_MS} ms moved the ship only ${move.server.toFixed(1)} units by the server (expected > ${MIN_MOVE})`);
  }
  if (!(move.predicted > MIN_MOVE)) {
    throw new Error(`holding '${move.key}' moved the predicted ship only ${move.predicted.toFixed(1)} units (expected > ${MIN_MOVE})`);
  }
  // Once the ship has coasted to rest with no key held, every input since is "no buttons", so the
  // prediction replayed through the wasm step must equal the server's state exactly.
  const settled = await until(
    'the predicted position equals the server position once the ship is at rest',
    (d) => !d.ownShip?.alive || (d.predictedShip && Math.hypot(d.predictedShip.x - d.ownShip.x, d.predictedShip.y - d.ownShip.y) < 0.01),
    6000,
  );

  const others = await until('another ship is drawn', (d) => d.shipsDrawn >= 1, 10_000);

  // Fire towards the right of the ship; a click is latched until the next tick.
  let shot = null;
  for (let attempt = 0; attempt < 3 && !shot; attempt++) {
    const at = await until('the own ship is alive to fire', (d) => d.ownShip?.alive, 10_000);
    // Towards the middle of the arena, so the shot does not leave it at once.
    const dx = at.arena.w / 2 - at.ownShip.x;
    const dy = at.arena.h / 2 - at.ownShip.y;
    const len = Math.hypot(dx, dy) || 1;
    await page.mouse.move(640 + (200 * dx) / len, 400 + (200 * dy) / len);
    await page.mouse.down();
    await sleep(150);
    await page.mouse.up();
    try {
      shot = await until('an own projectile is in the snapshot and drawn', (d) => d.ownProjectilesVisible >= 1 && d.projectilesDrawn >= 1, 3000, 30);
    } catch (err) {
      if (attempt === 2) throw err;
    }
  }

  const final = await debug();
  session.checkErrors('by the end', false);
  if (final.desyncs !== 0) {
    throw new Error(`${final.desyncs} snapshot(s) could not be applied (${final.fullRequests} RequestFull sent); over TCP there must be none. Last debug view: ${JSON.stringify(final)}`);
  }
  if (!(final.fullSnapshots >= 1)) {
    throw new Error(`no full snapshot was counted (fullSnapshots = ${final.fullSnapshots}); the first snapshot of a connection is full`);
  }

  await session.finish({
    ok: true,
    name,
    my_id: joined.myId,
    join_ms: joinMs,
    moved_server: Math.round(move.server),
    moved_predicted: Math.round(move.predicted),
    settled_gap: settled.ownShip?.alive
      ? Math.round(Math.hypot(settled.predictedShip.x - settled.ownShip.x, settled.predictedShip.y - settled.ownShip.y) * 100) / 100
      : null,
    ships_drawn: others.shipsDrawn,
    projectiles_drawn: shot.projectilesDrawn,
    orbs_drawn: final.orbsDrawn,
    snapshots: final.snapshots,
    desyncs: final.desyncs,
    full_snapshots: final.fullSnapshots,
    ping_ms: final.ping === null ? null : Math.round(final.ping * 10) / 10,
    console_errors: session.consoleErrors.length,
    elapsed_ms: Date.now() - started,
  });
}

main().catch((err) => session.fail(err?.message ?? String(err)));
