/**
 * Pretraining end to end on a small seeded corpus: a short run lowers the held-out loss, a run
 * stopped and resumed from its checkpoint ends with the same weights as one that ran straight
 * through, and the saved folder is a Gemma-2 that the independent float64 reference reads and
 * whose logits the engine's forward graph reproduces.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readTensor } from '../../../src/engine/model/tensorData';
import { pretrain, type PretrainOptions, type PretrainResult } from '../../../src/engine/pretrain/pretrainer';
import { loadTokenizer } from '../../../src/engine/tokenizer';
import { testTempDir } from '../../fixtures/tempDir';
import { loadReferenceModel, referenceForward } from '../../reference/gemma2Reference';
import { seededNormals } from '../../reference/randomGemma2';

const SETTINGS = {
  layers: 2,
  hidden: 32,
  heads: 2,
  kvHeads: 1,
  headDim: 16,
  intermediate: 64,
  slidingWindow: 8,
  vocab: 320,
  context: 32,
  steps: 24,
  batchTokens: 256,
  lr: 1e-2,
  warmupSteps: 4,
  heldoutEvery: 5,
  dtype: 'f32' as const,
};

const dir = testTempDir('pretrainer');
let corpus: string[];
let straight: PretrainResult;
let straightOut: string;
const heldoutAtStart: number[] = [];

/** Sentences of a tiny grammar, so that there is structure to learn and held-out text like the training text. */
function grammarDocuments(seed: number, count: number): string[] {
  const normal = seededNormals(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.abs(normal()) * 1000) % xs.length];
  const subjects = ['the cat', 'a dog', 'my friend', 'the old man', 'our teacher'];
  const verbs = ['sees', 'likes', 'finds', 'follows', 'remembers'];
  const objects = ['the river', 'a small house', 'the red door', 'every bird', 'the garden'];
  return Array.from({ length: count }, () =>
    Array.from({ length: 3 }, () => `${pick(subjects)} ${pick(verbs)} ${pick(objects)}.`).join(' '),
  );
}

function run(out: string, extra: Partial<PretrainOptions> = {}): Promise<PretrainResult> {
  return pretrain({ corpus, out, settings: SETTINGS, device: 'cpu', threads: 1, evalEvery: 1000, checkpointEvery: 1000, ...extra });
}

before(async () => {
  corpus = [path.join(dir, 'alpha.txt'), path.join(dir, 'beta.txt')];
  await writeFile(corpus[0], grammarDocuments(1, 60).join('\n\n'));
  await writeFile(corpus[1], grammarDocuments(2, 60).map((d) => d.toUpperCase()).join('\n\n'));
  straightOut = path.join(dir, 'straight');
  straight = await run(straightOut, {
    evalEvery: 1,
    onProgress: (p) => {
      if (p.kind === 'eval' && p.step === 1) heldoutAtStart.push(...p.heldout.map((m) => m.loss));
    },
  });
});

test('a short run lowers the held-out loss of every source', () => {
  assert.equal(heldoutAtStart.length, 2);
  straight.heldout.forEach((m, i) => {
    console.log(`${m.source}: held-out loss ${heldoutAtStart[i].toFixed(3)} after step 1 -> ${m.loss.toFixed(3)} after ${SETTINGS.steps} (${m.bitsPerChar.toFixed(3)} bits/char)`);
    // Threshold: at least a quarter below the loss after one step (measured: about 35% below).
    assert.ok(m.loss < heldoutAtStart[i] * 0.75, `${m.source}: ${m.loss} is not clearly below ${heldoutAtStart[i]}`);
    assert.ok(m.bitsPerChar > 0 && Number.isFinite(m.bitsPerChar));
  });
});

test('stopping at a checkpoint and resuming ends with the same weights as running straight through', async () => {
  const out = path.join(dir, 'resumed');
  const controller = new AbortController();
  const first = await run(out, {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.kind === 'step' && p.step === 10) controller.abort();
    },
  });
  assert.equal(first.interrupted, true);
  assert.equal(first.stepsDone, 10);
  const resumed = await run(out, { resume: true });
  assert.equal(resumed.interrupted, false);
  assert.equal(resumed.tokensSeen, straight.tokensSeen);
  const a = new Float32Array((await readFile(path.join(straightOut, 'model.safetensors'))).buffer.slice(0));
  const b = new Float32Array((await readFile(path.join(out, 'model.safetensors'))).buffer.slice(0));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  console.log(`resumed vs straight: max weight difference ${worst}`);
  assert.ok(worst <= 1e-6, `weights differ by ${worst}`);
});

test('refuses to overwrite a folder without --force, and explains an unfinished run', async () => {
  await assert.rejects(run(straightOut), /not empty/);
});

test('the saved folder is a Gemma-2 the float64 reference reads, and the engine reproduces its logits', async () => {
  const folder = await openModelFolder(straightOut);
  assert.equal(folder.config.numHiddenLayers, SETTINGS.layers);
  assert.ok(folder.config.slidingWindow < folder.config.maxPositionEmbeddings, 'both attention kinds are exercised');
  const config = JSON.parse(await readFile(path.join(straightOut, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['Gemma2ForCausalLM']);
  const tokenizer = await loadTokenizer(straightOut);
  assert.equal(tokenizer.bosId, folder.config.bosTokenId);
  assert.ok(tokenizer.eosIds.includes(1));
  const ids = tokenizer.encode('the cat sees the red door.');
  assert.ok(ids.length > SETTINGS.slidingWindow && ids.length <= SETTINGS.context, `${ids.length} tokens: longer than the sliding window, within the context`);

  const reference = await loadReferenceModel(folder, readTensor);
  const expected = referenceForward(reference, [ids])[0].lastLogits;
  const runner = await Gemma2Runner.open(folder, { device: 'cpu', hookLayer: 1 });
  try {
    const [{ lastLogits }] = await runner.forwardNll([ids]);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(lastLogits[i] - expected[i]));
    console.log(`engine vs reference logits on the pretrained folder: max abs ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `logits differ by ${worst}`);
  } finally {
    await runner.release();
  }
});
