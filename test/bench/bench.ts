/**
 * `npm run bench`: measures the engine (not a test: nothing here asserts a time). Writes
 * test-output/bench/report.json and prints a table, then issue 10's targets with their status.
 * Options: --models tiny,larger (or gemma2-2b-shape, opt-in: 5.26 GB and minutes per format)
 *   --formats f32,int8,int4  --threads N (default 2, for us and llama.cpp)  --repeat N
 *   --recipe-steps N (default 500, the method's)  --no-peer (skip llama.cpp)
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openModelFolder } from '../../src/engine/model/modelFolder';
import { measureReadBandwidth } from './bandwidth';
import { formatBench } from './formatBench';
import { graphBench } from './graphBench';
import { llamaBench, type PeerResult } from './llamaBench';
import { benchModel, BENCH_MODELS, DEFAULT_BENCH_MODELS, LIGHT_BENCH_MODELS } from './models';
import { formatTable, machineFacts, writeReport, type Measurement } from './report';
import type { BenchFormat } from './roofline';
import { steeringBench } from './steeringBench';
import { evaluateTargets, formatTargets, type Target } from './targets';

const FORMATS: readonly BenchFormat[] = ['f32', 'int8', 'int4'];

function list<T extends string>(value: string | undefined, allowed: readonly T[], fallback: readonly T[], what: string): T[] {
  const items = value === undefined ? [...fallback] : value.split(',');
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}" (${allowed.join(', ')})`);
  return items as T[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      formats: { type: 'string' },
      threads: { type: 'string' },
      repeat: { type: 'string' },
      'recipe-steps': { type: 'string' },
      'no-peer': { type: 'boolean' },
    },
  });
  const models = list(values.models, Object.keys(BENCH_MODELS), DEFAULT_BENCH_MODELS, 'benchmark model');
  const formats = list(values.formats, FORMATS, FORMATS, 'weights format');
  const threads = Number(values.threads ?? 2);
  const repeat = Number(values.repeat ?? 5);
  const recipeSteps = Number(values['recipe-steps'] ?? 500);
  const machineBefore = machineFacts();
  const measurements: Measurement[] = [];
  const targets: Target[] = [];
  for (const model of models) {
    const dir = await benchModel(model);
    const folder = await openModelFolder(dir);
    console.error(`benchmarking ${model} (${dir})`);
    // Just before the model's runs: other work on the machine changes it within a run.
    const bandwidth = await measureReadBandwidth(threads);
    measurements.push({ model, metric: 'memory read bandwidth', value: bandwidth.bytesPerSecond / 1e9, unit: 'GB/s', detail: `${threads} threads, memcmp of 512 MiB per thread, best of 3; the rooflines below` });
    const ours = await formatBench(model, dir, folder, formats, { repeat, threads, bandwidth });
    measurements.push(...ours.measurements);
    let peers: PeerResult[] = [];
    if (!values['no-peer']) {
      const peer = await llamaBench(model, folder, ours.results, { repeat, threads, bandwidth });
      measurements.push(...peer.measurements);
      peers = peer.results;
    }
    // A model too large for float32 sessions of every graph runs them in its first quantized format.
    const weights = LIGHT_BENCH_MODELS.includes(model) ? 'f32' : formats.find((f) => f !== 'f32');
    if (weights) {
      measurements.push(...(await graphBench(model, dir, repeat, weights)));
      measurements.push(...(await steeringBench(model, dir, { repeat, recipeSteps, weights })));
    } else {
      console.error(`${model}: graph and steering benches skipped (float32 sessions of every graph do not fit; add --formats int8)`);
    }
    targets.push(...evaluateTargets({ model, config: folder.config, formats: ours.results, peers, measurements, bandwidth }));
  }
  const file = path.resolve(__dirname, '..', '..', '..', 'test-output', 'bench', 'report.json');
  writeReport(measurements, file, { machineBefore, threads, formats, targets });
  const load = (facts: Record<string, unknown>) => (facts.loadAverage as number[]).join(' / ');
  console.log(`machine: ${os.cpus().length} CPUs; load average (1 / 5 / 15 min) ${load(machineBefore)} before, ${load(machineFacts())} after`);
  console.log(formatTable(measurements));
  console.log(`\n${formatTargets(targets)}`);
  console.log(`\nreport: ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
