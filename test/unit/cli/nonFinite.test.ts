/**
 * Issue 11, classes 4 and 9: a non-finite result is an input error (exit 2, a message that says why),
 * never JSON null or an empty success; absurd steering values are refused before any run; and alpha 0
 * is the unsteered model in every command (forward and grad included, like generate and compare).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { encodePlaneVector } from '../../../src/engine/plane';
import { readSafetensorsHeader } from '../../../src/engine/model/safetensors';
import { SeededRandom } from '../../../src/engine/random';
import { runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { modelVariant } from '../../fixtures/modelVariant';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('non-finite');
const IDS = '2,651,6097,3290,611';
let model: string;

before(async () => {
  model = await ensureTinyModel();
});

function unitPlane(scale = 1, b = 0.1): string {
  const rng = new SeededRandom(4);
  const n = Array.from({ length: 64 }, () => rng.normal());
  const norm = Math.hypot(...n);
  const file = path.join(base, `plane-${scale}-${b}.json`);
  fs.writeFileSync(file, JSON.stringify({ layer: 2, n: encodePlaneVector(Float32Array.from(n, (x) => (scale * x) / norm)), b }));
  return file;
}

function refused(args: string[], message: RegExp): void {
  const run = runCli(args);
  assert.equal(run.code, 2, `${args.join(' ')}: exit ${run.code}, ${run.stderr}`);
  assert.match(run.stderr, message, args.join(' '));
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(run.stdout, '', 'nothing printed as a result');
}

test('forward on weights holding a NaN: exit 2 naming the non-finite output, no null logits', async () => {
  const copy = modelVariant(model, path.join(base, 'nan-model'));
  const weights = path.join(copy, 'model.safetensors');
  const header = await readSafetensorsHeader(weights);
  const norm = header.tensors.find((t) => t.name === 'model.norm.weight');
  assert.ok(norm, 'the tiny model has a final norm');
  const fd = fs.openSync(weights, 'r+');
  fs.writeSync(fd, Buffer.from(Float32Array.of(NaN).buffer), 0, 4, norm.offset);
  fs.closeSync(fd);
  refused(['forward', '--model', copy, '--ids', IDS, '--device', 'cpu', '--json'], /non-finite .*weights hold NaN/);
});

test('absurd steering values are input errors before any run', () => {
  const good = unitPlane();
  refused(['forward', '--model', model, '--ids', IDS, '--plane', unitPlane(1e30), '--alpha', '1', '--json'], /n must have length 1 .*\|n\| = 1\.0+e\+30/);
  refused(['forward', '--model', model, '--ids', IDS, '--plane', unitPlane(1, 5), '--alpha', '1', '--json'], /"b" must be in \(-1, 1\)/);
  refused(['forward', '--model', model, '--ids', IDS, '--plane', good, '--alpha', '1e30', '--json'], /alpha must be in \[-100, 100\], got 1e\+30/);
  refused(['grad', '--model', model, '--ids', IDS, '--plane', good, '--alpha', '1e30', '--json'], /alpha must be in \[-100, 100\]/);
  refused(['generate', '--model', model, '--plane', good, '--alpha', '1e30', '--prompt', 'Hi', '--device', 'cpu'], /alpha must be in \[-100, 100\]/);
  refused(['generate', '--model', model, '--plane', unitPlane(1e30), '--alpha', '2', '--prompt', 'Hi', '--device', 'cpu'], /\|n\| = /);
  refused(['train', '--model', model, '--text', 'The cat sat.', '--lr', '1e308', '--out', path.join(base, 'p.json'), '--device', 'cpu'], /learning rate must be in \(0, 1\], got 1e\+308/);
  refused(['train', '--model', model, '--text', 'The cat sat.', '--alpha', '1e30', '--out', path.join(base, 'p.json'), '--device', 'cpu'], /training alpha must be in/);
});

test('alpha 0 is the unsteered model in forward and grad too: the same NLL as no plane, a zero gradient', () => {
  const plane = unitPlane(1, 0.5);
  const json = (args: string[]) => {
    const run = runCli(args);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout);
  };
  const plain = json(['forward', '--model', model, '--ids', IDS, '--json']);
  const zero = json(['forward', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', '0', '--json']);
  assert.equal(zero.nll, plain.nll);
  assert.deepEqual(zero.last_logits, plain.last_logits);
  const grad = json(['grad', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', '0', '--json']);
  // Two float32 graphs summing in different orders: 1e-5 relative, as in forwardGrad.test.
  assert.ok(Math.abs(grad.loss - plain.nll) <= 1e-5 * plain.nll, `${grad.loss} vs ${plain.nll}`);
  assert.ok(grad.grad_n.every((g: number) => g === 0) && grad.grad_b === 0, 'nothing depends on the plane at alpha 0');
});
