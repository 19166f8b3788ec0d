/**
 * The compile cache: the graph file is written next to the weights and reused while the graph is
 * the same; a different graph or key gives a different file; a read-only model folder keeps the
 * file in the cache folder and the session still reads the weights from the model folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { compileGraph } from '../../../src/engine/onnx/compileCache';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import type { TensorLocation } from '../../../src/engine/model/types';
import { createSession, runSession } from '../../../src/engine/runtime/session';

const WEIGHTS = [1.25, -3, 0.5, 8];

/** A model folder with one raw F32 weight file (the cache does not care about the file format). */
function modelFolder(): { dir: string; loc: TensorLocation } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-cache-'));
  const file = path.join(dir, 'weights.bin');
  fs.writeFileSync(file, Buffer.concat([Buffer.alloc(24, 0xee), Buffer.from(Float32Array.from(WEIGHTS).buffer)]));
  return { dir, loc: { name: 'w', dtype: 'F32', shape: [4], file, offset: 24, byteLength: 16 } };
}

function graph(loc: TensorLocation, scale: number): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [4]);
  g.output('y', op.mul(op.add(x, g.weight(loc)), scale));
  return g;
}

async function runY(source: Parameters<typeof createSession>[0]): Promise<number[]> {
  const { session } = await createSession(source, { device: 'cpu' });
  try {
    const out = await runSession(session, { x: { dtype: 'float32', data: new Float32Array(4), dims: [4] } });
    return Array.from(out.y.data as Float32Array);
  } finally {
    await session.release();
  }
}

test('written next to the weights, reused for the same graph, a new file for another graph or key', async () => {
  const { dir, loc } = modelFolder();
  try {
    const first = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward', cacheDir: path.join(dir, 'unused-cache') });
    assert.equal(first.reused, false);
    assert.equal(first.inCacheFolder, false);
    assert.equal(path.dirname(first.file), path.resolve(dir));
    assert.match(path.basename(first.file), /^microsteer-forward-[0-9a-f]{16}\.onnx$/);
    const mtime = fs.statSync(first.file).mtimeMs;
    assert.deepEqual(await runY(first.source), WEIGHTS.map((w) => 2 * w));

    const again = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward' });
    assert.equal(again.reused, true);
    assert.equal(again.file, first.file);
    assert.equal(fs.statSync(again.file).mtimeMs, mtime);

    const train = compileGraph(graph(loc, 5), { modelDir: dir, name: 'train' });
    const other = compileGraph(graph(loc, 3), { modelDir: dir, name: 'forward' });
    assert.notEqual(other.file, first.file);
    assert.equal(other.reused, false);
    assert.ok(!fs.existsSync(first.file), "a new compile of a role removes that role's stale file");
    assert.ok(fs.existsSync(train.file), "another role's file stays");
    const keyed = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward', key: 'config-v2' });
    assert.notEqual(keyed.file, first.file);
    assert.ok(!fs.existsSync(path.join(dir, 'unused-cache')), 'the cache folder is not touched while the model folder is writable');

    // A damaged file with the right name is rewritten, not trusted.
    fs.writeFileSync(first.file, 'truncated');
    const repaired = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward' });
    assert.equal(repaired.reused, false);
    assert.deepEqual(await runY(repaired.source), WEIGHTS.map((w) => 2 * w));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Runs compileGraph in a child process that cannot write to the model folder: as the user nobody
 * when the tests run as root (root writes anywhere), else after chmod 555.
 */
function compileReadOnly(dir: string, loc: TensorLocation, cacheHome: string): { inCacheFolder: boolean; reused: boolean; file: string; y: number[] } {
  const out = path.resolve(__dirname, '../../../src/engine');
  const script = `
    const { compileGraph } = require(${JSON.stringify(path.join(out, 'onnx/compileCache'))});
    const { GraphBuilder } = require(${JSON.stringify(path.join(out, 'onnx/graph'))});
    const op = require(${JSON.stringify(path.join(out, 'onnx/ops'))});
    const { createSession, runSession } = require(${JSON.stringify(path.join(out, 'runtime/session'))});
    (async () => {
      const g = new GraphBuilder();
      const x = g.input('x', 'float32', [4]);
      g.output('y', op.mul(op.add(x, g.weight(${JSON.stringify(loc)})), 2));
      const c = compileGraph(g, { modelDir: ${JSON.stringify(dir)}, name: 'forward' });
      const { session } = await createSession(c.source, { device: 'cpu' });
      const r = await runSession(session, { x: { dtype: 'float32', data: new Float32Array(4), dims: [4] } });
      process.stdout.write(JSON.stringify({ inCacheFolder: c.inCacheFolder, reused: c.reused, file: c.file, y: Array.from(r.y.data) }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const asRoot = process.getuid?.() === 0;
  const res = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: cacheHome },
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  assert.equal(res.status, 0, `child failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

test('a read-only model folder: the graph goes to the cache folder, weights still come from the model folder', async () => {
  const { dir, loc } = modelFolder();
  const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-xdg-'));
  try {
    fs.chmodSync(dir, 0o555);
    fs.chmodSync(cacheHome, 0o777);
    const first = compileReadOnly(dir, loc, cacheHome);
    assert.equal(first.inCacheFolder, true);
    assert.equal(first.reused, false);
    assert.equal(path.dirname(first.file), path.join(cacheHome, 'microsteer', 'graphs'));
    assert.deepEqual(first.y, WEIGHTS.map((w) => 2 * w));
    assert.deepEqual(fs.readdirSync(dir), ['weights.bin'], 'nothing written into the model folder');
    const second = compileReadOnly(dir, loc, cacheHome);
    assert.equal(second.reused, true);
    assert.equal(second.file, first.file);
    assert.deepEqual(second.y, first.y);
  } finally {
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(cacheHome, { recursive: true, force: true });
  }
});

test('a link planted at the temporary name the cache once used (<graph>.<pid>.tmp) is not followed', () => {
  const { dir, loc } = modelFolder();
  try {
    const first = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward' });
    fs.rmSync(first.file);
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, `${first.file}.${process.pid}.tmp`);
    const again = compileGraph(graph(loc, 2), { modelDir: dir, name: 'forward' });
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
    assert.equal(again.file, first.file);
    assert.ok(fs.statSync(again.file).size > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
