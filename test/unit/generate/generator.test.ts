/**
 * Steered streaming generation on the tiny model: seeds reproduce, comparison rows equal their separate
 * runs, stop tokens and maxNewTokens hold, deltas concatenate to the text without splitting a character,
 * alpha 0 is the unsteered model, steering and its positions change the output, cancellation returns
 * partial rows. Stop and byte tokens are forced by a runner wrapper that rewrites one row's logits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { GenerationRow, PlaneSpec, SamplingOptions } from '../../../src/protocol';
import { InputError } from '../../../src/engine/errors';
import { Gemma2Runner, type FloatArray } from '../../../src/engine/gemma2/runner';
import { generate, type Generation, type GenerationRunner } from '../../../src/engine/generate/generator';
import { encodePlaneVector } from '../../../src/engine/plane';
import { SeededRandom } from '../../../src/engine/random';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const PROMPT = 'The quick brown fox jumps over';
/** Egyptian hieroglyph A001: not in the vocabulary, so it is spelled with byte tokens. */
const RARE = '\u{13000}';

let runner: Gemma2Runner;
let tokenizer: Tokenizer;
let vocab: number;

before(async () => {
  const dir = await ensureTinyModel();
  runner = await Gemma2Runner.open(dir, { device: 'cpu' });
  tokenizer = await loadTokenizer(dir);
  vocab = runner.folder.config.vocabSize;
});
after(() => runner.release());

/** A seeded unit direction at the runner's layer, as a plane file gives it (numbers or base64). */
function plane(seed: number, encoding: 'numbers' | 'base64' = 'numbers', layer = runner.hookLayer): PlaneSpec {
  const random = new SeededRandom(seed);
  const n = Array.from({ length: runner.folder.config.hiddenSize }, () => random.normal());
  const norm = Math.hypot(...n);
  const unit = n.map((x) => x / norm);
  return { layer, n: encoding === 'base64' ? encodePlaneVector(Float32Array.from(unit)) : unit, b: 0.3 };
}

/** Runs a generation and keeps each row's deltas. */
async function run(
  rows: GenerationRow[],
  sampling: SamplingOptions,
  options: { runner?: GenerationRunner; signal?: AbortSignal; prompt?: string } = {},
): Promise<{ result: Generation; deltas: string[][] }> {
  const deltas: string[][] = rows.map(() => []);
  const result = await generate(
    options.runner ?? runner,
    tokenizer,
    { prompt: options.prompt ?? PROMPT, rows, sampling },
    { onDelta: (row, text) => deltas[row].push(text), signal: options.signal },
  );
  return { result, deltas };
}

/** What a wrapped runner saw: the rows of each prefill and the ids of each decode. */
interface Calls {
  prefills: number[][][];
  decodes: number[][];
}

/**
 * The real runner, with `edit(call, logits)` applied to the logits of each run (call 0 is the prefill,
 * call t the t-th decode) and every call recorded.
 */
function wrappedRunner(edit: (call: number, logits: FloatArray) => void = () => {}): GenerationRunner & { calls: Calls } {
  const calls: Calls = { prefills: [], decodes: [] };
  return {
    folder: runner.folder,
    hookLayer: runner.hookLayer,
    calls,
    prefill: async (rows, steer, options) => {
      calls.prefills.push(rows.map((r) => Array.from(r)));
      const step = await runner.prefill(rows, steer, options);
      edit(0, step.logits);
      return step;
    },
    decode: async (cache, ids, steer) => {
      calls.decodes.push([...ids]);
      const step = await runner.decode(cache, ids, steer);
      edit(calls.decodes.length, step.logits);
      return step;
    },
  };
}

/** Makes `id` certain in one row's logits: every other id at -30, it at 30 (the soft cap's range). */
function force(logits: FloatArray, row: number, id: number): void {
  logits.fill(-30, row * vocab, (row + 1) * vocab);
  logits[row * vocab + id] = 30;
}

/** The eos id whose text is `name`. */
function stopId(name: string): number {
  const id = tokenizer.eosIds.find((i) => tokenizer.decode([i]) === name);
  assert.ok(id !== undefined, `${name} is one of the tokenizer's stop ids`);
  return id;
}

const SAMPLED: SamplingOptions = { temperature: 1, seed: 5, maxNewTokens: 6 };

test('a seed reproduces a generation; another seed changes it', async () => {
  const first = await run([{ alpha: 0 }], SAMPLED);
  const again = await run([{ alpha: 0 }], SAMPLED);
  const other = await run([{ alpha: 0 }], { ...SAMPLED, seed: 6 });
  assert.deepEqual(again.result, first.result);
  assert.equal(first.result.rows[0].tokens, 6);
  assert.notDeepEqual(other.result.rows[0].ids, first.result.rows[0].ids);
});

test('comparison rows run as one batch per step and each equals its separate run (ids, text, deltas)', async () => {
  const p = plane(1);
  const rows: GenerationRow[] = [
    { alpha: 0, plane: p },
    { alpha: 2, plane: p },
    { alpha: 4, plane: p },
    { alpha: 3, plane: plane(2, 'base64') },
  ];
  const sampling = { ...SAMPLED, maxNewTokens: 8, topK: 50 };
  const batched = wrappedRunner();
  const together = await run(rows, sampling, { runner: batched });
  assert.equal(batched.calls.prefills.length, 1);
  assert.equal(batched.calls.prefills[0].length, rows.length, 'one prefill holds every row');
  assert.equal(batched.calls.decodes.length, sampling.maxNewTokens - 1, 'one decode per further token');
  assert.ok(batched.calls.decodes.every((ids) => ids.length === rows.length), 'every decode holds every row');

  for (let i = 0; i < rows.length; i++) {
    const alone = await run([rows[i]], sampling);
    assert.deepEqual(together.result.rows[i], alone.result.rows[0], `row ${i} together vs alone`);
    assert.equal(together.result.rows[i].text, tokenizer.decode(together.result.rows[i].ids));
    assert.equal(together.deltas[i].join(''), together.result.rows[i].text, `row ${i}: deltas concatenate to the text`);
    assert.equal(together.result.rows[i].stopReason, 'maxTokens');
  }
  const distinct = new Set(together.result.rows.map((r) => r.ids.join(',')));
  assert.ok(distinct.size >= 3, `the rows should differ (else the comparison proves nothing): ${distinct.size} distinct`);
});

test('the pad token is never generated, even where it is the most likely token', async () => {
  const pad = runner.folder.config.padTokenId;
  // Row 0's logits favour pad over everything else at every step; greedy and sampled rows both skip it.
  const favoured = wrappedRunner((_call, logits) => {
    force(logits, 0, pad);
    logits[3] = 29; // the runner-up: what greedy must take instead
  });
  const greedy = await run([{ alpha: 0 }], { temperature: 0, maxNewTokens: 4 }, { runner: favoured });
  assert.deepEqual(greedy.result.rows[0].ids, [3, 3, 3, 3]);
  const sampled = await run([{ alpha: 0 }], { ...SAMPLED, maxNewTokens: 12 }, { runner: favoured });
  assert.ok(!sampled.result.rows[0].ids.includes(pad), `sampled ids ${sampled.result.rows[0].ids}`);
});

test('reserved placeholder tokens (<unusedN>) are never generated, even where most likely', async () => {
  const reserved = tokenizer.reservedIds;
  assert.ok(reserved.length > 100, `the Gemma vocabulary has many <unusedN> tokens, found ${reserved.length}`);
  const unused = reserved[reserved.length - 1];
  const favoured = wrappedRunner((_call, logits) => {
    force(logits, 0, unused);
    logits[3] = 29;
  });
  const greedy = await run([{ alpha: 0 }], { temperature: 0, maxNewTokens: 4 }, { runner: favoured });
  assert.deepEqual(greedy.result.rows[0].ids, [3, 3, 3, 3]);
  const free = await run([{ alpha: 0 }], { ...SAMPLED, maxNewTokens: 40 });
  assert.doesNotMatch(free.result.rows[0].text, /<unused\d+>/);
});

test('a stop token ends its row alone, without entering the text; maxNewTokens ends the others', async () => {
  const eos = stopId('<eos>');
  const endOfTurn = stopId('<end_of_turn>');
  const rows: GenerationRow[] = [{ alpha: 0 }, { alpha: 2, plane: plane(3) }, { alpha: 0 }];
  const sampling = { ...SAMPLED, maxNewTokens: 5 };
  const free = await run(rows, sampling);
  const forced = wrappedRunner((call, logits) => {
    if (call === 2) force(logits, 0, eos); // the third token of row 0
    if (call === 0) force(logits, 1, endOfTurn); // the first token of row 1
  });
  const { result, deltas } = await run(rows, sampling, { runner: forced });

  const before = free.result.rows[0].ids.slice(0, 2);
  assert.deepEqual(result.rows[0], { text: tokenizer.decode(before), tokens: 2, stopReason: 'eos', ids: before });
  assert.ok(!result.rows[0].text.includes('<eos>'));
  assert.deepEqual(result.rows[1], { text: '', tokens: 0, stopReason: 'eos', ids: [] });
  assert.deepEqual(deltas[1], []);
  assert.deepEqual(result.rows[2], free.result.rows[2], 'the other rows go on as if nothing stopped');
  assert.equal(result.rows[2].tokens, 5);
  assert.equal(result.rows[2].stopReason, 'maxTokens');
  assert.equal(forced.calls.decodes.length, 4, 'decoding stops when the last row reaches maxNewTokens');
  deltas.forEach((d, i) => assert.equal(d.join(''), result.rows[i].text, `row ${i} deltas`));
});

test('streamed deltas never split a character spelled by several byte tokens', async () => {
  const bytes = tokenizer.encode(RARE, { addBos: false });
  assert.ok(bytes.length >= 2, `${RARE} should take several tokens, got ${bytes.length}`);
  const forced = wrappedRunner((call, logits) => {
    if (call >= 1 && call <= bytes.length) force(logits, 0, bytes[call - 1]);
  });
  const { result, deltas } = await run([{ alpha: 0 }], { ...SAMPLED, maxNewTokens: bytes.length + 2 }, { runner: forced });
  const row = result.rows[0];
  assert.deepEqual(row.ids.slice(1, 1 + bytes.length), bytes);
  assert.ok(row.text.includes(RARE), `the text should hold ${RARE}: ${JSON.stringify(row.text)}`);
  assert.ok(!deltas[0].some((d) => d.includes('\uFFFD')), `a delta holds a broken character: ${JSON.stringify(deltas[0])}`);
  assert.equal(deltas[0].join(''), row.text);
});

test('alpha 0 with a plane is the unsteered model; a large alpha changes the greedy output', async () => {
  const p = plane(4);
  // Sampling at temperature 1 over the tiny model's flat distribution: any change of the logits shows.
  const sampled = await run([{ alpha: 0 }, { alpha: 0, plane: p }, { alpha: 0.5, plane: p }], { ...SAMPLED, maxNewTokens: 4 });
  assert.deepEqual(sampled.result.rows[1], sampled.result.rows[0]);
  assert.notDeepEqual(sampled.result.rows[2].ids, sampled.result.rows[0].ids, 'a small alpha already shows in sampled tokens');
  const greedy = await run([{ alpha: 0 }, { alpha: 8, plane: p }], { temperature: 0, maxNewTokens: 6 });
  assert.notDeepEqual(greedy.result.rows[1].ids, greedy.result.rows[0].ids);
});

test('steering the whole prompt (`all`) differs from steering its last position (`last`, the default)', async () => {
  const rows: GenerationRow[] = [{ alpha: 4, plane: plane(5) }, { alpha: 0 }];
  const last = await run(rows, SAMPLED);
  const lastExplicit = await run(rows, { ...SAMPLED, steerPrompt: 'last' });
  const all = await run(rows, { ...SAMPLED, steerPrompt: 'all' });
  assert.deepEqual(lastExplicit.result, last.result);
  assert.notDeepEqual(all.result.rows[0].ids, last.result.rows[0].ids);
  assert.deepEqual(all.result.rows[1], last.result.rows[1], 'an unsteered row does not depend on the steered positions');
});

test('cancelling mid-way stops decoding and returns the partial rows, flushed and marked cancelled', async () => {
  const rows: GenerationRow[] = [{ alpha: 0 }, { alpha: 3, plane: plane(6) }];
  const sampling = { ...SAMPLED, maxNewTokens: 12 };
  const full = await run(rows, sampling);
  const controller = new AbortController();
  const aborting = wrappedRunner((call) => {
    if (call === 3) controller.abort();
  });
  const { result, deltas } = await run(rows, sampling, { runner: aborting, signal: controller.signal });
  assert.equal(aborting.calls.decodes.length, 3, 'no decode after the abort');
  result.rows.forEach((row, i) => {
    assert.equal(row.stopReason, 'cancelled');
    assert.ok(row.tokens > 0 && row.tokens < sampling.maxNewTokens, `row ${i}: ${row.tokens} tokens`);
    assert.deepEqual(row.ids, full.result.rows[i].ids.slice(0, row.tokens), `row ${i} is a prefix of the full run`);
    assert.equal(row.text, tokenizer.decode(row.ids));
    assert.equal(deltas[i].join(''), row.text);
  });

  const early = wrappedRunner();
  const { result: none } = await run(rows, sampling, { runner: early, signal: AbortSignal.abort() });
  assert.equal(early.calls.prefills.length, 0);
  assert.deepEqual(none.rows, rows.map(() => ({ text: '', tokens: 0, stopReason: 'cancelled', ids: [] })));
});

test('the prompt is encoded with one BOS, raw or in the chat template', async () => {
  const seen = wrappedRunner();
  await run([{ alpha: 0 }], { ...SAMPLED, maxNewTokens: 1 }, { runner: seen });
  await run([{ alpha: 0 }], { ...SAMPLED, maxNewTokens: 1, chatTemplate: true }, { runner: seen });
  const [raw, chat] = seen.calls.prefills.map((rows) => rows[0]);
  for (const ids of [raw, chat]) {
    assert.equal(ids[0], tokenizer.bosId);
    assert.equal(ids.filter((id) => id === tokenizer.bosId).length, 1, 'exactly one BOS');
  }
  assert.equal(tokenizer.decode(raw), `<bos>${PROMPT}`);
  assert.equal(tokenizer.decode(chat), `<bos><start_of_turn>user\n${PROMPT}<end_of_turn>\n<start_of_turn>model\n`);
});

test('bad input is an InputError naming what is wrong; non-finite logits are a plain error', async () => {
  const otherLayer = (runner.hookLayer + 1) % runner.folder.config.numHiddenLayers;
  const cases: [Parameters<typeof run>[0], SamplingOptions, string | undefined, RegExp][] = [
    [[{ alpha: 0 }], SAMPLED, '', /prompt is empty/],
    [[], SAMPLED, undefined, /at least one row/],
    [[{ alpha: 1, plane: plane(7, 'numbers', otherLayer) }], SAMPLED, undefined, new RegExp(`row 0 plane.*layer ${otherLayer}.*hook at layer ${runner.hookLayer}`)],
    [[{ alpha: 0 }, { alpha: 1, plane: { layer: runner.hookLayer, n: [1, 0, 0], b: 0 } }], SAMPLED, undefined, /row 1 plane: plane width 3/],
    [[{ alpha: Number.NaN, plane: plane(7) }], SAMPLED, undefined, /row 0: alpha must be a finite number/],
    [[{ alpha: 0 }], { ...SAMPLED, maxNewTokens: 0 }, undefined, /maxNewTokens/],
    [[{ alpha: 0 }], { ...SAMPLED, topP: 0 }, undefined, /topP/],
    [[{ alpha: 0 }], { ...SAMPLED, seed: -1 }, undefined, /seed/],
  ];
  for (const [rows, sampling, prompt, message] of cases) {
    await assert.rejects(run(rows, sampling, { prompt }), (e: Error) => e instanceof InputError && message.test(e.message), String(message));
  }
  // A word's logit (those of pad and the reserved tokens are overwritten before sampling).
  const word = tokenizer.encode('fox', { addBos: false })[0];
  const broken = wrappedRunner((call, logits) => {
    if (call === 1) logits[1 * vocab + word] = Number.NaN;
  });
  await assert.rejects(
    run([{ alpha: 0 }, { alpha: 0 }], SAMPLED, { runner: broken }),
    (e: Error) => !(e instanceof InputError) && new RegExp(`row 1, token 2: .*non-finite logit \\(NaN\\) for token id ${word}\\b`).test(e.message),
  );
});
