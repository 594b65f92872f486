// @ts-check
/**
 * Loads the wasm build of the `protocol` crate (see web-client/wasm) and wraps its raw exports:
 * the protocol's own decoder, the client message encoder, and the movement step the server runs,
 * so the page predicts bit for bit like the server. The module keeps the client's copy of the
 * world (snapshots are deltas against it): a Welcome resets it, each Snapshot moves it on and
 * comes out as the whole world in view. No other game state lives here.
 */

/** @typedef {{ x: number, y: number, vx: number, vy: number }} Motion */
/**
 * @typedef {object} Codec
 * @property {(frame: Uint8Array) => any} decodeServer  ServerMsg as JSON; throws on bad frames. A
 *   Snapshot comes out as `{ tick, ack_seq, full, ships, projectiles, orbs }` (wire units; ship
 *   `aim` as a u16 fraction of a turn), or as `{ tick, desync }` when it could not be applied: the
 *   module's world is then empty until a full snapshot arrives (send RequestFull).
 * @property {(name: string) => Uint8Array} encodeHello
 * @property {(seq: number, buttons: number, aim: number) => Uint8Array} encodeInput
 * @property {(t: number) => Uint8Array} encodePing
 * @property {(tick: number) => Uint8Array} encodeRequestFull
 * @property {(m: Motion, buttons: number, tickHz: number, arenaW: number, arenaH: number) => Motion} stepShip
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
  const ex = /** @type {any} */ (instance.exports);
  const memory = /** @type {WebAssembly.Memory} */ (ex.memory);
  const utf8in = new TextEncoder();
  const utf8out = new TextDecoder();
  // Views are re-created per call: a memory growth detaches the old ArrayBuffer.
  const outBytes = (/** @type {number} */ len) => new Uint8Array(memory.buffer, ex.out_ptr(), len);
  const outText = (/** @type {number} */ len) => utf8out.decode(outBytes(len));
  const writeIn = (/** @type {Uint8Array} */ bytes) =>
    new Uint8Array(memory.buffer, ex.in_buf_ptr(bytes.length), bytes.length).set(bytes);

  return {
    decodeServer(frame) {
      writeIn(frame);
      const ok = ex.decode_server(frame.length);
      const text = outText(ex.out_len());
      if (ok !== 1) throw new Error(`undecodable server frame: ${text}`);
      return JSON.parse(text);
    },
    encodeHello(name) {
      const bytes = utf8in.encode(name);
      writeIn(bytes);
      return outBytes(ex.encode_hello(bytes.length)).slice();
    },
    encodeInput: (seq, buttons, aim) => outBytes(ex.encode_input(seq >>> 0, buttons >>> 0, aim >>> 0)).slice(),
    encodePing: (t) => outBytes(ex.encode_ping(t)).slice(),
    encodeRequestFull: (tick) => outBytes(ex.encode_request_full(tick >>> 0)).slice(),
    stepShip(m, buttons, tickHz, arenaW, arenaH) {
      ex.step_ship(m.x, m.y, m.vx, m.vy, buttons >>> 0, tickHz >>> 0, arenaW, arenaH);
      const [x, y, vx, vy] = new Float32Array(memory.buffer, ex.step_out_ptr(), 4);
      return { x, y, vx, vy };
    },
    angleToWire: (radians) => ex.angle_to_wire(radians),
    rules: JSON.parse(outText(ex.rules(0))),
    protocolVersion: ex.protocol_version(),
  };
}
