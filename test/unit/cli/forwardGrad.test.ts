/**
 * The `forward` and `grad` CLI contract (issue 3): JSON shapes, agreement between the two commands, the
 * gradient against central finite differences of `forward`, and exit code 2 for bad input.
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { runCli } from '../../fixtures/cli';
import { encodePlaneVector } from '../../../src/engine/plane';
import { SeededRandom } from '../../../src/engine/random';

const base = testTempDir('fwd');
const IDS = '2,17,5,99,1000,7,31,4242,12,9,300';

function writePlane(name: string, plane: { layer: number; n: number[]; b: number }, asBase64 = true): string {
  const file = path.join(base, name);
  writeFileSync(file, JSON.stringify({ ...plane, n: asBase64 ? encodePlaneVector(Float32Array.from(plane.n)) : plane.n, note: 'extra keys are allowed' }));
  return file;
}

function unitVector(seed: number, width: number): number[] {
  const rng = new SeededRandom(seed);
  const v = Array.from({ length: width }, () => rng.normal());
  const norm = Math.hypot(...v);
  return v.map((x) => Math.fround(x / norm));
}

function json(args: string[]) {
  const r = runCli(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('forward prints last_logits (vocab-wide) and nll; a plane changes both; base64 and array planes agree', async () => {
  const model = await ensureTinyModel();
  const n = unitVector(1, 64);
  const plain = json(['forward', '--model', model, '--ids', IDS, '--json']);
  assert.equal(plain.last_logits.length, 262145);
  assert.ok(plain.last_logits.every((x: number) => Math.abs(x) <= 30), 'logits are soft-capped at 30');
  assert.ok(Number.isFinite(plain.nll) && plain.nll > 0);
  const b64 = json(['forward', '--model', model, '--ids', IDS, '--plane', writePlane('p.json', { layer: 2, n, b: 0.1 }), '--alpha', '3', '--json']);
  const arr = json(['forward', '--model', model, '--ids', IDS, '--plane', writePlane('a.json', { layer: 2, n, b: 0.1 }, false), '--alpha', '3', '--json']);
  assert.notEqual(b64.nll, plain.nll);
  assert.equal(b64.nll, arr.nll);
  const last = json(['forward', '--model', model, '--ids', IDS, '--plane', writePlane('p.json', { layer: 2, n, b: 0.1 }), '--alpha', '3', '--positions', 'last', '--json']);
  // Steering only the last position leaves every earlier prediction, hence the NLL, unchanged (DESIGN.md section 1).
  assert.ok(Math.abs(last.nll - plain.nll) < 1e-6, `${last.nll} vs ${plain.nll}`);
  assert.notDeepEqual(last.last_logits.slice(0, 50), plain.last_logits.slice(0, 50));
});

test('grad: loss equals the steered forward NLL, gradients match central differences of forward', async () => {
  const model = await ensureTinyModel();
  const n = unitVector(2, 64);
  const b = 0.05;
  const alpha = 2.5;
  const plane = writePlane('g.json', { layer: 2, n, b });
  const g = json(['grad', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', String(alpha), '--json']);
  assert.equal(g.grad_n.length, 64);
  const f = json(['forward', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', String(alpha), '--json']);
  // Two float32 graphs (train vs forward) summing in different orders: 1e-5 relative.
  assert.ok(Math.abs(g.loss - f.nll) <= 1e-5 * Math.abs(f.nll), `${g.loss} vs ${f.nll}`);

  // Central differences of the float32 forward NLL through the CLI: step 1e-2 keeps float32 rounding
  // (~1e-6 on an NLL of ~13, /2h = 5e-5) and the O(h^2) curvature error small; tolerance 1e-2 + 5% relative.
  const h = 1e-2;
  const nll = (nv: number[], bv: number) =>
    json(['forward', '--model', model, '--ids', IDS, '--plane', writePlane('fd.json', { layer: 2, n: nv, b: bv }, false), '--alpha', String(alpha), '--json']).nll as number;
  const largest = g.grad_n.map((x: number, i: number) => [Math.abs(x), i]).sort((p: number[], q: number[]) => q[0] - p[0]).slice(0, 2).map((p: number[]) => p[1]);
  for (const k of largest) {
    const plus = n.slice();
    const minus = n.slice();
    plus[k] += h;
    minus[k] -= h;
    const fd = (nll(plus, b) - nll(minus, b)) / (2 * h);
    assert.ok(Math.abs(fd - g.grad_n[k]) <= 1e-2 + 0.05 * Math.abs(fd), `grad_n[${k}] ${g.grad_n[k]} vs finite difference ${fd}`);
  }
  const fdB = (nll(n, b + h) - nll(n, b - h)) / (2 * h);
  assert.ok(Math.abs(fdB - g.grad_b) <= 1e-2 + 0.05 * Math.abs(fdB), `grad_b ${g.grad_b} vs finite difference ${fdB}`);
});

test('forward and grad reject bad input with exit code 2 and a clear message', async () => {
  const model = await ensureTinyModel();
  const good = writePlane('ok.json', { layer: 2, n: unitVector(3, 64), b: 0 });
  const narrow = writePlane('narrow.json', { layer: 2, n: unitVector(3, 32), b: 0 });
  const broken = path.join(base, 'broken.json');
  writeFileSync(broken, '{"layer": 2, "n": [1, 2');
  const cases: Array<[string[], RegExp]> = [
    [['forward', '--model', model, '--ids', '2,17,999999999', '--json'], /token id 999999999 at position 2 is not in \[0, 262144\]/],
    [['forward', '--model', model, '--ids', '2,x', '--json'], /--ids entry must be a finite number, got "x"/],
    [['forward', '--model', model, '--ids', '2', '--json'], /at least 2 token ids/],
    [['forward', '--model', model, '--ids', IDS, '--plane', narrow, '--alpha', '1', '--json'], /width 32 does not match the model's hidden size 64/],
    [['forward', '--model', model, '--ids', IDS, '--plane', good, '--alpha', 'NaN', '--json'], /--alpha must be a finite number/],
    [['forward', '--model', model, '--ids', IDS, '--plane', broken, '--alpha', '1', '--json'], /not valid JSON/],
    [['forward', '--model', path.join(base, 'missing-model'), '--ids', IDS, '--json'], /missing-model/],
    [['grad', '--model', model, '--ids', IDS, '--plane', good, '--alpha', 'Infinity', '--json'], /--alpha must be a finite number/],
    [['grad', '--model', model, '--ids', IDS, '--plane', narrow, '--alpha', '1', '--json'], /width 32 does not match/],
    [['grad', '--model', model, '--ids', IDS, '--plane', good, '--alpha', '1', '--positions', 'last', '--json'], /--positions must be all/],
    [['grad', '--model', model, '--ids', IDS, '--alpha', '1', '--json'], /missing required option --plane/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});
