/**
 * The Engine in-process on the tiny model: opening a model and its status, the refusal of a second
 * long operation while one runs (and of opening a model meanwhile), and the refusal of planes that do
 * not fit the open model. One Engine for the file: its tokenizer loads once.
 */
import { after, before, test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { Engine } from '../../../src/engine/engine';
import { CancelledError, InputError } from '../../../src/engine/errors';
import { encodePlaneVector } from '../../../src/engine/plane';
import type { PlaneSpec, TrainProgress } from '../../../src/protocol';

const EXAMPLES = ['The cat sat on the mat.', 'A dog ran in the park today.'];
const GREEDY = { temperature: 0, maxNewTokens: 3 };

let dir: string;
const engine = new Engine();
const empty = testTempDir('engine');

before(async () => {
  dir = await ensureTinyModel();
});
after(async () => {
  await engine.close();
});

/** A unit plane at `layer` of width `hidden`. */
function plane(layer: number, hidden = 64, model?: PlaneSpec['model']): PlaneSpec {
  const n = new Float32Array(hidden);
  n[0] = 1;
  return { layer, n: encodePlaneVector(n), b: 0.1, ...(model ? { model } : {}) };
}

test('before a model is open, operations say so; a missing folder is an InputError', async () => {
  assert.deepEqual(engine.status(), { model: null, device: null, fallbackReason: null, weights: null, busy: null });
  await assert.rejects(engine.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: GREEDY }), (e: Error) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /no model is open/);
    return true;
  });
  await assert.rejects(engine.openModel(path.join(empty, 'nowhere'), 'cpu'), InputError);
  assert.equal(engine.status().model, null);
});

test('openModel reports the model; the device is known once a runner has run', async () => {
  const status = await engine.openModel(dir, 'cpu');
  assert.equal(status.model?.dir, dir);
  assert.equal(status.model?.hiddenSize, 64);
  assert.equal(status.model?.numHiddenLayers, 4);
  assert.equal(status.busy, null);
  const result = await engine.generate({ prompt: 'Hello', rows: [{ alpha: 0 }], sampling: GREEDY });
  assert.equal(result.rows.length, 1);
  assert.equal(result.rows[0].tokens, 3);
  assert.deepEqual(Object.keys(result.rows[0]).sort(), ['stopReason', 'text', 'tokens']);
  assert.equal(engine.status().device, 'cpu');
  // A failed open keeps the model that was open.
  await assert.rejects(engine.openModel(empty, 'cpu'), InputError);
  assert.equal(engine.status().model?.dir, dir);
});

test('a second operation, or opening a model, while training is refused; cancelling frees the engine', { timeout: 60_000 }, async () => {
  const controller = new AbortController();
  const progress: TrainProgress[] = [];
  let refused: unknown[] = [];
  const training = engine.train({ examples: EXAMPLES, options: { steps: 10_000 } }, (p) => {
    progress.push(p);
    if (p.step === 1) {
      refused = [
        engine.status().busy,
        engine.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: GREEDY }).catch((e: unknown) => e),
        engine.train({ examples: EXAMPLES, options: { steps: 1 } }).catch((e: unknown) => e),
        engine.openModel(dir, 'cpu').catch((e: unknown) => e),
      ];
    }
    if (p.step === 2) controller.abort();
  }, controller.signal);
  await assert.rejects(training, CancelledError);
  assert.ok(progress.length >= 2 && progress.length <= 3, `stopped within a step of the abort, after ${progress.length} steps`);
  assert.equal(refused[0], 'training');
  for (const outcome of await Promise.all(refused.slice(1))) {
    assert.ok(outcome instanceof InputError, `refused with an InputError, got ${String(outcome)}`);
    assert.match(outcome.message, /the engine is busy training; cancel it first/);
  }
  assert.equal(engine.status().busy, null);
  const after = await engine.generate({ prompt: 'Hello', rows: [{ alpha: 0 }], sampling: GREEDY });
  assert.equal(after.rows[0].tokens, 3);
});

test('planes that do not fit the open model are refused with an InputError naming the row', async () => {
  const status = engine.status();
  const identity = { hiddenSize: 64, numHiddenLayers: 4, fingerprint: status.model?.fingerprint ?? '' };
  const refuse = async (rows: { plane?: PlaneSpec; alpha: number }[], pattern: RegExp) => {
    await assert.rejects(engine.generate({ prompt: 'Hello', rows, sampling: GREEDY }), (e: Error) => {
      assert.ok(e instanceof InputError, `an InputError, got ${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  };
  await refuse([{ alpha: 0 }, { plane: plane(2, 64, { ...identity, fingerprint: 'f'.repeat(64) }), alpha: 2 }], /row 1's plane was trained on another model/);
  await refuse([{ plane: plane(2, 64, { ...identity, hiddenSize: 2304 }), alpha: 2 }], /row 0's plane was trained on another model \(hidden size 2304/);
  await refuse([{ plane: plane(2, 32), alpha: 2 }], /width 32 does not match the model's hidden size 64/);
  await refuse([{ plane: plane(7), alpha: 2 }], /row 0's plane steers layer 7, but the model has layers 0 to 3/);
  await refuse([{ plane: plane(1), alpha: 2 }, { plane: plane(2), alpha: 2 }], /steer different layers \(1, 2\)/);
  // The same plane with this model's identity is accepted, at its own layer.
  const ok = await engine.generate({ prompt: 'Hello', rows: [{ plane: plane(1, 64, identity), alpha: 2 }], sampling: GREEDY });
  assert.equal(ok.rows[0].tokens, 3);
});
