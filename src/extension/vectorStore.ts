/**
 * Vectors in the settings: `microSteer.vectors` (name -> MeanDifferenceRecord). Reading validates every
 * entry and skips the bad ones, warning once with their names; writing sets one entry of the workspace
 * layer's object (the user layer when no folder is open) and nothing else.
 */
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import type { SteeringVectors } from '../engine/methods/vectorFile';
import type { MeanDifferenceRecord, ModelSummary } from '../protocol';
import { withPlane } from './planeRecords';
import { SECTION } from './settings';
import { checkVectorModel, readVectorTable, type VectorTable } from './vectorRecords';

const VECTORS = 'vectors';

export class VectorStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the vectors setting changes. */
  readonly onDidChange = this.changed.event;
  private readonly reported = new Set<string>();
  /** Writes one after another: each reads what the previous one wrote. */
  private writing: Promise<unknown> = Promise.resolve();
  private readonly subscription = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(`${SECTION}.${VECTORS}`)) this.changed.fire();
  });

  constructor(private readonly output: vscode.OutputChannel) {}

  /** The valid vectors (user and workspace settings merged), warning about the others. */
  table(): VectorTable {
    const table = readVectorTable(vscode.workspace.getConfiguration(SECTION).get<unknown>(VECTORS));
    this.warnRejected(table);
    return table;
  }

  get(name: string): SteeringVectors | undefined {
    return this.table().vectors.get(name);
  }

  /** The named vector, checked against the loaded model; InputError saying why otherwise. */
  forModel(name: string, model: ModelSummary): SteeringVectors {
    const vectors = this.get(name);
    if (!vectors) throw new InputError(`there is no valid vector named "${name}" in ${SECTION}.${VECTORS}`);
    checkVectorModel(name, vectors, model);
    return vectors;
  }

  /** Stores `record` under `name` (replacing a vector of that name). */
  save(name: string, record: MeanDifferenceRecord): Promise<void> {
    const next = this.writing.then(async () => {
      const config = vscode.workspace.getConfiguration(SECTION);
      const workspace = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      const layers = config.inspect<unknown>(VECTORS);
      const own = workspace === vscode.ConfigurationTarget.Workspace ? layers?.workspaceValue : layers?.globalValue;
      await config.update(VECTORS, withPlane(own, name, record), workspace);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  dispose(): void {
    this.changed.dispose();
    this.subscription.dispose();
  }

  private warnRejected(table: VectorTable): void {
    const fresh = table.rejected.filter((r) => !this.reported.has(`${r.name}: ${r.reason}`));
    if (fresh.length === 0) return;
    for (const r of fresh) {
      this.reported.add(`${r.name}: ${r.reason}`);
      this.output.appendLine(`skipped vector "${r.name}" in ${SECTION}.${VECTORS}: ${r.reason}`);
    }
    void vscode.window
      .showWarningMessage(`Micro Steer skipped malformed vectors in the settings: ${fresh.map((r) => `"${r.name}"`).join(', ')}.`, 'Show details')
      .then((choice) => choice && this.output.show(true));
  }
}
