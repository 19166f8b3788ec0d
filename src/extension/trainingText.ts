/**
 * How training reads to a person: what the examples are, progress with the time left and the loss as a
 * share of where it started, and the result. One loss format everywhere (formatLoss). No vscode import: unit-tested.
 */
import type { TrainProgress } from '../protocol';
import { formatLoss } from '../../webview/lossCurve';
import type { TrainingSplit } from './exampleSplit';

const UNITS: Record<TrainingSplit, [string, string]> = {
  line: ['line', 'lines'],
  paragraph: ['paragraph', 'paragraphs'],
  selection: ['selection', 'selections'],
};

function count(n: number, [one, many]: [string, string]): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "Train on 16 lines from 1 selection", or "Train on 3 examples" when they came from elsewhere. */
export function examplesTitle(examples: number, split: TrainingSplit | undefined, selections: number): string {
  if (split === undefined) return `Train on ${count(examples, ['example', 'examples'])}`;
  if (split === 'selection') return `Train on ${count(examples, UNITS.selection)}`;
  return `Train on ${count(examples, UNITS[split])} from ${count(selections, UNITS.selection)}`;
}

/** The loss as a share of the first step's: "62%" (below 100% is progress). */
export function lossShare(loss: number, initialLoss: number): string {
  if (!Number.isFinite(loss) || !Number.isFinite(initialLoss) || initialLoss === 0) return '–';
  const share = (100 * loss) / initialLoss;
  return `${share >= 99.5 || share < 10 ? share.toFixed(1) : share.toFixed(0)}%`;
}

/** "about 40 s", "about 3 min", "about 1 h 5 min". */
export function formatDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 60) return `about ${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `about ${min} min`;
  return `about ${Math.floor(min / 60)} h ${min % 60} min`;
}

/** "step 120/500 · loss 62% of the start · about 3 min left"; the time from the steps so far (`elapsedMs` since the first began). */
export function progressMessage(p: Pick<TrainProgress, 'step' | 'totalSteps' | 'loss'>, initialLoss: number, elapsedMs: number): string {
  const left = p.step < p.totalSteps ? ` · ${formatDuration((elapsedMs / p.step) * (p.totalSteps - p.step))} left` : '';
  return `step ${p.step}/${p.totalSteps} · loss ${lossShare(p.loss, initialLoss)} of the start${left}`;
}

/** "loss 1.41e+5 → 1.38e+5 (98% of the start) in 500 steps" */
export function lossSummary(initialLoss: number, finalLoss: number, steps: number): string {
  return `loss ${formatLoss(initialLoss)} → ${formatLoss(finalLoss)} (${lossShare(finalLoss, initialLoss)} of the start) in ${count(steps, ['step', 'steps'])}`;
}
