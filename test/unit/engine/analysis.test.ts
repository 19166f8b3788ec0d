/**
 * The engine's analysis requests (meanDifference, layerDiagnostics, compareStates) on the tiny model:
 * in-process, each answers what its method computes on the same runner (the methods' numbers are checked
 * against the float64 reference in test/unit/methods), they share the one-operation-at-a-time rule, and
 * bad parameters are refused by name; then one round trip of each through the spawned engine process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { EngineClient } from '../../../src/engine/client';
import { Engine } from '../../../src/engine/engine';
import { InputError } from '../../../src/engine/errors';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { layerDiagnostics } from '../../../src/engine/methods/layerDiagnostics';
import { meanDifference } from '../../../src/engine/methods/meanDifference';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { encodePlaneVector } from '../../../src/engine/plane';
import { loadTokenizer } from '../../../src/engine/tokenizer';

const ENGINE = path.resolve(__dirname, '..', '..', '..', '..', 'dist', 'engine.js');
const SOURCE = ['The weather today is calm.', 'A quiet morning by the lake.'];
const TARGET = ['The storm tore the roof off!', 'Thunder cracked over the city!'];

let dir: string;
const engine = new Engine();

before(async () => {
  dir = await ensureTinyModel();
  await engine.openModel(dir, 'cpu');
});
after(() => engine.close());

/** What the methods give on a runner of our own. */
async function direct() {
  const folder = await openModelFolder(dir);
  const runner = await Gemma2Runner.open(folder, { device: 'cpu' });
  try {
    const tokenizer = await loadTokenizer(dir);
    return {
      vectors: (await meanDifference(runner, tokenizer, SOURCE, TARGET, { position: 'mean', layers: [1, 2] })).record.vectors,
      diagnostics: await layerDiagnostics(runner, tokenizer, SOURCE, TARGET),
    };
  } finally {
    await runner.release();
  }
}

test('meanDifference and layerDiagnostics answer what the methods compute, with the options passed through', async () => {
  const expected = await direct();
  const record = await engine.meanDifference({ source: SOURCE, target: TARGET, position: 'mean', layers: [2, 1] });
  assert.deepEqual(record.layers, [1, 2]);
  assert.deepEqual(record.vectors, expected.vectors);
  assert.deepEqual(record.settings, { position: 'mean', chatTemplate: false, sourceExamples: 2, targetExamples: 2 });
  assert.equal(record.model?.fingerprint, engine.status().model?.fingerprint);

  const swapped = await engine.meanDifference({ source: TARGET, target: SOURCE, position: 'mean', layers: [1, 2] });
  assert.notDeepEqual(swapped.vectors, record.vectors);

  const diagnostics = await engine.layerDiagnostics({ a: SOURCE, b: TARGET });
  assert.deepEqual(diagnostics, expected.diagnostics);
  assert.equal(diagnostics.layers.length, 4);
  assert.equal(engine.status().busy, null);
});

test('compareStates: a prompt against itself has cosine 1 at every state; a plane needs a layer of the model', async () => {
  const same = await engine.compareStates({ promptA: 'The city of Paris', promptB: 'The city of Paris', tokenA: -1, tokenB: -1 });
  assert.equal(same.states.length, 5, 'the embedding and 4 layers');
  for (const s of same.states) assert.ok(Math.abs(s.cosine - 1) < 1e-6, `state ${s.state}: cosine ${s.cosine}, expected 1 within 1e-6`);

  const n = new Float32Array(64);
  n[3] = 1;
  const plane = { layer: 1, n: encodePlaneVector(n), b: 0.1, alpha: 3 };
  const steered = await engine.compareStates({ promptA: 'The city of Paris', promptB: 'The town of Rome', tokenA: -1, tokenB: -1, plane });
  assert.ok(steered.states.every((s) => typeof s.cosineSteered === 'number'));
  // The hook acts after layer 1: the states before it are those of the unsteered run.
  for (const s of steered.states.slice(0, 2)) assert.ok(Math.abs(s.cosine - s.cosineSteered!) < 1e-6);

  await assert.rejects(engine.compareStates({ promptA: 'a b', promptB: 'c d', tokenA: -1, tokenB: -1, plane: { ...plane, layer: 9 } }), /layer 9/);
  const foreign = { ...plane, model: { hiddenSize: 64, numHiddenLayers: 4, fingerprint: 'another' } };
  await assert.rejects(engine.compareStates({ promptA: 'a b', promptB: 'c d', tokenA: -1, tokenB: -1, plane: foreign }), /another model/);
});

test('an analysis while another operation runs is refused, and the other way round', async () => {
  const running = engine.layerDiagnostics({ a: SOURCE, b: TARGET });
  assert.equal(engine.status().busy, 'analysing');
  await assert.rejects(engine.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: { maxNewTokens: 1 } }), /busy analysing/);
  await running;
  const generating = engine.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: { maxNewTokens: 2, temperature: 0 } });
  await assert.rejects(engine.meanDifference({ source: SOURCE, target: TARGET }), (e: Error) => e instanceof InputError && /busy generating/.test(e.message));
  await generating;
});

test('through the engine process: the three requests round-trip, bad parameters come back as InputError naming them', async () => {
  assert.ok(existsSync(ENGINE), `${ENGINE} is missing: run \`npm run build\` first`);
  const client = new EngineClient({ enginePath: ENGINE, onStderr: () => undefined });
  try {
    await client.openModel({ modelPath: dir, device: 'cpu' });
    const local = await engine.meanDifference({ source: SOURCE, target: TARGET, layers: [2] });
    const remote = await client.meanDifference({ source: SOURCE, target: TARGET, layers: [2] });
    assert.deepEqual(remote.vectors, local.vectors);
    const diagnostics = await client.layerDiagnostics({ a: SOURCE, b: TARGET, layers: [1, 2] });
    assert.deepEqual(diagnostics.layers.map((d) => d.layer), [1, 2]);
    const states = await client.compareStates({ promptA: 'one two', promptB: 'one three', tokenA: 1, tokenB: 1 });
    assert.equal(states.tokenA.index, 1);

    const bad = (e: Error, pattern: RegExp) => e instanceof InputError && pattern.test(e.message);
    await assert.rejects(client.meanDifference({ source: SOURCE, target: TARGET, position: 'first' as 'last' }), (e: Error) => bad(e, /position must be "last" or "mean"/));
    await assert.rejects(client.layerDiagnostics({ a: SOURCE, b: [3] as unknown as string[] }), (e: Error) => bad(e, /layerDiagnostics: b must be an array of strings/));
    await assert.rejects(client.compareStates({ promptA: 'a', promptB: 'b', tokenA: Number.NaN, tokenB: 0 }), (e: Error) => bad(e, /tokenA must be a finite number/));
  } finally {
    await client.shutdown();
    client.dispose();
  }
});
