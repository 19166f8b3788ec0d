/**
 * `microsteer meandiff`, `layers`, `compare-states`, `ablate` and the vector options of `generate` and
 * `compare` as a user runs them (the bundled CLI in a child process, on the tiny model): the files they
 * write, their JSON against the same computation in this process, and exit codes for bad input.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { decodeControlVector } from '../../../src/engine/gguf/controlVector';
import { compareHiddenStates } from '../../../src/engine/methods/hiddenStates';
import { layerDiagnostics } from '../../../src/engine/methods/layerDiagnostics';
import { meanDifference } from '../../../src/engine/methods/meanDifference';
import { parseMeanDifference } from '../../../src/engine/methods/vectorFile';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const SOURCE = ['The weather today is calm and mild.', 'A quiet morning by the lake.', 'We walked slowly home.'];
const TARGET = ['The storm tore the roof off!', 'Thunder cracked over the burning city!'];

const dir = testTempDir('methods-cli');
const sourceFile = path.join(dir, 'source.txt');
const targetFile = path.join(dir, 'target.json');
const vectorFile = path.join(dir, 'vector.json');
const ggufFile = path.join(dir, 'vector.gguf');
let model: string;
let runner: Gemma2Runner;
let tokenizer: Tokenizer;

before(async () => {
  model = await ensureTinyModel();
  runner = await Gemma2Runner.open(model, { device: 'cpu' });
  tokenizer = await loadTokenizer(model);
  writeFileSync(sourceFile, `${SOURCE.join('\n')}\n`);
  writeFileSync(targetFile, JSON.stringify(TARGET));
});
after(() => runner.release());

test('meandiff writes the vector record and a GGUF control vector of the same vectors (layer 0 left out)', async () => {
  const run = runCli(['meandiff', '--model', model, '--source', sourceFile, '--target', targetFile, '--position', 'mean', '--out', vectorFile, '--gguf', ggufFile, '--device', 'cpu', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual(summary.skipped, [0]);
  const written = parseMeanDifference(JSON.parse(readFileSync(vectorFile, 'utf8')), vectorFile, runner.folder.config);
  assert.deepEqual(written.record.settings, { position: 'mean', chatTemplate: false, sourceExamples: 3, targetExamples: 2 });
  assert.equal(written.record.model?.fingerprint, runner.folder.fingerprint);
  const expected = await meanDifference(runner, tokenizer, SOURCE, TARGET, { position: 'mean' });
  assert.deepEqual([...written.vectors.entries()], [...expected.vectors.entries()]);
  assert.deepEqual(
    summary.layers.map((l: { layer: number }) => l.layer),
    [0, 1, 2, 3],
  );
  const gguf = decodeControlVector(readFileSync(ggufFile), ggufFile);
  assert.deepEqual([...gguf.directions.entries()], [...written.vectors.entries()].slice(1));

  const imported = path.join(dir, 'imported.json');
  const back = runCli(['meandiff', '--import', ggufFile, '--out', imported]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual([...parseMeanDifference(JSON.parse(readFileSync(imported, 'utf8')), imported).vectors.entries()], [...gguf.directions.entries()]);
});

test('layers --json gives the diagnostics computed in this process; a set of one example exits with 2', async () => {
  const run = runCli(['layers', '--model', model, '--a', sourceFile, '--b', targetFile, '--layers', '1-3', '--device', 'cpu', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const expected = await layerDiagnostics(runner, tokenizer, SOURCE, TARGET, { layers: [1, 2, 3] });
  assert.deepEqual(JSON.parse(run.stdout), JSON.parse(JSON.stringify(expected)));
  const table = runCli(['layers', '--model', model, '--a', sourceFile, '--b', targetFile, '--device', 'cpu']);
  assert.match(table.stdout, new RegExp(`suggested steering layer: ${expected.suggestedLayer} `));

  const one = path.join(dir, 'one.txt');
  writeFileSync(one, 'Just one.\n');
  const bad = runCli(['layers', '--model', model, '--a', one, '--b', targetFile, '--device', 'cpu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /at least 2 examples per set/);
});

test('compare-states --json gives the comparison computed in this process', async () => {
  const run = runCli(['compare-states', '--model', model, '--prompt-a', 'I live in Paris', '--prompt-b', 'I live in Xanadu', '--token-a=-1', '--token-b', '4', '--device', 'cpu', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const expected = await compareHiddenStates(runner, tokenizer, { promptA: 'I live in Paris', promptB: 'I live in Xanadu', tokenA: -1, tokenB: 4 });
  assert.deepEqual(JSON.parse(run.stdout), JSON.parse(JSON.stringify(expected)));
  const bad = runCli(['compare-states', '--model', model, '--prompt-a', 'a', '--prompt-b', 'b', '--token-a', '0', '--token-b', '0', '--alpha', '2']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--alpha and --plane-at need --plane/);
});

test('compare --vector runs one row per coefficient (0 is the unsteered model), ablate runs without and with the ablation', () => {
  const sampling = ['--prompt', 'Once upon a time', '--max-tokens', '4', '--temperature', '0', '--device', 'cpu', '--json'];
  const compared = runCli(['compare', '--model', model, '--vector', vectorFile, '--coefficients', '0,2', '--vector-layers', '1-2', ...sampling]);
  assert.equal(compared.code, 0, compared.stderr);
  const rows = JSON.parse(compared.stdout).rows;
  assert.equal(rows.length, 2);
  const plain = runCli(['generate', '--model', model, ...sampling.filter((a) => a !== '--json')]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(rows[0].text, plain.stdout);

  const ablated = runCli(['ablate', '--model', model, '--vector', ggufFile, '--from', '2', '--layers', 'all', ...sampling]);
  assert.equal(ablated.code, 0, ablated.stderr);
  assert.equal(JSON.parse(ablated.stdout).rows[0].text, plain.stdout);
});

test('vector options without their partner are input errors (exit 2)', () => {
  const base = ['--model', model, '--prompt', 'Hi'];
  const cases: [string[], RegExp][] = [
    [['generate', ...base, '--coefficient', '2'], /--coefficient needs --vector/],
    [['generate', ...base, '--vector', vectorFile], /--vector needs --coefficient/],
    [['generate', ...base, '--vector', vectorFile, '--coefficient', '1', '--vector-layers', '9'], /no vector for layer 9/],
    [['compare', ...base, '--vector', vectorFile, '--coefficients', '1', '--alphas', '1'], /either alphas of --plane or coefficients of --vector/],
    [['generate', ...base, '--ablate-layers', '2'], /--ablate-layers and --ablate-from need --ablate/],
    [['generate', ...base, '--vector', vectorFile, '--coefficient', '1', '--vector-layers', '3-1'], /the range 3-1 runs backwards/],
  ];
  for (const [args, pattern] of cases) {
    const run = runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
  }
});
