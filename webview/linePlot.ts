/**
 * Geometry of the diagnostics plots: one or more series over the same x positions (layers, states)
 * mapped into an SVG box as polyline points, with ticks. Pure (the webview draws it), unit-tested in Node.
 * Entry i of n sits at the fraction i / (n - 1) of the plot's width (the middle for n = 1); the y axis spans
 * the finite minimum to maximum of all series, larger values drawn higher up. Non-finite entries are left
 * out of their line.
 */
import { formatLoss, type ChartBox, type Tick } from './lossCurve';

export interface LinePlot {
  /** One polyline `points` attribute per series. */
  lines: string[];
  /** The x position of each entry. */
  xs: number[];
  /** The label of every entry (the caller's), at its x position. */
  xTicks: Tick[];
  /** The lowest and highest value. */
  yTicks: Tick[];
}

/** Undefined when no series holds a finite value. `labels` name the x positions (one per entry). */
export function linePlot(labels: readonly string[], series: readonly (readonly number[])[], box: ChartBox): LinePlot | undefined {
  const finite = series.flat().filter((v) => Number.isFinite(v));
  if (finite.length === 0 || labels.length === 0) return undefined;
  const min = finite.reduce((a, b) => Math.min(a, b));
  const max = finite.reduce((a, b) => Math.max(a, b));
  // A flat set of values: centred in a band instead of dividing by zero.
  const pad = max > min ? 0 : Math.abs(min) > 0 ? Math.abs(min) * 0.05 : 1;
  const [lo, hi] = [min - pad, max + pad];
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const n = labels.length;
  const xs = labels.map((_, i) => round(box.left + (n === 1 ? plotWidth / 2 : (i / (n - 1)) * plotWidth)));
  const y = (v: number) => round(box.top + ((hi - v) / (hi - lo)) * plotHeight);
  const lines = series.map((values) =>
    values
      .slice(0, n)
      .flatMap((v, i) => (Number.isFinite(v) ? [`${xs[i]},${y(v)}`] : []))
      .join(' '),
  );
  const yTicks = min === max ? [{ at: y(min), label: formatLoss(min) }] : [{ at: y(min), label: formatLoss(min) }, { at: y(max), label: formatLoss(max) }];
  return { lines, xs, xTicks: labels.map((label, i) => ({ at: xs[i], label })), yTicks };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
