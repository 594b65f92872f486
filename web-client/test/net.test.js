// Reconnecting: the backoff, the retry policy, the resume token, and the silent-socket watchdog,
// with a fake socket, a fake codec and node's mock timers.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKOFF_MAX_MS, BACKOFF_MIN_MS, CLOSE_LEAVE, CLOSE_LOST, Connection, SILENCE_MS, backoffMs, shouldReconnect,
} from '../js/net.js';

test('the backoff doubles from 0.5 s to 8 s with up to 25 % jitter', () => {
  const none = () => 0;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((a) => backoffMs(a, none)), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal(backoffMs(0, () => 0.999999), Math.round(BACKOFF_MIN_MS * 1.25));
  for (let a = 0; a < 20; a++) {
    const d = backoffMs(a);
    assert.ok(d >= BACKOFF_MIN_MS && d <= BACKOFF_MAX_MS * 1.25, `attempt ${a}: ${d}`);
  }
});

test('only a version mismatch, a replacement or a deliberate stop end the retries', () => {
  assert.equal(shouldReconnect({ stopped: false, byeReason: null }), true);
  assert.equal(shouldReconnect({ stopped: false, byeReason: 'TooSlow' }), true);
  assert.equal(shouldReconnect({ stopped: false, byeReason: 'ShuttingDown' }), true);
  assert.equal(shouldReconnect({ stopped: false, byeReason: 'VersionMismatch' }), false);
  assert.equal(shouldReconnect({ stopped: false, byeReason: 'Replaced' }), false);
  assert.equal(shouldReconnect({ stopped: false, byeReason: 'JoinRefused' }), false, 'a new join token is needed');
  assert.equal(shouldReconnect({ stopped: true, byeReason: null }), false);
});

/** A socket the test drives by hand. */
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.binaryType = 'blob';
    /** @type {any[]} */
    this.sent = [];
    this.closedWith = /** @type {number | null} */ (null);
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
  }
  send(data) {
    this.sent.push(data);
  }
  close(code = 1005) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Test side.
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(msg) {
    this.onmessage?.({ data: new TextEncoder().encode(JSON.stringify(msg)).buffer });
  }
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** A codec whose "frames" are JSON, so the test can read what was sent. */
const codec = {
  decodeServer: (/** @type {Uint8Array} */ bytes) => JSON.parse(new TextDecoder().decode(bytes)),
  encodeHello: (name, token, join, room) => ({ Hello: { name, token: token ? [...token] : null, join: join ?? null, room: room ?? null } }),
  encodePing: (t) => ({ Ping: t }),
  encodeRequestFull: (tick) => ({ RequestFull: tick }),
};

const TOKEN_A = Array.from({ length: 16 }, (_, i) => i);
const TOKEN_B = Array.from({ length: 16 }, (_, i) => 100 + i);

function welcome(token, resumed = false, room = 'main') {
  return { Welcome: { your_id: 3, tick_hz: 30, resume_token: token, resumed, resume_grace_ms: 15000, room } };
}

/** A connection over fake sockets and a fake clock that moves with the mock timers. */
function harness(joinToken = null, room = null) {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  let now = 0;
  /** @type {FakeSocket[]} */
  const sockets = [];
  const closes = [];
  const conn = new Connection(/** @type {any} */ (codec), 'ws://test/ws', 'ace', {
    onMessage: () => {},
    onClose: (info) => closes.push(info),
  }, {
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return /** @type {any} */ (s);
    },
    now: () => now,
    random: () => 0,
    joinToken,
    room,
  });
  const advance = (ms) => {
    now += ms;
    mock.timers.tick(ms);
  };
  return { conn, sockets, closes, advance };
}

test('a lost connection comes back with the last Welcome\'s token in its Hello', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, closes, advance } = harness();
  conn.start();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent[0], { Hello: { name: 'ace', token: null, join: null, room: null } }, 'a new player has no token');
  sockets[0].deliver(welcome(TOKEN_A));
  sockets[0].serverClose(1006);
  assert.equal(closes[0].retryInMs, BACKOFF_MIN_MS);
  assert.equal(conn.lost, 1);
  advance(BACKOFF_MIN_MS);
  assert.equal(sockets.length, 2, 'it reconnects after the backoff');
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { Hello: { name: 'ace', token: TOKEN_A, join: null, room: 'main' } }, 'a resume names the room of its Welcome');
  sockets[1].deliver(welcome(TOKEN_B, true));
  assert.equal(conn.resumed, true);
  assert.equal(conn.resumes, 1);
  assert.equal(conn.attempt, 0, 'a Welcome resets the backoff');
  assert.deepEqual([...(conn.resumeToken ?? [])], TOKEN_B, 'every Welcome brings the token for next time');
  conn.stop();
});

test('a room asked for is named in the Hello; quick play learns its room from the Welcome', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets } = harness(null, 'duel');
  conn.start();
  sockets[0].open();
  assert.equal(sockets[0].sent[0].Hello.room, 'duel', 'the room from the page URL');
  sockets[0].deliver(welcome(TOKEN_A, false, 'duel'));
  assert.equal(conn.room, 'duel');
  conn.stop();
  mock.timers.reset();
  const quick = harness();
  quick.conn.start();
  quick.sockets[0].open();
  assert.equal(quick.sockets[0].sent[0].Hello.room, null, 'quick play names no room');
  quick.sockets[0].deliver(welcome(TOKEN_A, false, 'room-3'));
  assert.equal(quick.conn.room, 'room-3', 'the room the server chose, for the page and the next Hello');
  quick.conn.stop();
});

test('a socket that goes silent is dropped with 4000 and reopened', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, closes, advance } = harness();
  conn.start();
  sockets[0].open();
  sockets[0].deliver(welcome(TOKEN_A));
  advance(SILENCE_MS - 500);
  sockets[0].deliver({ Event: {} });
  advance(SILENCE_MS - 500);
  assert.equal(sockets[0].closedWith, null, 'a frame within the limit keeps it alive');
  advance(1000);
  assert.equal(sockets[0].closedWith, CLOSE_LOST, 'silence for more than the limit closes it as lost');
  assert.equal(conn.silenceDrops, 1);
  assert.equal(closes[0].code, CLOSE_LOST);
  assert.equal(conn.connected, false);
  advance(BACKOFF_MIN_MS);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { Hello: { name: 'ace', token: TOKEN_A, join: null, room: 'main' } }, 'a resume names the room of its Welcome');
  conn.stop();
});

test('drop() gives up on the socket at once and reconnects through the backoff', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, advance } = harness();
  conn.start();
  sockets[0].open();
  sockets[0].deliver(welcome(TOKEN_A));
  conn.drop('test');
  assert.equal(sockets[0].closedWith, CLOSE_LOST);
  assert.equal(sockets[0].onclose, null, 'the old socket no longer reports');
  assert.ok(conn.retryAt !== null);
  advance(BACKOFF_MIN_MS);
  assert.equal(sockets.length, 2);
  conn.stop();
});

test('Replaced is not retried', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, closes, advance } = harness();
  conn.start();
  sockets[0].open();
  sockets[0].deliver(welcome(TOKEN_A));
  sockets[0].deliver({ Bye: { reason: 'Replaced', message: 'elsewhere' } });
  sockets[0].serverClose(4004);
  assert.equal(closes[0].retryInMs, null);
  assert.equal(closes[0].byeReason, 'Replaced');
  advance(60_000);
  assert.equal(sockets.length, 1, 'no new connection after Replaced');
});

test('ServerBusy is retried, but not before the server said', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, closes, advance } = harness();
  conn.start();
  sockets[0].open();
  sockets[0].deliver({ Bye: { reason: 'ServerBusy', message: 'busy', retry_after_ms: 5000 } });
  sockets[0].serverClose(4007);
  assert.equal(closes[0].byeReason, 'ServerBusy');
  assert.ok(closes[0].retryInMs >= 5000, `waits for the hint: ${closes[0].retryInMs}`);
  advance(4999);
  assert.equal(sockets.length, 1, 'not before 5 s');
  advance(closes[0].retryInMs - 4999);
  assert.equal(sockets.length, 2, 'then it tries again');
  conn.stop();
});

test('stop() says goodbye with 1000 and does not come back', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, closes, advance } = harness();
  conn.start();
  sockets[0].open();
  conn.stop();
  assert.equal(sockets[0].closedWith, CLOSE_LEAVE);
  sockets[0].serverClose(CLOSE_LEAVE);
  assert.equal(closes[0].retryInMs, null);
  assert.equal(conn.lost, 0, 'a goodbye is not a lost connection');
  advance(60_000);
  assert.equal(sockets.length, 1);
});

test('a desync asks for one full snapshot', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, advance } = harness();
  conn.start();
  sockets[0].open();
  sockets[0].deliver({ Snapshot: { tick: 5, desync: 'checksum' } });
  sockets[0].deliver({ Snapshot: { tick: 6, desync: 'against tick' } });
  assert.equal(conn.fullRequests, 1);
  assert.deepEqual(sockets[0].sent.at(-1), { RequestFull: 5 });
  advance(1001);
  sockets[0].deliver({ Snapshot: { tick: 40, desync: 'against tick' } });
  assert.equal(conn.fullRequests, 2, 'asked again when none came within a second');
  sockets[0].deliver({ Snapshot: { tick: 41, full: true } });
  assert.equal(conn.resyncing, false);
  conn.stop();
});

test('the join token goes in the first Hello only; a resume carries the resume token instead', (t) => {
  t.after(() => mock.timers.reset());
  const { conn, sockets, advance } = harness('TOKEN');
  conn.start();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent[0], { Hello: { name: 'ace', token: null, join: 'TOKEN', room: null } });
  sockets[0].deliver(welcome(TOKEN_A));
  sockets[0].serverClose(1006);
  advance(BACKOFF_MIN_MS);
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { Hello: { name: 'ace', token: TOKEN_A, join: null, room: 'main' } }, 'a used token is not sent again');
});
