/**
 * Shared steps of the Micro Steer host suites: activate the extension, point it at the tiny model,
 * read the workspace's .vscode/settings.json from disk, write plane records for the loaded model, and
 * record the messages the extension shows (the suites run inside the extension's own API instance, so
 * replacing `vscode.window.show*Message` here replaces them for the extension too).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { ModelSummary, PlaneRecord } from '../../src/protocol';
import { ensureTinyModel } from '../fixtures/tinyModel';

export const EXTENSION_ID = 'microsteer.microsteer';

export async function activateExtension(): Promise<MicroSteerApi> {
  const extension = vscode.extensions.getExtension<MicroSteerApi>(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
  const api = await extension.activate();
  assert.ok(vscode.workspace.workspaceFolders?.length, 'the runner must open a workspace folder');
  return api;
}

/** Stores the tiny model as the workspace's model (through the extension's own command) and returns its summary. */
export async function useTinyModel(): Promise<ModelSummary> {
  const summary = await vscode.commands.executeCommand<ModelSummary | undefined>('microSteer.selectModelFolder', await ensureTinyModel());
  assert.ok(summary, 'Select model folder refused the tiny model');
  return summary;
}

export function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('microSteer');
}

/** Sets (or with undefined, removes) microSteer.* settings in the workspace settings. */
export async function setWorkspaceSettings(values: Record<string, unknown>): Promise<void> {
  for (const [key, value] of Object.entries(values)) await config().update(key, value, vscode.ConfigurationTarget.Workspace);
}

/** The workspace's settings file as VS Code wrote it to disk. */
export function readSettingsFile(): Record<string, unknown> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  return JSON.parse(fs.readFileSync(path.join(folder.uri.fsPath, '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>;
}

/** The workspace's folder of plane record files, as the settings' `record` entries name them. */
export function recordFolder(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  return path.join(folder.uri.fsPath, '.vscode', 'microsteer', 'planes');
}

/** The planes setting as it is in the settings file on disk. */
export function storedEntries(): Record<string, Record<string, unknown>> {
  return (readSettingsFile()['microSteer.planes'] ?? {}) as Record<string, Record<string, unknown>>;
}

/**
 * A stored plane read back from disk, joined here independently of the extension: its settings entry
 * without `record`, and the fields of the record file it names (an inline entry is returned as it is).
 */
export function storedPlane(name: string): PlaneRecord {
  const entry = storedEntries()[name];
  assert.ok(entry, `no plane "${name}" in the settings file`);
  if (entry.record === undefined) return entry as unknown as PlaneRecord;
  const { record, ...plane } = entry;
  const file = JSON.parse(fs.readFileSync(path.join(recordFolder(), String(record)), 'utf8')) as Record<string, unknown>;
  return { ...plane, ...file } as unknown as PlaneRecord;
}

/** Base64 of little-endian float32s, encoded here independently of the extension. */
export function base64Floats(values: ArrayLike<number>): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return Buffer.from(view.buffer).toString('base64');
}

/** A well-formed plane record for `model` (a unit direction along one axis), without training. */
export function planeFor(model: Pick<ModelSummary, 'hiddenSize' | 'numHiddenLayers' | 'fingerprint' | 'defaultHookLayer'>, axis = 0): PlaneRecord {
  const n = new Array<number>(model.hiddenSize).fill(0);
  n[axis] = 1;
  return {
    layer: model.defaultHookLayer,
    n: base64Floats(n),
    b: 0.25,
    model: { hiddenSize: model.hiddenSize, numHiddenLayers: model.numHiddenLayers, fingerprint: model.fingerprint },
    training: {
      layer: model.defaultHookLayer,
      steps: 1,
      learningRate: 5e-4,
      alpha: 1,
      useAveraging: false,
      lambdaMle: 1e4,
      lambdaCap: 0.1,
      lambdaTheta: 0.1,
      mleMode: 'sequence',
      batchSize: 1,
      seed: 0,
      examples: 1,
    },
    initialLoss: 10,
    finalLoss: 9,
    lossHistory: [10, 9],
    createdAt: new Date().toISOString(),
  };
}

export interface ShownMessage {
  level: 'info' | 'warning' | 'error';
  text: string;
  /** The buttons it offers. */
  actions: string[];
}

/** Records every message the extension shows (answering none) until `restore()`. */
export function recordMessages(): { messages: ShownMessage[]; restore(): void } {
  const window = vscode.window as { -readonly [K in keyof typeof vscode.window]: (typeof vscode.window)[K] };
  const saved = { info: window.showInformationMessage, warning: window.showWarningMessage, error: window.showErrorMessage };
  const messages: ShownMessage[] = [];
  const recorder = (level: ShownMessage['level']) =>
    ((text: string, ...items: unknown[]) => {
      messages.push({ level, text, actions: items.filter((i): i is string => typeof i === 'string') });
      return Promise.resolve(undefined);
    }) as never;
  window.showInformationMessage = recorder('info');
  window.showWarningMessage = recorder('warning');
  window.showErrorMessage = recorder('error');
  return {
    messages,
    restore: () => {
      window.showInformationMessage = saved.info;
      window.showWarningMessage = saved.warning;
      window.showErrorMessage = saved.error;
    },
  };
}

/** Opens an untitled text document with `text` in an editor and returns that editor. */
export async function openEditor(text: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  return vscode.window.showTextDocument(document);
}

/** Waits until `condition` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Like waitFor, for a condition that has to do something asynchronous to find out. */
export async function waitForAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Runs `body` while "Train steering from selection" trains the plane `name` (8 steps on two fresh lines),
 * and resolves once that training has ended too.
 */
export async function whileTraining(api: MicroSteerApi, name: string, body: () => Promise<void>): Promise<void> {
  const editor = await openEditor('A line to train on.\nAnother line to train on.');
  editor.selection = new vscode.Selection(0, 0, 1, 25);
  await setWorkspaceSettings({ 'training.steps': 8 });
  const training = vscode.commands.executeCommand('microSteer.trainFromSelection', { name, useAveraging: true });
  try {
    await waitFor(() => api.status().state === 'training', 'the engine to start training');
    await body();
  } finally {
    await training;
  }
}

/** The microSteer settings these suites write, removed from the workspace between suites. */
export const SUITE_SETTINGS = [
  'planes',
  'vectors',
  'activePlane',
  'alpha',
  'trainingSplit',
  'training.steps',
  'generation.seed',
  'generation.maxNewTokens',
  'inlineCompletions.enabled',
  'inlineCompletions.debounceMs',
  'inlineCompletions.maxTokens',
];

export async function clearSuiteSettings(): Promise<void> {
  await setWorkspaceSettings(Object.fromEntries(SUITE_SETTINGS.map((k) => [k, undefined])));
}
