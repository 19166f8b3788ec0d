/**
 * "Micro Steer: Train steering from selection": the selections, split by `microSteer.trainingSplit`,
 * are the examples; the user names the plane and says whether it is a style or a concept; a
 * cancellable notification shows the step and loss; the trained plane is stored and made active.
 */
import * as vscode from 'vscode';
import { CancelledError, InputError } from '../engine/errors';
import type { PlaneRecord } from '../protocol';
import { splitExamples } from './exampleSplit';
import { askPlaneName } from './planeNamePrompt';
import { defaultPlaneName, planeNameProblem } from './planeRecords';
import type { Services } from './services';
import { trainingSplit, trainOptions } from './settings';
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
    const name = await planeName(services, args, examples[0]);
    if (name === undefined) return undefined;
    const useAveraging = args.useAveraging ?? (await askStyleOrConcept());
    if (useAveraging === undefined) return undefined;

    const record = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Micro Steer: training "${name}" on ${examples.length} examples`, cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'loading the model…' });
        let reported = 0;
        return engine.train(
          examples,
          { ...trainOptions(useAveraging), ...(args.layer === undefined ? {} : { layer: args.layer }) },
          (p) => {
            const increment = (100 * (p.step - reported)) / p.totalSteps;
            reported = p.step;
            progress.report({ increment, message: `step ${p.step}/${p.totalSteps} · loss ${p.loss.toPrecision(4)}` });
          },
          token,
        );
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

async function planeName(services: Services, args: TrainArgs, firstExample: string): Promise<string | undefined> {
  const taken = (name: string) => services.planes.table().planes.has(name);
  if (args.name === undefined) return askPlaneName('Train steering from selection', defaultPlaneName(firstExample, new Date()), taken);
  const problem = planeNameProblem(args.name);
  if (problem) throw new InputError(`plane name "${args.name}": ${problem}`);
  if (taken(args.name) && !args.replace) throw new InputError(`a plane named "${args.name}" exists: pass replace: true to replace it`);
  return args.name;
}

async function askStyleOrConcept(): Promise<boolean | undefined> {
  const items = [
    { label: 'Style', description: 'a general manner of writing (useAveraging: true)', useAveraging: true },
    { label: 'Concept', description: 'a specific topic or idea (useAveraging: false)', useAveraging: false },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Is this a style or a concept?', placeHolder: 'What the examples have in common' });
  return picked?.useAveraging;
}

async function announce(services: Services, name: string, record: PlaneRecord): Promise<void> {
  const open = 'Open steering panel';
  const summary = `layer ${record.layer}, loss ${record.initialLoss.toPrecision(4)} → ${record.finalLoss.toPrecision(4)} in ${record.training.steps} steps`;
  const actions = services.openPanel ? [open] : [];
  const choice = await vscode.window.showInformationMessage(`Micro Steer: trained plane "${name}" (${summary}); it is now active.`, ...actions);
  if (choice === open) services.openPanel?.();
}
