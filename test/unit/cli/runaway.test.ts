/**
 * Issue 11, class 5: a chat template that never ends is stopped by its time limit (exit 2), an engine
 * whose client dies exits even while its main thread is busy, and the first Ctrl-C ends the command
 * (exit 130) with its engine, whatever the engine is doing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { CLI, runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { childOf, isRunning } from '../../fixtures/processes';
import { modelVariant } from '../../fixtures/modelVariant';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('runaway');
const ENDLESS = '{% for i in range(100000) %}{% for j in range(100000) %}{{ "" }}{% endfor %}{% endfor %}';
let hostile: string;

before(async () => {
  const model = await ensureTinyModel();
  hostile = modelVariant(model, path.join(base, 'hostile-template'), { 'tokenizer_config.json': { chat_template: ENDLESS } });
});

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

/** `generate --chat` on the endless template, the render allowed a minute: the engine's main thread waits on it meanwhile. */
async function startEndless(): Promise<{ child: ChildProcess; engine: number; exited: Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'generate', '--model', hostile, '--prompt', 'Hi', '--chat', '--device', 'cpu'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MICROSTEER_TEMPLATE_MS: '60000' },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let engine: number | undefined;
  assert.ok(await until(() => (engine = childOf(child.pid as number)) !== undefined, 10_000), 'the engine started');
  // The model and tokenizer load in about 2 s; then the render holds the engine.
  await new Promise((r) => setTimeout(r, 5000));
  return { child, engine: engine as number, exited, stderr: () => stderr };
}

test('a chat template that never ends: exit 2 after the 2 s limit, naming it and its variable', { timeout: 60_000 }, () => {
  const started = Date.now();
  const run = runCli(['generate', '--model', hostile, '--prompt', 'Hi', '--chat', '--device', 'cpu'], { timeoutMs: 30_000 });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /chat template did not finish rendering within 2000 ms \(set MICROSTEER_TEMPLATE_MS to allow longer\)/);
  assert.ok(Date.now() - started < 20_000, `${Date.now() - started} ms`);
});

test('an engine whose client is killed mid-work exits within 3 s, though its main thread is busy', { timeout: 60_000 }, async () => {
  const { child, engine, exited } = await startEndless();
  try {
    assert.ok(isRunning(engine));
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
    assert.ok(await until(() => !isRunning(engine), 3000), 'the orphaned engine is gone');
  } finally {
    if (isRunning(engine)) process.kill(engine, 'SIGKILL');
  }
});

test('the first Ctrl-C ends a command whose engine is busy: exit 130 within the 3 s grace, engine gone', { timeout: 60_000 }, async () => {
  const { child, engine, exited, stderr } = await startEndless();
  try {
    const signalled = Date.now();
    process.kill(-(child.pid as number), 'SIGINT');
    assert.equal(await exited, 130, stderr());
    assert.ok(Date.now() - signalled < 5000, `${Date.now() - signalled} ms`);
    assert.match(stderr(), /microsteer generate: cancelled\n$/);
    assert.ok(await until(() => !isRunning(engine), 2000), 'the engine is gone');
  } finally {
    if (isRunning(engine)) process.kill(engine, 'SIGKILL');
  }
});
