/** The training progress bar: redrawn in place on a terminal, a line per tenth of the run elsewhere. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatTrainProgress } from '../../../src/cli/progressBar';
import type { TrainProgress } from '../../../src/protocol';

function progress(step: number, totalSteps: number): TrainProgress {
  return { step, totalSteps, loss: 31415.9, mleLoss: 3.14159, capLoss: -0.5, b: -0.01234, gradNorm: 1, msPerStep: 12.34 };
}

function recorder(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

test('one line shows the step, the bar, the losses and b', () => {
  assert.equal(
    formatTrainProgress(progress(120, 500)),
    'step 120/500  [#####---------------]   24%  loss 31416  nll 3.1416  b -0.0123  12.3 ms/step',
  );
  assert.ok(formatTrainProgress(progress(7, 500)).startsWith(`step   7/500  [${'-'.repeat(20)}]    1%`));
  assert.ok(formatTrainProgress({ ...progress(500, 500), b: 0.5 }).includes(`[${'#'.repeat(20)}]  100%`));
  assert.ok(formatTrainProgress({ ...progress(500, 500), b: 0.5 }).includes(' b +0.5000 '));
});

test('not a terminal: the first step, each tenth of the run and the last step, one line each', () => {
  const { writes, stream } = recorder(false);
  const bar = new ProgressBar(stream, formatTrainProgress);
  for (let step = 1; step <= 35; step++) bar.update(progress(step, 35));
  bar.finish();
  const steps = writes.map((w) => Number(/^step +(\d+)\//.exec(w)?.[1]));
  // Tenths of 35 steps are crossed at steps 4, 7, 11, 14, 18, 21, 25, 28, 32 and 35.
  assert.deepEqual(steps, [1, 4, 7, 11, 14, 18, 21, 25, 28, 32, 35]);
  assert.ok(writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
});

test('a terminal: redrawn in place (at most every 100 ms, the last step always), cut to its width, ended by finish()', () => {
  const { writes, stream } = recorder(true, 40);
  let now = 0;
  const bar = new ProgressBar(stream, formatTrainProgress, () => now);
  bar.update(progress(1, 3));
  now = 50;
  bar.update(progress(2, 3));
  now = 60;
  bar.update(progress(3, 3));
  bar.finish();
  assert.equal(writes.length, 3, 'step 2 came too soon after step 1');
  for (const w of writes.slice(0, 2)) {
    assert.ok(w.startsWith('\r\x1b[2K'));
    assert.equal(w.length, '\r\x1b[2K'.length + 39);
  }
  assert.ok(writes[1].startsWith('\r\x1b[2Kstep 3/3'), writes[1]);
  assert.equal(writes[2], '\n');
});
