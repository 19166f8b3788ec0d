/**
 * The sampler against an exact distribution computed here independently (a full sort and a plain
 * softmax in float64): greedy and top-k = 1 are the argmax, empirical frequencies match the
 * temperature / top-k / top-p distribution, excluded ids are never drawn, a seed repeats its draws.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { checkSamplerSettings, sampleToken, type SamplerSettings } from '../../../src/engine/generate/sampler';
import { SeededRandom } from '../../../src/engine/random';

/** Logits of N(0, scale^2), from a stream separate from the one the sampler draws from. */
function randomLogits(count: number, seed: number, scale = 2): Float64Array {
  const random = new SeededRandom(seed);
  return Float64Array.from({ length: count }, () => scale * random.normal());
}

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The exact distribution: softmax(x / T) over all ids, keep the k largest, renormalise, keep the shortest prefix of mass >= p, renormalise. */
function exactDistribution(logits: ArrayLike<number>, { temperature, topK, topP }: SamplerSettings): Float64Array {
  const ids = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const max = logits[ids[0]];
  let probs = ids.map((id) => Math.exp((logits[id] - max) / temperature));
  if (topK > 0) probs = probs.slice(0, topK);
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  let kept = 0;
  for (let mass = 0; kept < probs.length && (kept === 0 || mass < topP); kept++) mass += probs[kept];
  probs = probs.slice(0, kept);
  sum = probs.reduce((a, b) => a + b, 0);
  const exact = new Float64Array(logits.length);
  probs.forEach((p, i) => (exact[ids[i]] = p / sum));
  return exact;
}

function frequencies(logits: ArrayLike<number>, settings: SamplerSettings, draws: number, seed: number): Float64Array {
  const random = new SeededRandom(seed);
  const counts = new Float64Array(logits.length);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, settings, random)]++;
  return counts.map((c) => c / draws);
}

test('greedy (temperature 0) and top-k = 1 return the argmax and draw nothing', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const logits = randomLogits(1000, seed);
    const random = new SeededRandom(99);
    assert.equal(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, random), argmax(logits));
    assert.equal(sampleToken(logits, { temperature: 1.5, topK: 1, topP: 0.9 }, random), argmax(logits));
    assert.equal(random.uniform(), new SeededRandom(99).uniform(), 'greedy sampling must not consume random draws');
  }
  // Ties go to the smaller id.
  assert.equal(sampleToken([1, 3, 0, 3], { temperature: 0, topK: 0, topP: 1 }, new SeededRandom(0)), 1);
});

test('empirical frequencies match the exact temperature / top-k / top-p distribution', () => {
  // 10 ids with spread logits, so that each setting keeps a different set.
  const logits = [1.2, -0.4, 2.5, 0.3, 2.4, -1.7, 0.9, 1.8, -0.2, 0.0];
  const draws = 100_000;
  const settings: SamplerSettings[] = [
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.6, topK: 0, topP: 1 },
    { temperature: 1.4, topK: 4, topP: 1 },
    { temperature: 1, topK: 0, topP: 0.7 },
    { temperature: 2, topK: 6, topP: 0.8 },
  ];
  settings.forEach((s, k) => {
    const exact = exactDistribution(logits, s);
    const observed = frequencies(logits, s, draws, 100 + k);
    for (let id = 0; id < logits.length; id++) {
      if (exact[id] === 0) {
        assert.equal(observed[id], 0, `${JSON.stringify(s)}: id ${id} is outside the kept set but was drawn`);
        continue;
      }
      // Five binomial standard deviations: a correct sampler fails this about once in 10^5 checks.
      const tolerance = 5 * Math.sqrt((exact[id] * (1 - exact[id])) / draws);
      assert.ok(
        Math.abs(observed[id] - exact[id]) <= tolerance,
        `${JSON.stringify(s)}: id ${id} drawn with frequency ${observed[id]}, expected ${exact[id]} +- ${tolerance}`,
      );
    }
  });
});

test('ties at the top-k or top-p cut go to the smaller ids, in the exact proportions', () => {
  // Four ids tie at 2: top-k = 2 keeps ids 1 and 2; top-p = 0.5 needs three of them (each holds 0.216), so ids 1, 2, 3.
  const logits = [1, 2, 2, 2, 0.5, 2, -1];
  const draws = 50_000;
  for (const s of [
    { temperature: 1, topK: 2, topP: 1 },
    { temperature: 1, topK: 0, topP: 0.5 },
  ]) {
    const exact = exactDistribution(logits, s);
    const observed = frequencies(logits, s, draws, 21);
    for (let id = 0; id < logits.length; id++) {
      const tolerance = 5 * Math.sqrt((exact[id] * (1 - exact[id])) / draws);
      assert.ok(Math.abs(observed[id] - exact[id]) <= tolerance, `${JSON.stringify(s)}: id ${id}: ${observed[id]} vs ${exact[id]}`);
    }
  }
  assert.deepEqual(
    Array.from(exactDistribution(logits, { temperature: 1, topK: 0, topP: 0.5 }), (p) => p > 0),
    [false, true, true, true, false, false, false],
    'the reference keeps the three smaller tied ids',
  );
});

test('a very low temperature does not overflow: the distribution is still the exact one', () => {
  // Soft-capped logits near the cap, divided by T = 0.01: exp(3000) would overflow without the max shift.
  const logits = [30, 29.99, 29.98, 10];
  const s = { temperature: 0.01, topK: 0, topP: 1 };
  const exact = exactDistribution(logits, s);
  const observed = frequencies(logits, s, 50_000, 7);
  for (let id = 0; id < logits.length; id++) {
    const tolerance = 5 * Math.sqrt((exact[id] * (1 - exact[id])) / 50_000);
    assert.ok(Math.abs(observed[id] - exact[id]) <= tolerance, `id ${id}: ${observed[id]} vs ${exact[id]}`);
  }
});

test('over a Gemma-sized vocabulary, top-k and top-p draw only from the kept set, with the exact frequencies', () => {
  const vocab = 262_144;
  const logits = randomLogits(vocab, 3, 1);
  // A few planted ids well above the N(0, 1) bulk, which still holds about 5% of the mass at T = 1.
  [16, 15.5, 15, 14, 13].forEach((x, i) => (logits[1000 + 37 * i] = x));
  for (const [s, draws] of [
    [{ temperature: 1, topK: 4, topP: 1 }, 300],
    [{ temperature: 1, topK: 0, topP: 0.9 }, 150],
  ] as const) {
    const exact = exactDistribution(logits, s);
    const kept = exact.reduce((n, p) => n + (p > 0 ? 1 : 0), 0);
    assert.ok(kept >= 2 && kept <= 5, `${JSON.stringify(s)} keeps ${kept} ids: the check wants a few`);
    const observed = frequencies(logits, s, draws, 11);
    for (let id = 0; id < vocab; id++) {
      if (exact[id] === 0) {
        assert.equal(observed[id], 0, `${JSON.stringify(s)}: id ${id} is outside the kept set but was drawn`);
        continue;
      }
      const tolerance = 5 * Math.sqrt((exact[id] * (1 - exact[id])) / draws);
      assert.ok(Math.abs(observed[id] - exact[id]) <= tolerance, `${JSON.stringify(s)}: id ${id}: ${observed[id]} vs ${exact[id]} +- ${tolerance}`);
    }
  }
});

test('the same seed gives the same draws, another seed other draws', () => {
  const logits = randomLogits(5000, 4);
  const s = { temperature: 1, topK: 50, topP: 0.95 };
  const run = (seed: number) => {
    const random = new SeededRandom(seed);
    return Array.from({ length: 200 }, () => sampleToken(logits, s, random));
  };
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
});

test('a non-finite logit is an error naming the token id', () => {
  const logits = randomLogits(100, 8);
  logits[42] = Number.NaN;
  assert.throws(
    () => sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, new SeededRandom(0), 'row 2'),
    (e: Error) => !(e instanceof InputError) && /^row 2: .*non-finite logit \(NaN\) for token id 42/.test(e.message),
  );
  logits[42] = Number.POSITIVE_INFINITY;
  assert.throws(() => sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, new SeededRandom(0)), /Infinity\) for token id 42/);
});

test('bad settings are input errors naming the setting', () => {
  const ok = { temperature: 1, topK: 0, topP: 1 };
  checkSamplerSettings(ok);
  const cases: [Partial<SamplerSettings>, RegExp][] = [
    [{ temperature: -0.1 }, /temperature/],
    [{ temperature: Number.NaN }, /temperature/],
    [{ topK: 1.5 }, /topK/],
    [{ topK: -1 }, /topK/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.2 }, /topP/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => checkSamplerSettings({ ...ok, ...bad }), (e: Error) => e instanceof InputError && message.test(e.message));
  }
});
