import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import {
  filesNoLongerReferenced,
  parsePlaneEntry,
  recordFileName,
  recordFileNameProblem,
  recordFileText,
  splitPlaneRecord,
  type RecordFiles,
} from '../../../src/extension/planeLayout';
import { parsePlaneRecord, readPlaneTable } from '../../../src/extension/planeRecords';
import { base64Floats, RECORD } from './planeFixture';

/** Record files held in memory, as a folder would hold them. */
function filesOf(contents: Record<string, string>): RecordFiles {
  return {
    describe: (file) => `.vscode/microsteer/planes/${file}`,
    read: (file) => {
      if (!(file in contents)) throw new Error('is missing');
      return contents[file];
    },
  };
}

const rejects = (pattern: RegExp) => (e: unknown) => e instanceof InputError && pattern.test(e.message);

test('split then join gives the record back exactly: nothing stored inline is lost', () => {
  const { entry, training } = splitPlaneRecord(RECORD, 'p.json');
  assert.deepEqual(Object.keys(entry).sort(), ['b', 'layer', 'model', 'n', 'record']);
  assert.deepEqual(Object.keys(training).sort(), ['createdAt', 'finalLoss', 'initialLoss', 'lossHistory', 'training']);
  const joined = parsePlaneEntry(JSON.parse(JSON.stringify(entry)), 'p', filesOf({ 'p.json': recordFileText(training) }));
  assert.deepEqual(joined, RECORD);
  // The old layout, read the old way, is the same record.
  assert.deepEqual(parsePlaneEntry(JSON.parse(JSON.stringify(RECORD)), 'p', undefined), parsePlaneRecord(RECORD, 'x'));
});

test('the settings entry stays small when the loss history is long', () => {
  const long = { ...RECORD, lossHistory: Array.from({ length: 500 }, (_, i) => 10 / (i + 1) + Math.PI * 1e-9) };
  const { entry, training } = splitPlaneRecord(long, 'p.json');
  assert.ok(JSON.stringify(entry).length < 300, JSON.stringify(entry));
  assert.ok(recordFileText(training).length > 5000);
});

test('a missing or malformed record file is refused naming the plane and the file', () => {
  const { entry, training } = splitPlaneRecord(RECORD, 'p.json');
  assert.throws(() => parsePlaneEntry(entry, 'mine', filesOf({})), rejects(/^plane "mine": its record file \.vscode\/microsteer\/planes\/p\.json is missing/));
  assert.throws(() => parsePlaneEntry(entry, 'mine', filesOf({ 'p.json': '{"training": ' })), rejects(/^plane "mine": its record file .*p\.json is not valid JSON/));
  assert.throws(() => parsePlaneEntry(entry, 'mine', filesOf({ 'p.json': '[1]' })), rejects(/^plane "mine": its record file .*p\.json must hold a JSON object/));
  const bad = recordFileText({ ...training, lossHistory: ['x'] as unknown as number[] });
  assert.throws(() => parsePlaneEntry(entry, 'mine', filesOf({ 'p.json': bad })), rejects(/^plane "mine": its record file \.vscode\/microsteer\/planes\/p\.json: "lossHistory" must be an array/));
  assert.throws(() => parsePlaneEntry(entry, 'mine', undefined), rejects(/^plane "mine": its training record "p\.json" is in a file, and these settings have no folder/));
});

test('what steers comes from the settings entry only: a record file cannot change n, b, layer or model', () => {
  const { entry, training } = splitPlaneRecord(RECORD, 'p.json');
  const planted = JSON.stringify({ ...training, b: 0.9, layer: 0, n: base64Floats([1, 0, 0, 0]), model: { hiddenSize: 8, numHiddenLayers: 1, fingerprint: 'other' } });
  assert.deepEqual(parsePlaneEntry(entry, 'p', filesOf({ 'p.json': planted })), RECORD);
  // A bad entry is blamed on the entry, not the file.
  assert.throws(() => parsePlaneEntry({ ...entry, b: 'high' }, 'p', filesOf({ 'p.json': recordFileText(training) })), rejects(/^plane "p": "b" must be a finite number/));
  assert.throws(() => parsePlaneEntry({ ...entry, lossHistory: [1] }, 'p', filesOf({})), rejects(/"lossHistory" belong in its record file "p\.json", not in the settings/));
});

test('record names from the settings are plain file names in the folder', () => {
  for (const bad of [42, '', '../x.json', 'a/b.json', 'a\\b.json', '.hidden.json', 'x.txt', '.json', 'C:x.json', 'a\u0000.json', `${'a'.repeat(100)}.json`]) {
    assert.notEqual(recordFileNameProblem(bad), undefined, JSON.stringify(bad));
    assert.throws(() => parsePlaneEntry({ ...splitPlaneRecord(RECORD, 'p.json').entry, record: bad }, 'p', filesOf({})), rejects(/^plane "p": "record" /));
  }
  for (const good of ['p.json', 'shall i compare 2025-01-31.json', 'Été.JSON']) assert.equal(recordFileNameProblem(good), undefined, good);
});

test('file names come from the plane name, are valid, and avoid every taken name without case', () => {
  const none = () => false;
  assert.equal(recordFileName('shall-i-compare 2025-01-31', none), 'shall-i-compare 2025-01-31.json');
  assert.equal(recordFileName('../../etc/passwd', none), 'etc-passwd.json');
  assert.equal(recordFileName('a/b\\c:d*e', none), 'a-b-c-d-e.json');
  assert.equal(recordFileName('...', none), 'plane.json');
  assert.equal(recordFileName('nul', none), 'plane nul.json');
  const taken = new Set(['x.json', 'x-2.json']);
  assert.equal(recordFileName('X', (f) => taken.has(f.toLowerCase())), 'X-3.json');
  for (const name of ['../../etc/passwd', 'a/b', '.', ' spaced ', 'émoji 🎉', 'x'.repeat(80), 'con']) {
    assert.equal(recordFileNameProblem(recordFileName(name, none)), undefined, name);
  }
});

test('the files a change leaves unreferenced, and only those, can go', () => {
  const entry = (file: string) => splitPlaneRecord(RECORD, file).entry;
  const before = { a: entry('a.json'), b: entry('b.json'), old: RECORD, bad: { record: '../x.json' } };
  assert.deepEqual(filesNoLongerReferenced(before, { ...before, a: undefined }), ['a.json']);
  // Renamed: the new entry names a new file, the old one goes.
  assert.deepEqual(filesNoLongerReferenced(before, { b: entry('b.json'), c: entry('c.json') }), ['a.json']);
  // Another entry still naming the file (in any case) keeps it; an invalid name is never offered for removal.
  assert.deepEqual(filesNoLongerReferenced(before, { b: entry('A.json') }), ['b.json']);
  assert.deepEqual(filesNoLongerReferenced({ bad: { record: '../x.json' } }, {}), []);
});

test('a table of both layouts: the good planes load, each bad one is reported by name with its file', () => {
  const { entry, training } = splitPlaneRecord(RECORD, 'new.json');
  const files = filesOf({ 'new.json': recordFileText(training) });
  const table = readPlaneTable({ new: entry, old: RECORD, lost: { ...entry, record: 'lost.json' } }, (e, name) => parsePlaneEntry(e, name, files));
  assert.deepEqual([...table.planes.keys()], ['new', 'old']);
  assert.deepEqual(table.planes.get('new'), table.planes.get('old'));
  assert.deepEqual(table.rejected.map((r) => r.name), ['lost']);
  assert.match(table.rejected[0].reason, /plane "lost": its record file \.vscode\/microsteer\/planes\/lost\.json is missing/);
});
