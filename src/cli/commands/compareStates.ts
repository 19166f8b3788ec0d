/** `microsteer compare-states`: cosine similarity of one token's hidden states in two prompts at every layer, with and without a plane. */
import type { Command } from '../command';
import { parseCommandArgs, parseInteger, parseNumber, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { compareHiddenStates, type ComparedPlane, type StateComparison } from '../../engine/methods/hiddenStates';
import { openModelFolder } from '../../engine/model/modelFolder';
import { readPlaneFile } from '../../engine/plane';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { withLocalModel } from './localModel';

export const compareStatesCommand: Command = {
  name: 'compare-states',
  summary: "cosine similarity of one token's hidden states in two prompts, per layer, with and without a plane",
  usage: `usage: microsteer compare-states --model DIR --prompt-a "..." --prompt-b "..." --token-a K --token-b K [options]

For token K of each prompt (0 is BOS, -1 the last token), the cosine similarity of their residual
streams after the embedding and after every layer; with --plane also with the plane's hook at its
layer (on both prompts), so you see where a plane moves one token's representation toward another's.

  --model DIR         the model folder
  --prompt-a TEXT     the first prompt
  --prompt-b TEXT     the second prompt
  --token-a K         token position in prompt A (negative: from the end, written --token-a=-1)
  --token-b K         token position in prompt B
  --plane FILE        a plane file (from microsteer train)
  --alpha A           steering strength (required with --plane)
  --plane-at P        all (default): the hook at every position; token: at the compared tokens only
  --chat              wrap each prompt as a user turn of the model's chat template
  --json              print JSON: {"tokenA", "tokenB": {"index", "id", "text"}, "states": [{"state",
                      "layer" (null for the embedding), "cosine", "cosineSteered"}]}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      'prompt-a': { type: 'string' },
      'prompt-b': { type: 'string' },
      'token-a': { type: 'string' },
      'token-b': { type: 'string' },
      plane: { type: 'string' },
      alpha: { type: 'string' },
      'plane-at': { type: 'string' },
      chat: { type: 'boolean' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      weights: { type: 'string' },
    });
    const modelPath = requireOption(v.model, '--model');
    const request = {
      promptA: requireOption(v['prompt-a'], '--prompt-a'),
      promptB: requireOption(v['prompt-b'], '--prompt-b'),
      tokenA: parseInteger(requireOption(v['token-a'], '--token-a'), '--token-a'),
      tokenB: parseInteger(requireOption(v['token-b'], '--token-b'), '--token-b'),
      chatTemplate: v.chat,
    };
    let plane: ComparedPlane | undefined;
    if (v.plane !== undefined) {
      const at = v['plane-at'] ?? 'all';
      if (at !== 'all' && at !== 'token') throw new InputError(`--plane-at must be all or token, got "${at}"`);
      const read = await readPlaneFile(v.plane, (await openModelFolder(modelPath)).config);
      plane = { layer: read.layer, n: read.n, b: read.b, alpha: parseNumber(requireOption(v.alpha, '--alpha'), '--alpha'), positions: at };
    } else if (v.alpha !== undefined || v['plane-at'] !== undefined) {
      throw new InputError('--alpha and --plane-at need --plane');
    }
    const result = await withLocalModel(modelPath, { device: parseDevice(v.device), weights: parseWeights(v.weights), hookLayer: plane?.layer }, (runner, tokenizer) =>
      compareHiddenStates(runner, tokenizer, { ...request, plane }),
    );
    console.log(v.json ? JSON.stringify(result, null, 2) : formatStateComparison(result, plane));
  },
};

export function formatStateComparison(result: StateComparison, plane: ComparedPlane | undefined): string {
  const token = (t: StateComparison['tokenA']) => `${JSON.stringify(t.text)} (position ${t.index}, id ${t.id})`;
  const lines = [`token A ${token(result.tokenA)} vs token B ${token(result.tokenB)}`, ''];
  lines.push(plane ? `state          cosine   with plane (layer ${plane.layer}, alpha ${plane.alpha})` : 'state          cosine');
  for (const s of result.states) {
    const name = s.layer === null ? 'embedding' : `layer ${s.layer}`;
    const steered = s.cosineSteered === undefined ? '' : `   ${s.cosineSteered.toFixed(4).padStart(7)}`;
    lines.push(`${name.padEnd(12)}  ${s.cosine.toFixed(4).padStart(7)}${steered}`);
  }
  return lines.join('\n');
}
