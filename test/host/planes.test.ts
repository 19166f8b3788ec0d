/**
 * Planes in the settings, in a real extension host: malformed entries are skipped and reported once by
 * name; selecting, renaming, deleting, exporting and importing change only their own entry (malformed
 * neighbours included) and the file round trip keeps the record exactly. Issue 12: the settings keep
 * each plane small, its training record in a file of .vscode/microsteer/planes that rename and delete
 * keep in step; an older inline record still loads; a missing or bad record file skips only its plane.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { ModelSummary, PlaneRecord } from '../../src/protocol';
import {
  activateExtension,
  clearSuiteSettings,
  EXTENSION_ID,
  openEditor,
  planeFor,
  readSettingsFile,
  recordFolder,
  recordMessages,
  setWorkspaceSettings,
  storedPlane,
  useTinyModel,
  waitFor,
} from './support';


suite('Steering planes in the settings', () => {
  let api: MicroSteerApi;
  let model: ModelSummary;
  let tmp: string;
  /** Entries that must be skipped: a record whose offset is not a number, and a number. */
  let malformed: Record<string, unknown>;

  const storedPlanes = () => readSettingsFile()['microSteer.planes'] as Record<string, Record<string, unknown>>;
  const recordFiles = () => (fs.existsSync(recordFolder()) ? fs.readdirSync(recordFolder()).sort() : []);

  suiteSetup(async () => {
    api = await activateExtension();
    model = await useTinyModel();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-planes-'));
    // Other suites clear the planes setting directly, which leaves their record files behind.
    fs.rmSync(recordFolder(), { recursive: true, force: true });
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
    assert.deepEqual(storedPlane('imported'), planes.good);
    assert.equal(planes.imported.record, 'imported.json', 'an imported plane keeps its training record in a file');
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

  test('rename and delete change one entry and keep its record file in step; the active plane follows a rename', async () => {
    const before = storedPlanes();
    const record = storedPlane('imported');
    assert.deepEqual(recordFiles(), ['imported.json']);
    assert.equal(await vscode.commands.executeCommand('microSteer.renamePlane', 'imported', 'renamed'), 'renamed');
    let planes = storedPlanes();
    assert.deepEqual(storedPlane('renamed'), record);
    assert.equal(planes.renamed.record, 'renamed.json');
    assert.equal(planes.imported, undefined);
    assert.deepEqual(recordFiles(), ['renamed.json'], 'the record file follows the new name');
    assert.equal(readSettingsFile()['microSteer.activePlane'], 'renamed');

    assert.equal(await vscode.commands.executeCommand('microSteer.deletePlane', 'renamed'), true);
    planes = storedPlanes();
    assert.deepEqual(Object.keys(planes).sort(), ['bad offset', 'good', 'not a plane']);
    assert.deepEqual(planes.good, before.good);
    assert.deepEqual(recordFiles(), [], 'the deleted plane\'s record file is gone');
    assert.equal(readSettingsFile()['microSteer.activePlane'], undefined, 'deleting the active plane leaves it set');
  });

  test('issue 12: planes keep settings.json small, their training record in a file beside it', async () => {
    // A plane of 500 training steps (the default), stored as import stores it.
    const long = { ...planeFor(model, 1), lossHistory: Array.from({ length: 500 }, (_, i) => 10 - i / 100 + 1e-7 * Math.PI) };
    const file = path.join(tmp, 'long.plane.json');
    fs.writeFileSync(file, JSON.stringify(long));
    assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', file, 'long'), 'long');
    // And one trained here, through the command.
    await setWorkspaceSettings({ 'training.steps': 3 });
    const editor = await openEditor('A line to train on.\nAnother line to train on.');
    editor.selection = new vscode.Selection(0, 0, 1, 25);
    const trained = await vscode.commands.executeCommand<{ record: PlaneRecord } | undefined>('microSteer.trainFromSelection', { name: 'trained', useAveraging: true });
    assert.ok(trained, 'training returned nothing');

    const settingsFile = path.join(path.dirname(recordFolder()), '..', 'settings.json');
    const text = fs.readFileSync(settingsFile, 'utf8');
    // n is 4 * hidden size bytes in base64; the rest of an entry is a few short lines. Four planes are
    // stored here (two inline from the first tests); inline, the 500 losses alone would add about 12 KB.
    const base64 = Math.ceil((4 * model.hiddenSize) / 3) * 4;
    assert.ok(text.length < 4 * base64 + 5000, `settings.json is ${text.length} bytes:\n${text}`);
    const planes = storedPlanes();
    for (const name of ['long', 'trained']) {
      assert.deepEqual(Object.keys(planes[name]).sort(), ['b', 'layer', 'model', 'n', 'record'], name);
      assert.ok(JSON.stringify(planes[name], null, 4).length < base64 + 400, `${name}: ${JSON.stringify(planes[name])}`);
      assert.ok(fs.statSync(path.join(recordFolder(), String(planes[name].record))).isFile(), `${name}: its record file`);
    }
    assert.ok(fs.statSync(path.join(recordFolder(), String(planes.long.record))).size > 5000, 'the loss history is in the record file');
    assert.deepEqual(storedPlane('long'), long, 'nothing of the record is lost');
    assert.deepEqual(storedPlane('trained'), trained.record);
    assert.ok(api.planes().names.includes('long') && api.planes().names.includes('trained'));
  });

  test('issue 12: an older inline record still loads, and moves to a record file when it is next written', async () => {
    const legacy = planeFor(model, 2);
    await setWorkspaceSettings({ planes: { ...storedPlanes(), legacy } });
    assert.ok(api.planes().names.includes('legacy'));
    assert.deepEqual(storedPlanes().legacy, legacy, 'reading alone rewrites nothing');
    assert.equal(await vscode.commands.executeCommand('microSteer.renamePlane', 'legacy', 'migrated'), 'migrated');
    const planes = storedPlanes();
    assert.equal(planes.legacy, undefined);
    assert.equal(planes.migrated.record, 'migrated.json');
    assert.equal(planes.migrated.lossHistory, undefined);
    assert.deepEqual(storedPlane('migrated'), legacy);
    assert.equal(await vscode.commands.executeCommand('microSteer.selectPlane', 'migrated'), 'migrated');
  });

  test('issue 12: a missing, malformed or linked record file skips its plane with a message naming the plane and the file; the others load', async () => {
    const entry = (axis: number, record: string) => {
      const plane = planeFor(model, axis);
      return { layer: plane.layer, n: plane.n, b: plane.b, model: plane.model, record };
    };
    fs.writeFileSync(path.join(recordFolder(), 'broken.json'), '{"training": ');
    fs.symlinkSync(path.join(recordFolder(), 'migrated.json'), path.join(recordFolder(), 'linked.json'));
    const shown = recordMessages();
    try {
      await setWorkspaceSettings({ planes: { ...storedPlanes(), gone: entry(3, 'gone.json') } });
      const table = api.planes();
      assert.ok(['good', 'long', 'trained', 'migrated'].every((n) => table.names.includes(n)), table.names.join(', '));
      const gone = table.skipped.find((s) => s.name === 'gone');
      assert.match(gone?.reason ?? '', /plane "gone": its record file \.vscode\/microsteer\/planes\/gone\.json is missing/);

      await setWorkspaceSettings({ planes: { ...storedPlanes(), broken: entry(4, 'broken.json'), linked: entry(5, 'linked.json') } });
      const after = api.planes();
      assert.match(after.skipped.find((s) => s.name === 'broken')?.reason ?? '', /plane "broken": its record file \.vscode\/microsteer\/planes\/broken\.json is not valid JSON/);
      assert.match(after.skipped.find((s) => s.name === 'linked')?.reason ?? '', /plane "linked": its record file .*linked\.json is a symbolic link/);
      assert.ok(after.names.includes('migrated'));
    } finally {
      shown.restore();
    }
    const warnings = shown.messages.filter((m) => m.level === 'warning').map((m) => m.text);
    assert.ok(
      warnings.some((t) => /plane "gone": its record file \.vscode\/microsteer\/planes\/gone\.json is missing/.test(t)),
      `the warning names the plane and its file: ${JSON.stringify(warnings)}`,
    );
    await setWorkspaceSettings({ planes: Object.fromEntries(Object.entries(storedPlanes()).filter(([n]) => !['gone', 'broken', 'linked'].includes(n))) });
    fs.rmSync(path.join(recordFolder(), 'broken.json'));
    fs.rmSync(path.join(recordFolder(), 'linked.json'));
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
  test('issue 12: the plane commands show only while there is a plane to act on', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON as { contributes: { menus: { commandPalette: { command: string; when?: string }[] } } };
    const when = (command: string) => manifest.contributes.menus.commandPalette.find((m) => m.command === command)?.when;
    for (const command of ['microSteer.renamePlane', 'microSteer.deletePlane', 'microSteer.exportPlane']) assert.equal(when(command), 'microSteer.hasPlanes', command);

    // VS Code has no API that reads a context key: watch the extension set it.
    const commands = vscode.commands as { executeCommand: typeof vscode.commands.executeCommand };
    const original = commands.executeCommand;
    const values: unknown[] = [];
    commands.executeCommand = ((id: string, ...args: unknown[]) => {
      if (id === 'setContext' && args[0] === 'microSteer.hasPlanes') values.push(args[1]);
      return original(id, ...args);
    }) as typeof original;
    const next = async (planes: Record<string, unknown>, expected: boolean) => {
      values.length = 0;
      await setWorkspaceSettings({ planes });
      await waitFor(() => values.length > 0, `microSteer.hasPlanes after planes ${Object.keys(planes).join(', ') || '(none)'}`, 10_000);
      assert.equal(values.at(-1), expected, Object.keys(planes).join(', '));
    };
    const stored = storedPlanes();
    try {
      await next({}, false);
      // A plane that cannot be used (its record file is gone) gives nothing to act on either.
      await next({ lost: { layer: 1, n: stored.long.n, b: 0, model: stored.long.model, record: 'lost.json' } }, false);
      await next(stored, true);
    } finally {
      commands.executeCommand = original;
      await setWorkspaceSettings({ planes: stored });
    }
  });
  test('issue 12: a record folder planted as a link is not written through; the plane is kept inline and a warning says why', async () => {
    const microsteer = path.dirname(recordFolder());
    const saved = `${microsteer}.saved`;
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-elsewhere-'));
    fs.renameSync(microsteer, saved);
    fs.symlinkSync(elsewhere, microsteer);
    const file = path.join(tmp, 'through-link.plane.json');
    const record = planeFor(model, 6);
    fs.writeFileSync(file, JSON.stringify(record));
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.importPlane', file, 'through link'), 'through link');
    } finally {
      shown.restore();
      fs.rmSync(microsteer);
      fs.renameSync(saved, microsteer);
    }
    assert.deepEqual(fs.readdirSync(elsewhere), [], 'something was written through the link');
    fs.rmSync(elsewhere, { recursive: true, force: true });
    assert.deepEqual(storedPlanes()['through link'], record, 'the plane is not kept inline');
    // The planes already there are skipped while the link stands (nothing is read through it either).
    const warnings = shown.messages.filter((m) => m.level === 'warning').map((m) => m.text);
    assert.ok(
      warnings.some((t) => /the training record of "through link" stays in the settings: .*\.vscode\/microsteer is a symbolic link/.test(t)),
      JSON.stringify(warnings),
    );
  });
});
