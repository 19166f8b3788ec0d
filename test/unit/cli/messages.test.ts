/**
 * Issue 11, class 7: what the CLI says. An error is one line (a stack trace only with --verbose or
 * MICROSTEER_DEBUG=1, and then once), bytes from files never reach the terminal as control codes,
 * negative numbers are option values (`--alpha -1`), and integers are plain digits (not 0x10 or 1e3).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { encodePlaneVector } from '../../../src/engine/plane';
import { CLI, runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { childOf } from '../../fixtures/processes';
import { modelVariant } from '../../fixtures/modelVariant';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('messages');
const IDS = '2,651,6097,3290,611';
let model: string;
let plane: string;

before(async () => {
  model = await ensureTinyModel();
  plane = path.join(base, 'plane.json');
  const n = new Float32Array(64);
  n[3] = 1;
  fs.writeFileSync(plane, JSON.stringify({ layer: 2, n: encodePlaneVector(n), b: 0.2 }));
});

test('a negative number after a space is the option\'s value: --alpha -1, --max-tokens -1, --top-k -2', () => {
  const negative = runCli(['forward', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', '-1', '--json']);
  assert.equal(negative.code, 0, negative.stderr);
  const same = runCli(['forward', '--model', model, '--ids', IDS, '--plane', plane, '--alpha=-1', '--json']);
  assert.equal(negative.stdout, same.stdout);
  for (const [flag, value, message] of [
    ['--max-tokens', '-1', /--max-tokens must be an integer in \[1, Infinity\], got "-1"/],
    ['--top-k', '-2', /--top-k must be an integer in \[0, Infinity\], got "-2"/],
  ] as const) {
    const run = runCli(['generate', '--model', model, '--prompt', 'Hi', flag, value]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /ambiguous/);
  }
});

test('integers are plain digits: 0x10, 1e3, 1.0 and blank are refused', () => {
  for (const value of ['0x10', '1e3', '1.0', ' ', '0b11']) {
    const run = runCli(['generate', '--model', model, '--prompt', 'Hi', '--max-tokens', value]);
    assert.equal(run.code, 2, `${JSON.stringify(value)}: ${run.stderr}`);
    assert.match(run.stderr, /--max-tokens must be (an integer|a finite number)/);
  }
  const hex = runCli(['forward', '--model', model, '--ids', '2,0x10', '--json']);
  assert.equal(hex.code, 2);
  assert.match(hex.stderr, /--ids entry must be .*, got "0x10"/);
  const hexAlpha = runCli(['forward', '--model', model, '--ids', IDS, '--plane', plane, '--alpha', '0x1', '--json']);
  assert.equal(hexAlpha.code, 2);
  assert.match(hexAlpha.stderr, /--alpha must be a finite number, got "0x1"/);
});

test('terminal escape codes from a file are shown as escapes, on one line', () => {
  const hostile = path.join(base, 'hostile.json');
  fs.writeFileSync(hostile, '\u001b[2J\u001b]0;owned\u0007{"layer"\n: 2');
  const run = runCli(['forward', '--model', model, '--ids', IDS, '--plane', hostile, '--alpha', '1', '--json']);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /not valid JSON/);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(run.stderr, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no control byte but the final newline');
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
});

test('a config.json whose architecture holds escape codes is refused, not printed', () => {
  const dir = modelVariant(model, path.join(base, 'escaping-model'), { 'config.json': { architectures: ['\u001b[2JGemma2ForCausalLM'] } });
  const run = runCli(['info', '--model', dir]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /architectures\[0\] holds control characters/);
  assert.ok(!run.stdout.includes('\u001b') && !run.stderr.includes('\u001b'));
});

/** The CLI generating for long, with its engine killed as the OOM killer would; resolves with its exit code and stderr. */
async function killedEngine(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'generate', '--model', model, '--prompt', 'Once upon a time', '--max-tokens', '8000', '--device', 'cpu', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`the CLI exited (${code}) before generating: ${stderr}`)));
  });
  const engine = childOf(child.pid as number);
  assert.ok(engine, 'the engine is a child of the CLI');
  process.kill(engine as number, 'SIGKILL');
  return { code: await exited, stderr };
}

test('a killed engine: exit 1 and one line saying so, without a stack; --verbose adds the stack once', { timeout: 60_000 }, async () => {
  const plain = await killedEngine([]);
  assert.equal(plain.code, 1, plain.stderr);
  const lines = plain.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, plain.stderr);
  assert.match(lines[0], /^microsteer generate: the Micro Steer engine process exited unexpectedly \(code null, signal SIGKILL\); .*out of memory \(run with --verbose for details\)$/);

  const verbose = await killedEngine(['--verbose']);
  assert.equal(verbose.code, 1, verbose.stderr);
  assert.match(verbose.stderr, /^\s+at /m, 'a stack with --verbose');
  assert.equal(verbose.stderr.split('exited unexpectedly').length - 1, 2, 'the message, then the stack that repeats it: no second copy from the engine');
});
