import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePlaneVector, parsePlane } from '../../src/engine/plane';
import { InputError } from '../../src/engine/errors';

const model = { hiddenSize: 4, numHiddenLayers: 4 };

test('base64 n decodes to the same little-endian float32 values', () => {
  const n = Float32Array.from([0.6, -0.8, 3e-8, -1e-10]);
  // Independent encoding: DataView with explicit little-endian writes.
  const view = new DataView(new ArrayBuffer(16));
  n.forEach((x, i) => view.setFloat32(i * 4, x, true));
  const expected = Buffer.from(view.buffer).toString('base64');
  assert.equal(encodePlaneVector(n), expected);
  const plane = parsePlane({ layer: 2, n: expected, b: 0.25, extra: 'kept by writers' }, 'p.json', model);
  assert.deepEqual(Array.from(plane.n), Array.from(n));
  assert.equal(plane.b, 0.25);
  assert.equal(plane.layer, 2);
});

test('n as an array of numbers', () => {
  const plane = parsePlane({ layer: 0, n: [1, 0, 0, 0], b: -0.5 }, 'p.json', model);
  assert.deepEqual(Array.from(plane.n), [1, 0, 0, 0]);
});

test('bad planes are rejected with a message naming the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /must be a JSON object/],
    [[1, 2], /must be a JSON object/],
    [{ layer: 1.5, n: [1, 0, 0, 0], b: 0 }, /"layer" must be a non-negative integer/],
    [{ layer: 1, n: [1, 0, 0, 0], b: 'x' }, /"b" must be a finite number/],
    [{ layer: 1, n: [1, 0, 0, 0], b: Infinity }, /"b" must be a finite number/],
    [{ layer: 1, n: [1, 0, NaN, 0], b: 0 }, /n\[2\] is not a finite number/],
    [{ layer: 1, n: [1, 0, 0], b: 0 }, /width 3 does not match the model's hidden size 4/],
    [{ layer: 4, n: [1, 0, 0, 0], b: 0 }, /layer 4 is outside the model's 4 layers/],
    [{ layer: 1, n: 'not base64!', b: 0 }, /not valid base64/],
    [{ layer: 1, n: Buffer.alloc(6).toString('base64'), b: 0 }, /6 bytes, not a whole number of float32s/],
    [{ layer: 1, n: encodePlaneVector(Float32Array.from([1, NaN, 0, 0])), b: 0 }, /n\[1\] is not a finite number/],
    [{ layer: 1, n: {}, b: 0 }, /"n" must be base64 float32 or an array/],
    [{ layer: 1, n: [1e30, 0, 0, 0], b: 0 }, /n must have length 1 \(within 0\.01\), got \|n\| = 1\.00000e\+30/],
    [{ layer: 1, n: [0.5, 0, 0, 0], b: 0 }, /\|n\| = 0\.500000/],
    [{ layer: 1, n: [1, 0, 0, 0], b: 5 }, /"b" must be in \(-1, 1\)/],
    [{ layer: 1, n: [1, 0, 0, 0], b: -1 }, /"b" must be in \(-1, 1\)/],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => parsePlane(json, 'p.json', model), (e: unknown) => e instanceof InputError && message.test(e.message) && e.message.startsWith('p.json'));
  }
});
