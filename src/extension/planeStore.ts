/**
 * Planes in the settings: `microSteer.planes` (name -> PlaneRecord) and `microSteer.activePlane`.
 * Reading validates every entry and skips the bad ones, warning once with their names. Writing changes
 * one entry of the planes object (read the layer's whole object, set one name, write it back) and no
 * other setting. New planes go to the workspace settings, or the user settings when no folder is open.
 */
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import type { ModelSummary, PlaneRecord } from '../protocol';
import { checkPlaneModel, readPlaneTable, withPlane, type PlaneTable } from './planeRecords';
import { SECTION } from './settings';

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

  constructor(private readonly output: vscode.OutputChannel) {
    this.subscriptions = [
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.${PLANES}`) || e.affectsConfiguration(`${SECTION}.${ACTIVE}`)) this.changed.fire();
      }),
    ];
  }

  /** The valid planes (user and workspace settings merged), warning about the others. */
  table(): PlaneTable {
    const table = readPlaneTable(config().get<unknown>(PLANES));
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
    return this.write(async () => this.update(PLANES, withPlane(this.layerValue(PLANES, newTarget()), name, record), newTarget()));
  }

  /** Removes a plane from every settings layer that has it; clears the active plane if it was this one. */
  remove(name: string): Promise<void> {
    return this.write(async () => {
      for (const target of this.targetsHolding(name)) await this.update(PLANES, withPlane(this.layerValue(PLANES, target), name, undefined), target);
      if (this.activeName() === name) await this.updateActive(undefined);
    });
  }

  /** Renames a plane in the layer that holds it; the active plane follows. */
  rename(from: string, to: string): Promise<void> {
    return this.write(async () => {
      const record = this.get(from);
      if (!record) throw new InputError(`there is no valid plane named "${from}" to rename`);
      const targets = this.targetsHolding(from);
      const target = targets.includes(vscode.ConfigurationTarget.Workspace) ? vscode.ConfigurationTarget.Workspace : (targets[0] ?? newTarget());
      await this.update(PLANES, withPlane(withPlane(this.layerValue(PLANES, target), from, undefined), to, record), target);
      for (const other of targets.filter((t) => t !== target)) await this.update(PLANES, withPlane(this.layerValue(PLANES, other), from, undefined), other);
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
    void vscode.window
      .showWarningMessage(`Micro Steer skipped malformed planes in the settings: ${names}.`, 'Show details')
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
