/** Benchmark results: timing helpers, a JSON report and a printed table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Measurement {
  model: string;
  /** The weights format or llama.cpp file measured, where one was. */
  weights?: string;
  metric: string;
  value: number;
  unit: string;
  /** How it was measured (batch, lengths, repetitions). */
  detail: string;
}

/** Median wall time in ms of `repeat` runs after one warm-up run. */
export async function medianMs(repeat: number, run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** The middle value (the upper of the two middle ones for an even count). */
export function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * `other`'s time over `base`'s as the median of ratios of runs taken in pairs, each pair in the order
 * opposite to the one before: drift in the machine's speed (other load, its clock) then falls on both
 * sides of a ratio, where two medians taken one after the other each caught their own moment.
 */
export async function pairedRatio(repeat: number, base: () => Promise<unknown>, other: () => Promise<unknown>): Promise<{ ratio: number; baseMs: number; otherMs: number }> {
  await base();
  await other();
  const pairs: { base: number; other: number }[] = [];
  for (let i = 0; i < repeat; i++) {
    const first = i % 2 === 0 ? base : other;
    const a = await timeMs(first);
    const b = await timeMs(first === base ? other : base);
    pairs.push(first === base ? { base: a, other: b } : { base: b, other: a });
  }
  return { ratio: median(pairs.map((p) => p.other / p.base)), baseMs: median(pairs.map((p) => p.base)), otherMs: median(pairs.map((p) => p.other)) };
}

export async function timeMs(run: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/** The machine as the report describes it; the load averages say how busy it was around the run. */
export function machineFacts(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    availableGiB: Math.round((os.freemem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
  };
}

/** The JSON report: measurements and any further sections (targets, comparisons), with the machine before and after. */
export function writeReport(measurements: Measurement[], file: string, sections: Record<string, unknown> = {}): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ createdAt: new Date().toISOString(), machine: machineFacts(), measurements, ...sections }, null, 2) + '\n');
}

export function formatTable(measurements: Measurement[]): string {
  return textTable(
    ['model', 'weights', 'metric', 'value', 'unit', 'how'],
    measurements.map((m) => [m.model, m.weights ?? '-', m.metric, formatValue(m.value), m.unit, m.detail]),
    [3],
  );
}

/** Aligned columns with a rule under the header; columns in `rightAligned` are padded on the left. */
export function textTable(header: string[], rows: string[][], rightAligned: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
