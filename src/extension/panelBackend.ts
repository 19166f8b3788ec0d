/** The steering panel's backend: the window's planes and engine, and the editor the user last worked in. */
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import { ablationSteering } from '../engine/methods/ablation';
import { defaultVectorLayer, vectorSteering } from '../engine/methods/meanDifference';
import type { GenerationRow, PanelPlane, PanelVector } from '../protocol';
import { checkPlaneModel, planeSpec } from './planeRecords';
import type { Services } from './services';
import type { PanelBackend } from './steeringPanel';

export class WindowPanelBackend implements PanelBackend, vscode.Disposable {
  /** While the panel has focus there is no active text editor: this is the one to insert into. */
  private lastEditor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;
  private readonly subscription = vscode.window.onDidChangeActiveTextEditor((editor) => {
    if (editor) this.lastEditor = editor;
  });
  readonly onDidChangePlanes: vscode.Event<void>;
  readonly onDidChangeEngineState: vscode.Event<void>;

  constructor(private readonly services: Services) {
    const planes = services.planes.onDidChange;
    const vectors = services.vectors.onDidChange;
    this.onDidChangePlanes = (listener, thisArg, disposables) => {
      const both = [planes(listener, thisArg), vectors(listener, thisArg)];
      const subscription = { dispose: () => both.forEach((d) => d.dispose()) };
      disposables?.push(subscription);
      return subscription;
    };
    this.onDidChangeEngineState = services.engine.onDidChange;
  }

  listPlanes(): PanelPlane[] {
    return [...this.services.planes.table().planes].map(([name, r]) => ({
      name,
      layer: r.layer,
      b: r.b,
      finalLoss: r.finalLoss,
      lossHistory: r.lossHistory,
      model: r.model,
    }));
  }

  listVectors(): PanelVector[] {
    return [...this.services.vectors.table().vectors].map(([name, v]) => ({
      name,
      layers: v.record.layers,
      steeringLayer: defaultVectorLayer(v),
      ...(v.record.model ? { model: v.record.model } : {}),
    }));
  }

  activePlane(): string | undefined {
    return this.services.planes.activeName();
  }

  setActivePlane(name: string): Promise<void> {
    return this.services.planes.setActive(name);
  }

  engineState(): string {
    const { state, device, modelName } = this.services.engine;
    if (modelName === undefined) return 'No model folder is set: run "Micro Steer: Select model folder".';
    const engine = state === 'idle' ? `ready on ${device}` : state === 'stopped' ? 'starts with the first request' : `${state} on ${device}`;
    return `Model ${modelName} · engine ${engine}.`;
  }

  hasModel(): boolean {
    return this.services.engine.modelName !== undefined;
  }

  engineBusy(): string | undefined {
    const { engine } = this.services;
    return engine.busy ? `The engine is ${engine.state}` : undefined;
  }

  async generate(
    params: Parameters<PanelBackend['generate']>[0],
    onDelta: (column: number, text: string) => void,
    token: vscode.CancellationToken,
  ): ReturnType<PanelBackend['generate']> {
    const { engine, planes, vectors } = this.services;
    const model = await engine.ensureModel();
    if (params.steerWith === 'vector') {
      const stored = vectors.forModel(params.planeName, model);
      const rows: GenerationRow[] = params.alphas.map((alpha) => (alpha === 0 ? { alpha: 0 } : { alpha: 0, vector: vectorSteering(stored, alpha) }));
      if (params.ablate) rows.push({ alpha: 0, ablate: ablationSteering(stored, params.ablate.layers) });
      return engine.generate({ prompt: params.prompt, rows, sampling: params.sampling }, onDelta, token);
    }
    const record = planes.get(params.planeName);
    if (!record) throw new InputError(`there is no valid plane named "${params.planeName}"`);
    checkPlaneModel(params.planeName, record, model);
    const plane = planeSpec(record);
    const rows: GenerationRow[] = params.alphas.map((alpha) => (alpha === 0 ? { alpha } : { plane, alpha }));
    return engine.generate({ prompt: params.prompt, rows, sampling: params.sampling }, onDelta, token);
  }

  async insertText(text: string): Promise<string | undefined> {
    const last = this.lastEditor;
    if (!last || last.document.isClosed) return undefined;
    // An editor hidden behind the panel cannot be seen (or edited): show its document beside the panel.
    const editor = vscode.window.visibleTextEditors.includes(last)
      ? last
      : await vscode.window.showTextDocument(last.document, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, selection: last.selection });
    const start = editor.selection.active;
    if (!(await editor.edit((edit) => edit.insert(start, text)))) return undefined;
    const end = editor.document.positionAt(editor.document.offsetAt(start) + text.length);
    editor.selection = new vscode.Selection(start, end);
    editor.revealRange(new vscode.Range(start, end), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return `${vscode.workspace.asRelativePath(editor.document.uri)} at line ${start.line + 1}`;
  }

  logWarning(message: string): void {
    this.services.engine.output.appendLine(message);
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
