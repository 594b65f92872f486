// @ts-check
/**
 * Wiring of the page: takes the join form at once (a submit before the wasm module has loaded
 * joins as soon as it has, and never reloads the page), loads the wasm codec, and on Play
 * connects and runs the frame loop:
 *
 * 1. the input clock (timing.js: the room's tick, dilated by the server's feedback) samples the
 *    controls once per period; each input is predicted (predict.js, shots.js) and sent in a batch
 *    with the unacknowledged ones before it and the tick the player was seeing (the tick others
 *    were drawn at in the last frame, for the server's lag compensation);
 * 2. the own ship and own shots are drawn in the present (the partial tick stepped with the
 *    buttons held now); everyone else at the render clock's tick (state.js, clock.js);
 * 3. the HUD, the death screen and the net graph (F3) are refreshed.
 *
 * A snapshot that could not be applied (a desync; net.js asks for a full one) is skipped: the
 * last good state stays on screen and the prediction runs on until the full snapshot arrives. A
 * lost connection is resumed by net.js; each Welcome starts the per-connection state afresh
 * (keeping the kill feed and scoreboard when the player was resumed). Exposes a read-only
 * `window.arenaDebug` view and a `window.arenaTest` hook for tests. Owns the glue only: every
 * concern lives in its module.
 */

import { loadWasm } from './wasm.js';
import { Connection, defaultServerUrl } from './net.js';
import { GameState } from './state.js';
import { Predictor } from './predict.js';
import { Controls } from './input.js';
import { drawFrame, viewScale, worldToScreen } from './render.js';
import { Hud } from './hud.js';
import { Dilation, InputClock, ruleFrom, toViewTime } from './timing.js';
import { OwnShots, ticksFor } from './shots.js';
import { NetGraph } from './netgraph.js';

/** At most this many inputs are produced in one frame; a longer stall drops the backlog. */
const MAX_TICKS_PER_FRAME = 5;
/** Commands per input batch: the newest and the unacknowledged ones before it. */
const INPUT_REDUNDANCY = 4;
/** How long a reconnect's outcome ("connection lost — resumed") stays on screen, in ms. */
const NOTICE_MS = 4000;

const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const canvas = /** @type {HTMLCanvasElement} */ (el('game'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { alpha: false }));
const form = /** @type {HTMLFormElement} */ (el('join'));
const nameInput = /** @type {HTMLInputElement} */ (el('name'));
const playButton = /** @type {HTMLButtonElement} */ (el('play'));
const joinError = el('join-error');
const graphCanvas = /** @type {HTMLCanvasElement} */ (el('netgraph'));
const graphCtx = /** @type {CanvasRenderingContext2D} */ (graphCanvas.getContext('2d'));

// The form is taken before anything is awaited: until the module is ready a submit only marks
// the wish to join (index.html's inline handlers do the same before this module even runs).
let ready = false;
form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (ready) submitJoin();
  else form.dataset.early = '1';
});

const codec = await loadWasm().catch((err) => {
  joinError.textContent = `cannot start: ${err}`;
  playButton.textContent = 'unavailable';
  throw err;
});
const rules = codec.rules;
const timingRule = ruleFrom(rules);
const hud = new Hud(document);
const netGraph = new NetGraph();
const controls = new Controls(canvas, rules);

// Per connection: replaced on every Welcome.
let state = new GameState(rules);
let predictor = newPredictor(state);
let shots = newShots(state);
let inputClock = new InputClock(state.tickMs, new Dilation(timingRule), MAX_TICKS_PER_FRAME);

/** @type {Connection | null} */
let net = null;
/** A connection that will not be retried: why (shown instead of the live status). */
let fatal = '';
/** A reconnect's outcome, shown until `noticeUntil`. */
let notice = '';
let noticeUntil = 0;
let lastFrame = performance.now();
let fps = 60;
let frames = 0;
let aim = 0;
/** Buttons of the last input sent, for the own ship's thrust flame. */
let lastButtons = 0;
/** The tick others were drawn at in the last frame: the view time of the next input. */
let viewTick = 0;
let lastView = { tick: 0, frac: 0 };
/** How far back the server will test the last input's shots, as far as the page can tell (the
 * tick it will apply the input at, + 1, − its view time), in ticks; null before a snapshot. */
let lastRewind = /** @type {number | null} */ (null);
let counts = { shipsDrawn: 0, orbsDrawn: 0, projectilesDrawn: 0 };
/** What the last frame drew, for tests. */
let drawn = {
  ship: /** @type {{ x: number, y: number } | null} */ (null),
  others: /** @type {{ id: number, name: string, hp: number, x: number, y: number, vx: number, vy: number, sx: number, sy: number }[]} */ ([]),
  ownShots: /** @type {{ x: number, y: number, local: boolean }[]} */ ([]),
  camera: { x: 0, y: 0 },
  scale: 1,
};

/** @param {GameState} s */
function newPredictor(s) {
  const { tickHz, arena } = s;
  return new Predictor((m, buttons) => codec.stepShip(m, buttons, tickHz, arena.w, arena.h));
}

/** @param {GameState} s */
function newShots(s) {
  const tickHz = s.tickHz;
  return new OwnShots({
    spawn: (x, y, a) => codec.spawnProjectile(x, y, a),
    step: (p) => codec.stepProjectile(p, tickHz),
    cooldownTicks: ticksFor(rules.fire_cooldown_s, tickHz),
    lifetimeTicks: ticksFor(rules.projectile_lifetime_s, tickHz),
    fireBit: rules.button_fire,
    arena: s.arena,
    tickS: 1 / tickHz,
  });
}

nameInput.maxLength = rules.max_name_chars;
if (!nameInput.value) nameInput.value = localStorage.getItem('arena.name') ?? '';
ready = true;
form.onsubmit = null;
nameInput.onkeydown = null;
playButton.disabled = false;
playButton.textContent = 'Play';
if (form.dataset.early) submitJoin();

/** Hides the form and joins with the typed name. */
function submitJoin() {
  delete form.dataset.early;
  const name = Array.from(nameInput.value.trim()).slice(0, rules.max_name_chars).join('');
  localStorage.setItem('arena.name', name);
  nameInput.blur();
  form.hidden = true;
  document.body.classList.add('playing');
  controls.enabled = true;
  canvas.focus();
  join(name);
}

/** Connects (once; the connection reconnects by itself). */
function join(/** @type {string} */ name) {
  if (net) return;
  const params = new URLSearchParams(location.search);
  const joinToken = params.get('token');
  // `?room=NAME` joins that room; without it the server picks one (quick play).
  const room = params.get('room') || null;
  net = new Connection(codec, defaultServerUrl(), name, {
    onMessage,
    onPong: (rtt) => {
      const now = performance.now();
      netGraph.push('ping', rtt, now);
      netGraph.push('kbps', net?.kbpsDown ?? 0, now);
    },
    onClose: ({ reason, byeReason, retryInMs }) => {
      state.welcomed = false;
      if (retryInMs !== null) return;
      const why = reason ? `: ${reason}` : '';
      fatal = byeReason === 'Replaced'
        ? 'this player went on in another tab or window — reload to play here'
        : byeReason === 'VersionMismatch'
          ? 'this page is out of date — reload it'
          : byeReason === 'JoinRefused'
            ? `this server lets in only players sent by its matchmaker${why}`
            : `disconnected${why} — reload the page`;
    },
  }, { joinToken, room });
  net.start();
}

/** The own projectiles of a snapshot, in id order. */
function ownProjectiles(/** @type {import('./state.js').Snap} */ snap) {
  return [...snap.projectiles.values()].filter((p) => p.owner === state.myId);
}

/** @param {any} msg  a decoded ServerMsg */
function onMessage(msg) {
  const now = performance.now();
  if (msg.Snapshot) {
    const s = msg.Snapshot;
    if (!state.welcomed) return;
    inputClock.dilation.update(s.input_offset ?? 0);
    if (s.desync !== undefined) return; // keep the last good state; a full one is on its way
    if (!state.onSnapshot(s, now)) return;
    predictor.onSnapshot(state.ownServer, s.ack_seq, s.ack_speculated ?? 0);
    const newest = /** @type {import('./state.js').Snap} */ (state.newest);
    shots.onSnapshot(ownProjectiles(newest), s.ack_seq);
    netGraph.push('jitter', state.lastLateMs, now);
    netGraph.push('gap', state.lastGapMs, now);
    netGraph.push('queue', s.input_queue ?? 0, now);
    netGraph.push('correction', predictor.lastCorrection, now);
  } else if (msg.Welcome) {
    const w = msg.Welcome;
    const old = state;
    state = new GameState(rules);
    state.onWelcome(w);
    if (w.resumed) state.keepFrom(old);
    predictor = newPredictor(state);
    shots = newShots(state);
    inputClock = new InputClock(state.tickMs, new Dilation(timingRule), MAX_TICKS_PER_FRAME);
    viewTick = w.tick;
    if ((net?.welcomes ?? 0) > 1) {
      notice = w.resumed ? 'connection lost — resumed' : 'connection lost — joined again with a new ship';
      noticeUntil = now + NOTICE_MS;
    }
  } else if (msg.Event) {
    state.onEvent(msg.Event, now);
  } else if (msg.Scoreboard) {
    state.onScoreboard(msg.Scoreboard);
  }
}

/** The connection status line: empty while all is well. */
function statusText(/** @type {number} */ now) {
  if (!net) return '';
  if (fatal) return fatal;
  if (net.connected && state.welcomed) {
    if (now < noticeUntil) return notice;
    return net.resyncing ? 'resynchronizing…' : '';
  }
  if (net.welcomes === 0) return net.connected ? 'joining…' : 'connecting…';
  if (net.retryAt !== null) return `connection lost — reconnecting… ${Math.max(0, (net.retryAt - now) / 1000).toFixed(1)} s`;
  return 'connection lost — reconnecting…';
}

// A hidden tab gets no animation frames, so no inputs: let go of everything first, so the last
// input the server saw does not hold a key down.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) return;
  controls.releaseAll();
  if (state.welcomed && net?.connected) tick();
});

addEventListener('keydown', (e) => {
  if (e.code !== 'F3' && e.key !== 'F3') return;
  e.preventDefault(); // the browser's own F3 is "find again"
  graphCanvas.hidden = !netGraph.toggle();
});

/** Samples the controls and sends one input batch; advances the prediction and own shots. */
function tick() {
  const buttons = controls.sampleButtons();
  const aimWire = codec.angleToWire(aim);
  const input = predictor.tick(buttons, aimWire);
  lastButtons = buttons;
  shots.onInput(input.seq, buttons, aimWire, predictor.alive ? predictor.cur : null);
  lastView = toViewTime(viewTick);
  // Snapshot S acknowledges the command applied in tick S − 1; at one command a tick, this one
  // is applied in tick S − 1 + (seq − ack_seq), and its shots are rewound from the state of the
  // tick after that (PROTOCOL.md §9) to the view time.
  const newest = state.newest;
  lastRewind = newest ? newest.tick + (input.seq - newest.ackSeq) - viewTick : null;
  const batch = predictor.batch(Math.min(INPUT_REDUNDANCY, rules.max_input_batch));
  net?.send(codec.encodeInput(input.seq, lastView.tick, lastView.frac, batch));
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
  frames++;

  // The camera keeps the own ship at the centre of the canvas.
  aim = controls.aimFrom(canvas.clientWidth / 2, canvas.clientHeight / 2, aim);
  if (state.welcomed && net?.connected) {
    const due = inputClock.advance(frameMs);
    for (let n = 0; n < due; n++) tick();
  }

  const dpr = resize();
  const own = state.ownServer;
  const alpha = inputClock.alpha;
  const shown = own?.alive ? predictor.display(alpha, controls.heldButtons(), frameMs) : null;
  const world = state.sample(state.renderTick(now));
  if (world) viewTick = world.renderTick;
  const camera = shown ?? (own ? { x: own.x, y: own.y } : { x: state.arena.w / 2, y: state.arena.h / 2 });
  const newest = state.newest;
  const myId = state.myId ?? -1;
  const ownShots = newest ? shots.draw(ownProjectiles(newest), newest.ackSeq, predictor.lastSeq, alpha, myId) : [];
  const others = world ? world.ships.map((s) => ({ ...s, name: state.nameOf(s.id) })) : [];
  const scene = {
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
        id: state.myId, x: camera.x, y: camera.y, aim, hp: own.hp, alive: own.alive, name: state.nameOf(state.myId),
        buttons: lastButtons,
      }
      : null,
    others,
    projectiles: [...(world ? world.projectiles.filter((p) => p.owner !== myId) : []), ...ownShots],
    orbs: world ? world.orbs : [],
    minimap: state.welcomed,
    held: newest
      ? {
        ships: [...newest.ships.values()].filter((s) => s.id !== myId),
        orbs: newest.orbs,
        center: own ? { x: own.x, y: own.y } : null,
      }
      : null,
    sizes: {
      shipRadius: rules.ship_radius,
      projectileRadius: rules.projectile_radius,
      orbRadius: rules.orb_radius,
      maxHp: rules.ship_max_hp,
    },
    buttonBits: { up: rules.button_up, down: rules.button_down, left: rules.button_left, right: rules.button_right },
  };
  counts = drawFrame(ctx, scene);
  drawn = {
    ship: shown ? { x: shown.x, y: shown.y } : null,
    others: others
      .map((s) => {
        const p = worldToScreen(scene, s.x, s.y);
        return { id: s.id, name: s.name, hp: s.hp, x: s.x, y: s.y, vx: s.vx, vy: s.vy, sx: p.x, sy: p.y };
      })
      .filter((s) => s.sx >= 0 && s.sy >= 0 && s.sx <= scene.width && s.sy <= scene.height),
    ownShots: ownShots.map((p) => ({ x: p.x, y: p.y, local: p.local })),
    camera: { x: camera.x, y: camera.y },
    scale: viewScale(scene),
  };

  state.expireKills(now);
  hud.update({
    pingMs: net?.rttMs ?? null,
    fps,
    kbpsDown: net?.kbpsDown ?? 0,
    tick: newest?.tick ?? null,
    playersOnline: state.scoreboard.playersOnline || state.names.size,
    room: state.welcomed ? net?.room ?? null : null,
    top: state.scoreboard.top.map((e) => ({ name: state.nameOf(e.id), score: e.score, mine: e.id === state.myId })),
    scoreboardVersion: state.scoreboardVersion,
    kills: state.kills,
    killsVersion: state.killsVersion,
    respawnInS: own && !own.alive && state.diedAt !== null
      ? rules.respawn_delay_s - (now - state.diedAt) / 1000
      : null,
    killedBy: state.killedBy,
    myScore: own?.score ?? 0,
    status: statusText(now),
  }, now);
  if (netGraph.visible) drawNetGraph(dpr, now);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

function drawNetGraph(/** @type {number} */ dpr, /** @type {number} */ now) {
  const w = graphCanvas.clientWidth || 260;
  const h = graphCanvas.clientHeight || 300;
  if (graphCanvas.width !== Math.round(w * dpr) || graphCanvas.height !== Math.round(h * dpr)) {
    graphCanvas.width = Math.round(w * dpr);
    graphCanvas.height = Math.round(h * dpr);
  }
  const dil = inputClock.dilation.current * 100;
  const footer = `delay ${Math.round(state.renderDelayMs)} ms · dilation ${dil >= 0 ? '+' : ''}${dil.toFixed(1)} %`;
  netGraph.draw(graphCtx, w, h, dpr, footer, now);
}

// Test hooks: drop the socket as a lost connection (close code 4000, so the server keeps the
// ship for the resume grace); the page reconnects and resumes by itself.
Object.defineProperty(window, 'arenaTest', {
  enumerable: true,
  value: Object.freeze({
    /** Returns whether there was a socket to drop. */
    dropConnection() {
      if (!net?.ws) return false;
      net.drop('dropped by arenaTest');
      return true;
    },
  }),
});

// A read-only view for tests and the console: a fresh plain object on every read.
Object.defineProperty(window, 'arenaDebug', {
  enumerable: true,
  get() {
    const own = state.ownServer;
    const newest = state.newest;
    const cur = predictor.cur;
    const now = performance.now();
    return {
      ready,
      connected: net?.connected ?? false,
      joined: state.welcomed,
      room: net?.room ?? null,
      myId: state.myId,
      tick: newest?.tick ?? null,
      snapshots: state.snapshotsReceived,
      ownShip: own ? { x: own.x, y: own.y, hp: own.hp, alive: own.alive, score: own.score } : null,
      predictedShip: cur ? { x: cur.x, y: cur.y } : null,
      drawnShip: drawn.ship,
      drawnShips: drawn.others,
      camera: drawn.camera,
      viewScale: drawn.scale,
      frames,
      shipsVisible: newest ? [...newest.ships.keys()].filter((id) => id !== state.myId).length : 0,
      shipsDrawn: counts.shipsDrawn,
      orbsDrawn: counts.orbsDrawn,
      projectilesDrawn: counts.projectilesDrawn,
      ownProjectilesVisible: newest ? [...newest.projectiles.values()].filter((p) => p.owner === state.myId).length : 0,
      ownShotsDrawn: drawn.ownShots.length,
      // Where the own shots were drawn in the last frame (world units; `local`: predicted, not
      // yet the server's): with `drawnShips`, what the player saw, which lag compensation
      // promises the server judges hits by.
      drawnOwnShots: drawn.ownShots.map((p) => ({ ...p })),
      hitRadius: rules.ship_radius + rules.projectile_radius,
      shots: {
        local: shots.local.length,
        predicted: shots.predicted,
        matched: shots.matched,
        dropped: shots.dropped,
        unpredicted: shots.unpredicted,
      },
      ping: net?.rttMs ?? null,
      ackSeq: newest?.ackSeq ?? 0,
      inputSeq: predictor.lastSeq,
      pendingInputs: predictor.pending.length,
      inputQueue: newest?.inputQueue ?? 0,
      inputOffset: newest?.inputOffset ?? 0,
      dilation: inputClock.dilation.current,
      viewTime: { ...lastView },
      rewindTicks: lastRewind,
      renderTick: viewTick,
      renderDelayMs: state.renderDelayMs,
      jitterMs: state.jitterMs,
      lastCorrection: predictor.lastCorrection,
      corrections: predictor.corrections,
      correctionTotal: predictor.correctionTotal,
      correctionSnaps: predictor.snaps,
      speculatedSkips: predictor.skippedSnapshots,
      desyncs: net?.desyncs ?? 0,
      fullSnapshots: net?.fullSnapshots ?? 0,
      fullRequests: net?.fullRequests ?? 0,
      resyncing: net?.resyncing ?? false,
      welcomes: net?.welcomes ?? 0,
      resumes: net?.resumes ?? 0,
      resumed: net?.resumed ?? false,
      connectionsLost: net?.lost ?? 0,
      silenceDrops: net?.silenceDrops ?? 0,
      reconnectInMs: net?.retryAt != null ? Math.max(0, net.retryAt - now) : null,
      lastBye: net?.lastBye ? { ...net.lastBye } : null,
      status: statusText(now),
      killedBy: state.killedBy,
      netGraph: netGraph.visible,
      arena: { ...state.arena },
      tickHz: state.tickHz,
    };
  },
});
