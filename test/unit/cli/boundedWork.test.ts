/**
 * Issue 11, class 1: work and memory bounded by configuration, never by an input. Sizes in a
 * config.json are refused before anything is allocated for them; files, examples, tokens and the
 * logits of one run have limits whose messages name the environment variable that raises them; the
 * inputs that once took the engine past 20 GB end, under a watchdog on the resident memory of the
 * whole process group (CLI and engine), with exit 2 and that message instead of a kill; and an NLL
 * over more logits than one run may hold runs in pieces within the same bound.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { parseGemma2Config } from '../../../src/engine/model/config';
import { InputError } from '../../../src/engine/errors';
import { runCliWatched } from '../../fixtures/memoryWatchdog';
import { testTempDir } from '../../fixtures/tempDir';
import { modelVariant } from '../../fixtures/modelVariant';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('bounded');
/**
 * The stated bound: the CLI and engine on the tiny model stay under 3 GiB resident (measured: about
 * 0.7 GiB for the model, tokenizer and sessions, plus about 1.9 GiB for a training step at the default
 * logits budget). Before the limits, these inputs reached 21 GB.
 */
const RESIDENT_LIMIT = 3 * 1024 ** 3;
let model: string;
let config: Record<string, unknown>;

before(async () => {
  model = await ensureTinyModel();
  config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
});

test('config sizes over their limits are refused at once, naming the key, the limit and its variable', () => {
  const cases: [string, number, RegExp][] = [
    ['num_hidden_layers', 1e9, /num_hidden_layers is 1000000000, over the limit of 256 decoder layers \(set MICROSTEER_MAX_LAYERS to raise it\)/],
    ['num_hidden_layers', 1e6, /MICROSTEER_MAX_LAYERS/],
    ['vocab_size', 1e12, /vocab_size is 1000000000000, over the limit of 1048576 .*MICROSTEER_MAX_VOCABULARY/],
    ['hidden_size', 2 ** 30, /hidden_size .*MICROSTEER_MAX_WIDTH/],
    ['num_attention_heads', 1e7, /num_attention_heads .*MICROSTEER_MAX_HEADS/],
  ];
  for (const [key, value, message] of cases) {
    const started = performance.now();
    assert.throws(() => parseGemma2Config({ ...config, [key]: value }, 'config.json'), (e: unknown) => e instanceof InputError && message.test((e as Error).message), `${key} ${value}`);
    // No list of a billion layers is built before the check: 50 ms is far above the check, far below an allocation.
    assert.ok(performance.now() - started < 50, `${key}: ${performance.now() - started} ms`);
  }
});

function assertRefused(run: Awaited<ReturnType<typeof runCliWatched>>, message: RegExp): void {
  assert.equal(run.killed, false, `the watchdog killed it at ${run.peakBytes} bytes resident`);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, message);
  assert.ok(run.peakBytes < RESIDENT_LIMIT, `${run.peakBytes} bytes`);
}

test('under the memory watchdog: a config with 1e9 layers, through the engine process', { timeout: 120_000 }, async () => {
  const dir = modelVariant(model, path.join(base, 'layers'), { 'config.json': { num_hidden_layers: 1e9 } });
  assertRefused(await runCliWatched(['generate', '--model', dir, '--prompt', 'Hi', '--device', 'cpu'], RESIDENT_LIMIT), /num_hidden_layers is 1000000000, over the limit .*MICROSTEER_MAX_LAYERS/);
});

test('under the memory watchdog: forward on 4000 ids runs in pieces within the logits budget; 9000 are refused against the context', { timeout: 120_000 }, async () => {
  const ids = Array.from({ length: 9000 }, (_, i) => 2 + (i % 1000)).join(',');
  assertRefused(await runCliWatched(['forward', '--model', model, '--ids', ids, '--device', 'cpu', '--json'], RESIDENT_LIMIT), /longer than the model's context of 8192 tokens/);
  // 4000 x 262145 logits at once would be about 30 GB; in pieces of 255 positions they stay under the bound.
  const shorter = ids.split(',').slice(0, 4000).join(',');
  const run = await runCliWatched(['forward', '--model', model, '--ids', shorter, '--device', 'cpu', '--json'], RESIDENT_LIMIT);
  assert.equal(run.killed, false, `the watchdog killed it at ${run.peakBytes} bytes resident`);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.peakBytes < RESIDENT_LIMIT, `${run.peakBytes} bytes`);
  const out = JSON.parse(run.stdout);
  assert.equal(out.last_logits.length, 262145);
  assert.ok(Number.isFinite(out.nll) && out.nll > 0, `nll ${out.nll}`);
});

test('forward refuses a command line over 28 000 bytes before opening a model (onnxruntime-node crashes at 32 KB)', async () => {
  const ids = Array.from({ length: 7000 }, (_, i) => 1000 + (i % 9000)).join(',');
  assertRefused(await runCliWatched(['forward', '--model', model, '--ids', ids, '--device', 'cpu', '--json'], RESIDENT_LIMIT), /the command line is \d+ bytes, over the 28000 that onnxruntime-node can open a model under .*microsteer eval/);
});

test('under the memory watchdog: training on 200 KB of text, and a 50 MB examples file', { timeout: 120_000 }, async () => {
  // One example of 200 KB (a file: the command line cannot hold it).
  const long = path.join(base, 'long.json');
  fs.writeFileSync(long, JSON.stringify(['The quick brown fox jumps over the lazy dog. '.repeat(4500)]));
  const out = path.join(base, 'p.json');
  assertRefused(await runCliWatched(['train', '--model', model, '--examples', long, '--steps', '1', '--device', 'cpu', '--out', out], RESIDENT_LIMIT), /example 1 is 45002 tokens long, over the default minibatch budget of 255 tokens \(4096 capped by the logits budget, MICROSTEER_MAX_LOGITS 67108864 \/ vocabulary 262145\)/);
  const big = path.join(base, 'big.txt');
  fs.writeFileSync(big, `${'x'.repeat(99)}\n`.repeat(500_000));
  assertRefused(await runCliWatched(['train', '--model', model, '--examples', big, '--steps', '1', '--device', 'cpu', '--out', out], RESIDENT_LIMIT), /size of .*big\.txt is 50000000, over the limit of 16777216 bytes \(set MICROSTEER_MAX_FILE_BYTES/);
  assert.ok(!fs.existsSync(out));
});

test('under the memory watchdog: 2000 training examples run in minibatches that fit the logits budget', { timeout: 120_000 }, async () => {
  const examples = path.join(base, 'many.txt');
  fs.writeFileSync(examples, Array.from({ length: 2000 }, (_, i) => `Example number ${i} says the weather is fine today.`).join('\n'));
  const out = path.join(base, 'many.plane.json');
  const run = await runCliWatched(['train', '--model', model, '--examples', examples, '--steps', '1', '--device', 'cpu', '--out', out], RESIDENT_LIMIT);
  assert.equal(run.killed, false, `the watchdog killed it at ${run.peakBytes} bytes resident`);
  assert.equal(run.code, 0, run.stderr);
  const record = JSON.parse(fs.readFileSync(out, 'utf8'));
  // The longest example has under 20 tokens: the default budget, 255 tokens at this vocabulary, holds at least 12 of them per step, not all 2000.
  assert.ok(record.training.batchSize >= 12 && record.training.batchSize < 2000, `batch size ${record.training.batchSize}`);
});
