/**
 * Planes in the settings, in a real extension host: malformed entries are skipped and reported once by
 * name; selecting, renaming, deleting, exporting and importing change only their own entry (malformed
 * neighbours included) and the file round trip keeps the record exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { ModelSummary, PlaneRecord } from '../../src/protocol';
import { activateExtension, clearSuiteSettings, planeFor, readSettingsFile, recordMessages, setWorkspaceSettings, useTinyModel } from './support';


suite('Steering planes in the settings', () => {
  let api: MicroSteerApi;
  let model: ModelSummary;
  let tmp: string;
  /** Entries that must be skipped: a record whose offset is not a number, and a number. */
  let malformed: Record<string, unknown>;

  const storedPlanes = () => readSettingsFile()['microSteer.planes'] as Record<string, unknown>;

  suiteSetup(async () => {
    api = await activateExtension();
    model = await useTinyModel();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-planes-'));
    malformed = { 'bad offset': { ...planeFor(model), b: 'high' }, 'not a plane': 42 };
  });

  suiteTeardown(async () => {
    await clearSuiteSettings();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('malformed planes are skipped and reported once, by name', async () => {
    const shown = recordMessages();
    try {
      await setWorkspaceSettings({ planes: { good: planeFor(model), ...malformed } });
      const first = api.planes();
      const second = api.planes();
      assert.deepEqual(first.names, ['good']);
      assert.deepEqual(
        first.skipped.map((s) => s.name),
        ['bad offset', 'not a plane'],
      );
      assert.deepEqual(second, first);
      assert.match(first.skipped[0].reason, /"b" must be a finite number/);
    } finally {
      shown.restore();
    }
    const warnings = shown.messages.filter((m) => m.level === 'warning');
    assert.equal(warnings.length, 1, `expected one warning, got: ${JSON.stringify(shown.messages)}`);
    assert.match(warnings[0].text, /"bad offset"/);
    assert.match(warnings[0].text, /"not a plane"/);
  });

  test('a malformed active plane shows in the status, and selecting a good one fixes it', async () => {
    await setWorkspaceSettings({ activePlane: 'bad offset' });
    assert.equal(api.status().plane, 'bad offset');
    assert.match(api.status().planeProblem ?? '', /malformed/);
    assert.equal(await vscode.commands.executeCommand('microSteer.selectPlane', 'good'), 'good');
    assert.equal(readSettingsFile()['microSteer.activePlane'], 'good');
    assert.equal(api.status().planeProblem, undefined);
  });

  test('export then import round-trips the record; the malformed neighbours stay untouched', async () => {
    const file = path.join(tmp, 'good.plane.json');
    const exported = await vscode.commands.executeCommand<vscode.Uri | undefined>('microSteer.exportPlane', 'good', file);
    assert.equal(exported?.fsPath, file);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), storedPlanes().good);

    assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', file, 'imported'), 'imported');
    const planes = storedPlanes();
    assert.deepEqual(planes.imported, planes.good);
    assert.deepEqual(planes['bad offset'], malformed['bad offset']);
    assert.deepEqual(planes['not a plane'], malformed['not a plane']);
    assert.equal(readSettingsFile()['microSteer.activePlane'], 'imported');
  });

  test('a malformed plane file is refused and nothing is stored', async () => {
    const file = path.join(tmp, 'broken.plane.json');
    fs.writeFileSync(file, JSON.stringify({ ...planeFor(model), lossHistory: 'none' }));
    const before = storedPlanes();
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', file, 'broken'), undefined);
    } finally {
      shown.restore();
    }
    assert.deepEqual(storedPlanes(), before);
    assert.match(shown.messages.find((m) => m.level === 'error')?.text ?? '', /broken\.plane\.json: "lossHistory" must be an array of finite numbers/);
  });

  test('issue 11: a plane file over the size limit is refused before it is read, and a reserved name before anything is stored', async () => {
    const big = path.join(tmp, 'big.plane.json');
    fs.writeFileSync(big, ' '.repeat(17 * 1024 * 1024));
    const before = storedPlanes();
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', big, 'big'), undefined);
      const good = path.join(tmp, 'good-again.plane.json');
      fs.writeFileSync(good, JSON.stringify(planeFor(model)));
      assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', good, '__proto__'), undefined);
    } finally {
      shown.restore();
      fs.rmSync(big);
    }
    assert.deepEqual(storedPlanes(), before);
    const errors = shown.messages.filter((m) => m.level === 'error').map((m) => m.text);
    assert.ok(errors.some((t) => /big\.plane\.json is 17825792, over the limit of 16777216 bytes \(set MICROSTEER_MAX_FILE_BYTES/.test(t)), errors.join('\n'));
    assert.ok(errors.some((t) => /every settings object already has/.test(t)), errors.join('\n'));
  });

  test('rename and delete change one entry; the active plane follows a rename', async () => {
    const before = storedPlanes();
    assert.equal(await vscode.commands.executeCommand('microSteer.renamePlane', 'imported', 'renamed'), 'renamed');
    let planes = storedPlanes();
    assert.deepEqual(planes.renamed, before.imported);
    assert.equal(planes.imported, undefined);
    assert.equal(readSettingsFile()['microSteer.activePlane'], 'renamed');

    assert.equal(await vscode.commands.executeCommand('microSteer.deletePlane', 'renamed'), true);
    planes = storedPlanes();
    assert.deepEqual(Object.keys(planes).sort(), ['bad offset', 'good', 'not a plane']);
    assert.deepEqual(planes.good, before.good);
    assert.equal(readSettingsFile()['microSteer.activePlane'], undefined, 'deleting the active plane leaves it set');
  });

  test('a plane from another model is listed but refused when used', async () => {
    const foreign: PlaneRecord = planeFor({ ...model, hiddenSize: model.hiddenSize * 2 });
    await setWorkspaceSettings({ planes: { ...storedPlanes(), foreign }, activePlane: 'foreign' });
    assert.ok(api.planes().names.includes('foreign'));
    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content: 'Once there was' }));
    editor.selection = new vscode.Selection(0, 14, 0, 14);
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.generateAtCursor', { maxNewTokens: 2 }), undefined);
    } finally {
      shown.restore();
    }
    assert.match(shown.messages.find((m) => m.level === 'error')?.text ?? '', /plane "foreign" was trained on another model \(hidden size \d+/);
  });
});
