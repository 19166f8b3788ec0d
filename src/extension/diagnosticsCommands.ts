/**
 * "Micro Steer: Layer diagnostics from selections" (the first selection is set A, the second set B) and
 * "Micro Steer: Compare hidden states" (two prompts and a token position in each, with and without the
 * active plane): each runs on the engine, shows its plot in the diagnostics panel and resolves with the
 * result. Arguments skip the prompts (tests, keybindings); `show: false` skips the panel.
 */
import * as vscode from 'vscode';
import { CancelledError, InputError } from '../engine/errors';
import type { ExamplePosition } from '../engine/methods/exampleStates';
import type { CompareStatesParams, LayerDiagnostics, StateComparison } from '../protocol';
import { DiagnosticsPanel } from './diagnosticsPanel';
import { exampleSets } from './exampleSets';
import { checkPlaneModel, planeSpec } from './planeRecords';
import type { Services } from './services';
import { configuredAlpha } from './settings';
import { trainFromSelection } from './trainCommand';
import { reportFailure } from './userMessages';

export interface LayerDiagnosticsArgs {
  a?: string[];
  b?: string[];
  position?: ExamplePosition;
  show?: boolean;
}

export interface CompareStatesArgs {
  promptA?: string;
  promptB?: string;
  /** Token positions (0 is BOS, -1 the last token); default -1. */
  tokenA?: number;
  tokenB?: number;
  show?: boolean;
}

export async function layerDiagnosticsCommand(services: Services, extensionUri: vscode.Uri, args: LayerDiagnosticsArgs = {}): Promise<LayerDiagnostics | undefined> {
  try {
    const [a, b] = args.a && args.b ? [args.a, args.b] : exampleSets('layer diagnostics', 'A', 'B');
    const position = args.position ?? 'last';
    const result = await withProgress(`Micro Steer: layer diagnostics of ${a.length} and ${b.length} examples`, (token) =>
      services.engine.analyse((client, cancel) => client.layerDiagnostics({ a, b, position }, cancel), token),
    );
    if (args.show !== false) {
      DiagnosticsPanel.show(extensionUri, { kind: 'layers', result }, {
        trainAtLayer: (layer) => void trainFromSelection(services, { examples: b, layer }),
        logWarning: (message) => services.engine.output.appendLine(message),
      });
    }
    return result;
  } catch (e) {
    report('Layer diagnostics', e, services);
    return undefined;
  }
}

export async function compareStatesCommand(services: Services, extensionUri: vscode.Uri, args: CompareStatesArgs = {}): Promise<StateComparison | undefined> {
  try {
    const promptA = args.promptA ?? (await askPrompt('Prompt A (its token at the position asked next is compared)'));
    if (promptA === undefined) return undefined;
    const tokenA = args.tokenA ?? (await askPosition('A'));
    if (tokenA === undefined) return undefined;
    const promptB = args.promptB ?? (await askPrompt('Prompt B'));
    if (promptB === undefined) return undefined;
    const tokenB = args.tokenB ?? (await askPosition('B'));
    if (tokenB === undefined) return undefined;
    const model = await services.engine.ensureModel();
    // With the active plane when it fits the model; without one, the comparison alone.
    const active = services.planes.active();
    let plane: CompareStatesParams['plane'];
    if (active?.record) {
      checkPlaneModel(active.name, active.record, model);
      plane = { ...planeSpec(active.record), alpha: configuredAlpha() };
    }
    const result = await withProgress('Micro Steer: comparing hidden states', (token) =>
      services.engine.analyse((client, cancel) => client.compareStates({ promptA, promptB, tokenA, tokenB, plane }, cancel), token),
    );
    if (args.show !== false) {
      const view = { kind: 'states' as const, result, promptA, promptB, planeName: plane ? active!.name : null, alpha: plane?.alpha ?? null };
      DiagnosticsPanel.show(extensionUri, view, { trainAtLayer: () => undefined, logWarning: (message) => services.engine.output.appendLine(message) });
    }
    return result;
  } catch (e) {
    report('Comparing hidden states', e, services);
    return undefined;
  }
}

function withProgress<T>(title: string, run: (token: vscode.CancellationToken) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_, token) => run(token));
}

function report(what: string, e: unknown, services: Services): void {
  if (e instanceof CancelledError) void vscode.window.showInformationMessage(`Micro Steer: ${what.toLowerCase()} cancelled.`);
  else reportFailure(what, e, services.engine.output);
}

function askPrompt(title: string): Thenable<string | undefined> {
  return vscode.window.showInputBox({ title, prompt: 'The text whose hidden states are compared', validateInput: (v) => (v.trim() === '' ? 'Enter a prompt.' : undefined) });
}

async function askPosition(which: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: `Token position in prompt ${which}`,
    prompt: '0 is BOS; negative counts from the end (-1 = the last token)',
    value: '-1',
    validateInput: (v) => (/^-?\d+$/.test(v.trim()) ? undefined : 'An integer, e.g. -1 for the last token.'),
  });
  if (text === undefined) return undefined;
  const position = Number(text.trim());
  if (!Number.isSafeInteger(position)) throw new InputError(`token position ${text} is not an integer`);
  return position;
}
