/**
 * Training examples from the editor's selections: every selection, and within one the split setting
 * `microSteer.trainingSplit` (one example per line, per paragraph, or the whole selection). Blank
 * lines and surrounding whitespace never make an example. No vscode import: this is unit-tested.
 */

export type TrainingSplit = 'line' | 'paragraph' | 'selection';

export const TRAINING_SPLITS: readonly TrainingSplit[] = ['line', 'paragraph', 'selection'];

export function splitExamples(selections: readonly string[], split: TrainingSplit): string[] {
  return selections.flatMap((text) => pieces(text.replace(/\r\n?/g, '\n'), split)).map((e) => e.trim()).filter((e) => e !== '');
}

function pieces(text: string, split: TrainingSplit): string[] {
  switch (split) {
    case 'line':
      return text.split('\n');
    // A paragraph ends at a line that is empty or holds only whitespace.
    case 'paragraph':
      return text.split(/\n[^\S\n]*\n/);
    case 'selection':
      return [text];
  }
}
