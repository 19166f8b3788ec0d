/**
 * Planes in the settings: `microSteer.planes` (name -> plane entry) and `microSteer.activePlane`, with
 * each plane's training record in a file of the layer's record folder (planeLayout.ts): the workspace's
 * `.vscode/microsteer/planes`, or the extension's storage for the user settings. Reading validates every
 * entry and its record file and skips the bad ones, warning once with their names. Writing changes one
 * entry of the planes object (read the layer's whole object, set one name, write it back) and no other
 * setting: the record file is written first and the files no entry refers to any more are removed
 * after, so the settings never name a file that is not there. New planes go to the workspace settings,
 * or the user settings when no folder is open.
 */
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import type { ModelSummary, PlaneRecord } from '../protocol';
import { filesNoLongerReferenced, parsePlaneEntry, recordFileName, recordFileText, recordFilesOf, splitPlaneRecord } from './planeLayout';
import { checkPlaneModel, readPlaneTable, withPlane, type PlaneTable } from './planeRecords';
import { RecordFolder } from './recordFolder';
import { SECTION } from './settings';

/** Where a workspace keeps its plane records, below the folder. */
export const WORKSPACE_RECORDS = ['.vscode', 'microsteer', 'planes'] as const;

const PLANES = 'planes';
const ACTIVE = 'activePlane';

/** The active plane: its record, or why it cannot be used. */
export type ActivePlane = { name: string; record: PlaneRecord; problem?: undefined } | { name: string; record?: undefined; problem: string };

export class PlaneStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the planes or the active plane change. */
  readonly onDidChange = this.changed.event;
  /** Rejected entries already warned about ("name: reason"), so that each is reported once. */
  private readonly reported = new Set<string>();
  /** Writes one after another: each reads what the previous one wrote. */
  private writing: Promise<unknown> = Promise.resolve();
  private readonly subscriptions: vscode.Disposable[];

  /** `userStorage`: the extension's global storage, where the user settings' planes keep their records. */
  constructor(
    private readonly output: vscode.OutputChannel,
    private readonly userStorage: vscode.Uri,
  ) {
    const fire = () => this.changed.fire();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const records = folder ? new vscode.RelativePattern(folder, `${WORKSPACE_RECORDS.join('/')}/*.json`) : new vscode.RelativePattern(userStorage, 'planes/*.json');
    const watcher = vscode.workspace.createFileSystemWatcher(records);
    this.subscriptions = [
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.${PLANES}`) || e.affectsConfiguration(`${SECTION}.${ACTIVE}`)) fire();
      }),
      // A record file edited or restored outside the extension (a checkout, a hand edit) changes a plane too.
      watcher,
      watcher.onDidChange(fire),
      watcher.onDidCreate(fire),
      watcher.onDidDelete(fire),
    ];
  }

  /**
   * The valid planes, warning about the others. Each layer is read with its own record folder; a name in
   * the workspace settings hides the same name in the user settings, as VS Code's merge of the two does.
   */
  table(): PlaneTable {
    const layers = config().inspect<unknown>(PLANES);
    const user = this.readLayer(layers?.globalValue, vscode.ConfigurationTarget.Global);
    const workspace = this.readLayer(layers?.workspaceValue, vscode.ConfigurationTarget.Workspace);
    const shadowed = new Set([...workspace.planes.keys(), ...workspace.rejected.map((r) => r.name)]);
    const table: PlaneTable = {
      planes: new Map([...[...user.planes].filter(([name]) => !shadowed.has(name)), ...workspace.planes]),
      rejected: [...user.rejected.filter((r) => !shadowed.has(r.name)), ...workspace.rejected],
    };
    this.warnRejected(table);
    return table;
  }

  get(name: string): PlaneRecord | undefined {
    return this.table().planes.get(name);
  }

  activeName(): string | undefined {
    const name = config().get<unknown>(ACTIVE);
    return typeof name === 'string' && name !== '' ? name : undefined;
  }

  active(): ActivePlane | undefined {
    const name = this.activeName();
    if (name === undefined) return undefined;
    const table = this.table();
    const record = table.planes.get(name);
    if (record) return { name, record };
    const rejected = table.rejected.find((r) => r.name === name);
    return { name, problem: rejected ? `it is malformed (${rejected.reason})` : 'no plane of that name is in the settings' };
  }

  /** The active plane, checked against the loaded model; throws InputError saying what to do otherwise. */
  activeFor(model: ModelSummary): { name: string; record: PlaneRecord } {
    const active = this.active();
    if (!active) throw new InputError('no steering plane is active: train one from a selection, or run "Micro Steer: Select steering plane"');
    if (!active.record) throw new InputError(`the active plane "${active.name}" cannot be used: ${active.problem}`);
    checkPlaneModel(active.name, active.record, model);
    return { name: active.name, record: active.record };
  }

  /** Stores `record` under `name` (replacing a plane of that name). */
  save(name: string, record: PlaneRecord): Promise<void> {
    return this.write(() => this.edit(newTarget(), [[name, record]]));
  }

  /** Removes a plane (and its record file) from every settings layer that has it; clears the active plane if it was this one. */
  remove(name: string): Promise<void> {
    return this.write(async () => {
      for (const target of this.targetsHolding(name)) await this.edit(target, [[name, undefined]]);
      if (this.activeName() === name) await this.updateActive(undefined);
    });
  }

  /** Renames a plane in the layer that holds it, its record file too; the active plane follows. */
  rename(from: string, to: string): Promise<void> {
    return this.write(async () => {
      const record = this.get(from);
      if (!record) throw new InputError(`there is no valid plane named "${from}" to rename`);
      const targets = this.targetsHolding(from);
      const target = targets.includes(vscode.ConfigurationTarget.Workspace) ? vscode.ConfigurationTarget.Workspace : (targets[0] ?? newTarget());
      await this.edit(target, [
        [from, undefined],
        [to, record],
      ]);
      for (const other of targets.filter((t) => t !== target)) await this.edit(other, [[from, undefined]]);
      if (this.activeName() === from) await this.updateActive(to);
    });
  }

  /** Makes `name` the active plane (undefined: none). */
  setActive(name: string | undefined): Promise<void> {
    return this.write(() => this.updateActive(name));
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  /**
   * Sets (record) or removes (undefined) planes in one settings layer. A plane written goes to the new
   * layout, an older inline one included: its record file is created first, under a fresh name, then the
   * setting is written, then the record files that no entry names any more are removed. Where the layer
   * has no record folder (a workspace that is not on disk), the record stays inline.
   */
  private async edit(target: vscode.ConfigurationTarget, changes: Array<[string, PlaneRecord | undefined]>): Promise<void> {
    const folder = this.recordFolder(target);
    const before = this.layerValue(PLANES, target);
    let next: unknown = before;
    const created: string[] = [];
    try {
      for (const [name, record] of changes) {
        const file = record && folder ? this.createRecordFile(folder, name, record, recordFilesOf(next)) : undefined;
        if (file !== undefined) created.push(file);
        next = withPlane(next, name, record && file !== undefined ? splitPlaneRecord(record, file).entry : record);
      }
      await this.update(PLANES, next, target);
    } catch (e) {
      for (const file of created) this.removeQuietly(folder, file);
      throw e;
    }
    for (const file of filesNoLongerReferenced(before, next)) this.removeQuietly(folder, file);
  }

  /**
   * Writes the training record of `name` to a new file and returns its name. When the folder cannot take
   * it (a link planted there, a read-only folder), the plane is still stored, with its record inline as
   * before: a training run is never lost to its record file. Undefined then, with a warning saying why.
   */
  private createRecordFile(folder: RecordFolder, name: string, record: PlaneRecord, referenced: Set<string>): string | undefined {
    try {
      const pick = (taken: (file: string) => boolean) => recordFileName(name, (f) => taken(f) || referenced.has(f.toLowerCase()));
      return folder.create(pick, recordFileText(splitPlaneRecord(record, '').training));
    } catch (e) {
      const reason = (e as Error).message;
      this.output.appendLine(`plane "${name}": its training record stays in the settings: ${reason}`);
      void vscode.window.showWarningMessage(`Micro Steer: the training record of "${name}" stays in the settings: ${reason}.`);
      return undefined;
    }
  }

  /** A record file that could not be removed is only clutter: it is logged, and the change stands. */
  private removeQuietly(folder: RecordFolder | undefined, file: string): void {
    try {
      folder?.remove(file);
    } catch (e) {
      this.output.appendLine(`could not remove the plane record ${folder?.describe(file)}: ${(e as Error).message}`);
    }
  }

  /** The record folder of a settings layer, when it is on this machine's disk. */
  private recordFolder(target: vscode.ConfigurationTarget): RecordFolder | undefined {
    if (target === vscode.ConfigurationTarget.Global) {
      return this.userStorage.scheme === 'file' ? new RecordFolder(this.userStorage.fsPath, ['planes'], false) : undefined;
    }
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder?.uri.scheme === 'file' ? new RecordFolder(folder.uri.fsPath, WORKSPACE_RECORDS) : undefined;
  }

  private readLayer(value: unknown, target: vscode.ConfigurationTarget): PlaneTable {
    const folder = this.recordFolder(target);
    return readPlaneTable(value, (entry, name) => parsePlaneEntry(entry, name, folder));
  }

  private updateActive(name: string | undefined): Promise<void> {
    return this.update(ACTIVE, name, newTarget());
  }

  private async update(key: string, value: unknown, target: vscode.ConfigurationTarget): Promise<void> {
    await config().update(key, value, target);
  }

  private write(change: () => Promise<void>): Promise<void> {
    const next = this.writing.then(change);
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** A settings layer's own value of `key`, not merged with the others. */
  private layerValue(key: string, target: vscode.ConfigurationTarget): unknown {
    const layers = config().inspect<unknown>(key);
    return target === vscode.ConfigurationTarget.Global ? layers?.globalValue : layers?.workspaceValue;
  }

  private targetsHolding(name: string): vscode.ConfigurationTarget[] {
    return [vscode.ConfigurationTarget.Workspace, vscode.ConfigurationTarget.Global].filter((target) => {
      const value = this.layerValue(PLANES, target);
      return typeof value === 'object' && value !== null && Object.hasOwn(value, name);
    });
  }

  private warnRejected(table: PlaneTable): void {
    const fresh = table.rejected.filter((r) => !this.reported.has(`${r.name}: ${r.reason}`));
    if (fresh.length === 0) return;
    for (const r of fresh) {
      this.reported.add(`${r.name}: ${r.reason}`);
      this.output.appendLine(`skipped plane "${r.name}" in ${SECTION}.${PLANES}: ${r.reason}`);
    }
    const names = fresh.map((r) => `"${r.name}"`).join(', ');
    // One plane's reason fits the message (a missing record file says which); several go to the log.
    const text = fresh.length === 1 ? `Micro Steer skipped a malformed plane: ${fresh[0].reason}.` : `Micro Steer skipped malformed planes in the settings: ${names}.`;
    void vscode.window
      .showWarningMessage(text, 'Show details')
      .then((choice) => choice && this.output.show(true));
  }
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/** Where new planes and the active plane go: the workspace when one is open. */
function newTarget(): vscode.ConfigurationTarget {
  return vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
}
