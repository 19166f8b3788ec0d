/** Two contrastive example sets from the active editor's first two selections, each split by `microSteer.trainingSplit`. */
import * as vscode from 'vscode';
import { InputError } from '../engine/errors';
import { splitExamples } from './exampleSplit';
import { trainingSplit } from './settings';

/** [first, second]; `what` and the set names say in the message what they are for. */
export function exampleSets(what: string, first: string, second: string): [string[], string[]] {
  const editor = vscode.window.activeTextEditor;
  const selections = editor?.selections.filter((s) => !s.isEmpty) ?? [];
  if (!editor || selections.length < 2) {
    throw new InputError(`${what} needs two selections (Alt+click or Ctrl+D to add the second): the first holds the ${first} examples, the second the ${second} examples`);
  }
  const split = trainingSplit();
  // Selections in document order: the first one written is the first set, however they were made.
  const ordered = [...selections].sort((a, b) => a.start.compareTo(b.start));
  const sets = ordered.slice(0, 2).map((s) => splitExamples([editor.document.getText(s)], split));
  sets.forEach((set, i) => {
    if (set.length === 0) throw new InputError(`the ${i === 0 ? first : second} selection holds no example text (split: ${split})`);
  });
  return [sets[0], sets[1]];
}
