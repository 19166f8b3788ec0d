import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordFolder } from '../../../src/extension/recordFolder';

const PARTS = ['.vscode', 'microsteer', 'planes'];

function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-records-'));
}

const named = (file: string) => (taken: (f: string) => boolean) => {
  let name = file;
  for (let i = 2; taken(name); i++) name = file.replace(/\.json$/, `-${i}.json`);
  return name;
};

test('create makes the folders, writes a new file, and never replaces one', () => {
  const root = tempRoot();
  try {
    const folder = new RecordFolder(root, PARTS);
    assert.equal(folder.create(named('p.json'), '{"a":1}\n'), 'p.json');
    assert.equal(fs.readFileSync(path.join(root, ...PARTS, 'p.json'), 'utf8'), '{"a":1}\n');
    assert.equal(folder.create(named('p.json'), '{"a":2}\n'), 'p-2.json');
    assert.equal(folder.read('p.json'), '{"a":1}\n');
    assert.equal(folder.read('p-2.json'), '{"a":2}\n');
    assert.deepEqual(fs.readdirSync(folder.dir).sort(), ['p-2.json', 'p.json'], 'no temporary file is left');
    folder.remove('p.json');
    folder.remove('p.json');
    assert.deepEqual(fs.readdirSync(folder.dir), ['p-2.json']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a missing file or folder reads as "is missing"; a folder is not a file', () => {
  const root = tempRoot();
  try {
    const folder = new RecordFolder(root, PARTS);
    assert.throws(() => folder.read('p.json'), /^Error: is missing/);
    fs.mkdirSync(path.join(root, ...PARTS), { recursive: true });
    assert.throws(() => folder.read('p.json'), /^Error: is missing/);
    fs.mkdirSync(path.join(folder.dir, 'd.json'));
    assert.throws(() => folder.read('d.json'), /is not a file/);
    assert.equal(folder.describe('p.json'), '.vscode/microsteer/planes/p.json');
    assert.equal(new RecordFolder(root, ['planes'], false).describe('p.json'), path.join(root, 'planes', 'p.json'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('planted links are never followed: not a linked file, not a linked folder on the way', { skip: process.platform === 'win32' }, () => {
  const root = tempRoot();
  const elsewhere = tempRoot();
  try {
    const folder = new RecordFolder(root, PARTS);
    fs.mkdirSync(path.join(root, ...PARTS), { recursive: true });
    fs.writeFileSync(path.join(elsewhere, 'secret.json'), '{"secret":true}');
    fs.symlinkSync(path.join(elsewhere, 'secret.json'), path.join(folder.dir, 'link.json'));
    assert.throws(() => folder.read('link.json'), /is a symbolic link, which Micro Steer does not follow/);
    // Removing a planted link removes the link, never its target.
    folder.remove('link.json');
    assert.ok(fs.existsSync(path.join(elsewhere, 'secret.json')));
    // A link planted where a new file goes is not written through.
    fs.symlinkSync(path.join(elsewhere, 'target.json'), path.join(folder.dir, 'p.json'));
    assert.equal(folder.create(named('p.json'), '{}'), 'p-2.json');
    assert.equal(fs.existsSync(path.join(elsewhere, 'target.json')), false);

    // The microsteer folder itself a link: nothing is read, written or removed through it.
    const linked = tempRoot();
    fs.mkdirSync(path.join(linked, '.vscode'));
    fs.mkdirSync(path.join(elsewhere, 'planes'));
    fs.writeFileSync(path.join(elsewhere, 'planes', 'q.json'), '{}');
    fs.symlinkSync(elsewhere, path.join(linked, '.vscode', 'microsteer'));
    const through = new RecordFolder(linked, PARTS);
    assert.throws(() => through.read('q.json'), /cannot be read: \.vscode\/microsteer is a symbolic link/);
    assert.throws(() => through.create(named('n.json'), '{}'), /cannot keep plane records in \.vscode\/microsteer\/planes\/: \.vscode\/microsteer is a symbolic link/);
    through.remove('q.json');
    assert.ok(fs.existsSync(path.join(elsewhere, 'planes', 'q.json')));
    assert.equal(fs.existsSync(path.join(elsewhere, 'planes', 'n.json')), false);
    fs.rmSync(linked, { recursive: true, force: true });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('a record file over the size limit is refused before it is read', () => {
  const root = tempRoot();
  try {
    const folder = new RecordFolder(root, PARTS);
    fs.mkdirSync(folder.dir, { recursive: true });
    const fd = fs.openSync(path.join(folder.dir, 'big.json'), 'w');
    fs.ftruncateSync(fd, 17 * 1024 * 1024);
    fs.closeSync(fd);
    assert.throws(() => folder.read('big.json'), /its size is 17825792, over the limit of 16777216 bytes \(set MICROSTEER_MAX_FILE_BYTES/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
