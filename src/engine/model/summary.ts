/** How a model summary reads to a person: one line for notifications, a table for `microsteer info`. */
import type { ModelSummary } from './types';

/** e.g. "Gemma2ForCausalLM, 26 layers, hidden 2304, 2.61B parameters, BF16, 5.23 GB, hook layer 13". */
export function formatModelSummary(s: ModelSummary): string {
  return [
    s.architecture,
    `${s.numHiddenLayers} layers`,
    `hidden ${s.hiddenSize}`,
    `${formatCount(s.parameterCount)} parameters`,
    s.dtypes.join('/'),
    formatBytes(s.sizeOnDiskBytes),
    `hook layer ${s.defaultHookLayer}`,
  ].join(', ');
}

/** One "label  value" row per field. */
export function formatModelSummaryTable(s: ModelSummary): string {
  const rows: [string, string][] = [
    ['folder', s.dir],
    ['architecture', s.architecture],
    ['parameters', `${formatCount(s.parameterCount)} (${s.parameterCount})`],
    ['dtypes', s.dtypes.join(', ')],
    ['size on disk', `${formatBytes(s.sizeOnDiskBytes)} (${s.sizeOnDiskBytes} bytes of weights)`],
    ['layers', String(s.numHiddenLayers)],
    ['hidden size', String(s.hiddenSize)],
    ['vocabulary', String(s.vocabSize)],
    ['default hook layer', `${s.defaultHookLayer} (floor(layers / 2))`],
    ['fingerprint', s.fingerprint],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** 1234 -> "1.23K", 2614341888 -> "2.61B". */
export function formatCount(n: number): string {
  return scaled(n, [['B', 1e9], ['M', 1e6], ['K', 1e3]], '') ?? String(n);
}

/** Decimal units, as model hubs show sizes: 5228683776 -> "5.23 GB". */
export function formatBytes(n: number): string {
  return scaled(n, [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]], ' ') ?? `${n} B`;
}

/** Three significant digits in the largest unit that keeps the rounded value at least 1. */
function scaled(n: number, units: [string, number][], separator: string): string | undefined {
  for (const [unit, scale] of units) {
    const digits = (n / scale).toPrecision(3);
    if (Number(digits) >= 1) return `${digits}${separator}${unit}`;
  }
  return undefined;
}
