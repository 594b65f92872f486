// @ts-check
/**
 * Wiring of the page: loads the wasm codec, shows the join form, and on Play connects and runs
 * the frame loop — a fixed-step accumulator sends one input per server tick and advances the
 * prediction, then the interpolated world is drawn and the HUD refreshed. A snapshot that could
 * not be applied (a desync; net.js asks for a full one) is skipped: the last good state stays on
 * screen and the prediction runs on until the full snapshot arrives. Exposes a read-only
 * `window.arenaDebug` view for tests. Owns the glue only: every concern lives in its module.
 */

import { loadWasm } from './wasm.js';
import { Connection, defaultServerUrl } from './net.js';
import { GameState } from './state.js';
import { Predictor } from './predict.js';
import { Controls } from './input.js';
import { drawFrame } from './render.js';
import { Hud } from './hud.js';

/** At most this many ticks are simulated in one frame; a longer stall drops the backlog. */
const MAX_TICKS_PER_FRAME = 5;

const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const canvas = /** @type {HTMLCanvasElement} */ (el('game'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { alpha: false }));
const form = /** @type {HTMLFormElement} */ (el('join'));
const nameInput = /** @type {HTMLInputElement} */ (el('name'));
const joinError = el('join-error');

const codec = await loadWasm().catch((err) => {
  joinError.textContent = `cannot start: ${err}`;
  throw err;
});
const rules = codec.rules;
// Both are replaced on every Welcome: a new connection is a new player in the room.
let state = new GameState(rules);
let predictor = new Predictor(codec, state.tickHz, state.arena);
const controls = new Controls(canvas, rules);
const hud = new Hud(document);

/** @type {Connection | null} */
let net = null;
let status = '';
let acc = 0;
let lastFrame = performance.now();
let fps = 60;
let aim = 0;
/** Buttons of the last input sent, for the own ship's thrust flame. */
let lastButtons = 0;
let counts = { shipsDrawn: 0, orbsDrawn: 0, projectilesDrawn: 0 };

nameInput.maxLength = rules.max_name_chars;
nameInput.value = localStorage.getItem('arena.name') ?? '';
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = Array.from(nameInput.value.trim()).slice(0, rules.max_name_chars).join('');
  localStorage.setItem('arena.name', name);
  nameInput.blur();
  form.hidden = true;
  document.body.classList.add('playing');
  controls.enabled = true;
  join(name);
});

/** Connects (once; the connection reconnects by itself). */
function join(/** @type {string} */ name) {
  if (net) return;
  status = 'connecting…';
  net = new Connection(codec, defaultServerUrl(), name, {
    onMessage,
    onOpen: () => {
      status = 'joining…';
    },
    onClose: ({ reason, retryInMs }) => {
      state.welcomed = false;
      const why = reason ? `: ${reason}` : '';
      status = retryInMs === null
        ? `disconnected${why} — reload the page`
        : `connection lost${why} — reconnecting in ${(retryInMs / 1000).toFixed(1)} s`;
    },
  });
  net.start();
}

/** @param {any} msg  a decoded ServerMsg */
function onMessage(msg) {
  const now = performance.now();
  if (msg.Snapshot) {
    if (msg.Snapshot.desync !== undefined) return; // keep the last good state; a full one is on its way
    state.onSnapshot(msg.Snapshot, now);
    predictor.onSnapshot(state.ownServer, msg.Snapshot.ack_seq);
  } else if (msg.Welcome) {
    state = new GameState(rules);
    state.onWelcome(msg.Welcome);
    predictor = new Predictor(codec, state.tickHz, state.arena);
    acc = 0;
    status = '';
  } else if (msg.Event) {
    state.onEvent(msg.Event, now);
  } else if (msg.Scoreboard) {
    state.onScoreboard(msg.Scoreboard);
  }
}

// A hidden tab gets no animation frames, so no inputs: let go of everything first, so the last
// input the server saw does not hold a key down.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) return;
  controls.releaseAll();
  if (state.welcomed && net?.connected) tick();
});

/** Samples the controls and sends one input; advances the prediction. */
function tick() {
  // The camera keeps the own ship at the centre of the canvas.
  aim = controls.aimFrom(canvas.clientWidth / 2, canvas.clientHeight / 2, aim);
  const input = predictor.tick(controls.sampleButtons(), codec.angleToWire(aim));
  lastButtons = input.buttons;
  net?.send(codec.encodeInput(input.seq, input.buttons, input.aim));
}

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return dpr;
}

function frame(/** @type {number} */ t) {
  const now = performance.now();
  const frameMs = Math.min(250, Math.max(0, t - lastFrame));
  lastFrame = t;
  if (frameMs > 0) fps += (1000 / frameMs - fps) * 0.05;

  if (state.welcomed && net?.connected) {
    acc += frameMs;
    for (let n = 0; acc >= state.tickMs && n < MAX_TICKS_PER_FRAME; n++) {
      tick();
      acc -= state.tickMs;
    }
    acc %= state.tickMs;
  }

  const dpr = resize();
  const own = state.ownServer;
  const shown = own?.alive ? predictor.display(acc / state.tickMs, frameMs) : null;
  const world = state.sample(now);
  const camera = shown ?? (own ? { x: own.x, y: own.y } : { x: state.arena.w / 2, y: state.arena.h / 2 });
  const nameOf = (/** @type {number} */ id) => state.nameOf(id);
  counts = drawFrame(ctx, {
    width: canvas.clientWidth,
    height: canvas.clientHeight,
    dpr,
    time: now,
    camera,
    view: state.view,
    arena: state.arena,
    myId: state.myId,
    own: own && state.myId !== null
      ? {
        id: state.myId, x: camera.x, y: camera.y, aim, hp: own.hp, alive: own.alive, name: nameOf(state.myId),
        buttons: lastButtons,
      }
      : null,
    others: world ? world.ships.map((s) => ({ ...s, name: nameOf(s.id) })) : [],
    projectiles: world ? world.projectiles : [],
    orbs: world ? world.orbs : [],
    minimap: state.welcomed,
    sizes: {
      shipRadius: rules.ship_radius,
      projectileRadius: rules.projectile_radius,
      orbRadius: rules.orb_radius,
      maxHp: rules.ship_max_hp,
    },
    buttonBits: { up: rules.button_up, down: rules.button_down, left: rules.button_left, right: rules.button_right },
  });

  state.expireKills(now);
  hud.update({
    pingMs: net?.rttMs ?? null,
    fps,
    kbpsDown: net?.kbpsDown ?? 0,
    tick: state.newest?.tick ?? null,
    playersOnline: state.scoreboard.playersOnline || state.names.size,
    top: state.scoreboard.top.map((e) => ({ name: nameOf(e.id), score: e.score, mine: e.id === state.myId })),
    scoreboardVersion: state.scoreboardVersion,
    kills: state.kills,
    killsVersion: state.killsVersion,
    respawnInS: own && !own.alive && state.diedAt !== null
      ? rules.respawn_delay_s - (now - state.diedAt) / 1000
      : null,
    myScore: own?.score ?? 0,
    status: status || (net?.resyncing ? 'resynchronizing…' : ''),
  }, now);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// A read-only view for tests and the console: a fresh plain object on every read.
Object.defineProperty(window, 'arenaDebug', {
  enumerable: true,
  get() {
    const own = state.ownServer;
    const newest = state.newest;
    const cur = predictor.cur;
    return {
      connected: net?.connected ?? false,
      joined: state.welcomed,
      myId: state.myId,
      tick: newest?.tick ?? null,
      snapshots: state.snapshotsReceived,
      ownShip: own ? { x: own.x, y: own.y, hp: own.hp, alive: own.alive } : null,
      predictedShip: cur ? { x: cur.x, y: cur.y } : null,
      shipsVisible: newest ? [...newest.ships.keys()].filter((id) => id !== state.myId).length : 0,
      shipsDrawn: counts.shipsDrawn,
      orbsDrawn: counts.orbsDrawn,
      projectilesDrawn: counts.projectilesDrawn,
      ownProjectilesVisible: newest ? [...newest.projectiles.values()].filter((p) => p.owner === state.myId).length : 0,
      ping: net?.rttMs ?? null,
      ackSeq: newest?.ackSeq ?? 0,
      pendingInputs: predictor.pending.length,
      lastCorrection: predictor.lastCorrection,
      corrections: predictor.corrections,
      desyncs: net?.desyncs ?? 0,
      fullSnapshots: net?.fullSnapshots ?? 0,
      fullRequests: net?.fullRequests ?? 0,
      resyncing: net?.resyncing ?? false,
      arena: { ...state.arena },
      tickHz: state.tickHz,
    };
  },
});
