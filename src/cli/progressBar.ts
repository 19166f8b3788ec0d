/**
 * The progress line of `microsteer train` and `pretrain`, on stderr: redrawn in place on a terminal,
 * and otherwise (a log file, a pipe) one line for the first step, one per tenth of the run and one
 * for the last step, so that logs stay short.
 */
import type { TrainProgress } from '../protocol';

/** Where the bar is drawn: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const BAR_WIDTH = 20;
/** A terminal is redrawn at most this often (the last step always). */
const REDRAW_MS = 100;

/** What a bar needs of a progress report. */
export interface StepProgress {
  step: number;
  totalSteps: number;
}

export class ProgressBar<P extends StepProgress> {
  private lastTenth = 0;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly format: (p: P) => string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  update(p: P): void {
    const last = p.step >= p.totalSteps;
    if (this.out.isTTY) {
      const time = this.now();
      if (!last && time - this.lastDraw < REDRAW_MS) return;
      this.lastDraw = time;
      const line = this.format(p);
      const width = this.out.columns ?? Infinity;
      // \r and erase-line: the new line replaces the old one, even when it is shorter.
      this.out.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
      this.drawn = true;
      return;
    }
    const tenth = Math.floor((10 * p.step) / p.totalSteps);
    if (p.step === 1 || tenth > this.lastTenth || last) {
      this.lastTenth = tenth;
      this.out.write(`${this.format(p)}\n`);
    }
  }

  /** Writes a line of its own (a note between steps) without breaking the redrawn bar. */
  note(text: string): void {
    this.finish();
    this.out.write(`${text}\n`);
  }

  /** Ends the redrawn line, so that what follows starts on a line of its own. */
  finish(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

/** The bar of a steps-and-percent line: "step  12/500 [#---...]   2%". */
export function stepBar(step: number, totalSteps: number): string {
  const fraction = totalSteps > 0 ? Math.min(1, step / totalSteps) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const digits = String(totalSteps).length;
  return [
    `step ${String(step).padStart(digits)}/${totalSteps}`,
    `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`,
    `${String(Math.round(fraction * 100)).padStart(3)}%`,
  ].join('  ');
}

/** e.g. "step 120/500 [####----------------]  24%  loss 3.2141e+4  nll 3.2141  b +0.0123  11.2 ms/step". */
export function formatTrainProgress(p: TrainProgress): string {
  return [
    stepBar(p.step, p.totalSteps),
    `loss ${p.loss.toPrecision(5)}`,
    `nll ${p.mleLoss.toFixed(4)}`,
    `b ${p.b >= 0 ? '+' : ''}${p.b.toFixed(4)}`,
    `${p.msPerStep.toFixed(1)} ms/step`,
  ].join('  ');
}
