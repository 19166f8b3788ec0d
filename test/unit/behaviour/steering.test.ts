/**
 * Does steering steer? Behaviour of the method on the demo model (models/demo, the project's own
 * pretrained Gemma-2), by statistics over seeded samples. Thresholds are stated next to each
 * assertion and the measured values are printed.
 *
 * - A plane trained (through the CLI) on the demo's archaic lines lowers the bits per character of
 *   other archaic text it never saw, and lowers modern text much less.
 * - Continuations of a neutral prompt at alpha 2.5 carry archaic markers (thee, thou, hath, ...)
 *   far more often than unsteered ones.
 * - A mean-difference vector from modern English to German raises the share of German words.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { generate } from '../../../src/engine/generate/generator';
import { vectorSteering } from '../../../src/engine/methods/meanDifference';
import { readVectorFile } from '../../../src/engine/methods/vectorFile';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import type { GenerationRow, PlaneSpec } from '../../../src/protocol';
import { ROOT, runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';

const MODEL = path.join(ROOT, 'models', 'demo');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'behaviour');
const SAMPLES = 40;
const NEW_TOKENS = 32;

const ARCHAIC = /\b(thee|thou|thy|thine|hath|doth|dost|unto|shalt|ye|saith|spake|behold|art|wherefore|thereof|lo)\b/gi;
const GERMAN = /\b(der|die|das|und|ist|nicht|ich|ein|eine|zu|mit|sich|den|es|auf|dem|sie|wir|ein|auch|aber|wenn|nur|noch|mein|kein)\b/gi;

const dir = testTempDir('behaviour');
let tokenizer: Tokenizer;
let plane: PlaneSpec;
let planeFile: string;

function evalBits(text: string, steer: string[] = []): number {
  const r = runCli(['eval', '--model', MODEL, '--text', path.join(FIXTURES, text), ...steer, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).bits_per_char;
}

/** One continuation per seed and row; rows share a batched run. */
async function continuations(layer: number, prompt: string, rows: GenerationRow[]): Promise<string[][]> {
  const runner = await Gemma2Runner.open(await openModelFolder(MODEL), { device: 'cpu', hookLayer: layer });
  try {
    const texts: string[][] = rows.map(() => []);
    for (let seed = 0; seed < SAMPLES; seed++) {
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

before(async () => {
  tokenizer = await loadTokenizer(MODEL);
  planeFile = path.join(dir, 'archaic.plane.json');
  const r = runCli(['train', '--model', MODEL, '--examples', path.join(ROOT, 'demo', 'shakespeare.txt'), '--steps', '150', '--lr', '0.01', '--seed', '0', '--out', planeFile], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const file = JSON.parse(readFileSync(planeFile, 'utf8'));
  plane = { layer: file.layer, n: file.n, b: file.b };
});
after(() => undefined);

test('an archaic plane lowers the bits per character of unseen archaic text, and of modern text much less', () => {
  const steer = ['--plane', planeFile, '--alpha', '1.5'];
  const archaic = { base: evalBits('archaic.txt'), steered: evalBits('archaic.txt', steer) };
  const modern = { base: evalBits('modern.txt'), steered: evalBits('modern.txt', steer) };
  const drop = (m: { base: number; steered: number }) => (m.base - m.steered) / m.base;
  console.log(
    `bits/char at alpha 1.5 vs unsteered: archaic ${archaic.base.toFixed(3)} -> ${archaic.steered.toFixed(3)} (${(100 * drop(archaic)).toFixed(1)}% lower), ` +
      `modern ${modern.base.toFixed(3)} -> ${modern.steered.toFixed(3)} (${(100 * drop(modern)).toFixed(1)}% lower)`,
  );
  // Thresholds: archaic text at least 3% cheaper, and at least twice the relative gain of modern text.
  assert.ok(drop(archaic) >= 0.03, `archaic text is only ${(100 * drop(archaic)).toFixed(1)}% cheaper`);
  assert.ok(drop(archaic) >= 2 * drop(modern), `not selective: archaic ${drop(archaic)} vs modern ${drop(modern)}`);
});

test('continuations at alpha 2.5 carry archaic markers several times more often than unsteered ones', async () => {
  const [base, steered] = await continuations(plane.layer, 'I went to the market and', [{ alpha: 0 }, { plane, alpha: 2.5 }]);
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
  const [base, steered] = await continuations(2, 'I think that the best way to learn is', [{ alpha: 0 }, { alpha: 0, vector }]);
  const share = (texts: string[]) => count(texts, GERMAN) / Math.max(1, words(texts));
  console.log(`German function words: unsteered ${(100 * share(base)).toFixed(1)}% of ${words(base)} words, coefficient 2 ${(100 * share(steered)).toFixed(1)}% of ${words(steered)}`);
  console.log(`  e.g. coefficient 2: ${JSON.stringify(steered[0])}`);
  // Thresholds: at least 10 points more of the words are German function words, and at least three times the unsteered share.
  assert.ok(share(steered) >= share(base) + 0.1, `share ${share(steered)} vs ${share(base)}`);
  assert.ok(share(steered) >= 3 * share(base), `share ${share(steered)} vs ${share(base)}`);
});
