/**
 * Geometry of the training-loss chart: a plane's loss history mapped into an SVG box as polyline points
 * and axis ticks. Pure (the webview draws it), so it is unit-tested in Node. Step i of n sits at the
 * fraction i / (n - 1) of the plot's width; the loss axis spans the history's finite minimum to maximum,
 * higher losses drawn higher up. Non-finite entries (a diverged step) are left out of the line.
 */

/** The SVG box and the margins kept for the axis labels, in SVG user units. */
export interface ChartBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface Tick {
  /** Position along its axis, in SVG user units. */
  at: number;
  label: string;
}

export interface LossCurve {
  /** The polyline's `points` attribute. */
  points: string;
  /** Steps (1-based, as the trainer reports them) of the first and last entries. */
  xTicks: Tick[];
  /** The lowest and highest loss. */
  yTicks: Tick[];
}

/** Undefined when the history holds no finite loss (nothing to draw). */
export function lossCurve(history: readonly number[], box: ChartBox): LossCurve | undefined {
  const finite = history.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  // reduce, not Math.min(...finite): a long history would overflow the argument list.
  const minLoss = finite.reduce((a, b) => Math.min(a, b));
  const maxLoss = finite.reduce((a, b) => Math.max(a, b));
  let lo = minLoss;
  let hi = maxLoss;
  if (hi === lo) {
    // A flat history: centre it in a band instead of dividing by zero.
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.05 : 1;
    lo -= pad;
    hi += pad;
  }
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const n = history.length;
  const x = (i: number): number => box.left + (n === 1 ? plotWidth / 2 : (i / (n - 1)) * plotWidth);
  const y = (v: number): number => box.top + ((hi - v) / (hi - lo)) * plotHeight;
  const points = history
    .map((v, i) => (Number.isFinite(v) ? `${round(x(i))},${round(y(v))}` : ''))
    .filter((p) => p !== '')
    .join(' ');
  const xTicks = n === 1 ? [{ at: round(x(0)), label: '1' }] : [{ at: round(x(0)), label: '1' }, { at: round(x(n - 1)), label: String(n) }];
  let yTicks: Tick[] = [{ at: round(y(minLoss)), label: formatLoss(minLoss) }];
  if (minLoss !== maxLoss) {
    const [low, high] = distinctLabels(minLoss, maxLoss);
    yTicks = [
      { at: round(y(minLoss)), label: low },
      { at: round(y(maxLoss)), label: high },
    ];
  }
  return { points, xTicks, yTicks };
}

/** Three significant digits (by default): enough to read a curve, short enough for the axis. */
export function formatLoss(v: number, digits = 3): string {
  return String(Number(v.toPrecision(digits)));
}

/**
 * Labels for the two ends of the loss axis with as few digits as tell them apart (at least three): a short
 * run of a large loss, 141260 down to 140980, must not read "141000" at both ends.
 */
function distinctLabels(low: number, high: number): [string, string] {
  for (let digits = 3; digits < 17; digits++) {
    const labels: [string, string] = [formatLoss(low, digits), formatLoss(high, digits)];
    if (labels[0] !== labels[1]) return labels;
  }
  return [String(low), String(high)];
}

/** Two decimals keep the attribute short; sub-pixel precision is invisible. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
