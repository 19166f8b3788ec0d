/**
 * `microsteer info` and `microsteer tiny-model` as a user runs them: the bundled CLI (dist/cli.js, made by
 * `npm run build`) in a child process, checking output and exit codes (0 ok, 2 bad input).
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { runCli } from '../../fixtures/cli';

const base = testTempDir('cli');

const cli = (...args: string[]) => runCli(args, { timeoutMs: 60_000 });

test('info prints the summary table, or JSON with --json', async () => {
  const dir = await ensureTinyModel();
  const table = cli('info', '--model', dir);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /architecture\s+Gemma2ForCausalLM/);
  assert.match(table.stdout, /layers\s+4\n/);
  assert.match(table.stdout, /default hook layer\s+2 /);
  const json = cli('info', '--model', dir, '--json');
  assert.equal(json.code, 0, json.stderr);
  const summary = JSON.parse(json.stdout);
  assert.equal(summary.dir, dir);
  assert.equal(summary.numHiddenLayers, 4);
  assert.equal(summary.hiddenSize, 64);
  assert.deepEqual(summary.dtypes, ['F32']);
});

test('info on an unusable folder exits 2 and says what is wrong', () => {
  const missing = cli('info', '--model', path.join(base, 'nowhere'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /microsteer info: model folder .*nowhere does not exist/);
  const empty = cli('info', '--model', base);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /missing config\.json, tokenizer\.json, tokenizer_config\.json, the weights/);
  const noFlag = cli('info');
  assert.equal(noFlag.code, 2);
  assert.match(noFlag.stderr, /missing required option --model/);
  assert.equal(cli('info', '--model', base, '--bogus').code, 2);
});

test('tiny-model writes a folder that info accepts; bad options exit 2', () => {
  const out = path.join(base, 'tiny');
  const args = ['--layers', '2', '--hidden', '8', '--heads', '2', '--kv-heads', '1', '--head-dim', '4', '--intermediate', '16'];
  const written = cli('tiny-model', '--out', out, '--dtype', 'bf16', '--seed', '3', ...args);
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /Gemma2ForCausalLM, 2 layers, hidden 8, .* BF16/);
  const info = JSON.parse(cli('info', '--model', out, '--json').stdout);
  assert.deepEqual([info.numHiddenLayers, info.hiddenSize, info.dtypes], [2, 8, ['BF16']]);

  assert.equal(cli('tiny-model', '--out', out, ...args).code, 2, 'a non-empty folder needs --force');
  assert.equal(cli('tiny-model', '--out', out, '--force', ...args).code, 0);
  const badDtype = cli('tiny-model', '--out', path.join(base, 'x'), '--dtype', 'f64');
  assert.equal(badDtype.code, 2);
  assert.match(badDtype.stderr, /--dtype must be f32, bf16 or f16/);
  assert.equal(cli('tiny-model', '--out', path.join(base, 'y'), '--heads', 'four').code, 2);
  assert.equal(cli('tiny-model', '--out', path.join(base, 'z'), '--heads', '3', '--kv-heads', '2').code, 2);
  assert.equal(cli('tiny-model').code, 2);
  rmSync(out, { recursive: true });
});
