/**
 * Long inputs in pieces of positions through the KV cache (positionPieces.ts): with the budgets set
 * small, forwardNll and hiddenStates run two left-padded rows of different lengths (longer than the
 * tiny model's sliding window of 8) in pieces of 3 positions, and give what one run gives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import type { SteerRow } from '../../../src/engine/gemma2/batchRows';
import { pieceWidth } from '../../../src/engine/gemma2/positionPieces';
import { InputError } from '../../../src/engine/errors';
import { LIMITS, type SizeLimit } from '../../../src/engine/limits';
import { maxAbsDiff, seededIds, seededPlane, tinyModel, type TinyModel } from './gemma2TestKit';

let tiny: TinyModel;
let runner: Gemma2Runner;
/** The forward session's runs, counted. */
let runs = 0;
const rows = [seededIds(20, 3), seededIds(13, 4)];

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
  const session = await runner.session('forward');
  const run = session.run.bind(session);
  session.run = ((...args: Parameters<typeof run>) => {
    runs++;
    return run(...args);
  }) as typeof session.run;
});
after(() => runner.release());

/** `fn` with `limit` set to `value`, and the number of forward runs it made. */
async function withLimit<T>(limit: SizeLimit, value: number, fn: () => Promise<T>): Promise<{ result: T; runs: number }> {
  const saved = limit.value;
  const before = runs;
  limit.value = value;
  try {
    return { result: await fn(), runs: runs - before };
  } finally {
    limit.value = saved;
  }
}

/** A plane on every position of the long row and on the last position only of the short one (its last is no piece's last). */
function steer(): SteerRow[] {
  const plane = seededPlane(tiny.folder.config.hiddenSize, 9);
  return [
    { ...plane, alpha: 2, positions: 'all' },
    { ...plane, alpha: 2.5, positions: 'last' },
  ];
}

test('forwardNll in pieces of 3 positions: the NLL and the last logits of one run, for two padded rows', async () => {
  const edits = [{ add: [{ layer: 1, vector: seededPlane(tiny.folder.config.hiddenSize, 5).n }] }, null];
  const whole = await runner.forwardNll(rows, steer(), edits);
  const vocab = tiny.folder.config.vocabSize;
  const pieces = await withLimit(LIMITS.logits, 2 * 3 * vocab, () => runner.forwardNll(rows, steer(), edits));
  assert.equal(pieces.runs, 7, 'ceil(20 / 3) runs');
  whole.forEach((w, i) => {
    const p = pieces.result[i];
    assert.ok(Math.abs(p.nll - w.nll) <= 1e-5 * Math.abs(w.nll), `row ${i}: nll ${p.nll} in pieces vs ${w.nll}`);
    const diff = maxAbsDiff(p.lastLogits, w.lastLogits);
    assert.ok(diff <= 1e-5, `row ${i}: last logits differ by ${diff}`);
  });
  // The plane and the edits matter: a piece that lost them, or steered the short row's last position wrongly, would be noticed.
  const plain = await runner.forwardNll(rows);
  assert.ok(Math.abs(plain[0].nll - whole[0].nll) > 1e-3, 'row 0: steered at all positions');
  assert.ok(maxAbsDiff(plain[1].lastLogits, whole[1].lastLogits) > 1e-3, 'row 1: steered at its last position');
});

test('hiddenStates in pieces of 3 positions: every state of one run, for two padded rows', async () => {
  const whole = await runner.hiddenStates(rows, { steer: steer() });
  const pieces = await withLimit(LIMITS.runPositions, 2 * 3, () => runner.hiddenStates(rows, { steer: steer() }));
  assert.equal(pieces.runs, 7);
  whole.forEach((states, i) => {
    for (const [k, w] of states) {
      const p = pieces.result[i].get(k)!;
      assert.equal(p.length, rows[i].length * tiny.folder.config.hiddenSize, `row ${i} state ${k}: its tokens only`);
      const diff = maxAbsDiff(p, w);
      assert.ok(diff <= 1e-5 * Math.max(1, ...Array.from(w, Math.abs)), `row ${i} state ${k} differs by ${diff}`);
    }
  });
});

test('a budget that holds no position of every row is refused, naming the limit', async () => {
  const config = tiny.folder.config;
  await withLimit(LIMITS.runPositions, 3, async () => {
    assert.throws(() => pieceWidth(4, config, false, 'the hidden states run'), (e: unknown) => e instanceof InputError && /the hidden states run \(4 rows at one position each\): its positions is 4, over the limit of 3 .*MICROSTEER_MAX_RUN_POSITIONS/.test((e as Error).message));
  });
  await withLimit(LIMITS.logits, config.vocabSize, async () => {
    assert.equal(pieceWidth(1, config, true, 'the NLL run'), 1);
    await assert.rejects(runner.forwardNll(rows), /the NLL run at one position per row \(2 rows x 1 tokens x 262145 vocabulary\): its logits is 524290, over the limit of 262145 .*MICROSTEER_MAX_LOGITS/);
  });
});
