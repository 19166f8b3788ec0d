/**
 * The text likelihood behind `microsteer eval`: against the float64 reference's NLL of the same
 * windows (one window, and windows overlapping by one token), steered and not, with the CLI's JSON.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { textLikelihood } from '../../../src/engine/methods/textLikelihood';
import { runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { referenceNll } from '../../reference/gemma2Reference';
import { seededIds, seededPlane, tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

let tiny: TinyModel;
let runner: Gemma2Runner;
const ids = [2, ...seededIds(20, 41)];
const TEXT = 'twenty-one code points';

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu', hookLayer: 2 });
});
after(() => runner.release());

/** Sum of the reference NLLs of windows of `w` tokens overlapping by one. */
function referenceSum(w: number, steer?: Parameters<typeof referenceNll>[2]): number {
  let sum = 0;
  for (let s = 0; s + 1 < ids.length; s += w - 1) {
    const win = ids.slice(s, s + w);
    sum += referenceNll(tiny.reference, win, steer && { ...steer, positions: win.map(() => true) }) * (win.length - 1);
  }
  return sum;
}

test('one window is the reference NLL of the whole sequence; bits per character follow from it', async () => {
  const r = await textLikelihood(runner, ids, TEXT, { window: 64 });
  const expected = referenceSum(64) / (ids.length - 1);
  assert.equal(r.tokens, ids.length - 1);
  assert.equal(r.chars, [...TEXT].length);
  assert.ok(Math.abs(r.meanNll - expected) < 1e-4, `${r.meanNll} vs reference ${expected}`);
  assert.ok(Math.abs(r.bitsPerChar - (r.meanNll * r.tokens) / Math.LN2 / r.chars) < 1e-12);
});

test('windows overlapping by one token predict every token once, steered at every position', async () => {
  const plane = seededPlane(tiny.folder.config.hiddenSize, 3);
  const r = await textLikelihood(runner, ids, TEXT, { window: 6, rowsPerRun: 2, steer: { ...plane, alpha: 2, positions: 'all' } });
  const expected = referenceSum(6, { n: plane.n, b: plane.b, alpha: 2, layer: 2, positions: [] }) / (ids.length - 1);
  assert.ok(Math.abs(r.meanNll - expected) < 1e-4, `${r.meanNll} vs reference ${expected}`);
  const unsteered = await textLikelihood(runner, ids, TEXT, { window: 6 });
  assert.ok(Math.abs(unsteered.meanNll - r.meanNll) > 1e-3, 'the plane changes the likelihood');
});

test('the eval CLI prints the same measures as JSON, and refuses a missing text', () => {
  const dir = testTempDir('eval-cli');
  const file = path.join(dir, 'text.txt');
  writeFileSync(file, 'Good morrow, friend. How fares thy house?');
  const r = runCli(['eval', '--model', tiny.folder.dir, '--text', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.tokens > 5 && out.chars === 41 && Number.isFinite(out.mean_nll) && Number.isFinite(out.bits_per_char));
  const missing = runCli(['eval', '--model', tiny.folder.dir, '--text', path.join(dir, 'nope.txt')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /does not exist/);
});
