/**
 * Issue 11, classes 2 and 3: what `train` and `meandiff` write. The output is checked before any work
 * (never an input, a model file, a folder, or an existing file without --force), a failed final write
 * keeps the result elsewhere, and temporary files are created exclusively under fresh names, so a link
 * planted at the old predictable name is never followed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { checkOutputFile, saveOutputFile } from '../../../src/cli/outputFile';
import { writeWholeFile } from '../../../src/engine/wholeFile';
import { InputError } from '../../../src/engine/errors';
import { runCli } from '../../fixtures/cli';
import { testTempDir } from '../../fixtures/tempDir';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('outputs');
let model: string;

before(async () => {
  model = await ensureTinyModel();
});

const digest = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('train refuses, before training, to write over the weights, its examples, a folder, or an existing plane without --force', () => {
  const examples = path.join(base, 'examples.txt');
  fs.writeFileSync(examples, 'The cat sat on the mat.\nA dog ran.\n');
  const plane = path.join(base, 'existing.plane.json');
  fs.writeFileSync(plane, '{"keep": true}\n');
  const weights = path.join(model, 'model.safetensors');
  const before = { weights: digest(weights), examples: digest(examples) };
  const cases: [string, RegExp][] = [
    [weights, /is a file of the model folder/],
    [examples, /is the --examples file this command reads/],
    [base, /is a folder/],
    [plane, /exists: pass --force/],
  ];
  for (const [out, message] of cases) {
    const run = runCli(['train', '--model', model, '--examples', examples, '--steps', '1', '--device', 'cpu', '--out', out, '--force'].filter((a) => a !== '--force' || out !== plane));
    assert.equal(run.code, 2, `${out}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /step 1/, 'refused before the first step');
  }
  assert.equal(digest(weights), before.weights);
  assert.equal(digest(examples), before.examples);
  assert.equal(fs.readFileSync(plane, 'utf8'), '{"keep": true}\n');

  const forced = runCli(['train', '--model', model, '--examples', examples, '--steps', '1', '--device', 'cpu', '--out', plane, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(fs.readFileSync(plane, 'utf8')).training.steps, 1);
});

test('meandiff refuses its own source file and the same file for --out and --gguf', () => {
  const source = path.join(base, 'source.txt');
  fs.writeFileSync(source, 'one\n');
  const run = runCli(['meandiff', '--model', model, '--source', source, '--target', source, '--out', source]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /is the --source file this command reads/);
  const same = runCli(['meandiff', '--model', model, '--source', source, '--target', source, '--out', path.join(base, 'v'), '--gguf', path.join(base, 'v')]);
  assert.equal(same.code, 2, same.stderr);
  assert.match(same.stderr, /name the same file/);
  assert.equal(fs.readFileSync(source, 'utf8'), 'one\n');
});

test('a final write that fails keeps the result in a fresh temporary folder and says where', () => {
  const dir = path.join(base, 'goes-away');
  fs.mkdirSync(dir);
  const output = checkOutputFile(path.join(dir, 'plane.json'), '--out');
  fs.rmSync(dir, { recursive: true });
  assert.throws(
    () => saveOutputFile(output, '{"plane": 1}\n', 'plane'),
    (e: Error) => {
      const kept = /the plane is saved in (\S+) instead/.exec(e.message)?.[1];
      assert.ok(kept, e.message);
      assert.match(e.message, /^cannot write --out .*plane\.json \(ENOENT/);
      assert.equal(fs.readFileSync(kept, 'utf8'), '{"plane": 1}\n');
      fs.rmSync(path.dirname(kept), { recursive: true });
      return true;
    },
  );
});

test('without --force a file that appeared during the run is not replaced either', () => {
  const file = path.join(base, 'late.json');
  const output = checkOutputFile(file, '--out');
  fs.writeFileSync(file, 'theirs');
  assert.throws(() => saveOutputFile(output, 'ours', 'plane'), /EEXIST.*saved in/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'theirs');
});

test('checkOutputFile: a missing folder is an input error; a missing model folder is left to the model check', () => {
  assert.throws(() => checkOutputFile(path.join(base, 'nowhere', 'p.json'), '--out'), (e: unknown) => e instanceof InputError && /the folder .*nowhere does not exist/.test(e.message));
  const existing = path.join(base, 'replace-me.json');
  fs.writeFileSync(existing, '{}');
  assert.equal(checkOutputFile(existing, '--out', { force: true, modelDir: path.join(base, 'no-model') }).file, existing);
});

test('temporary files: a link planted at the old name <file>.<pid>.tmp is not followed, and none is left behind', () => {
  const victim = path.join(base, 'victim.txt');
  fs.writeFileSync(victim, 'precious');
  const target = path.join(base, 'written.bin');
  fs.symlinkSync(victim, `${target}.${process.pid}.tmp`);
  writeWholeFile(target, 'new bytes');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.equal(fs.readFileSync(target, 'utf8'), 'new bytes');
  // A link at the target itself is replaced, not written through.
  fs.rmSync(target);
  fs.symlinkSync(victim, target);
  writeWholeFile(target, 'again');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.ok(!fs.lstatSync(target).isSymbolicLink());
  assert.deepEqual(fs.readdirSync(base).filter((f) => f.endsWith('.tmp') && !f.includes(String(process.pid))), []);
});
