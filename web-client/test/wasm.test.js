// The built wasm module, when there is one (scripts/build-web.sh): the JS wrapper's calling
// conventions and the constants the JS modules mirror. Skipped when the module is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { wrapInstance } from '../js/wasm.js';
import { DEFAULT_RULE, ruleFrom } from '../js/timing.js';

const url = new URL('../pkg/arena_wasm.wasm', import.meta.url);
const bytes = await readFile(url).catch(() => null);
const skip = bytes ? false : 'web-client/pkg/arena_wasm.wasm is not built (scripts/build-web.sh)';

async function load() {
  const { instance } = await WebAssembly.instantiate(/** @type {Buffer} */ (bytes), {});
  return wrapInstance(instance);
}

test('the timing rule in timing.js is the protocol\'s', { skip }, async () => {
  const codec = await load();
  assert.deepEqual(ruleFrom(codec.rules), { ...DEFAULT_RULE });
  assert.equal(codec.protocolVersion, 7);
});

test('hello and input frames have the protocol\'s bytes', { skip }, async () => {
  const codec = await load();
  const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex');
  // The golden bytes of protocol/src/codec.rs.
  assert.equal(hex(codec.encodeHello('ace')), '000703616365000000');
  assert.equal(hex(codec.encodeHello('a', new Uint8Array(16).fill(0xab))), `0007016101${'ab'.repeat(16)}0000`);
  assert.equal(hex(codec.encodeHello('a', null, 'xy')), '00070161000102787900', 'a join token');
  assert.equal(hex(codec.encodeHello('a', null, null, 'r1')), '00070161000001027231', 'the room comes last');
  assert.throws(() => codec.encodeHello('a', null, null, 'no room'), /room name/, 'a bad room name is refused');
  const cmds = [{ buttons: 0x08, aim: 0x4000 }, { buttons: 0x19, aim: 0x4000 }];
  assert.equal(hex(codec.encodeInput(300, 298, 0x80, cmds)), '01ac02aa0280020880800119808001');
  assert.throws(() => codec.encodeInput(1, 0, 0, []), /refused/, 'an empty batch is refused');
});

test('projectiles are spawned and flown as the server does', { skip }, async () => {
  const codec = await load();
  const p = codec.spawnProjectile(1000, 500, 0);
  assert.deepEqual(p, { x: 1000 + codec.rules.ship_radius + codec.rules.projectile_radius + 2, y: 500, vx: codec.rules.projectile_speed, vy: 0 });
  const q = codec.stepProjectile(p, 30);
  assert.equal(q.x, Math.round((p.x + p.vx * Math.fround(1 / 30)) * 16) / 16);
  assert.equal(q.vx, p.vx);
});
