/**
 * `microsteer train`, `generate` and `compare` as a user runs them: the bundled CLI (dist/cli.js, made by
 * `npm run build`) in a child process, on the tiny model, through the engine process. Checks outputs,
 * the plane file's format and exit codes (0 ok, 2 bad input, 130 cancelled by Ctrl-C).
 */
import { before, test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { CLI, runCli } from '../../fixtures/cli';
import { readExamples } from '../../../src/cli/commands/train';
import { InputError } from '../../../src/engine/errors';
import { loadTokenizer } from '../../../src/engine/tokenizer';

const base = testTempDir('cli-engine');
const EXAMPLES = ['The cat sat on the mat.', 'A dog ran in the park today.', 'Birds sing in the morning.'];
let model: string;
/** The plane trained by the first test, used by the generation tests. */
const PLANE = path.join(base, 'plane.json');

before(async () => {
  model = await ensureTinyModel();
});

const cli = (...args: string[]) => runCli(args, { timeoutMs: 120_000 });

test('train writes a plane file: layer, n as base64 of hidden-size float32 with |n| = 1, finite b, and the record', () => {
  const examples = path.join(base, 'examples.txt');
  writeFileSync(examples, `${EXAMPLES[0]}\n\n${EXAMPLES[1]}\r\n   \n${EXAMPLES[2]}\n`);
  const run = cli('train', '--model', model, '--examples', examples, '--steps', '4', '--seed', '3', '--no-averaging', '--device', 'cpu', '--out', PLANE);
  assert.equal(run.code, 0, run.stderr);
  // Not a terminal: a line for the first step and per tenth of the run (every step of 4), with the losses and b.
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('step'));
  assert.deepEqual(
    lines.map((l) => l.slice(0, 8)),
    ['step 1/4', 'step 2/4', 'step 3/4', 'step 4/4'],
  );
  for (const line of lines) assert.match(line, /loss \d\.\d+e\+\d+ +nll \d+\.\d{4} +b [+-]\d\.\d{4} +[\d.]+ ms\/step$/);
  assert.match(run.stdout, /^wrote .*plane\.json: layer 2, b -?\d\.\d{4}, loss .* over 4 steps on 3 examples\n$/);

  const plane = JSON.parse(readFileSync(PLANE, 'utf8'));
  assert.equal(plane.layer, 2, 'floor(4 layers / 2)');
  const bytes = Buffer.from(plane.n, 'base64');
  assert.equal(bytes.length, 64 * 4);
  const n = Array.from({ length: 64 }, (_, i) => bytes.readFloatLE(4 * i));
  assert.ok(Math.abs(Math.hypot(...n) - 1) < 1e-5, `|n| = ${Math.hypot(...n)}`);
  assert.ok(Number.isFinite(plane.b) && Math.abs(plane.b) < 1, `b = tanh(theta) = ${plane.b}`);
  assert.deepEqual([plane.model.hiddenSize, plane.model.numHiddenLayers], [64, 4]);
  assert.match(plane.model.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(plane.training.steps, 4);
  assert.equal(plane.training.seed, 3);
  assert.equal(plane.training.useAveraging, false);
  assert.equal(plane.training.examples, 3, 'blank lines are skipped');
  assert.equal(plane.lossHistory.length, 4);
  assert.ok(!Number.isNaN(Date.parse(plane.createdAt)));
});

test('the examples file: lines without blanks, or a JSON array of strings', async () => {
  const lines = path.join(base, 'lines.txt');
  writeFileSync(lines, 'one\r\n\ntwo  \n');
  assert.deepEqual(await readExamples(lines, undefined), ['one', 'two  ']);
  const json = path.join(base, 'examples.json');
  writeFileSync(json, JSON.stringify(['a\nmulti-line example', 'b']));
  assert.deepEqual(await readExamples(json, undefined), ['a\nmulti-line example', 'b']);
  assert.deepEqual(await readExamples(undefined, ['x', 'y']), ['x', 'y']);
  writeFileSync(json, '[1, 2]');
  await assert.rejects(readExamples(json, undefined), /must be an array of strings/);
  writeFileSync(lines, '\n  \n');
  await assert.rejects(readExamples(lines, undefined), /has no examples/);
  await assert.rejects(readExamples(undefined, undefined), InputError);
  await assert.rejects(readExamples(lines, ['x']), /not both/);
});

test('train: bad input exits 2 with a clear message, and writes no file', () => {
  const out = path.join(base, 'bad.json');
  const expect = (args: string[], pattern: RegExp) => {
    const run = cli('train', '--model', model, '--out', out, ...args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
    assert.ok(!existsSync(out));
  };
  expect([], /no examples: give --examples FILE or one or more --text/);
  expect(['--examples', path.join(base, 'missing.txt')], /cannot read the examples file .*missing\.txt/);
  expect(['--text', 'a b c', '--lr', 'NaN'], /--lr must be a finite number, got "NaN"/);
  expect(['--text', 'a b c', '--steps', '0'], /--steps must be an integer in \[1, Infinity\]/);
  expect(['--text', 'a b c', '--mode', 'poem'], /--mode must be sequence or notebook/);
  expect(['--text', 'a b c', '--averaging', '--no-averaging'], /not both/);
  // Found by the engine (through the protocol): an example too short for notebook mode's cut.
  expect(['--text', 'The cat sat on the mat.', '--text', 'Hi', '--mode', 'notebook', '--steps', '2', '--device', 'cpu'], /example 2 \("Hi"\) has 2 tokens; notebook mode/);
  const noFolder = cli('train', '--model', model, '--text', 'a b c', '--out', path.join(base, 'nowhere', 'p.json'));
  assert.equal(noFolder.code, 2);
  assert.match(noFolder.stderr, /the folder .*nowhere does not exist/);
});

test('train --batch-tokens: a small budget trains in minibatches it holds, and the record keeps both', async () => {
  const tokenizer = await loadTokenizer(model);
  const longest = Math.max(...EXAMPLES.map((text) => tokenizer.encode(text).length));
  const out = path.join(base, 'budget.json');
  const run = cli('train', '--model', model, ...EXAMPLES.flatMap((text) => ['--text', text]), '--steps', '1', '--batch-tokens', String(2 * longest), '--device', 'cpu', '--out', out);
  assert.equal(run.code, 0, run.stderr);
  const { training } = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(training.batchTokens, 2 * longest);
  assert.equal(training.batchSize, 2, 'two of the three examples at the longest length');
});

test('train --batch-tokens: below 2, not an integer, or shorter than an example: exit 2, one line, no file', () => {
  const out = path.join(base, 'bad-budget.json');
  for (const [value, message] of [
    ['1', /--batch-tokens must be an integer in \[2, Infinity\], got "1"/],
    ['many', /--batch-tokens must be a finite number, got "many"/],
    ['4', /example 1 is \d+ tokens long, over the minibatch budget of 4 tokens given by --batch-tokens \(microSteer\.training\.batchTokens\): raise it, or shorten the example/],
  ] as const) {
    const run = cli('train', '--model', model, '--text', EXAMPLES[0], '--steps', '1', '--batch-tokens', value, '--device', 'cpu', '--out', out);
    assert.equal(run.code, 2, `${value}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(out));
  }
});

test('Ctrl-C cancels a training cleanly: exit 130, no plane file', { timeout: 60_000 }, async (t) => {
  const out = path.join(base, 'cancelled.json');
  // Its own process group, as a terminal's foreground job: the signal reaches the CLI and its engine.
  const child = spawn(process.execPath, [CLI, 'train', '--model', model, '--text', EXAMPLES[0], '--steps', '100000', '--device', 'cpu', '--out', out], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    // Whatever happened, leave no training running.
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/step +1\/100000/.test(stderr)) resolve();
    });
    void exited.then(() => reject(new Error(`the CLI exited before training: ${stderr}`)));
  });
  process.kill(-(child.pid as number), 'SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /microsteer train: cancelled\n$/);
  assert.ok(!existsSync(out), 'no plane file');
});

test('generate streams the steered text; compare --json gives the same row in a batch, alpha 0 unsteered', () => {
  const sampling = ['--max-tokens', '8', '--seed', '11', '--temperature', '0.8', '--device', 'cpu'];
  const steered = cli('generate', '--model', model, '--plane', PLANE, '--alpha', '3', '--prompt', 'Once upon a time', ...sampling);
  assert.equal(steered.code, 0, steered.stderr);
  assert.ok(steered.stdout.length > 0);
  const compared = cli('compare', '--model', model, '--plane', PLANE, '--alphas', '0,3', '--prompt', 'Once upon a time', '--json', ...sampling);
  assert.equal(compared.code, 0, compared.stderr);
  const result = JSON.parse(compared.stdout);
  assert.equal(result.rows.length, 2);
  assert.deepEqual(Object.keys(result.rows[1]).sort(), ['stopReason', 'text', 'tokens']);
  assert.equal(result.rows[1].text, steered.stdout, 'the comparison row of alpha 3 equals its separate run');
  assert.equal(result.rows[1].tokens, 8);
  assert.notEqual(result.rows[0].text, result.rows[1].text, 'alpha 3 changes the text');
  const unsteered = cli('generate', '--model', model, '--prompt', 'Once upon a time', ...sampling);
  assert.equal(unsteered.code, 0, unsteered.stderr);
  assert.equal(unsteered.stdout, result.rows[0].text);
});

test('compare without a wide terminal shows the rows one after another, a header per alpha', () => {
  const run = cli('compare', '--model', model, '--plane', PLANE, '--alphas', '0,1.5,3', '--prompt', 'Hello', '--max-tokens', '3', '--device', 'cpu');
  assert.equal(run.code, 0, run.stderr);
  const headers = [...run.stdout.matchAll(/^== alpha (\S+) \((\d+) tokens, (\w+)\) ==$/gm)].map((m) => m[1]);
  assert.deepEqual(headers, ['0', '1.5', '3']);
});

test('generate and compare: bad input exits 2 with a clear message', () => {
  const expect = (args: string[], pattern: RegExp) => {
    const run = cli(...args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
  };
  const plane = JSON.parse(readFileSync(PLANE, 'utf8'));
  const foreign = path.join(base, 'foreign.json');
  writeFileSync(foreign, JSON.stringify({ ...plane, model: { ...plane.model, fingerprint: '0'.repeat(64) } }));
  expect(['generate', '--model', model, '--plane', foreign, '--alpha', '2', '--prompt', 'Hi'], /row 0's plane was trained on another model/);
  expect(['compare', '--model', model, '--plane', foreign, '--alphas', '1,2', '--prompt', 'Hi'], /row 0's plane was trained on another model/);
  expect(['generate', '--model', model, '--plane', path.join(base, 'missing.json'), '--alpha', '2', '--prompt', 'Hi'], /cannot read plane file .*missing\.json/);
  expect(['generate', '--model', model, '--plane', PLANE, '--alpha', 'Infinity', '--prompt', 'Hi'], /--alpha must be a finite number/);
  expect(['generate', '--model', model, '--plane', PLANE, '--prompt', 'Hi'], /missing required option --alpha/);
  expect(['generate', '--model', model, '--prompt', 'Hi', '--top-k=-1'], /--top-k must be an integer/);
  expect(['generate', '--model', path.join(base, 'nowhere'), '--prompt', 'Hi'], /model folder .*nowhere does not exist/);
  expect(['compare', '--model', model, '--plane', PLANE, '--alphas', '1,x', '--prompt', 'Hi'], /--alphas entry must be a finite number, got "x"/);
});
