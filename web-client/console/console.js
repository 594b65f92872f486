// @ts-check
/**
 * The operator console: polls the server's `/stats` and `/rooms` once a second and shows the
 * rooms (players, tick p50/p99 over 10 s, overruns, a sparkline each), the process's tick
 * percentiles, overruns, bandwidth, CPU and memory as live sparklines, and connections closed by
 * reason. With `--admin-token` the page needs the token: `#token=…` in its URL (kept out of
 * requests and logs) or `?token=…`; it is sent as `Authorization: Bearer`.
 * `window.arenaConsole` exposes what was last drawn, for tests.
 */

import { closesByCount, pushPoint, rates, sparkline } from './model.js';

const POLL_MS = 1000;
const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token') ?? new URLSearchParams(location.search).get('token');
/** @type {HeadersInit} */
const headers = token ? { Authorization: `Bearer ${token}` } : {};

/** @type {Record<string, (number | null)[]>} */
const series = { p50: [], p99: [], overruns: [], kbps: [], cpu: [], players: [] };
/** @type {Map<string, { p99: (number | null)[], players: (number | null)[] }>} */
const roomSeries = new Map();
/** @type {{ stats: import('./model.js').Stats, at: number } | null} */
let previous = null;
let updates = 0;
/** @type {any[]} */
let lastRooms = [];
/** @type {ReturnType<typeof rates> | null} */
let lastRates = null;

/** @param {string} path */
async function get(path) {
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 401) throw new Error('the server wants the admin token: open this page with #token=…');
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Draws `lines` (each a series with a colour) on `canvas`, scaled to their common maximum.
 * @param {HTMLCanvasElement} canvas
 * @param {{ data: (number | null)[], colour: string }[]} lines
 * @param {number} [floor]
 */
function draw(canvas, lines, floor = 1) {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // One scale for all lines of a chart: the maximum over all of them.
  const top = Math.max(floor, ...lines.flatMap((l) => l.data.filter((v) => v !== null).map((v) => /** @type {number} */ (v))));
  for (const { data, colour } of lines) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    for (const run of sparkline(data, canvas.width, canvas.height - 2, top)) {
      ctx.beginPath();
      run.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y + 1) : ctx.lineTo(x, y + 1)));
      if (run.length === 1) ctx.lineTo(run[0][0] - 1, run[0][1] + 1);
      ctx.stroke();
    }
  }
}

const fmt = (/** @type {number | null | undefined} */ v, digits = 1) => (v === null || v === undefined ? '–' : v.toFixed(digits));

/** @param {any[]} rooms */
function renderRooms(rooms) {
  const body = /** @type {HTMLTableSectionElement} */ (el('room-table').querySelector('tbody'));
  const open = new Set(rooms.map((r) => r.name));
  for (const name of [...roomSeries.keys()]) if (!open.has(name)) roomSeries.delete(name);
  const rows = rooms
    .slice()
    .sort((a, b) => b.players - a.players || a.name.localeCompare(b.name))
    .map((r) => {
      const s = roomSeries.get(r.name) ?? { p99: [], players: [] };
      s.p99 = pushPoint(s.p99, r.recent_ticks > 0 ? r.tick_p99_ms : null);
      s.players = pushPoint(s.players, r.players);
      roomSeries.set(r.name, s);
      const tr = document.createElement('tr');
      tr.dataset.room = r.name;
      const cells = [
        r.name,
        `${r.players} / ${r.capacity}${r.suspended ? ` (+${r.suspended} kept)` : ''}`,
        `${fmt(r.tick_p50_ms, 2)} / ${fmt(r.tick_p99_ms, 2)}`,
        String(r.overruns),
        r.busy ? 'busy' : 'ok',
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      if (r.busy) tr.children[4].className = 'busy';
      const td = document.createElement('td');
      const canvas = document.createElement('canvas');
      canvas.width = 160;
      canvas.height = 24;
      draw(canvas, [{ data: s.p99, colour: '#fbbf24' }, { data: s.players, colour: '#5eead4' }]);
      td.append(canvas);
      tr.append(td);
      return tr;
    });
  body.replaceChildren(...rows);
  el('no-rooms').hidden = rooms.length > 0;
}

/** @param {Record<string, number>} closed */
function renderCloses(closed) {
  const body = /** @type {HTMLTableSectionElement} */ (el('close-table').querySelector('tbody'));
  body.replaceChildren(
    ...closesByCount(closed).map(([reason, n]) => {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      a.textContent = reason;
      const b = document.createElement('td');
      b.textContent = String(n);
      tr.append(a, b);
      return tr;
    }),
  );
}

async function poll() {
  try {
    const [stats, rooms] = await Promise.all([get('/stats'), get('/rooms')]);
    const at = performance.now();
    el('rooms').textContent = String(stats.rooms);
    el('players').textContent = String(stats.clients);
    el('connections').textContent = String(stats.connections);
    el('memory').textContent = stats.process_resident_bytes ? (stats.process_resident_bytes / 2 ** 20).toFixed(1) : '–';
    if (previous) {
      const r = rates(previous.stats, stats, (at - previous.at) / 1000);
      lastRates = r;
      series.p50 = pushPoint(series.p50, r.tickP50Ms);
      series.p99 = pushPoint(series.p99, r.tickP99Ms);
      series.overruns = pushPoint(series.overruns, r.overrunsPerS);
      series.kbps = pushPoint(series.kbps, r.kbpsOut);
      series.cpu = pushPoint(series.cpu, r.cpuCores);
      el('cpu').textContent = fmt(r.cpuCores, 2);
      el('kbps').textContent = `${fmt(r.kbpsOut, 0)} / ${fmt(r.kbpsIn, 0)}`;
      el('tick-now').textContent = `${fmt(r.tickP50Ms, 2)} / ${fmt(r.tickP99Ms, 2)}`;
      el('overruns-now').textContent = fmt(r.overrunsPerS, 1);
      el('kbps-now').textContent = fmt(r.kbpsOut, 0);
      el('cpu-now').textContent = fmt(r.cpuCores, 2);
    }
    series.players = pushPoint(series.players, stats.clients);
    el('players-now').textContent = String(stats.clients);
    const chart = (/** @type {string} */ id) => /** @type {HTMLCanvasElement} */ (el(id));
    draw(chart('chart-tick'), [{ data: series.p50, colour: '#5eead4' }, { data: series.p99, colour: '#fbbf24' }]);
    draw(chart('chart-overruns'), [{ data: series.overruns, colour: '#fb7185' }]);
    draw(chart('chart-kbps'), [{ data: series.kbps, colour: '#93c5fd' }]);
    draw(chart('chart-cpu'), [{ data: series.cpu, colour: '#c4b5fd' }]);
    draw(chart('chart-players'), [{ data: series.players, colour: '#5eead4' }]);
    renderRooms(rooms);
    renderCloses(stats.connections_closed ?? {});
    previous = { stats, at };
    lastRooms = rooms;
    updates++;
    const status = el('status');
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.className = '';
  } catch (e) {
    const status = el('status');
    status.textContent = String(e instanceof Error ? e.message : e);
    status.className = 'error';
  }
}

// A read-only view for tests: what the page last showed.
Object.defineProperty(window, 'arenaConsole', {
  enumerable: true,
  get() {
    return {
      updates,
      rooms: lastRooms.map((r) => ({ name: r.name, players: r.players })),
      rows: [...document.querySelectorAll('#room-table tbody tr')].map((tr) => /** @type {HTMLElement} */ (tr).dataset.room),
      rates: lastRates,
      players: el('players').textContent,
      tickNow: el('tick-now').textContent,
      status: el('status').textContent,
    };
  },
});

poll();
setInterval(poll, POLL_MS);
