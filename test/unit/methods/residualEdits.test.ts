/**
 * The forward graph's residual-stream edits (added vectors, ablated directions) and its hidden-states
 * output against the float64 reference on the tiny model: per row and per layer in one left-padded
 * batch, through a KV-cached decode, and exactly the identity when zero.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import type { ResidualEdits } from '../../../src/engine/gemma2/residualEdits';
import { Gemma2Runner, type HiddenStates } from '../../../src/engine/gemma2/runner';
import { referenceForward, type RowResidualEdits, type RowSteer } from '../../reference/gemma2Reference';
import { dot } from '../../reference/steering';
import { seededNormals } from '../../reference/randomGemma2';
import { maxAbsDiff, rowOf, seededIds, seededPlane, tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

/** float32 graph vs float64 reference: logits as in the forward tests; hidden states relative to their size. */
const LOGIT_TOLERANCE = 1e-4;
const STATE_RELATIVE_TOLERANCE = 1e-5;

let tiny: TinyModel;
let runner: Gemma2Runner;
let hidden: number;
let layers: number;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
  hidden = tiny.folder.config.hiddenSize;
  layers = tiny.folder.config.numHiddenLayers;
});
after(() => runner.release());

function seededVector(seed: number, scale: number): Float64Array {
  const normal = seededNormals(seed);
  return Float64Array.from({ length: hidden }, () => scale * normal());
}

function unit(v: Float64Array): Float64Array {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** The same edits for the runner and for the reference. */
function bothForms(add: [number, Float64Array][], ablate: [number, Float64Array][]): { graph: ResidualEdits; reference: RowResidualEdits } {
  return {
    graph: { add: add.map(([layer, vector]) => ({ layer, vector })), ablate: ablate.map(([layer, direction]) => ({ layer, direction })) },
    reference: { add: new Map(add), ablate: new Map(ablate) },
  };
}

function worstStateDiff(actual: HiddenStates, expected: (Float64Array | null)[][]): number {
  let worst = 0;
  expected.forEach((positions, k) => {
    const scale = Math.max(1, ...positions.map((x) => Math.max(...x!.map(Math.abs))));
    positions.forEach((x, t) => (worst = Math.max(worst, maxAbsDiff(rowOf(actual.get(k)!, t, hidden), x!) / scale)));
  });
  return worst;
}

test('hidden states after the embedding and after every layer match the reference', async () => {
  const ids = seededIds(12, 3);
  const [states] = await runner.hiddenStates([ids]);
  const [expected] = referenceForward(tiny.reference, [ids], { hiddenStates: true });
  assert.deepEqual([...states.keys()], Array.from({ length: layers + 1 }, (_, k) => k));
  assert.equal(states.get(0)!.length, ids.length * hidden);
  const worst = worstStateDiff(states, expected.hiddenStates!);
  assert.ok(worst <= STATE_RELATIVE_TOLERANCE, `relative difference ${worst}`);
});

test('vectors added and directions ablated per row and per layer match the reference in one padded batch', async () => {
  const rows = [seededIds(14, 4), seededIds(9, 5), seededIds(11, 6)];
  const direction = unit(seededVector(21, 1));
  const edits = [
    bothForms([[1, seededVector(11, 2)]], []),
    bothForms([[0, seededVector(12, 1)], [2, seededVector(13, 3)]], [[2, direction], [3, unit(seededVector(22, 1))]]),
    null,
  ];
  const [logits, states] = await Promise.all([
    runner.prefill(rows, undefined, { edits: edits.map((e) => e?.graph) }),
    runner.hiddenStates(rows, { edits: edits.map((e) => e?.graph) }),
  ]);
  const vocab = tiny.folder.config.vocabSize;
  const plain = referenceForward(tiny.reference, rows);
  rows.forEach((ids, i) => {
    const [expected] = referenceForward(tiny.reference, [ids], { edits: [edits[i]?.reference], hiddenStates: true });
    const diff = maxAbsDiff(rowOf(logits.logits, i, vocab), expected.lastLogits);
    assert.ok(diff <= LOGIT_TOLERANCE, `row ${i}: max abs logit difference ${diff}`);
    const worst = worstStateDiff(states[i], expected.hiddenStates!);
    assert.ok(worst <= STATE_RELATIVE_TOLERANCE, `row ${i}: relative hidden-state difference ${worst}`);
    // The edits must matter, or this test would not notice edits that do nothing.
    if (edits[i]) assert.ok(maxAbsDiff(expected.lastLogits, plain[i].lastLogits) > 0.01, `row ${i}: the edits change the logits`);
  });
});

test('ablation leaves dot(x, r) = 0 after the ablated layers only', async () => {
  const ids = seededIds(10, 7);
  const r = unit(seededVector(31, 1));
  const ablated = [1, 3];
  const [states] = await runner.hiddenStates([ids], { edits: [{ ablate: ablated.map((layer) => ({ layer, direction: r })) }] });
  for (let layer = 0; layer < layers; layer++) {
    const after = states.get(layer + 1)!;
    const largest = Math.max(...ids.map((_, t) => Math.abs(dot(rowOf(after, t, hidden), r))));
    const size = Math.max(...after.map(Math.abs));
    if (ablated.includes(layer)) assert.ok(largest <= 1e-6 * size, `layer ${layer}: |dot(x, r)| up to ${largest}`);
    else assert.ok(largest > 1e-3 * size, `layer ${layer} is not ablated, yet dot(x, r) is ${largest}`);
  }
});

test('a plane and edits in one row act together as in the reference', async () => {
  const ids = seededIds(10, 12);
  const plane = seededPlane(hidden, 13);
  const steer: RowSteer = { ...plane, alpha: 2, layer: runner.hookLayer, positions: ids.map(() => true) };
  const edits = bothForms([[0, seededVector(14, 1)]], [[3, unit(seededVector(15, 1))]]);
  const { logits } = await runner.prefill([ids], [{ ...plane, alpha: 2, positions: 'all' }], { edits: [edits.graph] });
  const [expected] = referenceForward(tiny.reference, [ids], { steer: [steer], edits: [edits.reference] });
  const [planeOnly] = referenceForward(tiny.reference, [ids], { steer: [steer] });
  const diff = maxAbsDiff(logits, expected.lastLogits);
  assert.ok(diff <= LOGIT_TOLERANCE, `max abs logit difference ${diff}`);
  assert.ok(maxAbsDiff(expected.lastLogits, planeOnly.lastLogits) > 0.01);
});

test('only the hidden states asked for are fetched; one that does not exist is an input error', async () => {
  const ids = seededIds(5, 16);
  const [states] = await runner.hiddenStates([ids], { states: [4, 0] });
  assert.deepEqual([...states.keys()], [4, 0]);
  const [all] = await runner.hiddenStates([ids]);
  assert.deepEqual(states.get(4), all.get(4));
  await assert.rejects(runner.hiddenStates([ids], { states: [5] }), (e) => e instanceof InputError && /hidden state 5 does not exist/.test(e.message));
});

test('zero edits are exactly the identity', async () => {
  const ids = seededIds(8, 8);
  const zero = new Float64Array(hidden);
  const plain = await runner.prefill([ids]);
  const edited = await runner.prefill([ids], undefined, { edits: [{ add: [{ layer: 1, vector: zero }] }] });
  assert.deepEqual(edited.logits, plain.logits);
});

test('a decode continues with the edits given at the prefill, as a prefill of the whole sequence', async () => {
  const ids = seededIds(9, 9);
  const edits: ResidualEdits[] = [{ add: [{ layer: 2, vector: seededVector(41, 2) }], ablate: [{ layer: 0, direction: unit(seededVector(42, 1)) }] }];
  const first = await runner.prefill([ids.slice(0, -1)], undefined, { edits });
  const step = await runner.decode(first.cache, [ids[ids.length - 1]]);
  const whole = await runner.prefill([ids], undefined, { edits });
  const diff = maxAbsDiff(step.logits, whole.logits);
  assert.ok(diff <= LOGIT_TOLERANCE, `decode vs prefill: ${diff}`);
  const unedited = await runner.prefill([ids]);
  assert.ok(maxAbsDiff(whole.logits, unedited.logits) > 0.01);
});

test('bad edits are input errors naming the row and layer', async () => {
  const ids = [seededIds(4, 10)];
  const reject = (edits: ResidualEdits, pattern: RegExp) => assert.rejects(runner.hiddenStates(ids, { edits: [edits] }), (e) => e instanceof InputError && pattern.test(e.message));
  await reject({ ablate: [{ layer: 1, direction: seededVector(51, 1) }] }, /row 0: the direction ablated after layer 1 has norm .* expected a unit vector/);
  await reject({ add: [{ layer: layers, vector: new Float64Array(hidden) }] }, /layer 4 is not a layer of the model/);
  await reject({ add: [{ layer: 0, vector: new Float64Array(3) }] }, /3 entries, expected the model's hidden size 64/);
  await reject({ add: [{ layer: 0, vector: new Float64Array(hidden) }, { layer: 0, vector: new Float64Array(hidden) }] }, /layer 0 is given twice/);
});
