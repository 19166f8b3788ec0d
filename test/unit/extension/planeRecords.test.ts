import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import {
  checkPlaneModel,
  defaultPlaneName,
  parsePlaneRecord,
  planeNameProblem,
  planeSpec,
  readPlaneTable,
  withPlane,
} from '../../../src/extension/planeRecords';
import type { ModelSummary, PlaneRecord } from '../../../src/protocol';
import { base64Floats, MODEL, record } from './planeFixture';

const summary = (over: Partial<ModelSummary> = {}): ModelSummary => ({
  dir: '/models/tiny',
  architecture: 'Gemma2ForCausalLM',
  hiddenSize: MODEL.hiddenSize,
  numHiddenLayers: MODEL.numHiddenLayers,
  vocabSize: 100,
  parameterCount: 1000,
  dtypes: ['F32'],
  sizeOnDiskBytes: 4000,
  defaultHookLayer: 3,
  fingerprint: MODEL.fingerprint,
  ...over,
});

test('a valid record is kept as written', () => {
  const json = record();
  const parsed = parsePlaneRecord(json, 'plane "x"');
  assert.deepEqual(parsed, json);
});

test('a record with its token budget is kept, and one from before the budget existed too', () => {
  const json = record({ training: { ...(record().training as object), batchTokens: 4096 } });
  assert.deepEqual(parsePlaneRecord(json, 'plane "x"'), json);
  assert.equal((record().training as Record<string, unknown>).batchTokens, undefined);
});

test('n given as numbers is stored as base64 float32', () => {
  const parsed = parsePlaneRecord(record({ n: [0.6, 0, -0.8, 0] }), 'plane "x"');
  assert.equal(parsed.n, base64Floats([0.6, 0, -0.8, 0]));
});

test('malformed records are rejected with the source and the field named', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [record({ model: undefined }), /"model" must be an object/],
    [record({ model: { ...MODEL, hiddenSize: 0 } }), /model\.hiddenSize/],
    [record({ model: { ...MODEL, numHiddenLayers: 2.5 } }), /model\.numHiddenLayers/],
    [record({ model: { ...MODEL, fingerprint: '' } }), /model\.fingerprint/],
    [record({ n: base64Floats([1, 0, 0]) }), /width 3 does not match the model's hidden size 4/],
    [record({ layer: 6 }), /layer 6 is outside the model's 6 layers/],
    [record({ b: 'high' }), /"b" must be a finite number/],
    [record({ training: undefined }), /"training" must be an object/],
    [record({ training: { ...(record().training as object), steps: '10' } }), /training\.steps/],
    [record({ training: { ...(record().training as object), batchTokens: 'many' } }), /training\.batchTokens/],
    [record({ training: { ...(record().training as object), mleMode: 'other' } }), /training\.mleMode/],
    [record({ training: { ...(record().training as object), useAveraging: 1 } }), /training\.useAveraging/],
    [record({ initialLoss: NaN }), /"initialLoss" must be a finite number/],
    [record({ lossHistory: [1, null] }), /"lossHistory" must be an array of finite numbers/],
    [record({ createdAt: 'yesterday' }), /"createdAt" must be a date string/],
  ];
  for (const [json, pattern] of cases) {
    assert.throws(
      () => parsePlaneRecord(json, 'plane "bad"'),
      (e: unknown) => e instanceof InputError && e.message.startsWith('plane "bad"') && pattern.test(e.message),
      `expected ${pattern}`,
    );
  }
});

test('the planes setting: malformed entries are reported by name and skipped, good ones kept', () => {
  const table = readPlaneTable({
    good: record(),
    'no vector': record({ n: undefined }),
    'not an object': 42,
    alsoGood: record({ b: -0.5 }),
  });
  assert.deepEqual([...table.planes.keys()], ['good', 'alsoGood']);
  assert.equal(table.planes.get('alsoGood')?.b, -0.5);
  assert.deepEqual(
    table.rejected.map((r) => r.name),
    ['no vector', 'not an object'],
  );
  assert.match(table.rejected[0].reason, /plane "no vector": "n" must be base64/);
  assert.match(table.rejected[1].reason, /plane "not an object": a plane must be a JSON object/);
});

test('a planes setting that is not an object is one rejected entry; absent is empty', () => {
  assert.deepEqual(readPlaneTable([record()]).rejected.length, 1);
  assert.equal(readPlaneTable([record()]).planes.size, 0);
  assert.deepEqual(readPlaneTable(undefined), { planes: new Map(), rejected: [] });
});

test('withPlane sets or removes one entry and keeps every other, malformed ones included', () => {
  const before = { keep: record(), broken: { layer: 'x' }, replaced: record({ b: 0.9 }) };
  const snapshot = structuredClone(before);
  const fresh = parsePlaneRecord(record({ b: -0.25 }), 'new');

  const added = withPlane(before, 'new', fresh);
  assert.deepEqual(added, { ...snapshot, new: fresh });
  const replaced = withPlane(before, 'replaced', fresh);
  assert.deepEqual(replaced, { ...snapshot, replaced: fresh });
  const removed = withPlane(before, 'keep', undefined);
  assert.deepEqual(removed, { broken: snapshot.broken, replaced: snapshot.replaced });
  // The input object itself is never changed.
  assert.deepEqual(before, snapshot);
  // No previous value (or not an object): a fresh object with the one entry.
  assert.deepEqual(withPlane(undefined, 'a', fresh), { a: fresh });
  assert.deepEqual(withPlane('garbage', 'a', fresh), { a: fresh });
});

test('a plane from another model is refused, naming the plane and both models', () => {
  const plane = parsePlaneRecord(record(), 'p');
  assert.doesNotThrow(() => checkPlaneModel('p', plane, summary()));
  for (const other of [summary({ fingerprint: 'ffffffffffffffff' }), summary({ hiddenSize: 8 }), summary({ numHiddenLayers: 12 })]) {
    assert.throws(
      () => checkPlaneModel('shakespeare', plane, other),
      (e: unknown) =>
        e instanceof InputError &&
        /plane "shakespeare" was trained on another model/.test(e.message) &&
        e.message.includes(`hidden size ${other.hiddenSize}, ${other.numHiddenLayers} layers`) &&
        e.message.includes('/models/tiny'),
    );
  }
});

test('planeSpec carries exactly what the engine steers with', () => {
  const plane = parsePlaneRecord(record(), 'p') as PlaneRecord;
  assert.deepEqual(planeSpec(plane), { layer: 3, n: plane.n, b: 0.125, model: MODEL });
});

test('plane names: non-empty, no surrounding spaces, bounded length', () => {
  assert.equal(planeNameProblem('shakespeare 2025-01-31'), undefined);
  assert.match(planeNameProblem('') ?? '', /needs a name/);
  assert.match(planeNameProblem('   ') ?? '', /needs a name/);
  assert.match(planeNameProblem(' padded') ?? '', /spaces/);
  assert.match(planeNameProblem('x'.repeat(81)) ?? '', /80 characters/);
});

test('issue 11, class 6: __proto__, constructor and the other names every object has are refused, by the prompt and by the store', () => {
  const fresh = parsePlaneRecord(record(), 'new');
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    assert.match(planeNameProblem(name) ?? '', /every settings object already has/, name);
    const table = { keep: record() };
    assert.throws(() => withPlane(table, name, fresh), (e: unknown) => e instanceof InputError && /every settings object/.test((e as Error).message));
    // A rename is a removal and an addition: refused before the removal, the old plane stays.
    assert.throws(() => withPlane(withPlane(table, 'keep', undefined), name, fresh));
    assert.deepEqual(Object.keys(table), ['keep']);
  }
  assert.equal(planeNameProblem('proto'), undefined);
  assert.equal(planeNameProblem('my constructor'), undefined);
});

test('default names come from the first words and the date', () => {
  // Local time: the name shows the user's own date.
  const date = new Date(2025, 2, 4, 23, 30);
  assert.equal(defaultPlaneName("Shall I compare thee to a summer's day?", date), 'shall-i-compare-thee 2025-03-04');
  assert.equal(defaultPlaneName("  Thou speak'st of candles", date), 'thou-speakst-of-candles 2025-03-04');
  assert.equal(defaultPlaneName('!!! ???', date), 'plane 2025-03-04');
});
