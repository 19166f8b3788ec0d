// `npm run demo-model`: the recipe of models/demo. Extracts the corpus from Debian packages
// (scripts/demo-corpus.mjs), pretrains the demo Gemma-2 with `microsteer pretrain`, then writes its
// model card (scripts/model-card.mjs). About 75 minutes on 2 cores. Extra arguments go to pretrain
// (for example --resume after a Ctrl-C).
import { spawnSync } from 'node:child_process';
import { SOURCES } from './demo-corpus.mjs';

const CORPUS = '.cache/demo-corpus';
const OUT = 'models/demo';
/** The demo model's settings; the model card quotes them from models/demo/pretraining.json. */
const DEMO_SETTINGS = [
  '--layers', '4', '--hidden', '192', '--heads', '3', '--kv-heads', '1', '--head-dim', '64', '--intermediate', '512',
  '--sliding-window', '64', '--vocab', '4096', '--context', '256',
  '--steps', '3000', '--batch-tokens', '2048', '--lr', '3e-3', '--warmup', '100', '--seed', '0',
];

function run(command, args) {
  console.error(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const extra = process.argv.slice(2);
run(process.execPath, ['scripts/demo-corpus.mjs', CORPUS]);
const corpus = SOURCES.flatMap((s) => ['--corpus', `${CORPUS}/${s.name}.txt`]);
const resume = extra.includes('--resume');
run(process.execPath, ['dist/cli.js', 'pretrain', ...corpus, '--out', OUT, ...(resume ? [] : ['--force', ...DEMO_SETTINGS]), '--threads', '2', ...extra]);
run(process.execPath, ['scripts/model-card.mjs', OUT]);
