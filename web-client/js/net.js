// @ts-check
/**
 * The WebSocket to the server: connect, say Hello, hand decoded messages to the page, ping once a
 * second for the round-trip time, count bytes for kbps down, and reconnect with backoff when the
 * connection is lost. When a snapshot cannot be applied (a desync: the wasm module's world is then
 * empty), asks the server for a full snapshot, once, and waits for it. Knows the wire only through
 * the wasm codec; owns no game state.
 */

/** @typedef {import('./wasm.js').Codec} Codec */

/** Reconnect delays: 0.5 s doubling up to 8 s, plus up to 25 % jitter. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;
const PING_EVERY_MS = 1000;
/**
 * While the world is lost, every delta against it fails too; RequestFull is sent again only if no
 * full snapshot arrived this long after the last one (it should take one round trip).
 */
const RESYNC_RETRY_MS = 1000;

/** The WebSocket URL of the page's own server, or `?ws=` from the page URL (for development). */
export function defaultServerUrl() {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) return override;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

/**
 * @typedef {object} ConnectionHandlers
 * @property {(msg: any) => void} onMessage  every decoded ServerMsg except Pong (a desynced
 *   Snapshot, `{ tick, desync }`, included: the full snapshot has already been asked for)
 * @property {() => void} [onOpen]
 * @property {(info: { code: number, reason: string, retryInMs: number | null }) => void} [onClose]
 */

export class Connection {
  /**
   * @param {Codec} codec
   * @param {string} url
   * @param {string} name
   * @param {ConnectionHandlers} handlers
   */
  constructor(codec, url, name, handlers) {
    this.codec = codec;
    this.url = url;
    this.name = name;
    this.handlers = handlers;
    /** @type {WebSocket | null} */
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
    /** Last Bye from the server, if any: `{ reason, message }`. */
    this.lastBye = /** @type {{ reason: string, message: string } | null} */ (null);
    this.windowBytes = 0;
    this.windowStart = performance.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
  }

  /** Opens the connection (and keeps reopening it until {@link stop}). */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good: no reconnect. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ws?.close(1000, 'bye');
  }

  /** Whether the world was lost and a full snapshot is awaited. */
  get resyncing() {
    return this.resyncSince !== null;
  }

  /** Sends one encoded client frame if the socket is open; drops it otherwise. */
  send(/** @type {Uint8Array} */ frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** @private */
  open() {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.lastBye = null;
      this.resyncSince = null; // a new connection starts with a Welcome and a full snapshot
      this.send(this.codec.encodeHello(this.name));
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
      this.handlers.onOpen?.();
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ev.code, ev.reason);
    // An error is always followed by a close event, which does the work.
    ws.onerror = () => {};
  }

  /** @private */
  ping() {
    // Microseconds since page load: whole, well inside 2^53, and echoed back unchanged.
    this.send(this.codec.encodePing(Math.floor(performance.now() * 1000)));
    const now = performance.now();
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
      const rtt = performance.now() - msg.Pong.t / 1000;
      if (rtt >= 0 && rtt < 60_000) {
        this.rttMs = this.rttMs === null ? rtt : this.rttMs + (rtt - this.rttMs) * 0.25;
      }
      return;
    }
    if (msg.Snapshot) this.snapshot(msg.Snapshot);
    if (msg.Welcome) this.attempt = 0;
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
    const now = performance.now();
    if (this.resyncSince !== null && now - this.resyncSince < RESYNC_RETRY_MS) return;
    console.warn(`arena: desync at tick ${s.tick} (${s.desync}); asking for a full snapshot`);
    this.resyncSince = now;
    this.fullRequests++;
    this.send(this.codec.encodeRequestFull(s.tick));
  }

  /** @private */
  closed(/** @type {number} */ code, /** @type {string} */ reason) {
    clearInterval(this.pingTimer);
    this.connected = false;
    this.ws = null;
    // A version mismatch does not fix itself by retrying: the page must be reloaded.
    const retry = !this.stopped && this.lastBye?.reason !== 'VersionMismatch';
    let retryInMs = null;
    if (retry) {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
      retryInMs = Math.round(base * (1 + Math.random() * 0.25));
      this.attempt = Math.min(this.attempt + 1, 10);
      this.retryTimer = setTimeout(() => this.open(), retryInMs);
    }
    this.handlers.onClose?.({ code, reason: this.lastBye?.message || reason, retryInMs });
  }
}
