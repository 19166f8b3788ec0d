/**
 * Hidden-state comparison: the cosine similarity of one token's residual stream in two prompts after the
 * embedding and after every layer, without and with a plane (at all positions or the compared token
 * only), on the tiny model against the float64 reference.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { compareHiddenStates } from '../../../src/engine/methods/hiddenStates';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { referenceForward, type RowSteer } from '../../reference/gemma2Reference';
import { seededPlane, tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

/** float32 graph vs float64 reference, on cosines in [-1, 1]. */
const COSINE_TOLERANCE = 1e-5;

const PROMPT_A = 'I will travel to Paris next week';
const PROMPT_B = 'Tomorrow we fly to Xanadu';

let tiny: TinyModel;
let runner: Gemma2Runner;
let tokenizer: Tokenizer;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
  tokenizer = await loadTokenizer(tiny.folder.dir);
});
after(() => runner.release());

/** Per state, the reference's cosine between token ta of prompt A and tb of prompt B, each steered as given. */
function referenceCosines(ta: number, tb: number, steer?: (ids: number[], t: number) => RowSteer): number[] {
  const ids = [tokenizer.encode(PROMPT_A, { addBos: true }), tokenizer.encode(PROMPT_B, { addBos: true })];
  const [a, b] = ids.map((row, r) => referenceForward(tiny.reference, [row], { hiddenStates: true, steer: [steer?.(row, r === 0 ? ta : tb)] })[0].hiddenStates!);
  return a.map((states, k) => {
    const x = states[ta]!;
    const y = b[k][tb]!;
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let i = 0; i < x.length; i++) {
      xy += x[i] * y[i];
      xx += x[i] * x[i];
      yy += y[i] * y[i];
    }
    return xy / Math.sqrt(xx * yy);
  });
}

function assertCosines(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((c, k) => assert.ok(Math.abs(c - expected[k]) <= COSINE_TOLERANCE, `${what}, state ${k}: ${c} vs ${expected[k]}`));
}

test('cosines of the last tokens after the embedding and every layer match the reference', async () => {
  const result = await compareHiddenStates(runner, tokenizer, { promptA: PROMPT_A, promptB: PROMPT_B, tokenA: -1, tokenB: -1 });
  const lengths = [PROMPT_A, PROMPT_B].map((p) => tokenizer.encode(p, { addBos: true }).length);
  assert.equal(result.tokenA.index, lengths[0] - 1);
  assert.equal(result.tokenB.index, lengths[1] - 1);
  assert.equal(result.tokenA.text, tokenizer.decode([result.tokenA.id]));
  assert.deepEqual(
    result.states.map((s) => [s.state, s.layer]),
    [[0, null], [1, 0], [2, 1], [3, 2], [4, 3]],
  );
  assertCosines(result.states.map((s) => s.cosine), referenceCosines(lengths[0] - 1, lengths[1] - 1), 'unsteered');
  assert.ok(result.states.every((s) => s.cosineSteered === undefined));
});

for (const positions of ['all', 'token'] as const) {
  test(`with a plane at ${positions === 'all' ? 'every position' : 'the compared tokens'}, the steered cosines match the reference`, async () => {
    const plane = { ...seededPlane(tiny.folder.config.hiddenSize, 11), layer: runner.hookLayer, alpha: 3 };
    const ta = 3;
    const tb = 2;
    const result = await compareHiddenStates(runner, tokenizer, { promptA: PROMPT_A, promptB: PROMPT_B, tokenA: ta, tokenB: tb, plane: { ...plane, positions } });
    const steer = (ids: number[], t: number): RowSteer => ({ ...plane, positions: ids.map((_, s) => positions === 'all' || s === t) });
    const expected = referenceCosines(ta, tb, steer);
    assertCosines(result.states.map((s) => s.cosineSteered!), expected, 'steered');
    assertCosines(result.states.map((s) => s.cosine), referenceCosines(ta, tb), 'unsteered');
    // The hook acts in layer L: the states up to L's input are unchanged, its output changes.
    const L = runner.hookLayer;
    result.states.forEach((s) => {
      if (s.state <= L) assert.ok(Math.abs(s.cosineSteered! - s.cosine) <= COSINE_TOLERANCE, `state ${s.state} is before the hook`);
    });
    assert.ok(Math.abs(result.states[L + 1].cosineSteered! - result.states[L + 1].cosine) > 1e-3, 'the plane changes the state after its layer');
  });
}

test('a token outside a prompt or a plane at another layer is an input error', async () => {
  const request = { promptA: PROMPT_A, promptB: PROMPT_B, tokenA: 0, tokenB: 40 };
  await assert.rejects(compareHiddenStates(runner, tokenizer, request), (e) => e instanceof InputError && /token B: position 40 is outside/.test(e.message));
  const plane = { ...seededPlane(tiny.folder.config.hiddenSize, 11), layer: 0, alpha: 1 };
  await assert.rejects(compareHiddenStates(runner, tokenizer, { ...request, tokenB: -2, plane }), (e) => e instanceof InputError && /steers layer 0/.test(e.message));
});
