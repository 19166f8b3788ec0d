// `npm run demo`: the main job on the embedded default model, models/demo (the project's own small
// pretrained Gemma-2, see its README.md). Trains a steering plane on the demo's archaic English lines
// (demo/archaic.txt, King James style) and compares generations at alphas 0, 1.5, 2.5 and 3.5; then computes a
// mean-difference vector from modern English to German (demo/modern-english.txt -> demo/german.txt)
// and shows it changing the language of a continuation.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const MODEL = 'models/demo';

function cli(...args) {
  console.log(`\n$ npx microsteer ${args.join(' ')}`);
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync(`${MODEL}/model.safetensors`)) {
  console.error(`${MODEL} has no weights: restore it from git, or rebuild it with npm run demo-model`);
  process.exit(1);
}
cli('info', '--model', MODEL);
// A short run with a larger learning rate than the method's 5e-4 for 500 steps: this small model's plane converges in it.
cli('train', '--model', MODEL, '--examples', 'demo/archaic.txt', '--steps', '150', '--lr', '0.01', '--out', 'models/demo-archaic.plane.json', '--force');
cli('compare', '--model', MODEL, '--plane', 'models/demo-archaic.plane.json', '--alphas', '0,1.5,2.5,3.5', '--prompt', 'The best thing about computers is', '--max-tokens', '40', '--temperature', '0.8', '--seed', '1');
cli('meandiff', '--model', MODEL, '--source', 'demo/modern-english.txt', '--target', 'demo/german.txt', '--out', 'models/demo-german.vector.json', '--force');
cli('compare', '--model', MODEL, '--vector', 'models/demo-german.vector.json', '--coefficients', '0,1,2', '--prompt', 'I think that the best way to learn is', '--max-tokens', '40', '--temperature', '0.8', '--seed', '3');
