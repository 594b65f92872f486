// @ts-check
/**
 * Loads the wasm build of the `protocol` crate (see web-client/wasm) and wraps its raw exports:
 * the protocol's own decoder, the client message encoder, and the movement and projectile steps
 * the server runs, so the page predicts bit for bit like the server. The module keeps the client's copy of the
 * world (snapshots are deltas against it): a Welcome resets it, each Snapshot moves it on and
 * comes out as the whole world in view. No other game state lives here.
 */

/** @typedef {{ x: number, y: number, vx: number, vy: number }} Motion */
/** @typedef {{ buttons: number, aim: number }} InputCmd  one tick's controls (aim: u16 wire angle) */
/**
 * @typedef {object} Codec
 * @property {(frame: Uint8Array) => any} decodeServer  ServerMsg as JSON; throws on bad frames. A
 *   Snapshot comes out as `{ tick, ack_seq, input_queue, input_offset, full, ships, projectiles,
 *   orbs }` (wire units; ship `aim` as a u16 fraction of a turn), or as `{ tick, ack_seq,
 *   input_queue, input_offset, desync }` when it could not be applied: the module's world is then
 *   empty until a full snapshot arrives (send RequestFull). Welcome's `resume_token` is an array
 *   of 16 numbers.
 * @property {(name: string, resumeToken?: Uint8Array | null, joinToken?: string | null, room?: string | null) => Uint8Array} encodeHello  a Hello,
 *   asking to resume the player of the Welcome that brought `resumeToken` (16 bytes) if given
 * @property {(seq: number, viewTick: number, viewFrac: number, cmds: InputCmd[]) => Uint8Array} encodeInput
 *   an input batch: `cmds` oldest first (1 to `rules.max_input_batch`), the last one numbered
 *   `seq`, sampled while the player saw tick `viewTick` + `viewFrac`/256; throws on a batch the
 *   server would refuse
 * @property {(t: number) => Uint8Array} encodePing
 * @property {(tick: number) => Uint8Array} encodeRequestFull
 * @property {(m: Motion, buttons: number, tickHz: number, arenaW: number, arenaH: number) => Motion} stepShip
 * @property {(p: Motion, tickHz: number) => Motion} stepProjectile  one tick of a projectile's flight
 * @property {(x: number, y: number, aim: number) => Motion} spawnProjectile  the projectile a ship at
 *   (x, y) aiming at `aim` (u16) fires, as the server places it
 * @property {(radians: number) => number} angleToWire  radians → u16 fraction of a turn
 * @property {Record<string, number>} rules  rule and wire constants (ship_radius, pos_scale, …)
 * @property {number} protocolVersion
 */

/**
 * Fetches and instantiates the module, streaming when the server sends `application/wasm`.
 * @param {string | URL} url
 * @returns {Promise<Codec>}
 */
export async function loadWasm(url = new URL('../pkg/arena_wasm.wasm', import.meta.url)) {
  /** @type {WebAssembly.Instance} */
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiateStreaming(fetch(url), {}));
  } catch {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot load ${url}: HTTP ${res.status}`);
    ({ instance } = await WebAssembly.instantiate(await res.arrayBuffer(), {}));
  }
  return wrapInstance(instance);
}

/**
 * Wraps an instantiated module's raw exports (node's tests instantiate it from the file).
 * @param {WebAssembly.Instance} instance
 * @returns {Codec}
 */
export function wrapInstance(instance) {
  const ex = /** @type {any} */ (instance.exports);
  const memory = /** @type {WebAssembly.Memory} */ (ex.memory);
  const utf8in = new TextEncoder();
  const utf8out = new TextDecoder();
  // Views are re-created per call: a memory growth detaches the old ArrayBuffer.
  const outBytes = (/** @type {number} */ len) => new Uint8Array(memory.buffer, ex.out_ptr(), len);
  const outText = (/** @type {number} */ len) => utf8out.decode(outBytes(len));
  const writeIn = (/** @type {Uint8Array} */ bytes) =>
    new Uint8Array(memory.buffer, ex.in_buf_ptr(bytes.length), bytes.length).set(bytes);
  /** The frame an encoder left in the output buffer; 0 means it refused, with the reason there. */
  const encoded = (/** @type {number} */ len) => {
    if (len === 0) throw new Error(`arena-wasm refused to encode: ${outText(ex.out_len())}`);
    return outBytes(len).slice();
  };
  /** @returns {Motion} */
  const stepOut = () => {
    const [x, y, vx, vy] = new Float32Array(memory.buffer, ex.step_out_ptr(), 4);
    return { x, y, vx, vy };
  };

  return {
    decodeServer(frame) {
      writeIn(frame);
      const ok = ex.decode_server(frame.length);
      const text = outText(ex.out_len());
      if (ok !== 1) throw new Error(`undecodable server frame: ${text}`);
      return JSON.parse(text);
    },
    encodeHello(name, resumeToken = null, joinToken = null, room = null) {
      const nameBytes = utf8in.encode(name);
      const token = resumeToken && resumeToken.length === 16 ? resumeToken : null;
      const join = joinToken ? utf8in.encode(joinToken) : new Uint8Array(0);
      const roomBytes = room ? utf8in.encode(room) : new Uint8Array(0);
      const bytes = new Uint8Array(nameBytes.length + (token ? 16 : 0) + join.length + roomBytes.length);
      bytes.set(nameBytes);
      if (token) bytes.set(token, nameBytes.length);
      bytes.set(join, nameBytes.length + (token ? 16 : 0));
      bytes.set(roomBytes, nameBytes.length + (token ? 16 : 0) + join.length);
      writeIn(bytes);
      return encoded(ex.encode_hello(nameBytes.length, token ? 1 : 0, join.length, roomBytes.length));
    },
    encodeInput(seq, viewTick, viewFrac, cmds) {
      const bytes = new Uint8Array(cmds.length * 3);
      cmds.forEach((c, i) => {
        bytes[i * 3] = c.buttons & 0xff;
        bytes[i * 3 + 1] = c.aim & 0xff;
        bytes[i * 3 + 2] = (c.aim >>> 8) & 0xff;
      });
      writeIn(bytes);
      return encoded(ex.encode_input(seq >>> 0, viewTick >>> 0, viewFrac >>> 0, cmds.length));
    },
    encodePing: (t) => outBytes(ex.encode_ping(t)).slice(),
    encodeRequestFull: (tick) => outBytes(ex.encode_request_full(tick >>> 0)).slice(),
    stepShip(m, buttons, tickHz, arenaW, arenaH) {
      ex.step_ship(m.x, m.y, m.vx, m.vy, buttons >>> 0, tickHz >>> 0, arenaW, arenaH);
      return stepOut();
    },
    stepProjectile(p, tickHz) {
      ex.step_projectile(p.x, p.y, p.vx, p.vy, tickHz >>> 0);
      return stepOut();
    },
    spawnProjectile(x, y, aim) {
      ex.spawn_projectile(x, y, aim >>> 0);
      return stepOut();
    },
    angleToWire: (radians) => ex.angle_to_wire(radians),
    rules: JSON.parse(outText(ex.rules(0))),
    protocolVersion: ex.protocol_version(),
  };
}
