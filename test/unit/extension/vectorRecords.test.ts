/** The vectors setting: valid records read, malformed entries skipped by name, and the model check at use. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import { checkVectorModel, readVectorTable } from '../../../src/extension/vectorRecords';
import type { ModelSummary } from '../../../src/protocol';

/** Base64 of little-endian float32s, written out here. */
function floats(values: number[]): string {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b.toString('base64');
}

const MODEL = { hiddenSize: 2, numHiddenLayers: 3, fingerprint: 'abc', dir: '/m' } as ModelSummary;
const good = { kind: 'meanDifference', layers: [1, 2], vectors: [floats([1, 2]), floats([3, 4])], model: { hiddenSize: 2, numHiddenLayers: 3, fingerprint: 'abc' }, createdAt: '2025-01-01T00:00:00Z' };

test('valid records are read with their vectors; malformed ones are reported by name', () => {
  const table = readVectorTable({ good, 'bad kind': { ...good, kind: 'plane' }, 'one short': { ...good, vectors: [floats([1, 2])] }, number: 3 });
  assert.deepEqual([...table.vectors.keys()], ['good']);
  assert.deepEqual([...table.vectors.get('good')!.vectors.get(2)!], [3, 4]);
  assert.deepEqual(table.rejected.map((r) => r.name), ['bad kind', 'one short', 'number']);
  assert.match(table.rejected[0].reason, /vector "bad kind".*"kind"/);
  assert.deepEqual(readVectorTable(undefined), { vectors: new Map(), rejected: [] });
  assert.equal(readVectorTable([1]).rejected[0].name, '(all)');
});

test('a vector from another model is refused when used; an imported one must fit the model', () => {
  const vectors = readVectorTable({ good }).vectors.get('good')!;
  checkVectorModel('good', vectors, MODEL);
  assert.throws(() => checkVectorModel('good', vectors, { ...MODEL, fingerprint: 'other' }), (e: Error) => e instanceof InputError && /vector "good" was computed on another model/.test(e.message));
  const imported: Record<string, unknown> = { ...good };
  delete imported.model;
  const wide = readVectorTable({ imported: { ...imported, vectors: [floats([1, 2, 3]), floats([4, 5, 6])] } }).vectors.get('imported')!;
  assert.throws(() => checkVectorModel('imported', wide, MODEL), /expected 2/);
  const deep = readVectorTable({ deep: { ...imported, layers: [1, 5] } }).vectors.get('deep')!;
  assert.throws(() => checkVectorModel('deep', deep, MODEL), /layer 5 is outside/);
  checkVectorModel('fits', readVectorTable({ fits: imported }).vectors.get('fits')!, MODEL);
});
