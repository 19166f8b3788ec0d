/**
 * --weights on the CLI: each format generates; the exact fidelity commands (forward) default to f32
 * and agree with an explicit --weights f32; a quantized forward stays close; a bad value is exit 2.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { runCli } from '../../fixtures/cli';
import { ensureTinyModel } from '../../fixtures/tinyModel';

let model: string;
const IDS = '2,17,5,99,1000,7,31,4242,12';

before(async () => {
  model = await ensureTinyModel();
});

test('generate runs in every CPU weights format', () => {
  for (const weights of ['f32', 'int8', 'int4', 'auto']) {
    const r = runCli(['generate', '--model', model, '--prompt', 'Once upon a time', '--max-tokens', '4', '--temperature', '0', '--device', 'cpu', '--weights', weights]);
    assert.equal(r.code, 0, `${weights}: ${r.stderr}`);
    assert.ok(r.stdout.length > 0, `${weights}: generated nothing`);
  }
});

test('forward is exact by default, and int8 logits stay within a stated distance of them', () => {
  const run = (extra: string[]) => {
    const r = runCli(['forward', '--model', model, '--ids', IDS, '--device', 'cpu', '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { last_logits: number[] };
  };
  const byDefault = run([]);
  assert.deepEqual(run(['--weights', 'f32']).last_logits, byDefault.last_logits);
  const int8 = run(['--weights', 'int8']).last_logits;
  const worst = int8.reduce((m, v, i) => Math.max(m, Math.abs(v - byDefault.last_logits[i])), 0);
  console.log(`forward --weights int8: largest logit difference ${worst.toExponential(3)}`);
  assert.ok(worst > 0 && worst < 0.5, `int8 logits differ by ${worst}`);
});

test('a weights format that does not exist, or stored without CUDA, is exit 2 with the choices', () => {
  const bad = runCli(['generate', '--model', model, '--prompt', 'x', '--weights', 'q3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--weights must be one of auto, f32, stored, int8, int4, got "q3"/);
  const stored = runCli(['forward', '--model', model, '--ids', IDS, '--device', 'cpu', '--weights', 'stored', '--json']);
  assert.equal(stored.code, 2);
  assert.match(stored.stderr, /stored.*CUDA.*use f32, int8 or int4/);
  assert.doesNotMatch(stored.stderr, /\n\s+at /, 'no stack trace');
});
