/**
 * The engine process through EngineClient, as the extension and the CLI use it: the bundled
 * dist/engine.js (run `npm run build` first) on the tiny model. A protocol round trip with progress and
 * token notifications, errors marked as bad input, cancellation of a training mid-way, and an engine
 * killed mid-request: the request fails with a clear error and the next one runs on a fresh engine
 * that has the model open again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { EngineClient, EngineError, type EngineExit } from '../../../src/engine/client';
import { CancelledError, InputError } from '../../../src/engine/errors';
import type { TrainOptions, TrainProgress } from '../../../src/protocol';

/** The checkout root: this file runs from out/test/unit/engine/. */
const ENGINE = path.resolve(__dirname, '..', '..', '..', '..', 'dist', 'engine.js');
const EXAMPLES = ['The cat sat on the mat.', 'A dog ran in the park today.', 'Birds sing in the morning.'];

let dir: string;
let stderr = '';
const exits: EngineExit[] = [];
const client = new EngineClient({ enginePath: ENGINE, onStderr: (text) => (stderr += text) });
client.onDidExit((e) => exits.push(e));

before(async () => {
  assert.ok(existsSync(ENGINE), `${ENGINE} is missing: run \`npm run build\` first`);
  dir = await ensureTinyModel();
});
after(async () => {
  await client.shutdown();
  client.dispose();
});

test('openModel and status round-trip; bad input comes back as InputError', async () => {
  await assert.rejects(client.openModel({ modelPath: path.join(dir, 'no-such-folder'), device: 'cpu' }), (e: Error) => {
    assert.ok(e instanceof InputError, `an InputError, got ${e.name}`);
    assert.match(e.message, /model folder .*no-such-folder does not exist/);
    return true;
  });
  const opened = await client.openModel({ modelPath: dir, device: 'cpu' });
  assert.equal(opened.model?.dir, dir);
  assert.equal(opened.model?.numHiddenLayers, 4);
  const status = await client.status();
  assert.deepEqual(status.model, opened.model);
  assert.equal(status.busy, null);
  // Requests are validated in the engine: an unknown option and a non-array are refused as bad input.
  await assert.rejects(client.train({ examples: EXAMPLES, options: { stepz: 3 } as TrainOptions }), (e: Error) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /train: options: unknown key stepz/);
    return true;
  });
  await assert.rejects(client.train({ examples: 'one text' as unknown as string[], options: {} }), /examples must be an array of strings/);
  await assert.rejects(client.train({ examples: [], options: { steps: 1 } }), InputError);
});

test('train streams one progress notification per step and returns the plane record', async () => {
  const progress: TrainProgress[] = [];
  const record = await client.train({ examples: EXAMPLES, options: { steps: 3, seed: 5 } }, (p) => progress.push(p));
  assert.deepEqual(
    progress.map((p) => [p.step, p.totalSteps]),
    [
      [1, 3],
      [2, 3],
      [3, 3],
    ],
  );
  assert.equal(record.layer, 2);
  assert.equal(record.training.steps, 3);
  assert.deepEqual(record.lossHistory, progress.map((p) => p.loss));
  assert.equal(record.model.fingerprint, (await client.status()).model?.fingerprint);
});

test('an internal error of the engine comes back as an EngineError with its name, message and the engine\'s stack', async () => {
  const failing = new EngineClient({ enginePath: path.join(__dirname, '..', '..', 'fixtures', 'failingEngine.js') });
  try {
    await assert.rejects(failing.status(), (e: Error) => {
      assert.ok(e instanceof EngineError, `an EngineError, got ${e.constructor.name}`);
      assert.ok(!(e instanceof InputError));
      assert.equal(e.name, 'TypeError');
      assert.equal(e.message, 'engine/status broke');
      assert.match(e.stack ?? '', /at theEngine \(engine\.js/);
      return true;
    });
  } finally {
    await failing.shutdown();
    failing.dispose();
  }
});

test('absurd training weights are bad input, not an overflow found at the first step', async () => {
  await assert.rejects(client.train({ examples: EXAMPLES, options: { steps: 3, lambdaMle: 1e308 } }), (e: Error) => {
    assert.ok(e instanceof InputError, `an InputError, got ${e.constructor.name}`);
    assert.match(e.message, /lambdaMle must be in \[0, 100000000\], got 1e\+308/);
    return true;
  });
  assert.equal((await client.status()).busy, null);
});

test('generate streams token notifications that concatenate to each row\'s text', async () => {
  const deltas = new Map<number, string[]>();
  const result = await client.generate(
    { prompt: 'Once upon a time', rows: [{ alpha: 0 }, { alpha: 0 }], sampling: { maxNewTokens: 12, seed: 3 } },
    (row, text) => deltas.set(row, [...(deltas.get(row) ?? []), text]),
  );
  assert.equal(result.rows.length, 2);
  for (const [i, row] of result.rows.entries()) {
    assert.equal(row.tokens, 12);
    assert.equal(row.stopReason, 'maxTokens');
    assert.ok((deltas.get(i) ?? []).length > 1, `row ${i} streamed in several deltas`);
    assert.equal((deltas.get(i) ?? []).join(''), row.text);
  }
  assert.equal(result.rows[0].text, result.rows[1].text, 'two rows with one seed and no plane agree');
});

test('cancelling a training fails it as cancelled within a step or two, and the engine stays usable', { timeout: 60_000 }, async () => {
  const controller = new AbortController();
  const steps: number[] = [];
  let abortedAt = 0;
  const training = client.train({ examples: EXAMPLES, options: { steps: 10_000 } }, (p) => {
    steps.push(p.step);
    if (p.step === 2) {
      abortedAt = p.step;
      controller.abort();
    }
  }, controller.signal);
  await assert.rejects(training, (e: Error) => {
    assert.ok(e instanceof CancelledError, `a CancelledError, got ${e.name}: ${e.message}`);
    assert.match(e.message, /training was cancelled/);
    const kept = e.lastGood as { lossHistory?: number[] } | undefined;
    assert.ok((kept?.lossHistory?.length ?? 0) >= abortedAt, 'the plane trained so far did not come back with the cancellation');
    return true;
  });
  assert.equal(abortedAt, 2);
  assert.ok(steps.length <= abortedAt + 2, `stopped ${steps.length - abortedAt} steps after the cancel`);
  assert.equal((await client.status()).busy, null);
  const after = await client.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: { maxNewTokens: 2 } });
  assert.equal(after.rows[0].tokens, 2);
});

test('a killed engine fails the pending request clearly; the next request runs on a fresh engine with the model open', { timeout: 60_000 }, async () => {
  const killedPid = client.pid;
  assert.ok(killedPid !== undefined);
  const training = client.train({ examples: EXAMPLES, options: { steps: 10_000 } }, (p) => {
    if (p.step === 1) process.kill(killedPid, 'SIGKILL');
  });
  await assert.rejects(training, (e: Error) => {
    assert.equal(e.message, 'the Micro Steer engine process exited unexpectedly (code null, signal SIGKILL); something killed it, often the system running out of memory');
    return true;
  });
  assert.deepEqual(exits, [{ code: null, signal: 'SIGKILL', expected: false }]);
  assert.equal(client.pid, undefined);

  const status = await client.status();
  assert.notEqual(client.pid, killedPid);
  assert.equal(status.model?.dir, dir, 'the fresh engine has the last model open');
  const result = await client.generate({ prompt: 'Hi', rows: [{ alpha: 0 }], sampling: { maxNewTokens: 2 } });
  assert.equal(result.rows[0].tokens, 2);
  assert.doesNotMatch(stderr, /TypeError|ReferenceError/, 'the engine logged no internal error');
});

test('issue 11, class 10: inspectModel validates a folder in the engine process; the extension bundle has no model-folder parser', async () => {
  const summary = await client.inspectModel({ modelPath: dir });
  assert.equal(summary.numHiddenLayers, 4);
  assert.match(summary.fingerprint, /^[0-9a-f]{64}$/);
  await assert.rejects(client.inspectModel({ modelPath: path.join(dir, 'no-such-folder') }), (e: Error) => e instanceof InputError && /does not exist/.test(e.message));
  const extensionBundle = readFileSync(path.join(path.dirname(ENGINE), 'extension.js'), 'utf8');
  for (const parser of ['function parseGemma2Config', 'function readSafetensorsHeader', 'function inspectModelFolder']) {
    assert.ok(!extensionBundle.includes(parser), `dist/extension.js contains ${parser}`);
  }
});
