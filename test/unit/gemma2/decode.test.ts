/**
 * KV-cached decode, batching and padding of the forward graph: decode equals prefill, rows of one
 * batch with different planes, alphas and lengths equal their separate runs, rows of one prompt run
 * its shared part once, and changing the plane never opens another session.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SteerRow } from '../../../src/engine/gemma2/batchRows';
import type { ResidualEdits } from '../../../src/engine/gemma2/residualEdits';
import { Gemma2Runner, type ForwardStep } from '../../../src/engine/gemma2/runner';
import { referenceForward } from '../../reference/gemma2Reference';
import { maxAbsDiff, rowOf, seededIds, seededPlane, tinyModel, type TinyModel } from './gemma2TestKit';
import { seededNormals } from '../../reference/randomGemma2';

/** Two float32 runs of the same numbers that differ only in batching, padding or caching. */
const SAME_RUN_TOLERANCE = 2e-5;

let tiny: TinyModel;
let runner: Gemma2Runner;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
});
after(() => runner.release());

const plane = (seed: number, alpha: number, positions: SteerRow['positions'] = 'all'): SteerRow => ({
  ...seededPlane(tiny.folder.config.hiddenSize, seed),
  alpha,
  positions,
});

test('decoding token by token past the sliding window equals prefill of each prefix, steered', async () => {
  const ids = seededIds(20, 2);
  const steer = [plane(3, 2)];
  let step = await runner.prefill([ids.slice(0, 4)], steer);
  let worst = 0;
  for (let t = 4; t < ids.length; t++) {
    step = await runner.decode(step.cache, [ids[t]], steer);
    const full = await runner.prefill([ids.slice(0, t + 1)], steer);
    worst = Math.max(worst, maxAbsDiff(step.logits, full.logits));
  }
  assert.equal(step.cache.length, ids.length);
  assert.ok(worst <= SAME_RUN_TOLERANCE, `decode vs prefill: max abs difference ${worst}`);
});

test('a left-padded batch decodes each row as the reference does alone', async () => {
  const rows = [seededIds(3, 4), seededIds(9, 5)];
  const next = [seededIds(10, 6), seededIds(10, 7)];
  let step = await runner.prefill(rows);
  for (let t = 0; t < 10; t++) step = await runner.decode(step.cache, [next[0][t], next[1][t]]);
  const vocab = tiny.folder.config.vocabSize;
  rows.forEach((row, i) => {
    const [expected] = referenceForward(tiny.reference, [[...row, ...next[i]]]);
    const diff = maxAbsDiff(rowOf(step.logits, i, vocab), expected.lastLogits);
    assert.ok(diff <= 1e-4, `row ${i}: max abs difference ${diff} from the reference`);
  });
});

test('rows with different planes, alphas and lengths in one batch equal their separate runs', async () => {
  const rows = [seededIds(6, 8), seededIds(14, 9), seededIds(11, 10)];
  const steer = [plane(11, 1.7), null, plane(12, 3, 'last')];
  const batched = await runner.prefill(rows, steer);
  const vocab = tiny.folder.config.vocabSize;
  for (let i = 0; i < rows.length; i++) {
    const alone = await runner.prefill([rows[i]], [steer[i]]);
    const diff = maxAbsDiff(rowOf(batched.logits, i, vocab), alone.logits);
    assert.ok(diff <= SAME_RUN_TOLERANCE, `row ${i}: batched vs alone ${diff}`);
  }
  // Same ids, different alphas: the rows must differ, so per-row inputs really are per row.
  const twice = await runner.prefill([rows[0], rows[0]], [plane(11, 1.7), plane(11, 3)]);
  assert.ok(maxAbsDiff(rowOf(twice.logits, 0, vocab), rowOf(twice.logits, 1, vocab)) > 0.05);
});

test('padding a row does not change another row, and a padded row equals its unpadded run', async () => {
  const short = seededIds(4, 13);
  const long = seededIds(15, 14);
  const vocab = tiny.folder.config.vocabSize;
  const together = await runner.prefill([short, long]);
  const shortAlone = await runner.prefill([short]);
  const longAlone = await runner.prefill([long]);
  assert.ok(maxAbsDiff(rowOf(together.logits, 0, vocab), shortAlone.logits) <= SAME_RUN_TOLERANCE);
  assert.ok(maxAbsDiff(rowOf(together.logits, 1, vocab), longAlone.logits) <= SAME_RUN_TOLERANCE);
});

/** The input_ids shape ("rows x tokens") of every run of the forward session while `work` runs. */
async function runShapes(work: () => Promise<unknown>): Promise<string[]> {
  const session = await runner.session('forward');
  const run = session.run;
  const shapes: string[] = [];
  session.run = ((feeds, ...rest) => {
    shapes.push(feeds.input_ids.dims.join('x'));
    return run.call(session, feeds, ...(rest as [never]));
  }) as typeof session.run;
  try {
    await work();
  } finally {
    Reflect.deleteProperty(session, 'run');
  }
  return shapes;
}

test('rows of one prompt steered only at its last token run the rest of it once, and equal their separate runs', async () => {
  const hidden = tiny.folder.config.hiddenSize;
  const vocab = tiny.folder.config.vocabSize;
  const ids = seededIds(9, 18);
  const next = seededIds(3, 19);
  const normal = seededNormals(20);
  // The same edit in every row: it holds at the shared positions too.
  const edit: ResidualEdits = { add: [{ layer: 1, vector: Array.from({ length: hidden }, () => 0.3 * normal()) }] };
  const prompt = [plane(21, 1.5, 'last'), null, plane(21, 3.5, 'last')];
  const generated = prompt.map((s) => s && { ...s, positions: 'all' as const });
  const options = { edits: prompt.map(() => edit), reserve: next.length };

  let shared!: ForwardStep;
  const shapes = await runShapes(async () => (shared = await runner.prefill(prompt.map(() => ids), prompt, options)));
  assert.deepEqual(shapes, ['1x8', '3x1'], 'the prompt but its last token runs for one row, then the last token for every row');
  const steps = [shared];
  for (const id of next) steps.push(await runner.decode(steps[steps.length - 1].cache, prompt.map(() => id), generated));

  for (let i = 0; i < prompt.length; i++) {
    let alone = await runner.prefill([ids], [prompt[i]], { edits: [edit], reserve: next.length });
    let worst = maxAbsDiff(rowOf(shared.logits, i, vocab), alone.logits);
    for (const [t, id] of next.entries()) {
      alone = await runner.decode(alone.cache, [id], [generated[i]]);
      worst = Math.max(worst, maxAbsDiff(rowOf(steps[t + 1].logits, i, vocab), alone.logits));
    }
    console.log(`row ${i}: shared prompt vs its run alone, prefill and ${next.length} decode steps: max abs difference ${worst.toExponential(2)}`);
    assert.ok(worst <= SAME_RUN_TOLERANCE, `row ${i}: shared prompt vs alone ${worst}`);
  }
  // The last token's steering is per row: the rows must differ, else sharing could have dropped it.
  assert.ok(maxAbsDiff(rowOf(shared.logits, 0, vocab), rowOf(shared.logits, 2, vocab)) > 0.05);
});

test('rows of one prompt that differ before its last token run as one batch', async () => {
  const ids = seededIds(9, 22);
  const hidden = tiny.folder.config.hiddenSize;
  const steeredThroughout = await runShapes(() => runner.prefill([ids, ids], [plane(23, 1.5), plane(23, 3)]));
  assert.deepEqual(steeredThroughout, ['2x9'], 'a plane at every position changes every position');
  const vector = Array.from({ length: hidden }, (_, k) => (k % 3) * 0.1);
  const edited = await runShapes(() => runner.prefill([ids, ids], undefined, { edits: [{ add: [{ layer: 0, vector }] }, null] }));
  assert.deepEqual(edited, ['2x9'], 'an edit in one row only changes that row at every position');
  const hookSites = await runShapes(() => runner.prefill([ids, ids], undefined, { hookSites: true }));
  assert.deepEqual(hookSites, ['2x9'], 'hook sites are wanted at every position of every row');
});

test('changing the plane, alpha or steered positions reuses the same session', async () => {
  const ids = seededIds(8, 15);
  const session = await runner.session('forward');
  const a = await runner.prefill([ids], [plane(16, 1)]);
  const b = await runner.prefill([ids], [plane(17, 2.5, 'last')]);
  assert.equal(await runner.session('forward'), session);
  assert.ok(maxAbsDiff(a.logits, b.logits) > 0.01, 'the two planes should give different logits');
});
