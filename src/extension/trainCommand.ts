/**
 * "Micro Steer: Train steering from selection": the selections, split by `microSteer.trainingSplit`,
 * are the examples; the model folder is checked before any question; the user names the plane and says
 * whether it is a style or a concept; a cancellable notification shows the step, the loss as a share of
 * its start and the time left; the trained plane is stored and made active.
 */
import * as vscode from 'vscode';
import { CancelledError, InputError } from '../engine/errors';
import type { PlaneRecord } from '../protocol';
import { splitExamples } from './exampleSplit';
import { askPlaneName } from './planeNamePrompt';
import { defaultPlaneName, parsePlaneRecord, planeNameProblem } from './planeRecords';
import type { Services } from './services';
import { trainingSplit, trainOptions } from './settings';
import { examplesTitle, lossSummary, progressMessage } from './trainingText';
import { reportFailure } from './userMessages';

/** Arguments that skip the prompts (tests, keybindings, other extensions). */
export interface TrainArgs {
  name?: string;
  useAveraging?: boolean;
  /** Replace an existing plane of that name without asking. */
  replace?: boolean;
  /** The examples themselves, instead of the selections (the diagnostics panel's button). */
  examples?: string[];
  /** The hook layer, instead of `microSteer.training.layer`. */
  layer?: number;
}

export interface TrainedPlane {
  name: string;
  record: PlaneRecord;
}

/** Resolves with the stored plane, or undefined when there was nothing to do, the user cancelled, or training failed (the user was told). */
export async function trainFromSelection(services: Services, args: TrainArgs = {}): Promise<TrainedPlane | undefined> {
  const { engine, planes } = services;
  try {
    const editor = vscode.window.activeTextEditor;
    const texts = args.examples ?? editor?.selections.map((s) => editor.document.getText(s)) ?? [];
    const split = args.examples ? 'selection' : trainingSplit();
    const examples = splitExamples(texts, split);
    if (examples.length === 0) {
      throw new InputError(
        editor
          ? `the selection holds no example text (split: ${split}): select the example lines or paragraphs to train on first`
          : 'no editor is active: open a file and select the example texts to train on',
      );
    }
    // A bad model folder makes the questions below pointless: find out first.
    await engine.ensureModel();
    const title = examplesTitle(examples.length, args.examples ? undefined : split, texts.filter((t) => t.trim() !== '').length);
    const name = await planeName(services, args, examples[0], title);
    if (name === undefined) return undefined;
    const useAveraging = args.useAveraging ?? (await askStyleOrConcept(title));
    if (useAveraging === undefined) return undefined;

    const record = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Micro Steer: training "${name}" on ${examples.length} examples`, cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'reading the examples…' });
        let reported = 0;
        let initialLoss = Number.NaN;
        let started = 0;
        const stop = new StopAndKeep(token);
        try {
          return await engine.train(
            examples,
            { ...trainOptions(useAveraging), ...(args.layer === undefined ? {} : { layer: args.layer }) },
            (p) => {
              // The first step's own time is in msPerStep; the clock covers the ones after it.
              if (p.step === 1) {
                initialLoss = p.loss;
                started = Date.now() - p.msPerStep;
              }
              const increment = (100 * (p.step - reported)) / p.totalSteps;
              reported = p.step;
              progress.report({ increment, message: progressMessage(p, initialLoss, Date.now() - started) });
            },
            stop.token,
          );
        } catch (e) {
          const kept = stop.kept(e);
          if (kept) return kept;
          throw e;
        } finally {
          stop.dispose();
        }
      },
    );
    await planes.save(name, record);
    await planes.setActive(name);
    void announce(services, name, record);
    return { name, record };
  } catch (e) {
    if (e instanceof CancelledError) {
      void vscode.window.showInformationMessage('Micro Steer: training cancelled; no plane was stored.');
    } else {
      reportFailure('Training', e, engine.output);
    }
    return undefined;
  }
}

/**
 * The running training's "Stop and keep" (a status bar button and the command
 * microSteer.stopTrainingAndKeep): it cancels the training like Cancel does, but the plane trained so far,
 * which the engine returns with the cancellation, is stored instead of thrown away.
 */
class StopAndKeep implements vscode.Disposable {
  private static current: StopAndKeep | undefined;
  private readonly source = new vscode.CancellationTokenSource();
  private readonly follow: vscode.Disposable;
  private readonly item = vscode.window.createStatusBarItem('microSteer.stopAndKeep', vscode.StatusBarAlignment.Right, 101);
  private keep = false;

  /** Stops the running training and keeps its plane so far; false when none runs. */
  static stop(): boolean {
    const current = StopAndKeep.current;
    if (!current) return false;
    current.keep = true;
    current.source.cancel();
    return true;
  }

  constructor(cancel: vscode.CancellationToken) {
    StopAndKeep.current = this;
    this.follow = cancel.onCancellationRequested(() => this.source.cancel());
    this.item.name = 'Micro Steer: stop training and keep';
    this.item.text = '$(debug-stop) Stop and keep';
    this.item.tooltip = 'Stop training now and keep the plane trained so far';
    this.item.command = 'microSteer.stopTrainingAndKeep';
    this.item.show();
    void vscode.commands.executeCommand('setContext', 'microSteer.training', true);
  }

  get token(): vscode.CancellationToken {
    return this.source.token;
  }

  /** The plane to keep when `e` is the cancellation this asked for and the engine sent the plane so far (none before the first step). */
  kept(e: unknown): PlaneRecord | undefined {
    if (!this.keep || !(e instanceof CancelledError) || e.lastGood === undefined) return undefined;
    return parsePlaneRecord(e.lastGood, 'the plane trained so far');
  }

  dispose(): void {
    if (StopAndKeep.current === this) StopAndKeep.current = undefined;
    void vscode.commands.executeCommand('setContext', 'microSteer.training', false);
    this.item.dispose();
    this.follow.dispose();
    this.source.dispose();
  }
}

/** "Micro Steer: Stop training and keep the plane so far". */
export function stopTrainingAndKeep(): boolean {
  const stopped = StopAndKeep.stop();
  if (!stopped) void vscode.window.showInformationMessage('Micro Steer: no training is running.');
  return stopped;
}

async function planeName(services: Services, args: TrainArgs, firstExample: string, title: string): Promise<string | undefined> {
  const taken = (name: string) => services.planes.table().planes.has(name);
  if (args.name === undefined) return askPlaneName(title, defaultPlaneName(firstExample, new Date()), taken);
  const problem = planeNameProblem(args.name);
  if (problem) throw new InputError(`plane name "${args.name}": ${problem}`);
  if (taken(args.name) && !args.replace) throw new InputError(`a plane named "${args.name}" exists: pass replace: true to replace it`);
  return args.name;
}

async function askStyleOrConcept(title: string): Promise<boolean | undefined> {
  const items = [
    {
      label: 'Style',
      description: 'a general manner of writing',
      detail: 'Steers most of what the model writes toward how the examples are written.',
      useAveraging: true,
    },
    {
      label: 'Concept',
      description: 'a specific topic or idea',
      detail: 'Steers toward what the examples are about, leaving text far from it alone.',
      useAveraging: false,
    },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: `${title}: is it a style or a concept?`, placeHolder: 'What the examples have in common' });
  return picked?.useAveraging;
}

async function announce(services: Services, name: string, record: PlaneRecord): Promise<void> {
  const open = 'Open steering panel';
  const summary = `layer ${record.layer}, ${lossSummary(record.initialLoss, record.finalLoss, record.lossHistory.length)}`;
  const actions = services.openPanel ? [open] : [];
  const choice = await vscode.window.showInformationMessage(`Micro Steer: trained plane "${name}" (${summary}); it is now active.`, ...actions);
  if (choice === open) services.openPanel?.();
}
