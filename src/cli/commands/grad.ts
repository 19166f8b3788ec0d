/** `microsteer grad`: the steered NLL and its gradient with respect to the plane, from the training graph. */
import type { Command } from '../command';
import { parseCommandArgs, parseIdList, parseNumber, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { openModelFolder } from '../../engine/model/modelFolder';
import { readPlaneFile } from '../../engine/plane';
import { checkContext, checkScoredLogits } from '../../engine/gemma2/batchRows';
import { Gemma2Runner } from '../../engine/gemma2/runner';
import { firstNonFinite } from '../../engine/train/nonFiniteGuard';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { TOKEN_RUN_OPTIONS } from './tokenRunOptions';

export const gradCommand: Command = {
  name: 'grad',
  summary: 'steered mean NLL of token ids and its gradient with respect to the plane (n, b)',
  usage: `usage: microsteer grad --model DIR --ids 2,17,5 --plane FILE --alpha A [--positions all] [--device auto|cpu|cuda] [--weights f32|int8|int4|...] --json

Prints {"loss": number, "grad_n": [...], "grad_b": number}: the mean NLL of ids[1:] with the plane
steering every position, and its gradient with respect to n (as a free vector, not through a
normalisation) and b, computed by a training step (the layers above the plane's layer).

  --model DIR        the model folder
  --ids LIST         comma-separated token ids (at least 2)
  --plane FILE       a plane file {"layer", "n", "b"}
  --alpha A          steering strength
  --positions all    the only choice: steering every position
  --device D         auto (default), cpu or cuda
${weightsHelp('f32')}
  --json             print JSON (the only output format)`,

  async run(argv) {
    const v = parseCommandArgs(argv, TOKEN_RUN_OPTIONS);
    if (!v.json) throw new InputError('grad prints JSON only: pass --json');
    if (v.positions !== undefined && v.positions !== 'all') {
      throw new InputError(`grad steers every position: --positions must be all, got "${v.positions}"`);
    }
    const folder = await openModelFolder(requireOption(v.model, '--model'));
    const ids = parseIdList(requireOption(v.ids, '--ids'), '--ids');
    if (ids.length < 2) throw new InputError('--ids needs at least 2 token ids for the NLL');
    // Before any session exists: a long input costs nothing to refuse.
    checkContext(ids.length, folder.config);
    checkScoredLogits(1, ids.length, folder.config, 'a training step');
    const plane = await readPlaneFile(requireOption(v.plane, '--plane'), folder.config);
    const alpha = parseNumber(requireOption(v.alpha, '--alpha'), '--alpha');
    const runner = await Gemma2Runner.open(folder, { hookLayer: plane.layer, device: parseDevice(v.device), weights: parseWeights(v.weights, 'f32') });
    try {
      const [sites] = await runner.hookActivations([ids]);
      const step = await runner.trainStep([{ ids, residual: sites.residual, y: sites.y }], plane, alpha);
      const bad = firstNonFinite([['the loss', step.loss], ['dLoss/dn', step.gradN], ['dLoss/db', step.gradB]]);
      if (bad) throw new InputError(`${bad} is not finite: the model's weights hold NaN or infinite values, or the steering is too strong`);
      console.log(JSON.stringify({ loss: step.loss, grad_n: Array.from(step.gradN), grad_b: step.gradB }));
    } finally {
      await runner.release();
    }
  },
};
