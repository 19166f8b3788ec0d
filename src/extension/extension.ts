/**
 * Extension entry: wires the window's engine host, plane store, status bar, inline completion provider,
 * steering panel and commands. Activation does no model work itself: the engine process starts on the
 * first request, or at once when inline completions are on (they warm it so the first ghost text comes
 * in time); nothing here imports onnxruntime or a tokenizer.
 */
import * as vscode from 'vscode';
import { compareStatesCommand, layerDiagnosticsCommand, type CompareStatesArgs, type LayerDiagnosticsArgs } from './diagnosticsCommands';
import { trackContextKeys } from './contextKeys';
import { DiagnosticsPanel } from './diagnosticsPanel';
import { EngineHost } from './engineHost';
import { generateAtCursor, type GenerateArgs } from './generateCommand';
import { SteeredInlineCompletions, toggleInlineCompletions } from './inlineCompletions';
import { selectModelFolder } from './modelFolderCommand';
import { WindowPanelBackend } from './panelBackend';
import { deletePlane, exportPlane, importPlane, renamePlane, selectPlane } from './planeCommands';
import type { RejectedPlane } from './planeRecords';
import { PlaneStore } from './planeStore';
import type { Services } from './services';
import { StatusBar } from './statusBar';
import type { SteeringStatus } from './statusText';
import { SteeringPanel, type PanelBackend } from './steeringPanel';
import { stopTrainingAndKeep, trainFromSelection, type TrainArgs } from './trainCommand';
import { offerGettingStarted } from './userMessages';
import { computeVector, exportVector, importVector, type ComputeVectorArgs } from './vectorCommands';
import { VectorStore } from './vectorStore';

/** What `activate` returns (extensions.getExtension(...).exports): read-only views for tests and other extensions. */
export interface MicroSteerApi {
  /** The registered inline completion provider (VS Code has no command that runs inline providers, so tests call it), and when its engine work has settled. */
  readonly inlineCompletions: Pick<SteeredInlineCompletions, 'provideInlineCompletionItems' | 'settled'>;
  /** The usable planes' names and the skipped entries of the settings. */
  planes(): { names: string[]; skipped: RejectedPlane[] };
  /** What the status bar item shows. */
  status(): SteeringStatus;
  /** The steering panel's backend: its vector list and its batched generation, without the webview. */
  readonly panelBackend: Pick<PanelBackend, 'listVectors' | 'generate'>;
  /** The open steering panel, if any: what it shows, and its handler of the webview's messages. */
  steeringPanel(): Pick<SteeringPanel, 'currentRun' | 'lastNotice' | 'receive'> | undefined;
}

let engine: EngineHost | undefined;

export function activate(context: vscode.ExtensionContext): MicroSteerApi {
  engine = new EngineHost();
  const planes = new PlaneStore(engine.output, context.globalStorageUri);
  const vectors = new VectorStore(engine.output);
  const services: Services = { engine, planes, vectors, openPanel: undefined };
  const panelBackend = new WindowPanelBackend(services);
  services.openPanel = () => SteeringPanel.createOrShow(context, panelBackend);
  const statusBar = new StatusBar(services);
  const inlineCompletions = new SteeredInlineCompletions(services);

  const command = (id: string, run: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, run);
  context.subscriptions.push(
    engine,
    planes,
    vectors,
    panelBackend,
    statusBar,
    inlineCompletions,
    trackContextKeys(planes, vectors),
    SteeringPanel.registerSerializer(context, panelBackend),
    DiagnosticsPanel.registerSerializer(context.extensionUri, (message) => services.engine.output.appendLine(message)),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, inlineCompletions),
    command('microSteer.selectModelFolder', (folder?: vscode.Uri | string) => selectModelFolder(services, folder)),
    command('microSteer.trainFromSelection', (args?: unknown) => trainFromSelection(services, plainObject<TrainArgs>(args))),
    command('microSteer.stopTrainingAndKeep', stopTrainingAndKeep),
    command('microSteer.generateAtCursor', (args?: unknown) => generateAtCursor(services, plainObject<GenerateArgs>(args))),
    command('microSteer.toggleInlineCompletions', (enable?: boolean) => toggleInlineCompletions(services, enable)),
    command('microSteer.openPanel', () => services.openPanel?.()),
    command('microSteer.selectPlane', (name?: string) => selectPlane(services, name)),
    command('microSteer.renamePlane', (from?: string, to?: string) => renamePlane(services, from, to)),
    command('microSteer.deletePlane', (name?: string) => deletePlane(services, name)),
    command('microSteer.exportPlane', (name?: string, file?: string | vscode.Uri) => exportPlane(services, name, file)),
    command('microSteer.importPlane', (file?: string | vscode.Uri, name?: string, replace?: boolean) => importPlane(services, file, name, replace)),
    command('microSteer.computeVector', (args?: unknown) => computeVector(services, plainObject<ComputeVectorArgs>(args))),
    command('microSteer.exportVector', (name?: string, file?: string | vscode.Uri) => exportVector(services, name, file)),
    command('microSteer.layerDiagnostics', (args?: unknown) => layerDiagnosticsCommand(services, context.extensionUri, plainObject<LayerDiagnosticsArgs>(args))),
    command('microSteer.compareStates', (args?: unknown) => compareStatesCommand(services, context.extensionUri, plainObject<CompareStatesArgs>(args))),
    command('microSteer.importVector', (file?: string | vscode.Uri, name?: string, replace?: boolean) => importVector(services, file, name, replace)),
  );

  offerGettingStarted(context.globalState, engine.modelName);

  return {
    inlineCompletions,
    planes: () => {
      const table = planes.table();
      return { names: [...table.planes.keys()], skipped: table.rejected };
    },
    status: () => statusBar.status(),
    panelBackend,
    steeringPanel: () => SteeringPanel.open,
  };
}

/** Command arguments given as an object; menus pass other things (the editor's Uri), which mean "no arguments". */
function plainObject<T extends object>(args: unknown): T | undefined {
  return typeof args === 'object' && args !== null && Object.getPrototypeOf(args) === Object.prototype ? (args as T) : undefined;
}

/** Stops the engine process gracefully; the subscriptions' dispose kills it if it lingers. */
export async function deactivate(): Promise<void> {
  await engine?.shutdown();
  engine = undefined;
}
