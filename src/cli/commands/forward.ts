/** `microsteer forward`: last-position logits and mean NLL of a token sequence, optionally steered. */
import type { Command } from '../command';
import { parseCommandArgs, parseIdList, parseNumber, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { openModelFolder } from '../../engine/model/modelFolder';
import { readPlaneFile } from '../../engine/plane';
import { checkContext } from '../../engine/gemma2/batchRows';
import { pieceWidth } from '../../engine/gemma2/positionPieces';
import { Gemma2Runner } from '../../engine/gemma2/runner';
import type { SteerRow } from '../../engine/gemma2/batchRows';
import { checkSessionCommandLine } from '../sessionCommandLine';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { TOKEN_RUN_OPTIONS } from './tokenRunOptions';

export const forwardCommand: Command = {
  name: 'forward',
  summary: 'soft-capped last-position logits and mean NLL of token ids, optionally steered by a plane',
  usage: `usage: microsteer forward --model DIR --ids 2,17,5 [--plane FILE --alpha A --positions all|last] [--device auto|cpu|cuda] [--weights f32|int8|int4|...] --json

Prints {"last_logits": [...], "nll": number}: the soft-capped logits of the last position and the mean
NLL of ids[1:] given their prefixes, with the plane applied at every position (all) or the last only.
Ids up to the model's context are scored in pieces through the KV cache, with the results of one run:
at most MICROSTEER_MAX_LOGITS / vocabulary (and MICROSTEER_MAX_RUN_POSITIONS) positions per run.

  --model DIR        the model folder
  --ids LIST         comma-separated token ids (at least 2)
  --plane FILE       a plane file {"layer", "n", "b"}
  --alpha A          steering strength (required with --plane)
  --positions P      all (default) or last
  --device D         auto (default), cpu or cuda
${weightsHelp('f32')}
  --json             print JSON (the only output format)`,

  async run(argv) {
    const v = parseCommandArgs(argv, TOKEN_RUN_OPTIONS);
    if (!v.json) throw new InputError('forward prints JSON only: pass --json');
    const folder = await openModelFolder(requireOption(v.model, '--model'));
    const ids = parseIdList(requireOption(v.ids, '--ids'), '--ids');
    if (ids.length < 2) throw new InputError('--ids needs at least 2 token ids for the NLL');
    // Before any session exists: a long input costs nothing to refuse. One within the context runs in pieces.
    checkContext(ids.length, folder.config);
    pieceWidth(1, folder.config, true, 'the NLL run');
    checkSessionCommandLine('give fewer --ids, or score a long text with `microsteer eval`, which runs in the engine process');
    const positions = v.positions ?? 'all';
    if (positions !== 'all' && positions !== 'last') throw new InputError(`--positions must be all or last, got "${positions}"`);
    let steer: SteerRow | undefined;
    let layer: number | undefined;
    if (v.plane !== undefined) {
      const plane = await readPlaneFile(v.plane, folder.config);
      steer = { n: plane.n, b: plane.b, alpha: parseNumber(requireOption(v.alpha, '--alpha'), '--alpha'), positions };
      layer = plane.layer;
    } else if (v.alpha !== undefined || v.positions !== undefined) {
      throw new InputError('--alpha and --positions need --plane');
    }
    const runner = await Gemma2Runner.open(folder, { hookLayer: layer, device: parseDevice(v.device), weights: parseWeights(v.weights, 'f32') });
    try {
      const [row] = await runner.forwardNll([ids], [steer]);
      console.log(JSON.stringify({ last_logits: Array.from(row.lastLogits), nll: row.nll }));
    } finally {
      await runner.release();
    }
  },
};
