/**
 * Does steering steer? Behaviour of the method on the demo model (models/demo, the project's own
 * pretrained Gemma-2), by statistics over seeded samples. Thresholds are stated next to each
 * assertion and the measured values are printed.
 *
 * - A plane trained (through the CLI) on the demo's Shakespearean lines (demo/shakespeare.txt) lowers
 *   the bits per character of other lines in that style it never saw, line by line, and does not lower
 *   modern lines.
 *   Each line is read as a document of its own, so that its register comes from the model (and the
 *   plane), not from the lines before it.
 * - Continuations of modern, neutral prompts at alpha 2.5 of a plane trained on the demo's King James
 *   style lines (demo/archaic.txt, the plane `npm run demo` shows) carry archaic markers (thee, thou,
 *   hath, unto, ...) far more often than unsteered ones. (The Shakespearean plane moves likelihoods but
 *   not this small model's samples: its training text has little Shakespeare and much King James.)
 * - A mean-difference vector from modern English to German raises the share of German words.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { generate } from '../../../src/engine/generate/generator';
import { vectorSteering } from '../../../src/engine/methods/meanDifference';
import { readVectorFile } from '../../../src/engine/methods/vectorFile';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readPlaneFile, type Plane } from '../../../src/engine/plane';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import type { GenerationRow, PlaneSpec } from '../../../src/protocol';
import { ROOT, runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';

const MODEL = path.join(ROOT, 'models', 'demo');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'behaviour');
const SAMPLES = 40;
const NEW_TOKENS = 32;

const ARCHAIC = /\b(thee|thou|thy|thine|hath|doth|dost|unto|shalt|ye|saith|spake|behold|wherefore|thereof|prithee|methinks)\b/gi;
const GERMAN = /\b(der|die|das|und|ist|nicht|ich|ein|eine|zu|mit|sich|den|es|auf|dem|sie|wir|ein|auch|aber|wenn|nur|noch|mein|kein)\b/gi;

const dir = testTempDir('behaviour');
let tokenizer: Tokenizer;
/** The plane file's contents, as generation rows and as the runner take them. */
interface TrainedPlane {
  spec: PlaneSpec;
  values: Plane;
}
let shakespearean: TrainedPlane;
let kingJames: TrainedPlane;

/** Bits per character of each line of a fixture, each line a document of its own, with the plane at `alpha` (none: unsteered). */
async function lineBits(runner: Gemma2Runner, file: string, plane: Plane, alpha?: number): Promise<number[]> {
  const lines = readFileSync(path.join(FIXTURES, file), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const rows = lines.map((l) => tokenizer.encode(l));
  const steer = alpha === undefined ? undefined : { n: plane.n, b: plane.b, alpha, positions: 'all' as const };
  const results = await runner.forwardNll(rows, rows.map(() => steer));
  return results.map((r, i) => (r.nll * (rows[i].length - 1)) / Math.LN2 / [...lines[i]].length);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Modern, neutral prompts, one per seed in turn. */
const PROMPTS = ['The best thing about computers is', 'My laptop keeps crashing because', 'My favourite day of the week is', 'The weather forecast for tomorrow says'];

/** One continuation per seed and row; rows share a batched run. */
async function continuations(layer: number, rows: GenerationRow[]): Promise<string[][]> {
  const runner = await Gemma2Runner.open(await openModelFolder(MODEL), { device: 'cpu', hookLayer: layer });
  try {
    const texts: string[][] = rows.map(() => []);
    for (let seed = 0; seed < SAMPLES; seed++) {
      const prompt = PROMPTS[seed % PROMPTS.length];
      const g = await generate(runner, tokenizer, { prompt, rows, sampling: { seed, temperature: 1, maxNewTokens: NEW_TOKENS } });
      g.rows.forEach((r, i) => texts[i].push(r.text));
    }
    return texts;
  } finally {
    await runner.release();
  }
}

const count = (texts: string[], re: RegExp) => texts.reduce((n, t) => n + (t.match(re)?.length ?? 0), 0);
const words = (texts: string[]) => texts.reduce((n, t) => n + (t.match(/\p{L}+/gu)?.length ?? 0), 0);

/** P(X >= k) for X ~ Binomial(n, 1/2): under "steering changes nothing" a marker is as likely in either set. */
function binomialTail(k: number, n: number): number {
  let p = 0;
  let term = Math.pow(0.5, n);
  for (let i = 0; i <= n; i++) {
    if (i >= k) p += term;
    term *= (n - i) / (i + 1);
  }
  return p;
}

/** Trains a plane through the CLI on one of the demo's example files. */
async function trainPlane(examples: string): Promise<TrainedPlane> {
  const file = path.join(dir, `${examples}.plane.json`);
  const r = runCli(['train', '--model', MODEL, '--examples', path.join(ROOT, 'demo', examples), '--steps', '150', '--lr', '0.01', '--seed', '0', '--out', file], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  return { spec: { layer: json.layer, n: json.n, b: json.b }, values: await readPlaneFile(file) };
}

before(async () => {
  tokenizer = await loadTokenizer(MODEL);
  shakespearean = await trainPlane('shakespeare.txt');
  kingJames = await trainPlane('archaic.txt');
});

test('a Shakespearean plane lowers the bits per character of unseen lines in its style, line by line, and not of modern lines', async () => {
  const plane = shakespearean.values;
  const runner = await Gemma2Runner.open(await openModelFolder(MODEL), { device: 'cpu', hookLayer: plane.layer });
  try {
    const base = { archaic: await lineBits(runner, 'archaic.txt', plane), modern: await lineBits(runner, 'modern.txt', plane) };
    const steered = { archaic: await lineBits(runner, 'archaic.txt', plane, 1), modern: await lineBits(runner, 'modern.txt', plane, 1) };
    const drop = (k: 'archaic' | 'modern') => (mean(base[k]) - mean(steered[k])) / mean(base[k]);
    const improved = steered.archaic.filter((b, i) => b < base.archaic[i]).length;
    const lines = base.archaic.length;
    const p = binomialTail(improved, lines);
    console.log(
      `bits/char at alpha 1 vs unsteered: archaic ${mean(base.archaic).toFixed(4)} -> ${mean(steered.archaic).toFixed(4)} (${(100 * drop('archaic')).toFixed(2)}% lower, ` +
        `${improved} of ${lines} lines lower, sign test p = ${p.toExponential(2)}), modern ${mean(base.modern).toFixed(4)} -> ${mean(steered.modern).toFixed(4)} (${(100 * drop('modern')).toFixed(2)}% lower)`,
    );
    // Thresholds: archaic lines at least 1% cheaper on average, most of them cheaper (sign test p < 0.05),
    // and the gain at least 1.5 points more than modern lines get.
    assert.ok(drop('archaic') >= 0.01, `archaic lines are only ${(100 * drop('archaic')).toFixed(2)}% cheaper`);
    assert.ok(p < 0.05, `only ${improved} of ${lines} archaic lines are cheaper`);
    assert.ok(drop('archaic') - drop('modern') >= 0.015, `not selective: archaic ${drop('archaic')} vs modern ${drop('modern')}`);
  } finally {
    await runner.release();
  }
});

test('continuations at alpha 2.5 of a King James plane carry archaic markers several times more often than unsteered ones', async () => {
  const [base, steered] = await continuations(kingJames.spec.layer, [{ alpha: 0 }, { plane: kingJames.spec, alpha: 2.5 }]);
  const a = count(base, ARCHAIC);
  const b = count(steered, ARCHAIC);
  const p = binomialTail(b, a + b);
  console.log(`archaic markers in ${SAMPLES} x ${NEW_TOKENS} tokens: unsteered ${a}, alpha 2.5 ${b} (one-sided binomial p = ${p.toExponential(2)})`);
  console.log(`  e.g. unsteered: ${JSON.stringify(base[0])}\n  e.g. alpha 2.5: ${JSON.stringify(steered[0])}`);
  // Thresholds: at least three times as many markers (and at least 10), at a chance level below 1e-3.
  assert.ok(b >= 10 && b >= 3 * a, `markers: unsteered ${a}, steered ${b}`);
  assert.ok(p < 1e-3, `chance could explain it (p = ${p})`);
});

test('a mean-difference vector from modern English to German raises the share of German words', async () => {
  const vectorFile = path.join(dir, 'german.vector.json');
  const r = runCli(['meandiff', '--model', MODEL, '--source', path.join(ROOT, 'demo', 'modern-english.txt'), '--target', path.join(ROOT, 'demo', 'german.txt'), '--out', vectorFile]);
  assert.equal(r.code, 0, r.stderr);
  const vector = vectorSteering(await readVectorFile(vectorFile), 2);
  const [base, steered] = await continuations(2, [{ alpha: 0 }, { alpha: 0, vector }]);
  const share = (texts: string[]) => count(texts, GERMAN) / Math.max(1, words(texts));
  console.log(`German function words: unsteered ${(100 * share(base)).toFixed(1)}% of ${words(base)} words, coefficient 2 ${(100 * share(steered)).toFixed(1)}% of ${words(steered)}`);
  console.log(`  e.g. coefficient 2: ${JSON.stringify(steered[0])}`);
  // Thresholds: at least 10 points more of the words are German function words, and at least three times the unsteered share.
  assert.ok(share(steered) >= share(base) + 0.1, `share ${share(steered)} vs ${share(base)}`);
  assert.ok(share(steered) >= 3 * share(base), `share ${share(steered)} vs ${share(base)}`);
});
