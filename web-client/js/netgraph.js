// @ts-check
/**
 * The net graph (toggled with F3): small live plots of what the connection does — ping, snapshot
 * jitter, gaps between snapshots, the server's input queue for this client, the own ship's
 * corrections, kbps down — over the last {@link GRAPH_WINDOW_MS}, each with its newest value and
 * the window's maximum. Owns the sample history ({@link Series}, pure) and draws it on its own
 * small canvas; reads no game state.
 */

/** Time the plots span, in ms. */
export const GRAPH_WINDOW_MS = 10_000;
/** Samples kept per plot: ten seconds of snapshots at 128 Hz, and some. */
export const GRAPH_SAMPLES = 1536;

/** A fixed-size history of timed numbers, oldest dropped first. */
export class Series {
  /** @param {number} [capacity] */
  constructor(capacity = GRAPH_SAMPLES) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    /** Number of samples held (≤ capacity). */
    this.length = 0;
    /** Index of the next write. */
    this.head = 0;
  }

  /**
   * @param {number} v
   * @param {number} [t]  when (ms); defaults to one after the previous sample
   */
  push(v, t) {
    const prev = this.length ? this.timeAt(this.length - 1) : 0;
    this.values[this.head] = Number.isFinite(v) ? v : 0;
    this.times[this.head] = t ?? prev + 1;
    this.head = (this.head + 1) % this.values.length;
    this.length = Math.min(this.values.length, this.length + 1);
  }

  /** @private */
  index(/** @type {number} */ i) {
    const cap = this.values.length;
    return (this.head - this.length + i + cap) % cap;
  }

  /** The i-th held sample, oldest first. */
  at(/** @type {number} */ i) {
    return this.values[this.index(i)];
  }

  /** When the i-th held sample was taken. */
  timeAt(/** @type {number} */ i) {
    return this.times[this.index(i)];
  }

  /** The newest sample, or null. */
  get last() {
    return this.length ? this.at(this.length - 1) : null;
  }

  /**
   * The largest sample taken at or after `since` (0 when none).
   * @param {number} [since]
   */
  max(since = -Infinity) {
    let m = 0;
    for (let i = this.length - 1; i >= 0 && this.timeAt(i) >= since; i--) m = Math.max(m, this.at(i));
    return m;
  }

  /** The held samples, oldest first. */
  toArray() {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }
}

/**
 * @typedef {object} PlotSpec
 * @property {string} key
 * @property {string} label
 * @property {string} unit
 * @property {string} color
 * @property {number} floor  the plot's scale is at least this (so noise does not fill it)
 * @property {number} [digits]  decimals of the printed value
 */

/** @type {PlotSpec[]} */
export const PLOTS = [
  { key: 'ping', label: 'ping', unit: 'ms', color: '#5eead4', floor: 50 },
  { key: 'jitter', label: 'jitter', unit: 'ms', color: '#fbbf24', floor: 10 },
  { key: 'gap', label: 'snapshot gap', unit: 'ms', color: '#93c5fd', floor: 50 },
  { key: 'queue', label: 'input queue', unit: '', color: '#c4b5fd', floor: 4 },
  { key: 'correction', label: 'correction', unit: 'u', color: '#fb7185', floor: 2, digits: 2 },
  { key: 'kbps', label: 'kbps down', unit: '', color: '#4ade80', floor: 20, digits: 1 },
];

export class NetGraph {
  constructor() {
    this.visible = false;
    /** @type {Record<string, Series>} */
    this.series = Object.fromEntries(PLOTS.map((p) => [p.key, new Series()]));
  }

  /**
   * Records one sample of a plot.
   * @param {string} key  one of {@link PLOTS}' keys
   * @param {number} v
   * @param {number} now  ms
   */
  push(key, v, now) {
    this.series[key]?.push(v, now);
  }

  /** Shows or hides the graph; returns whether it is now visible. */
  toggle() {
    this.visible = !this.visible;
    return this.visible;
  }

  /**
   * Draws every plot over the last {@link GRAPH_WINDOW_MS} up to `now`, stacked, with a footer
   * line of extra text.
   * @param {CanvasRenderingContext2D} ctx
   * @param {number} width  CSS pixels
   * @param {number} height
   * @param {number} dpr
   * @param {string} footer
   * @param {number} now  ms
   */
  draw(ctx, width, height, dpr, footer, now) {
    const since = now - GRAPH_WINDOW_MS;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = 'rgba(8, 12, 20, 0.82)';
    ctx.fillRect(0, 0, width, height);
    const footerH = 16;
    const rowH = (height - footerH) / PLOTS.length;
    ctx.font = '11px ui-monospace, monospace';
    ctx.textBaseline = 'top';
    PLOTS.forEach((plot, row) => {
      const s = this.series[plot.key];
      const top = row * rowH;
      const max = s.max(since);
      const scale = Math.max(plot.floor, max) * 1.1;
      const plotTop = top + 14;
      const plotH = rowH - 17;
      ctx.strokeStyle = 'rgba(229, 231, 235, 0.12)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(0, plotTop + plotH + 0.5);
      ctx.lineTo(width, plotTop + plotH + 0.5);
      ctx.stroke();
      ctx.strokeStyle = plot.color;
      ctx.beginPath();
      let first = s.length;
      while (first > 0 && s.timeAt(first - 1) >= since) first--;
      if (first > 0) first--; // one sample before the window, so the line starts at the edge
      for (let i = first; i < s.length; i++) {
        const x = width - ((now - s.timeAt(i)) / GRAPH_WINDOW_MS) * width;
        const y = plotTop + plotH - (Math.min(scale, s.at(i)) / scale) * plotH;
        if (i === first) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      const digits = plot.digits ?? 0;
      const last = s.last === null ? '–' : s.last.toFixed(digits);
      ctx.fillStyle = plot.color;
      ctx.fillText(`${plot.label} ${last}${plot.unit ? ` ${plot.unit}` : ''}`, 4, top + 2);
      ctx.fillStyle = 'rgba(229, 231, 235, 0.5)';
      ctx.textAlign = 'right';
      ctx.fillText(`max ${max.toFixed(digits)}`, width - 4, top + 2);
      ctx.textAlign = 'left';
    });
    ctx.fillStyle = 'rgba(229, 231, 235, 0.75)';
    ctx.fillText(footer, 4, height - footerH + 2);
  }
}
