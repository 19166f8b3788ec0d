/**
 * Mean-difference vectors in the editor: "Compute mean-difference vector from selections" (the first
 * selection is the source set, the second the target set, each split by `microSteer.trainingSplit`; or two
 * example files given as arguments), and export to / import from GGUF control-vector files. Every command
 * takes optional arguments that skip its prompts (tests, keybindings) and resolves with what it did.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readExampleFile } from '../engine/exampleFile';
import { CancelledError, InputError } from '../engine/errors';
import type { ExamplePosition } from '../engine/methods/exampleStates';
import { controlVectorOfRecord, readVectorFile } from '../engine/methods/vectorFile';
import type { MeanDifferenceRecord } from '../protocol';
import { exampleSets } from './exampleSets';
import { confirmNameFree } from './planeNamePrompt';
import { planeNameProblem } from './planeRecords';
import type { Services } from './services';
import { reportFailure } from './userMessages';

export interface ComputeVectorArgs {
  name?: string;
  position?: ExamplePosition;
  /** Example files (one per line, or a JSON array of strings) instead of the selections. */
  sourceFile?: string;
  targetFile?: string;
  /** Decoder layers (default: every layer). */
  layers?: number[];
  /** Replace a vector of that name without asking. */
  replace?: boolean;
}

export interface StoredVector {
  name: string;
  record: MeanDifferenceRecord;
}

export async function computeVector(services: Services, args: ComputeVectorArgs = {}): Promise<StoredVector | undefined> {
  try {
    const [source, target] =
      args.sourceFile !== undefined || args.targetFile !== undefined
        ? [await readExampleFile(args.sourceFile ?? missing('sourceFile')), await readExampleFile(args.targetFile ?? missing('targetFile'))]
        : exampleSets('a mean-difference vector', 'source', 'target');
    const position = args.position ?? (await askPosition());
    if (position === undefined) return undefined;
    const name = await vectorName(services, args.name, args.replace, source[0]);
    if (name === undefined) return undefined;
    const record = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Micro Steer: mean difference of ${source.length} source and ${target.length} target examples`, cancellable: true },
      (_, token) => services.engine.analyse((client, cancel) => client.meanDifference({ source, target, position, layers: args.layers }, cancel), token),
    );
    await services.vectors.save(name, record);
    void vscode.window.showInformationMessage(`Micro Steer: stored vector "${name}" (${record.layers.length} layers); choose it in the steering panel.`);
    return { name, record };
  } catch (e) {
    if (e instanceof CancelledError) void vscode.window.showInformationMessage('Micro Steer: cancelled; no vector was stored.');
    else reportFailure('Computing the vector', e, services.engine.output);
    return undefined;
  }
}

/** Writes a stored vector as a GGUF control vector (layer 0 has no slot there and is left out). */
export async function exportVector(services: Services, name?: string, file?: string | vscode.Uri): Promise<vscode.Uri | undefined> {
  try {
    const target = name ?? (await pickVector(services, 'Export which vector?'));
    if (target === undefined) return undefined;
    const vectors = services.vectors.get(target);
    if (!vectors) throw new InputError(`there is no valid vector named "${target}" to export`);
    const { bytes, skippedLayers } = controlVectorOfRecord(vectors);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri =
      toUri(file) ??
      (await vscode.window.showSaveDialog({
        title: `Export vector "${target}" as a GGUF control vector`,
        defaultUri: folder && vscode.Uri.joinPath(folder, `${target.replace(/[^\p{L}\p{N}._-]+/gu, '-') || 'vector'}.gguf`),
        filters: { 'GGUF control vectors': ['gguf'] },
      }));
    if (!uri) return undefined;
    await vscode.workspace.fs.writeFile(uri, bytes);
    const note = skippedLayers.length > 0 ? ' (layer 0 left out: a control vector has no slot for it)' : '';
    void vscode.window.showInformationMessage(`Micro Steer: exported "${target}" to ${uri.fsPath}${note}.`);
    return uri;
  } catch (e) {
    reportFailure('Exporting the vector', e, services.engine.output);
    return undefined;
  }
}

/** Reads a GGUF control vector (or a vector JSON file) and stores it under `name` (asked, from the file name). */
export async function importVector(services: Services, file?: string | vscode.Uri, name?: string, replace = false): Promise<string | undefined> {
  try {
    const uri =
      toUri(file) ??
      (await vscode.window.showOpenDialog({ title: 'Import a GGUF control vector', canSelectMany: false, filters: { 'Control vectors': ['gguf', 'json'] } }))?.[0];
    if (!uri) return undefined;
    const vectors = await readVectorFile(uri.fsPath);
    const target = await vectorName(services, name, replace, path.basename(uri.fsPath).replace(/\.(gguf|json)$/i, ''));
    if (target === undefined) return undefined;
    await services.vectors.save(target, vectors.record);
    void vscode.window.showInformationMessage(`Micro Steer: imported "${target}" (layers ${vectors.record.layers.join(', ')}).`);
    return target;
  } catch (e) {
    reportFailure('Importing the vector', e, services.engine.output);
    return undefined;
  }
}

async function askPosition(): Promise<ExamplePosition | undefined> {
  const items = [
    { label: 'Last token', description: "each example's state at its last token", position: 'last' as const },
    { label: 'Mean over tokens', description: "each example's states averaged over its tokens after BOS", position: 'mean' as const },
  ];
  return (await vscode.window.showQuickPick(items, { title: 'Where to read each example' }))?.position;
}

/** `given` checked (a taken name needs `replace`), or a name asked for. */
async function vectorName(services: Services, given: string | undefined, replace: boolean | undefined, suggestion: string): Promise<string | undefined> {
  const taken = (n: string) => services.vectors.table().vectors.has(n);
  if (given !== undefined) {
    const problem = planeNameProblem(given);
    if (problem) throw new InputError(`vector name "${given}": ${problem}`);
    if (taken(given) && !replace) throw new InputError(`a vector named "${given}" exists: pass replace: true to replace it`);
    return given;
  }
  const value = suggestion.slice(0, 40);
  const name = await vscode.window.showInputBox({ title: 'Name of the vector', prompt: 'Stored in the workspace settings, microSteer.vectors', value, validateInput: planeNameProblem });
  if (name === undefined || !(await confirmNameFree(name, taken))) return undefined;
  return name;
}

async function pickVector(services: Services, title: string): Promise<string | undefined> {
  const names = [...services.vectors.table().vectors.keys()];
  if (names.length === 0) throw new InputError('there are no stored vectors yet: run "Compute mean-difference vector from selections" first');
  return vscode.window.showQuickPick(names, { title });
}

function missing(what: string): never {
  throw new InputError(`give both example files: ${what} is missing`);
}

function toUri(file: string | vscode.Uri | undefined): vscode.Uri | undefined {
  return typeof file === 'string' ? vscode.Uri.file(file) : file;
}
