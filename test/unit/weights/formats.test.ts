/**
 * Each quantized weights format against the exact float32 path, on the tiny random model and on the demo
 * model (a trained 2.4M-parameter Gemma-2, whose peaked distributions make agreement meaningful): the
 * next-token distributions of many prefixes agree in their top token and are close in KL divergence, and
 * the plane's training gradient (through W^T's quantization) points the same way. Bounds are stated here
 * and the measured values printed.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { loadTokenizer } from '../../../src/engine/tokenizer';
import type { WeightsFormat } from '../../../src/engine/weights/weightsFormat';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { seededIds, seededPlane } from '../gemma2/gemma2TestKit';

const DEMO = path.resolve(__dirname, '..', '..', '..', '..', 'models', 'demo');

type Quantized = 'int8' | 'int4';

/**
 * Per model and format: the least share of prefixes whose top token matches float32's, and the largest
 * mean KL(f32 || format) in nats. The tiny model's weights are Gaussian noise, the hardest case for
 * 4-bit blocks (measured: KL 0.19 nats there, 0.035 on the trained demo model).
 */
const BOUNDS: Record<'tiny' | 'demo', Record<Quantized, { top1: number; kl: number }>> = {
  tiny: { int8: { top1: 0.95, kl: 0.005 }, int4: { top1: 0.7, kl: 0.3 } },
  demo: { int8: { top1: 0.95, kl: 0.005 }, int4: { top1: 0.8, kl: 0.1 } },
};

/** The least cosine between the plane gradient through quantized weights and float32's. */
const GRADIENT_COSINE: Record<'tiny' | 'demo', Record<Quantized, number>> = {
  tiny: { int8: 0.99, int4: 0.9 },
  demo: { int8: 0.99, int4: 0.9 },
};

function logSoftmax(logits: ArrayLike<number>, from: number, size: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[from + i]);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += Math.exp(logits[from + i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from({ length: size }, (_, i) => logits[from + i] - lse);
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Last-position logits of every row, [rows * vocab]. */
async function lastLogits(dir: string, weights: WeightsFormat, rows: number[][]): Promise<{ logits: ArrayLike<number>; vocab: number }> {
  const runner = await Gemma2Runner.open(dir, { device: 'cpu', weights });
  try {
    return { logits: (await runner.prefill(rows)).logits, vocab: runner.folder.config.vocabSize };
  } finally {
    await runner.release();
  }
}

async function compareFormats(label: 'tiny' | 'demo', dir: string, rows: number[][]): Promise<void> {
  const exact = await lastLogits(dir, 'f32', rows);
  for (const format of ['int8', 'int4'] as const) {
    const { logits } = await lastLogits(dir, format, rows);
    let agree = 0;
    let kl = 0;
    for (let r = 0; r < rows.length; r++) {
      const p = logSoftmax(exact.logits, r * exact.vocab, exact.vocab);
      const q = logSoftmax(logits, r * exact.vocab, exact.vocab);
      if (argmax(p) === argmax(q)) agree++;
      for (let i = 0; i < exact.vocab; i++) kl += Math.exp(p[i]) * (p[i] - q[i]);
    }
    const share = agree / rows.length;
    const meanKl = kl / rows.length;
    console.log(`${label} ${format}: top-1 agreement ${agree}/${rows.length}, mean KL ${meanKl.toExponential(3)} nats`);
    const bound = BOUNDS[label][format];
    assert.ok(share >= bound.top1, `${label} ${format}: top-1 agreement ${share} < ${bound.top1}`);
    assert.ok(meanKl <= bound.kl, `${label} ${format}: mean KL ${meanKl} > ${bound.kl}`);
  }
}

test('tiny model: int8 and int4 next-token distributions stay close to float32', async () => {
  const dir = await ensureTinyModel();
  const rows = Array.from({ length: 24 }, (_, i) => seededIds(6 + (i % 7) * 3, 40 + i));
  await compareFormats('tiny', dir, rows);
});

test('demo model: int8 and int4 next-token distributions stay close to float32 on prefixes of real text', async () => {
  const tokenizer = await loadTokenizer(DEMO);
  const text = 'And the LORD spake unto Moses, saying, Speak unto the children of Israel. The best thing about computers is that they do exactly what you tell them to do, which is also the worst thing about them.';
  const ids = tokenizer.encode(text);
  const rows = Array.from({ length: 32 }, (_, i) => ids.slice(0, 4 + Math.floor((i * (ids.length - 4)) / 32)));
  await compareFormats('demo', DEMO, rows);
});

/** The plane gradient of one training step on `ids` in each format, against float32's by cosine. */
async function compareGradients(label: 'tiny' | 'demo', dir: string, ids: number[]): Promise<void> {
  const grads: Record<string, Float64Array> = {};
  for (const format of ['f32', 'int8', 'int4'] as const) {
    const runner = await Gemma2Runner.open(dir, { device: 'cpu', weights: format });
    try {
      const [sites] = await runner.hookActivations([ids]);
      const plane = seededPlane(runner.folder.config.hiddenSize, 5);
      grads[format] = Float64Array.from((await runner.trainStep([{ ids, residual: sites.residual, y: sites.y }], plane, 2)).gradN);
    } finally {
      await runner.release();
    }
  }
  for (const format of ['int8', 'int4'] as const) {
    const [a, b] = [grads.f32, grads[format]];
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i] * b[i], na + a[i] * a[i], nb + b[i] * b[i]];
    const cos = dot / Math.sqrt(na * nb);
    console.log(`${label} ${format}: cosine of the plane gradient with float32's ${cos.toFixed(5)}, norm ratio ${Math.sqrt(nb / na).toFixed(4)}`);
    assert.ok(cos >= GRADIENT_COSINE[label][format], `${label} ${format}: gradient cosine ${cos} < ${GRADIENT_COSINE[label][format]}`);
  }
}

test('demo model: the plane gradient through quantized weights points where the float32 one does', async () => {
  const tokenizer = await loadTokenizer(DEMO);
  await compareGradients('demo', DEMO, tokenizer.encode('Thou shalt not steal; and thy neighbour shall dwell with thee in the land.'));
});

test("tiny model: the plane gradient through quantized weights (the head's W^T in column slices) points where the float32 one does", async () => {
  await compareGradients('tiny', await ensureTinyModel(), seededIds(24, 7));
});
