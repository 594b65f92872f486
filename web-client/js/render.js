// @ts-check
/**
 * Draws one frame: a plain scene object in, pixels on the canvas out, and the counts of what was
 * drawn. Pure: it reads no global state, keeps none between frames, and never touches the network.
 * The camera follows the own ship and is scaled so the server's view rectangle
 * (Welcome.view_half_width × view_half_height around the ship) fits the window. The minimap in
 * the corner shows what the client holds (the newest snapshot's ships and orbs and the area it
 * covers), labelled as such: not the whole arena's population.
 */

/**
 * @typedef {{ id: number, x: number, y: number, aim: number, hp: number, name: string,
 *             buttons?: number }} ShipView  `buttons`: move buttons held, for the thrust flame
 * @typedef {object} HeldWorld  the newest snapshot, as the minimap shows it
 * @property {{ id: number, x: number, y: number, alive: boolean }[]} ships  other ships
 * @property {{ x: number, y: number, kind: string }[]} orbs
 * @property {{ x: number, y: number } | null} center  the own ship by the server (the view's centre)
 * @typedef {object} Scene
 * @property {number} width   canvas size in CSS pixels
 * @property {number} height
 * @property {number} dpr     device pixels per CSS pixel
 * @property {number} time    ms, for gentle animations
 * @property {{ x: number, y: number }} camera  world point at the centre of the screen
 * @property {{ halfW: number, halfH: number }} view
 * @property {{ w: number, h: number }} arena
 * @property {number | null} myId
 * @property {(ShipView & { alive: boolean }) | null} own
 * @property {ShipView[]} others
 * @property {{ x: number, y: number, vx: number, vy: number, owner: number }[]} projectiles
 * @property {{ x: number, y: number, kind: string }[]} orbs
 * @property {boolean} minimap  whether to draw the overview map in the corner
 * @property {HeldWorld | null} held  what the client holds, for the minimap
 * @property {{ shipRadius: number, projectileRadius: number, orbRadius: number, maxHp: number }} sizes
 * @property {{ up: number, down: number, left: number, right: number }} buttonBits  move button bits
 */

const COLORS = {
  void: '#06080d',
  floor: '#0d1320',
  gridMinor: '#151d2d',
  gridMajor: '#1f2a40',
  wall: '#3b82f6',
  own: '#5eead4',
  ownGlow: 'rgba(94, 234, 212, 0.18)',
  heal: '#4ade80',
  score: '#fbbf24',
  ownShot: '#a5f3fc',
  enemyShot: '#fb7185',
  name: '#e5e7eb',
  nameOwn: '#99f6e4',
  hpBack: 'rgba(0, 0, 0, 0.6)',
  flame: '#fb923c',
  flameCore: '#fde68a',
};

/** Scale that fits the server's view rectangle into the canvas. */
export function viewScale(/** @type {{ width: number, height: number, view: { halfW: number, halfH: number } }} */ s) {
  return Math.min(s.width / (2 * Math.max(1, s.view.halfW)), s.height / (2 * Math.max(1, s.view.halfH)));
}

/**
 * Where a world point appears on the canvas, in CSS pixels.
 * @param {{ width: number, height: number, camera: { x: number, y: number }, view: { halfW: number, halfH: number } }} s
 * @param {number} x
 * @param {number} y
 * @returns {{ x: number, y: number }}
 */
export function worldToScreen(s, x, y) {
  const k = viewScale(s);
  return { x: (x - s.camera.x) * k + s.width / 2, y: (y - s.camera.y) * k + s.height / 2 };
}

/** A stable colour per player that never looks like the own ship's teal. */
function shipColor(/** @type {number} */ id) {
  const hue = (id * 67 + 10) % 300; // 0..300, then skip the teal band
  const h = hue < 140 ? hue : hue + 60;
  return `hsl(${h}, 80%, 62%)`;
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {Scene} s
 * @returns {{ shipsDrawn: number, orbsDrawn: number, projectilesDrawn: number }}
 */
export function drawFrame(ctx, s) {
  const scale = viewScale(s);
  const { width: w, height: h, dpr, camera: cam } = s;
  // The visible world rectangle.
  const x0 = cam.x - w / 2 / scale;
  const y0 = cam.y - h / 2 / scale;
  const x1 = cam.x + w / 2 / scale;
  const y1 = cam.y + h / 2 / scale;
  const visible = (/** @type {number} */ x, /** @type {number} */ y, /** @type {number} */ r) =>
    x + r >= x0 && x - r <= x1 && y + r >= y0 && y - r <= y1;
  const toScreen = (/** @type {number} */ x, /** @type {number} */ y) => [(x - cam.x) * scale + w / 2, (y - cam.y) * scale + h / 2];

  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = COLORS.void;
  ctx.fillRect(0, 0, w, h);

  // World space.
  ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * (w / 2 - cam.x * scale), dpr * (h / 2 - cam.y * scale));
  drawFloor(ctx, s, scale, x0, y0, x1, y1);

  let orbsDrawn = 0;
  const R = s.sizes.orbRadius;
  const pulse = 1 + 0.12 * Math.sin(s.time / 300);
  for (const o of s.orbs) {
    if (!visible(o.x, o.y, R * 2)) continue;
    orbsDrawn++;
    const color = o.kind === 'Heal' ? COLORS.heal : COLORS.score;
    ctx.globalAlpha = 0.22;
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(o.x, o.y, R * 1.9 * pulse, 0, Math.PI * 2);
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.beginPath();
    ctx.arc(o.x, o.y, R, 0, Math.PI * 2);
    ctx.fill();
    ctx.strokeStyle = '#0b0f17';
    ctx.lineWidth = R * 0.28;
    ctx.beginPath();
    if (o.kind === 'Heal') {
      ctx.moveTo(o.x - R * 0.55, o.y);
      ctx.lineTo(o.x + R * 0.55, o.y);
      ctx.moveTo(o.x, o.y - R * 0.55);
      ctx.lineTo(o.x, o.y + R * 0.55);
    } else {
      ctx.arc(o.x, o.y, R * 0.45, 0, Math.PI * 2);
    }
    ctx.stroke();
  }

  let projectilesDrawn = 0;
  const PR = s.sizes.projectileRadius;
  ctx.lineCap = 'round';
  for (const p of s.projectiles) {
    if (!visible(p.x, p.y, PR * 8)) continue;
    projectilesDrawn++;
    const color = p.owner === s.myId ? COLORS.ownShot : COLORS.enemyShot;
    const tail = 0.04; // seconds of flight shown as a trail
    const r = Math.max(PR * 1.2, 3 / scale); // at least 3 px: shots must be seen
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.45;
    ctx.lineWidth = r * 1.3;
    ctx.beginPath();
    ctx.moveTo(p.x - p.vx * tail, p.y - p.vy * tail);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.fill();
  }

  let shipsDrawn = 0;
  const SR = s.sizes.shipRadius;
  /** @type {{ ship: ShipView, own: boolean }[]} */
  const labels = [];
  for (const ship of s.others) {
    if (!visible(ship.x, ship.y, SR * 2)) continue;
    shipsDrawn++;
    drawFlame(ctx, ship, SR, s.buttonBits, s.time);
    drawShip(ctx, ship, SR, shipColor(ship.id), scale, false);
    labels.push({ ship, own: false });
  }
  if (s.own && s.own.alive) {
    ctx.fillStyle = COLORS.ownGlow;
    ctx.beginPath();
    ctx.arc(s.own.x, s.own.y, SR * 2.1, 0, Math.PI * 2);
    ctx.fill();
    drawFlame(ctx, s.own, SR, s.buttonBits, s.time);
    drawShip(ctx, s.own, SR, COLORS.own, scale, true);
    labels.push({ ship: s.own, own: true });
  }

  // Screen space: names and hit points stay readable at any zoom.
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.font = '600 13px system-ui, sans-serif';
  ctx.lineJoin = 'round';
  for (const { ship, own } of labels) {
    const [sx, sy] = toScreen(ship.x, ship.y);
    const top = sy - SR * scale * 1.4 - 8;
    const barW = 44;
    const frac = Math.max(0, Math.min(1, ship.hp / s.sizes.maxHp));
    ctx.fillStyle = COLORS.hpBack;
    ctx.fillRect(sx - barW / 2 - 1, top - 1, barW + 2, 6);
    ctx.fillStyle = `hsl(${Math.round(frac * 120)}, 80%, 50%)`;
    ctx.fillRect(sx - barW / 2, top, barW * frac, 4);
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.85)';
    ctx.strokeText(ship.name, sx, top - 3);
    ctx.fillStyle = own ? COLORS.nameOwn : COLORS.name;
    ctx.fillText(ship.name, sx, top - 3);
  }

  if (s.minimap) drawMinimap(ctx, s, x0, y0, x1, y1);
  return { shipsDrawn, orbsDrawn, projectilesDrawn };
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {Scene} s
 * @param {number} scale
 * @param {number} x0
 * @param {number} y0
 * @param {number} x1
 * @param {number} y1
 */
function drawFloor(ctx, s, scale, x0, y0, x1, y1) {
  const { w: aw, h: ah } = s.arena;
  ctx.fillStyle = COLORS.floor;
  ctx.fillRect(0, 0, aw, ah);
  const gx0 = Math.max(0, x0);
  const gy0 = Math.max(0, y0);
  const gx1 = Math.min(aw, x1);
  const gy1 = Math.min(ah, y1);
  for (const [step, color, width] of /** @type {const} */ ([[100, COLORS.gridMinor, 1], [500, COLORS.gridMajor, 1.5]])) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width / scale;
    ctx.beginPath();
    for (let x = Math.ceil(gx0 / step) * step; x <= gx1; x += step) {
      ctx.moveTo(x, gy0);
      ctx.lineTo(x, gy1);
    }
    for (let y = Math.ceil(gy0 / step) * step; y <= gy1; y += step) {
      ctx.moveTo(gx0, y);
      ctx.lineTo(gx1, y);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = COLORS.wall;
  ctx.lineWidth = 4 / scale;
  ctx.strokeRect(0, 0, aw, ah);
}

/**
 * A ship: a triangle whose nose points along `aim` (+y down, so the nose is (cos a, sin a)).
 * @param {CanvasRenderingContext2D} ctx
 * @param {ShipView} ship
 * @param {number} r
 * @param {string} color
 * @param {number} scale
 * @param {boolean} own
 */
function drawShip(ctx, ship, r, color, scale, own) {
  const c = Math.cos(ship.aim);
  const sn = Math.sin(ship.aim);
  const pt = (/** @type {number} */ fwd, /** @type {number} */ side) => [ship.x + c * fwd - sn * side, ship.y + sn * fwd + c * side];
  const nose = pt(r * 1.45, 0);
  const left = pt(-r * 0.95, -r * 0.95);
  const notch = pt(-r * 0.45, 0);
  const right = pt(-r * 0.95, r * 0.95);
  ctx.beginPath();
  ctx.moveTo(nose[0], nose[1]);
  ctx.lineTo(left[0], left[1]);
  ctx.lineTo(notch[0], notch[1]);
  ctx.lineTo(right[0], right[1]);
  ctx.closePath();
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineJoin = 'round';
  ctx.lineWidth = (own ? 2.5 : 1.5) / scale;
  ctx.strokeStyle = own ? '#ffffff' : 'rgba(0, 0, 0, 0.7)';
  ctx.stroke();
}

/**
 * Exhaust behind a thrusting ship. Move keys push along the world axes whatever the aim, so the
 * flame points against the thrust, not against the nose.
 * @param {CanvasRenderingContext2D} ctx
 * @param {ShipView} ship
 * @param {number} r
 * @param {{ up: number, down: number, left: number, right: number }} bits
 * @param {number} time  ms, for the flicker
 */
function drawFlame(ctx, ship, r, bits, time) {
  const b = ship.buttons ?? 0;
  const axis = (/** @type {number} */ neg, /** @type {number} */ pos) => ((b & pos) ? 1 : 0) - ((b & neg) ? 1 : 0);
  let tx = axis(bits.left, bits.right);
  let ty = axis(bits.up, bits.down);
  if (tx === 0 && ty === 0) return;
  const n = Math.hypot(tx, ty);
  tx /= n;
  ty /= n;
  const len = r * (1.1 + 0.25 * Math.sin(time / 45 + ship.id));
  const base = r * 0.55;
  const [bx, by] = [ship.x - tx * base, ship.y - ty * base];
  const [px, py] = [-ty, tx]; // across the flame
  for (const [k, color] of /** @type {const} */ ([[1, COLORS.flame], [0.55, COLORS.flameCore]])) {
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.85;
    ctx.beginPath();
    ctx.moveTo(bx + px * r * 0.5 * k, by + py * r * 0.5 * k);
    ctx.lineTo(bx - tx * len * k * 1.5, by - ty * len * k * 1.5);
    ctx.lineTo(bx - px * r * 0.5 * k, by - py * r * 0.5 * k);
    ctx.closePath();
    ctx.fill();
  }
  ctx.globalAlpha = 1;
}

/**
 * The arena in a corner: walls, the screen's area, and what the client holds — the area its
 * snapshots cover, the ships and orbs in it — under a label saying so.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Scene} s
 * @param {number} x0
 * @param {number} y0
 * @param {number} x1
 * @param {number} y1
 */
function drawMinimap(ctx, s, x0, y0, x1, y1) {
  const size = Math.min(150, Math.max(90, Math.min(s.width, s.height) * 0.18));
  const k = size / Math.max(s.arena.w, s.arena.h);
  const mw = s.arena.w * k;
  const mh = s.arena.h * k;
  const left = 12;
  const top = s.height - mh - 12;
  ctx.fillStyle = 'rgba(8, 12, 20, 0.95)';
  ctx.fillRect(left, top, mw, mh);
  ctx.strokeStyle = COLORS.wall;
  ctx.lineWidth = 1;
  ctx.strokeRect(left + 0.5, top + 0.5, mw - 1, mh - 1);
  const held = s.held;
  if (held?.center) {
    // The area snapshots cover (the view; the server adds a small margin).
    const hx0 = Math.max(0, held.center.x - s.view.halfW) * k;
    const hy0 = Math.max(0, held.center.y - s.view.halfH) * k;
    const hx1 = Math.min(s.arena.w, held.center.x + s.view.halfW) * k;
    const hy1 = Math.min(s.arena.h, held.center.y + s.view.halfH) * k;
    ctx.fillStyle = 'rgba(94, 234, 212, 0.07)';
    ctx.fillRect(left + hx0, top + hy0, hx1 - hx0, hy1 - hy0);
  }
  ctx.strokeStyle = 'rgba(229, 231, 235, 0.35)';
  const vx0 = Math.max(0, x0) * k;
  const vy0 = Math.max(0, y0) * k;
  ctx.strokeRect(left + vx0, top + vy0, Math.min(s.arena.w, x1) * k - vx0, Math.min(s.arena.h, y1) * k - vy0);
  if (held) {
    for (const o of held.orbs) {
      ctx.fillStyle = o.kind === 'Heal' ? COLORS.heal : COLORS.score;
      ctx.fillRect(left + o.x * k - 0.5, top + o.y * k - 0.5, 1, 1);
    }
    for (const ship of held.ships) {
      ctx.fillStyle = ship.alive ? shipColor(ship.id) : 'rgba(229, 231, 235, 0.3)';
      ctx.fillRect(left + ship.x * k - 1.5, top + ship.y * k - 1.5, 3, 3);
    }
  }
  if (s.own) {
    ctx.fillStyle = COLORS.own;
    ctx.beginPath();
    ctx.arc(left + s.own.x * k, top + s.own.y * k, 3, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.fillStyle = 'rgba(139, 149, 167, 0.9)';
  ctx.fillText('what your client holds', left, top - 3);
}
