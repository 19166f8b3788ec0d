/**
 * "Micro Steer: Select steering plane" (a quick pick of the stored planes with their layer, b, loss and
 * model; buttons to rename, export or delete one; import from a file) and those actions as commands of
 * their own. Every command takes optional arguments that skip its prompts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import { LIMITS, checkLimit } from '../engine/limits';
import type { PlaneRecord } from '../protocol';
import { askPlaneName, confirmNameFree } from './planeNamePrompt';
import { checkPlaneModel, parsePlaneRecord, planeNameProblem } from './planeRecords';
import type { Services } from './services';
import { lossSummary } from './trainingText';
import { reportFailure } from './userMessages';

interface PlaneItem extends vscode.QuickPickItem {
  plane?: string;
  action?: 'import' | 'none';
}

const RENAME: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('edit'), tooltip: 'Rename' };
const EXPORT: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('export'), tooltip: 'Export to a JSON file' };
const DELETE: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: 'Delete' };

/** With `name`, makes that plane active without asking. Resolves with the active plane's name afterwards. */
export async function selectPlane(services: Services, name?: string): Promise<string | undefined> {
  return guarded(services, 'Selecting a plane', async () => {
    if (name !== undefined) {
      if (!services.planes.get(name)) throw new InputError(`there is no valid plane named "${name}"`);
      await services.planes.setActive(name);
      return name;
    }
    const picked = await pickFromList(services);
    if (!picked) return services.planes.activeName();
    if (picked.kind === 'button') {
      if (picked.button === RENAME) await renamePlane(services, picked.plane);
      else if (picked.button === EXPORT) await exportPlane(services, picked.plane);
      else await deletePlane(services, picked.plane, false);
    } else if (picked.item.action === 'import') {
      await importPlane(services);
    } else {
      await services.planes.setActive(picked.item.plane);
    }
    return services.planes.activeName();
  });
}

/** Renames `from` (asked for when missing) to `to` (asked for when missing). */
export function renamePlane(services: Services, from?: string, to?: string): Promise<string | undefined> {
  return guarded(services, 'Renaming the plane', async () => {
    const name = from ?? (await pickPlaneName(services, 'Rename which plane?'));
    if (name === undefined) return undefined;
    if (!services.planes.get(name)) throw new InputError(`there is no valid plane named "${name}"`);
    const taken = (n: string) => n !== name && services.planes.table().planes.has(n);
    const newName = to ?? (await askPlaneName(`Rename "${name}"`, name, taken));
    if (newName === undefined || newName === name) return undefined;
    checkName(newName);
    if (to !== undefined && taken(newName)) throw new InputError(`a plane named "${newName}" exists`);
    await services.planes.rename(name, newName);
    return newName;
  });
}

/** Deletes a plane; asks to confirm unless `confirmed` (by default, a caller that names the plane has decided). */
export function deletePlane(services: Services, name?: string, confirmed = name !== undefined): Promise<boolean> {
  return guarded(services, 'Deleting the plane', async () => {
    const target = name ?? (await pickPlaneName(services, 'Delete which plane?'));
    if (target === undefined) return false;
    if (!confirmed) {
      const remove = 'Delete';
      const choice = await vscode.window.showWarningMessage(`Delete the steering plane "${target}" from the settings?`, { modal: true }, remove);
      if (choice !== remove) return false;
    }
    await services.planes.remove(target);
    return true;
  }).then((done) => done ?? false);
}

/** Writes a plane (the active one when `name` is missing) to a JSON plane file, the CLI's format. */
export function exportPlane(services: Services, name?: string, file?: string | vscode.Uri): Promise<vscode.Uri | undefined> {
  return guarded(services, 'Exporting the plane', async () => {
    const target = name ?? services.planes.activeName() ?? (await pickPlaneName(services, 'Export which plane?'));
    if (target === undefined) return undefined;
    const record = services.planes.get(target);
    if (!record) throw new InputError(`there is no valid plane named "${target}" to export`);
    const folder = defaultFolder();
    const uri =
      toUri(file) ??
      (await vscode.window.showSaveDialog({
        title: `Export plane "${target}"`,
        defaultUri: folder && vscode.Uri.joinPath(folder, `${fileStem(target)}.plane.json`),
        filters: { 'Plane files': ['json'] },
      }));
    if (!uri) return undefined;
    await vscode.workspace.fs.writeFile(uri, Buffer.from(JSON.stringify(record, null, 2) + '\n', 'utf8'));
    void vscode.window.showInformationMessage(`Micro Steer: exported "${target}" to ${uri.fsPath}.`);
    return uri;
  });
}

/** Reads a plane file (validated), stores it under `name` (asked, from the file name) and makes it active. */
export function importPlane(services: Services, file?: string | vscode.Uri, name?: string, replace = false): Promise<string | undefined> {
  return guarded(services, 'Importing the plane', async () => {
    const uri =
      toUri(file) ??
      (await vscode.window.showOpenDialog({ title: 'Import a steering plane', canSelectMany: false, filters: { 'Plane files': ['json'] }, defaultUri: defaultFolder() }))?.[0];
    if (!uri) return undefined;
    const record = await readPlaneFile(uri);
    const model = services.engine.model;
    const taken = (n: string) => services.planes.table().planes.has(n);
    let target = name;
    if (target === undefined) {
      target = await askPlaneName('Import steering plane', path.basename(uri.fsPath).replace(/(\.plane)?\.json$/i, ''), taken);
    } else {
      checkName(target);
      if (taken(target) && !replace && !(await confirmNameFree(target, taken))) return undefined;
    }
    if (target === undefined) return undefined;
    await services.planes.save(target, record);
    await services.planes.setActive(target);
    let note = '';
    if (model) {
      try {
        checkPlaneModel(target, record, model);
      } catch (e) {
        note = ` Note: ${(e as Error).message}.`;
      }
    }
    void vscode.window.showInformationMessage(`Micro Steer: imported "${target}" (layer ${record.layer}); it is now active.${note}`);
    return target;
  });
}

async function readPlaneFile(uri: vscode.Uri): Promise<PlaneRecord> {
  let text: string;
  try {
    checkLimit(LIMITS.fileBytes, `the size of ${uri.fsPath}`, (await vscode.workspace.fs.stat(uri)).size);
    text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read plane file ${uri.fsPath}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`plane file ${uri.fsPath} is not valid JSON: ${(e as Error).message}`);
  }
  return parsePlaneRecord(json, uri.fsPath);
}

type Picked = { kind: 'item'; item: PlaneItem } | { kind: 'button'; button: vscode.QuickInputButton; plane: string };

/** The quick pick of all planes: resolves with the accepted item or the pressed item button. */
function pickFromList(services: Services): Promise<Picked | undefined> {
  const { planes, engine } = services;
  const active = planes.activeName();
  const model = engine.model;
  const items: PlaneItem[] = [...planes.table().planes].map(([name, record]) => {
    let foreign = '';
    if (model) {
      try {
        checkPlaneModel(name, record, model);
      } catch {
        foreign = '$(warning) trained on another model than the loaded one · ';
      }
    }
    return {
      label: name,
      plane: name,
      iconPath: new vscode.ThemeIcon(name === active ? 'check' : 'blank'),
      description: `layer ${record.layer} · ${lossSummary(record.initialLoss, record.finalLoss, record.lossHistory.length)}`,
      detail: `${foreign}model: hidden ${record.model.hiddenSize}, ${record.model.numHiddenLayers} layers, ${record.model.fingerprint.slice(0, 12)} · ${record.training.examples} examples, ${record.training.steps} steps · ${record.createdAt.slice(0, 10)}`,
      buttons: [RENAME, EXPORT, DELETE],
    };
  });
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder-opened) Import plane from file…', action: 'import' },
    { label: '$(circle-slash) No active plane', action: 'none' },
  );
  const pick = vscode.window.createQuickPick<PlaneItem>();
  pick.title = 'Select steering plane';
  pick.placeholder = items.length > 3 ? 'The plane to steer with' : 'No planes yet: select example texts and run "Train steering from selection"';
  pick.items = items;
  pick.activeItems = items.filter((i) => i.plane !== undefined && i.plane === active);
  pick.matchOnDescription = true;
  return new Promise((resolve) => {
    let result: Picked | undefined;
    pick.onDidAccept(() => {
      const item = pick.selectedItems[0];
      if (item) result = { kind: 'item', item };
      pick.hide();
    });
    pick.onDidTriggerItemButton((e) => {
      if (e.item.plane !== undefined) result = { kind: 'button', button: e.button, plane: e.item.plane };
      pick.hide();
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve(result);
    });
    pick.show();
  });
}

async function pickPlaneName(services: Services, title: string): Promise<string | undefined> {
  const names = [...services.planes.table().planes.keys()];
  if (names.length === 0) throw new InputError('there are no stored planes yet: train one from a selection first');
  return vscode.window.showQuickPick(names, { title });
}

/** Runs a plane action, reporting its failure; resolves undefined then. */
async function guarded<T>(services: Services, what: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (e) {
    reportFailure(what, e, services.engine.output);
    return undefined;
  }
}

function checkName(name: string): void {
  const problem = planeNameProblem(name);
  if (problem) throw new InputError(`plane name "${name}": ${problem}`);
}

function toUri(file: string | vscode.Uri | undefined): vscode.Uri | undefined {
  return typeof file === 'string' ? vscode.Uri.file(file) : file;
}

function defaultFolder(): vscode.Uri | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** A file name from a plane name: letters, digits, dots, dashes and underscores. */
function fileStem(name: string): string {
  return name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'plane';
}
