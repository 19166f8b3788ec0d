/**
 * `npm run bench`: measures the engine (not a test: nothing here asserts a time). Writes
 * test-output/bench/report.json and prints a table.
 * Options: --models tiny,larger  --repeat N  --recipe-steps N (default 500, the method's)
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { benchModel, BENCH_MODELS } from './models';
import { graphBench } from './graphBench';
import { steeringBench } from './steeringBench';
import { formatTable, writeReport, type Measurement } from './report';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string' }, repeat: { type: 'string' }, 'recipe-steps': { type: 'string' } } });
  const models = (values.models ?? Object.keys(BENCH_MODELS).join(',')).split(',');
  const repeat = Number(values.repeat ?? 5);
  const recipeSteps = Number(values['recipe-steps'] ?? 500);
  const measurements: Measurement[] = [];
  for (const model of models) {
    if (!(model in BENCH_MODELS)) throw new Error(`unknown benchmark model "${model}" (${Object.keys(BENCH_MODELS).join(', ')})`);
    const dir = await benchModel(model);
    console.error(`benchmarking ${model} (${dir})`);
    measurements.push(...(await graphBench(model, dir, repeat)));
    measurements.push(...(await steeringBench(model, dir, { repeat, recipeSteps })));
  }
  const file = path.resolve(__dirname, '..', '..', '..', 'test-output', 'bench', 'report.json');
  writeReport(measurements, file);
  console.log(formatTable(measurements));
  console.log(`\nreport: ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
