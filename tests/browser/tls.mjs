#!/usr/bin/env node
// The web client served over https (the server's --tls-cert, a throw-away certificate the test
// made): the page loads, opens its game socket over wss on the same port, joins and gets
// snapshots. Chromium runs with --ignore-certificate-errors, in this script only.
//
// Usage: node tests/browser/tls.mjs <https-base-url>      (e.g. https://127.0.0.1:18443/)
// Env:   CHROMIUM, ARENA_SCREENSHOT, ARENA_TIMEOUT_MS (default 30000), as for play.mjs.
// Prints one JSON line on success.

import { chromium } from 'playwright-core';
import { LAUNCH_ARGS, Session } from './harness.mjs';

const TOTAL_MS = Number(process.env.ARENA_TIMEOUT_MS ?? 30_000);

const base = process.argv[2];
if (!base?.startsWith('https://')) {
  console.error('usage: node tests/browser/tls.mjs <https-base-url>');
  process.exit(2);
}

/** The harness's session, with a browser that accepts the test's self-signed certificate. */
class TlsSession extends Session {
  async open() {
    this.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [...LAUNCH_ARGS, '--ignore-certificate-errors'],
    });
    this.page = await this.browser.newPage({ viewport: { width: 1280, height: 800 } });
    this.page.on('console', (msg) => {
      if (msg.type() === 'error') {
        this.consoleErrors.push(msg.text());
        console.error(`page console error: ${msg.text()}`);
      }
    });
    this.page.on('pageerror', (err) => {
      this.pageErrors.push(String(err));
      console.error(`page error: ${err}`);
    });
    return this.page;
  }
}

const started = Date.now();
const session = new TlsSession('tls.mjs', TOTAL_MS);

async function main() {
  const page = await session.open();
  /** @type {string[]} */
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));

  const response = await page.goto(base, { waitUntil: 'load', timeout: 15_000 });
  if (!response || !response.ok()) throw new Error(`GET ${base} answered ${response?.status()}`);
  const security = await response.securityDetails();
  if (!security) throw new Error(`the page ${base} was not served over TLS`);

  await page.locator('#name').fill(`tls-${process.pid % 10000}`, { timeout: 10_000 });
  await page.locator('#name').press('Enter');
  const joined = await session.until(
    'joined over wss with snapshots arriving',
    (d) => d.connected && d.joined && d.myId !== null && d.snapshots >= 10 && d.ownShip !== null,
    10_000,
    100,
    false,
  );
  if (!sockets.length || !sockets.every((url) => url.startsWith('wss://'))) {
    throw new Error(`the game socket should use wss:// on an https page; it opened ${JSON.stringify(sockets)}`);
  }
  session.checkErrors('by the end', false);
  if (joined.desyncs !== 0) throw new Error(`${joined.desyncs} snapshot(s) could not be applied over wss`);

  await session.finish({
    ok: true,
    protocol: security.protocol,
    socket: sockets[0],
    my_id: joined.myId,
    snapshots: joined.snapshots,
    elapsed_ms: Date.now() - started,
  });
}

main().catch((err) => session.fail(err?.message ?? String(err)));
