// @ts-check
/**
 * The operator console's arithmetic, free of the DOM so `node --test` checks it: per-second
 * figures from two scrapes of the server's cumulative `/stats` (rates of counters, tick
 * percentiles of the ticks between the scrapes), and bounded series for the sparklines.
 */

/** Points kept per sparkline: two minutes at one scrape a second. */
export const SERIES_LENGTH = 120;

/**
 * @typedef {object} Phase  one phase's cumulative tick histogram as `/stats` gives it
 * @property {number} count
 * @property {[number, number][]} recorded  `[µs, count]` pairs, ascending µs
 */

/**
 * @typedef {object} Stats  the parts of `/stats` the console reads
 * @property {number} ticks
 * @property {number} overruns
 * @property {number} skipped_ticks
 * @property {number} clients
 * @property {number} connections
 * @property {number} rooms
 * @property {number} bytes_sent
 * @property {number} bytes_received
 * @property {number | null} process_cpu_seconds
 * @property {number | null} process_resident_bytes
 * @property {Record<string, number>} connections_closed
 * @property {Record<string, Phase>} phases
 */

/**
 * The value at quantile `q` (0–1) of the ticks recorded between `before` and `after` (two
 * cumulative histograms of one phase), in µs; null when no tick was recorded in between.
 * @param {Phase | undefined} before
 * @param {Phase} after
 * @param {number} q
 * @returns {number | null}
 */
export function windowQuantile(before, after, q) {
  /** @type {Map<number, number>} */
  const earlier = new Map((before?.recorded ?? []).map(([us, n]) => [us, n]));
  const between = after.recorded
    .map(([us, n]) => /** @type {[number, number]} */ ([us, n - (earlier.get(us) ?? 0)]))
    .filter(([, n]) => n > 0);
  const total = between.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [us, n] of between) {
    seen += n;
    if (seen >= rank) return us;
  }
  return between[between.length - 1][0];
}

/**
 * Per-second figures between two scrapes `seconds` apart.
 * @param {Stats} before
 * @param {Stats} after
 * @param {number} seconds
 */
export function rates(before, after, seconds) {
  const per = (/** @type {number} */ a, /** @type {number} */ b) => (seconds > 0 ? Math.max(0, b - a) / seconds : 0);
  const cpu = after.process_cpu_seconds !== null && before.process_cpu_seconds !== null
    ? per(before.process_cpu_seconds, after.process_cpu_seconds)
    : null;
  const total = after.phases.total;
  const p = (/** @type {number} */ q) => (total ? windowQuantile(before.phases.total, total, q) : null);
  return {
    ticksPerS: per(before.ticks, after.ticks),
    overrunsPerS: per(before.overruns, after.overruns),
    skippedPerS: per(before.skipped_ticks, after.skipped_ticks),
    kbpsOut: (per(before.bytes_sent, after.bytes_sent) * 8) / 1000,
    kbpsIn: (per(before.bytes_received, after.bytes_received) * 8) / 1000,
    /** Cores used by the process (1 = one core busy). */
    cpuCores: cpu,
    tickP50Ms: msOrNull(p(0.5)),
    tickP99Ms: msOrNull(p(0.99)),
  };
}

/** @param {number | null} us */
function msOrNull(us) {
  return us === null ? null : us / 1000;
}

/**
 * Adds `value` to `series` (a new array), keeping the last {@link SERIES_LENGTH} points.
 * @param {(number | null)[]} series
 * @param {number | null} value
 * @returns {(number | null)[]}
 */
export function pushPoint(series, value) {
  const next = [...series, value];
  return next.length > SERIES_LENGTH ? next.slice(next.length - SERIES_LENGTH) : next;
}

/**
 * The polyline of a sparkline `width` × `height` pixels over `series` (null points are gaps,
 * which split the line): y = 0 at the top is the series' maximum (at least `floor`), so a flat
 * zero stays on the bottom edge. Returns one array of [x, y] per unbroken run.
 * @param {(number | null)[]} series
 * @param {number} width
 * @param {number} height
 * @param {number} [floor]  the smallest top of the scale
 * @returns {[number, number][][]}
 */
export function sparkline(series, width, height, floor = 1) {
  const values = series.filter((v) => v !== null);
  const top = Math.max(floor, ...values.map((v) => /** @type {number} */ (v)));
  const step = series.length > 1 ? width / (SERIES_LENGTH - 1) : 0;
  const x0 = width - step * (series.length - 1);
  /** @type {[number, number][][]} */
  const runs = [];
  /** @type {[number, number][]} */
  let run = [];
  series.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run);
      run = [];
      return;
    }
    run.push([x0 + i * step, height - (v / top) * height]);
  });
  if (run.length) runs.push(run);
  return runs;
}

/**
 * Closes by reason, most first, as `[reason, count]`.
 * @param {Record<string, number>} closed
 * @returns {[string, number][]}
 */
export function closesByCount(closed) {
  return Object.entries(closed)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
