// What the browser scripts share: Chromium's launch flags for this machine, and a session that
// opens a page, collects its errors, polls `window.arenaDebug`, and fails the script cleanly (a
// screenshot when ARENA_SCREENSHOT is set, the browser closed, exit 1) on an error or timeout.

import { chromium } from 'playwright-core';

/** Flags that let Debian's Chromium run headless here (no sandbox as root, no network chatter). */
export const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
];

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Launches Debian's Chromium (or `CHROMIUM`). */
export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: LAUNCH_ARGS });
}

/** One script's browser and page, with its errors and a bound on its whole run. */
export class Session {
  /**
   * @param {string} script  the script's name, for messages
   * @param {number} totalMs  the whole run's limit
   */
  constructor(script, totalMs) {
    this.script = script;
    /** @type {import('playwright-core').Browser | null} */
    this.browser = null;
    /** @type {import('playwright-core').Page | null} */
    this.page = null;
    this.pageErrors = [];
    this.consoleErrors = [];
    this.failing = false;
    this.timer = setTimeout(() => this.fail(`the whole test took longer than ${totalMs} ms`), totalMs);
  }

  /** Launches the browser and opens a 1280 × 800 page that records its errors. */
  async open() {
    this.browser = await launch();
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

  /** Prints why, saves a screenshot if asked, closes the browser and exits 1 (never hangs). */
  async fail(message) {
    if (this.failing) return;
    this.failing = true;
    console.error(`${this.script}: FAIL: ${message}`);
    setTimeout(() => process.exit(1), 5000).unref();
    try {
      if (this.page && process.env.ARENA_SCREENSHOT) await this.page.screenshot({ path: process.env.ARENA_SCREENSHOT });
    } catch {}
    try {
      await this.browser?.close();
    } catch {}
    process.exit(1);
  }

  /** The page's debug view, or null before the client has started. */
  async debug() {
    return this.page.evaluate(() => (window.arenaDebug === undefined ? null : window.arenaDebug));
  }

  /** Throws if the page reported an error (and console errors too, with `consoleToo`). */
  checkErrors(where, consoleToo = true) {
    if (this.pageErrors.length) throw new Error(`page error ${where}: ${this.pageErrors[0]}`);
    if (consoleToo && this.consoleErrors.length) throw new Error(`console error ${where}: ${this.consoleErrors[0]}`);
  }

  /** Polls the debug view until `ok(view)` holds; throws with `what` and the last view after `ms`. */
  async until(what, ok, ms, everyMs = 50, consoleToo = true) {
    const end = Date.now() + ms;
    let last = null;
    for (;;) {
      last = await this.debug();
      if (last && ok(last)) return last;
      this.checkErrors(`while waiting until ${what}`, consoleToo);
      if (Date.now() >= end) throw new Error(`${what} did not happen within ${ms} ms; last view: ${JSON.stringify(last)}`);
      await sleep(everyMs);
    }
  }

  /** Saves the final screenshot if asked, prints the result line, and closes. */
  async finish(result) {
    if (this.page && process.env.ARENA_SCREENSHOT) await this.page.screenshot({ path: process.env.ARENA_SCREENSHOT });
    console.log(JSON.stringify(result));
    clearTimeout(this.timer);
    await this.browser?.close();
  }
}
