// @ts-check
/**
 * The WebSocket to the server: connect, say Hello, hand decoded messages to the page, ping once a
 * second for the round-trip time, count bytes for kbps down, and reconnect with backoff when the
 * connection is lost. When a snapshot cannot be applied (a desync: the wasm module's world is then
 * empty), asks the server for a full snapshot, once, and waits for it.
 *
 * Reconnecting resumes the player: every Welcome brings a resume token; the next Hello carries the
 * last one, and within the server's grace the same ship, id and score come back
 * (`Welcome.resumed`). A socket that receives nothing for {@link SILENCE_MS} counts as lost: it is
 * closed with {@link CLOSE_LOST} (any code but 1000/1001 tells the server the player did not
 * leave, so it keeps the ship) and a new one is opened at once through the backoff. The page
 * closing the tab sends 1001 (the player leaves); {@link Connection.stop} sends 1000. After
 * `Bye { Replaced }` (the player went on elsewhere) or `VersionMismatch` nothing is retried.
 *
 * Knows the wire only through the wasm codec; owns no game state. The socket factory and the
 * clock are injectable, and the retry policy is pure functions, so node's test runner drives it.
 */

/** @typedef {import('./wasm.js').Codec} Codec */

/** Reconnect delays: 0.5 s doubling up to 8 s, plus up to 25 % jitter. */
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 8000;
const PING_EVERY_MS = 1000;
/** A connection that has received nothing for this long is lost. */
export const SILENCE_MS = 3000;
/** How often the silence is checked. */
const WATCHDOG_EVERY_MS = 250;
/** The close code the page uses for a connection it gives up on (not a goodbye: resumable). */
export const CLOSE_LOST = 4000;
/** The close code of a deliberate goodbye (the server removes the ship at once). */
export const CLOSE_LEAVE = 1000;
/**
 * While the world is lost, every delta against it fails too; RequestFull is sent again only if no
 * full snapshot arrived this long after the last one (it should take one round trip).
 */
const RESYNC_RETRY_MS = 1000;
/** `WebSocket.OPEN`, without needing the DOM's WebSocket in node. */
const OPEN = 1;

/**
 * The delay before reconnect attempt number `attempt` (0 for the first): 0.5 s doubling up to
 * 8 s, stretched by up to 25 % of random jitter so a room's clients do not all come back at once.
 * @param {number} attempt
 * @param {() => number} [random]  uniform in [0, 1)
 */
export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, Math.min(attempt, 10)));
  return Math.round(base * (1 + random() * 0.25));
}

/**
 * Whether a connection that ended this way should be opened again: not after {@link
 * Connection.stop}, and not when the server said retrying cannot help (`VersionMismatch`: reload
 * the page) or must not happen (`Replaced`: the player went on on another connection), or the
 * server refused the join token (`JoinRefused`: the matchmaker must issue a new one).
 * @param {{ stopped: boolean, byeReason: string | null }} end
 */
export function shouldReconnect({ stopped, byeReason }) {
  return !stopped && !['VersionMismatch', 'Replaced', 'JoinRefused'].includes(byeReason ?? '');
}

/** The WebSocket URL of the page's own server, or `?ws=` from the page URL (for development). */
export function defaultServerUrl() {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) return override;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

/**
 * The part of a WebSocket the connection uses.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {string} binaryType
 * @property {((ev: any) => void) | null} onopen
 * @property {((ev: { data: unknown }) => void) | null} onmessage
 * @property {((ev: { code: number, reason: string }) => void) | null} onclose
 * @property {((ev: any) => void) | null} onerror
 * @property {(data: Uint8Array) => void} send
 * @property {(code?: number, reason?: string) => void} close
 */

/**
 * @typedef {object} CloseInfo
 * @property {number} code  the close code (or {@link CLOSE_LOST} when the page gave up on it)
 * @property {string} reason  the server's Bye message, or the close reason
 * @property {string | null} byeReason  the Bye's machine-readable reason, if one came
 * @property {number | null} retryInMs  when the next attempt starts, null if none will
 */

/**
 * @typedef {object} ConnectionHandlers
 * @property {(msg: any) => void} onMessage  every decoded ServerMsg except Pong (a desynced
 *   Snapshot, `{ tick, desync }`, included: the full snapshot has already been asked for)
 * @property {() => void} [onOpen]
 * @property {(info: CloseInfo) => void} [onClose]
 * @property {(rttMs: number) => void} [onPong]  each round-trip sample
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {(url: string) => SocketLike} [createSocket]
 * @property {() => number} [now]  ms
 * @property {() => number} [random]  for the backoff's jitter
 * @property {string | null} [joinToken]  the matchmaker's join token (`?token=` in the page URL),
 *   sent in the first Hello; a resuming Hello carries the resume token instead
 * @property {string | null} [room]  the room to join (`?room=` in the page URL); null: quick play.
 *   Once welcomed, every later Hello names the room the Welcome gave, so a resume finds its ship
 */

export class Connection {
  /**
   * @param {Pick<Codec, 'decodeServer' | 'encodeHello' | 'encodePing' | 'encodeRequestFull'>} codec
   * @param {string} url
   * @param {string} name
   * @param {ConnectionHandlers} handlers
   * @param {ConnectionOptions} [options]
   */
  constructor(codec, url, name, handlers, options = {}) {
    this.codec = codec;
    this.url = url;
    this.name = name;
    this.handlers = handlers;
    this.createSocket = options.createSocket ?? ((/** @type {string} */ u) => /** @type {SocketLike} */ (new WebSocket(u)));
    this.now = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.joinToken = options.joinToken ?? null;
    /** The room asked for, then the one the last Welcome named. */
    this.room = options.room ?? null;
    /** @type {SocketLike | null} */
    this.ws = null;
    this.connected = false;
    this.stopped = false;
    this.attempt = 0;
    /** Smoothed round-trip time in ms, null before the first Pong. */
    this.rttMs = /** @type {number | null} */ (null);
    this.kbpsDown = 0;
    this.bytesDown = 0;
    this.decodeErrors = 0;
    /** Snapshots that could not be applied, over all connections (0 over a sane TCP link). */
    this.desyncs = 0;
    /** Full snapshots received: the first of each connection, and answers to RequestFull. */
    this.fullSnapshots = 0;
    /** RequestFull messages sent. */
    this.fullRequests = 0;
    /** When the last RequestFull went out while the world is lost; null while in sync. */
    this.resyncSince = /** @type {number | null} */ (null);
    /** Last Bye from the server on the current connection, if any. */
    this.lastBye = /** @type {{ reason: string, message: string, retry_after_ms?: number } | null} */ (null);
    /** The resume token of the last Welcome (16 bytes), sent in the next Hello. */
    this.resumeToken = /** @type {Uint8Array | null} */ (null);
    /** Welcomes received (1 after the first join; each reconnect adds one). */
    this.welcomes = 0;
    /** Welcomes that gave the player back (`resumed`). */
    this.resumes = 0;
    /** Whether the last Welcome gave the player back. */
    this.resumed = false;
    /** Connections that ended without a goodbye from this page (and were retried or not). */
    this.lost = 0;
    /** Connections the page gave up on because nothing arrived for {@link SILENCE_MS}. */
    this.silenceDrops = 0;
    /** Local time the next attempt starts, null unless one is scheduled. */
    this.retryAt = /** @type {number | null} */ (null);
    /** Local time of the last frame received (or of the socket's creation). */
    this.lastReceiveAt = this.now();
    this.windowBytes = 0;
    this.windowStart = this.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.watchdog = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
  }

  /** Opens the connection (and keeps reopening it until {@link stop}). */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good with a goodbye (1000: the server removes the ship); no reconnect. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryAt = null;
    this.ws?.close(CLOSE_LEAVE, 'bye');
  }

  /**
   * Gives up on the current socket as lost (closed with {@link CLOSE_LOST}, so the server keeps
   * the ship) and reconnects through the backoff without waiting for the close handshake.
   * @param {string} [why]
   */
  drop(why = 'connection dropped') {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    try {
      ws.close(CLOSE_LOST, why);
    } catch {
      // Closing a socket that is still connecting may throw in old browsers; it is abandoned.
    }
    this.closed(CLOSE_LOST, why);
  }

  /** Whether the world was lost and a full snapshot is awaited. */
  get resyncing() {
    return this.resyncSince !== null;
  }

  /** Sends one encoded client frame if the socket is open; drops it otherwise. */
  send(/** @type {Uint8Array} */ frame) {
    if (this.ws && this.ws.readyState === OPEN) this.ws.send(frame);
  }

  /** @private */
  open() {
    this.retryAt = null;
    this.lastBye = null;
    const ws = this.createSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.lastReceiveAt = this.now();
    ws.onopen = () => {
      this.connected = true;
      this.resyncSince = null; // a new connection starts with a Welcome and a full snapshot
      this.lastReceiveAt = this.now();
      this.send(this.codec.encodeHello(this.name, this.resumeToken, this.resumeToken ? null : this.joinToken, this.room));
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
      this.handlers.onOpen?.();
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ev.code, ev.reason);
    // An error is always followed by a close event, which does the work.
    ws.onerror = () => {};
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkSilence(), WATCHDOG_EVERY_MS);
  }

  /** Drops a socket (connecting or open) that has received nothing for too long. @private */
  checkSilence() {
    if (this.ws && this.now() - this.lastReceiveAt > SILENCE_MS) {
      this.silenceDrops++;
      this.drop(`nothing received for ${SILENCE_MS / 1000} s`);
    }
  }

  /** @private */
  ping() {
    const now = this.now();
    // Microseconds on the page's clock: whole, well inside 2^53, and echoed back unchanged.
    this.send(this.codec.encodePing(Math.floor(now * 1000)));
    const secs = (now - this.windowStart) / 1000;
    if (secs >= 0.5) {
      this.kbpsDown = (this.windowBytes * 8) / 1000 / secs;
      this.windowBytes = 0;
      this.windowStart = now;
    }
  }

  /** @private */
  receive(/** @type {unknown} */ data) {
    if (!(data instanceof ArrayBuffer)) return; // the server sends binary frames only
    this.lastReceiveAt = this.now();
    this.bytesDown += data.byteLength;
    this.windowBytes += data.byteLength;
    let msg;
    try {
      msg = this.codec.decodeServer(new Uint8Array(data));
    } catch (err) {
      if (this.decodeErrors++ === 0) console.warn(`arena: ${err}`);
      return;
    }
    if (msg.Pong) {
      const rtt = this.now() - msg.Pong.t / 1000;
      if (rtt >= 0 && rtt < 60_000) {
        this.rttMs = this.rttMs === null ? rtt : this.rttMs + (rtt - this.rttMs) * 0.25;
        this.handlers.onPong?.(rtt);
      }
      return;
    }
    if (msg.Snapshot) this.snapshot(msg.Snapshot);
    if (msg.Welcome) {
      this.attempt = 0;
      this.welcomes++;
      this.resumed = msg.Welcome.resumed === true;
      if (this.resumed) this.resumes++;
      const token = msg.Welcome.resume_token;
      this.resumeToken = Array.isArray(token) && token.length === 16 ? Uint8Array.from(token) : null;
      if (typeof msg.Welcome.room === 'string') this.room = msg.Welcome.room;
    }
    if (msg.Bye) this.lastBye = msg.Bye;
    this.handlers.onMessage(msg);
  }

  /**
   * Keeps the decoder in sync: a desync asks for a full snapshot, unless one was asked for
   * recently (the deltas still in flight fail too until it arrives).
   * @private
   */
  snapshot(/** @type {any} */ s) {
    if (s.desync === undefined) {
      if (s.full) {
        this.fullSnapshots++;
        this.resyncSince = null;
      }
      return;
    }
    this.desyncs++;
    const now = this.now();
    if (this.resyncSince !== null && now - this.resyncSince < RESYNC_RETRY_MS) return;
    console.warn(`arena: desync at tick ${s.tick} (${s.desync}); asking for a full snapshot`);
    this.resyncSince = now;
    this.fullRequests++;
    this.send(this.codec.encodeRequestFull(s.tick));
  }

  /** @private */
  closed(/** @type {number} */ code, /** @type {string} */ reason) {
    clearInterval(this.pingTimer);
    clearInterval(this.watchdog);
    this.connected = false;
    this.ws = null;
    const byeReason = this.lastBye?.reason ?? null;
    if (!this.stopped) this.lost++;
    let retryInMs = null;
    if (shouldReconnect({ stopped: this.stopped, byeReason })) {
      // A server that said when to come back (`ServerBusy`) is not asked sooner.
      retryInMs = Math.max(backoffMs(this.attempt, this.random), this.lastBye?.retry_after_ms ?? 0);
      this.attempt = Math.min(this.attempt + 1, 10);
      this.retryAt = this.now() + retryInMs;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.open(), retryInMs);
    }
    this.handlers.onClose?.({ code, reason: this.lastBye?.message || reason, byeReason, retryInMs });
  }
}
