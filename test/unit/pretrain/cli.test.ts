/**
 * `microsteer pretrain` as a user runs it: bad options are exit 2 with a message, Ctrl-C saves a
 * checkpoint and exits 130, and --resume finishes the run into a model folder the other commands load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';

const dir = testTempDir('pretrain-cli');
const corpus = path.join(dir, 'notes.txt');
writeFileSync(
  corpus,
  Array.from({ length: 80 }, (_, i) => `Note ${i}: the ${['red', 'green', 'blue'][i % 3]} box is on the ${['left', 'right'][i % 2]} shelf.`).join('\n\n'),
);
const SMALL = ['--layers', '2', '--hidden', '32', '--heads', '2', '--kv-heads', '1', '--head-dim', '16', '--intermediate', '64', '--sliding-window', '8', '--vocab', '300', '--context', '32', '--batch-tokens', '128', '--threads', '1', '--device', 'cpu'];

test('bad options are input errors (exit 2) that say what is wrong', () => {
  const out = path.join(dir, 'bad');
  for (const [args, message] of [
    [['--out', out], /--corpus/],
    [['--corpus', corpus, '--out', out, '--heads', '3', '--kv-heads', '2'], /multiple of kv-heads/],
    [['--corpus', corpus, '--out', out, '--vocab', '100'], /vocab must be at least/],
    [['--corpus', path.join(dir, 'missing.txt'), '--out', out], /does not exist/],
    [['--corpus', corpus, '--out', out, '--resume', '--force'], /not both/],
    [['--corpus', corpus, '--out', out, '--layers', '100000'], /MICROSTEER_MAX_LAYERS/],
  ] as const) {
    const r = runCli(['pretrain', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('Ctrl-C checkpoints and exits 130; --resume finishes a model that generate loads', async () => {
  const out = path.join(dir, 'model');
  const child = spawn(process.execPath, [CLI, 'pretrain', '--corpus', corpus, '--out', out, ...SMALL, '--steps', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let interrupted = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!interrupted && /step\s+1\//.test(stderr)) {
      interrupted = true; // once: a second Ctrl-C quits without the checkpoint
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /--resume/);
  assert.ok(existsSync(path.join(out, 'checkpoint', 'state.json')), 'a checkpoint was saved');

  const again = runCli(['pretrain', '--corpus', corpus, '--out', out, ...SMALL, '--steps', '100000']);
  assert.equal(again.code, 2, 'a fresh start over an unfinished run is refused');
  assert.match(again.stderr, /--resume/);

  const resumed = runCli(['pretrain', '--corpus', corpus, '--out', out, '--resume', '--steps', '30', '--threads', '1', '--device', 'cpu']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /held bpc/);
  assert.ok(!existsSync(path.join(out, 'checkpoint')), 'the checkpoint is removed once the model is written');
  const gen = runCli(['generate', '--model', out, '--prompt', 'Note 3: the', '--max-tokens', '8', '--seed', '1']);
  assert.equal(gen.code, 0, gen.stderr);
});
