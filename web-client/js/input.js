// @ts-check
/**
 * Keyboard and mouse → the bits of one input: WASD / arrow keys move, the mouse aims, the left
 * button or Space fires. A press shorter than a tick still fires once (it is latched until the
 * next sample). Ignores keys typed into form fields. Knows nothing of the network or the world.
 */

export class Controls {
  /**
   * @param {HTMLElement} surface  the canvas: mouse positions are relative to it
   * @param {Record<string, number>} rules  button bits from the wasm module
   */
  constructor(surface, rules) {
    this.surface = surface;
    /** @type {Record<string, number>} */
    this.keyBits = {
      KeyW: rules.button_up, ArrowUp: rules.button_up,
      KeyS: rules.button_down, ArrowDown: rules.button_down,
      KeyA: rules.button_left, ArrowLeft: rules.button_left,
      KeyD: rules.button_right, ArrowRight: rules.button_right,
      Space: rules.button_fire,
    };
    this.fireBit = rules.button_fire;
    /** @type {Set<string>} */
    this.down = new Set();
    this.mouseDown = false;
    this.fireLatched = false;
    /** Mouse position in CSS pixels relative to the surface, null until it moves. */
    this.mouse = /** @type {{ x: number, y: number } | null} */ (null);
    this.enabled = false;

    addEventListener('keydown', (e) => this.key(e, true));
    addEventListener('keyup', (e) => this.key(e, false));
    addEventListener('blur', () => this.releaseAll());
    surface.addEventListener('mousemove', (e) => this.move(e));
    surface.addEventListener('mousedown', (e) => {
      this.move(e);
      if (e.button === 0 && this.enabled) {
        this.mouseDown = true;
        this.fireLatched = true;
      }
    });
    addEventListener('mouseup', (e) => {
      if (e.button === 0) this.mouseDown = false;
    });
    surface.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  /** @private */
  key(/** @type {KeyboardEvent} */ e, /** @type {boolean} */ pressed) {
    const target = /** @type {HTMLElement | null} */ (e.target);
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
    const code = e.code || keyToCode(e.key);
    if (!(code in this.keyBits)) return;
    e.preventDefault(); // no page scrolling on arrows and Space
    if (pressed && this.enabled) {
      if (!this.down.has(code) && this.keyBits[code] === this.fireBit) this.fireLatched = true;
      this.down.add(code);
    } else {
      this.down.delete(code);
    }
  }

  /** @private */
  move(/** @type {MouseEvent} */ e) {
    const r = this.surface.getBoundingClientRect();
    this.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  /** Lets go of every key and button (focus lost, or the game paused). */
  releaseAll() {
    this.down.clear();
    this.mouseDown = false;
    this.fireLatched = false;
  }

  /** The buttons of the next input; consumes a latched shot. */
  sampleButtons() {
    const bits = this.heldButtons() | (this.fireLatched ? this.fireBit : 0);
    this.fireLatched = false;
    return bits;
  }

  /** The buttons held right now, without consuming a latched shot (to draw the present). */
  heldButtons() {
    let bits = 0;
    for (const code of this.down) bits |= this.keyBits[code];
    if (this.mouseDown) bits |= this.fireBit;
    return bits;
  }

  /**
   * Aim in radians from a screen point (the own ship) towards the mouse, +y down, so the nose
   * direction is (cos a, sin a); `fallback` until the mouse has moved.
   * @param {number} fromX
   * @param {number} fromY
   * @param {number} fallback
   */
  aimFrom(fromX, fromY, fallback) {
    if (!this.mouse) return fallback;
    const dx = this.mouse.x - fromX;
    const dy = this.mouse.y - fromY;
    return dx === 0 && dy === 0 ? fallback : Math.atan2(dy, dx);
  }
}

/** `KeyboardEvent.code` for browsers that leave it empty (some synthetic events). */
function keyToCode(/** @type {string} */ key) {
  if (key === ' ') return 'Space';
  if (key.length === 1) return `Key${key.toUpperCase()}`;
  return key;
}
