// `npm run demo`: the main job on the embedded default model. Makes the tiny seeded Gemma-2 (models/tiny),
// trains a steering plane on the demo's Shakespeare lines, and compares generations across alphas.
// The tiny model is random, so its text is noise; the same commands work on a real Gemma-2 folder.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function cli(...args) {
  console.log(`\n$ npx microsteer ${args.join(' ')}`);
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync('models/tiny/config.json')) cli('tiny-model', '--out', 'models/tiny');
cli('info', '--model', 'models/tiny');
// A short run (minibatches of 4, a larger learning rate than the method's 5e-4 for 500 steps) keeps the demo under a minute.
cli('train', '--model', 'models/tiny', '--examples', 'demo/shakespeare.txt', '--steps', '40', '--batch-size', '4', '--lr', '0.01', '--out', 'models/tiny-shakespeare.plane.json');
cli('compare', '--model', 'models/tiny', '--plane', 'models/tiny-shakespeare.plane.json', '--alphas', '0,1.5,2.5,3.5', '--prompt', 'Good morrow, friend.', '--max-tokens', '24', '--seed', '1');
