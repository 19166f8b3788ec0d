/** `microsteer eval`: mean NLL per token and bits per character of a text, unsteered or steered by a plane or a vector. */
import { stat } from 'node:fs/promises';
import type { Command } from '../command';
import { parseCommandArgs, parseNumber, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { Gemma2Runner } from '../../engine/gemma2/runner';
import { LIMITS, readBoundedFile } from '../../engine/limits';
import { openModelFolder } from '../../engine/model/modelFolder';
import { rowEdits } from '../../engine/methods/rowEdits';
import { textLikelihood } from '../../engine/methods/textLikelihood';
import { readPlaneFile } from '../../engine/plane';
import { loadTokenizer } from '../../engine/tokenizer';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { readVectorOption, steeringAt } from './vectorOptions';

/** Tokens per window at most, whatever the model's context: bounds the [rows, window, vocab] logits of one run. */
const MAX_WINDOW = 1024;

export const evalCommand: Command = {
  name: 'eval',
  summary: 'mean NLL per token and bits per character of a text, optionally steered',
  usage: `usage: microsteer eval --model DIR --text FILE [--plane FILE --alpha A | --vector FILE --coefficient C] [--json]

Reads the text (UTF-8) as one document after <bos> and reports how likely the model finds it: the mean
negative log-likelihood per predicted token (nats) and the bits per character of the whole text. A
plane steers every position at strength --alpha; a vector (microsteer meandiff's file, or a GGUF
control vector) is added to the residual stream at --coefficient. Compare the numbers with and
without steering to see what a plane does to target and non-target text. Long texts are read in
windows of the model's context (at most ${MAX_WINDOW} tokens), overlapping by one token, as many per run
as MICROSTEER_MAX_LOGITS allows.

  --model DIR          the model folder
  --text FILE          the text to measure (at most ${LIMITS.fileBytes.value} bytes: MICROSTEER_MAX_FILE_BYTES)
  --plane FILE         a plane file {"layer", "n", "b"}
  --alpha A            steering strength (required with --plane)
  --vector FILE        a steering vector file
  --vector-layers L    its layers to add (default: the file's only or middle layer)
  --coefficient C      the vector's coefficient (required with --vector)
  --device D           auto (default), cpu or cuda
${weightsHelp()}
  --json               print {"tokens", "chars", "mean_nll", "bits_per_char"}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      text: { type: 'string' },
      plane: { type: 'string' },
      alpha: { type: 'string' },
      vector: { type: 'string' },
      'vector-layers': { type: 'string' },
      coefficient: { type: 'string' },
      device: { type: 'string' },
      weights: { type: 'string' },
      json: { type: 'boolean' },
    });
    const folder = await openModelFolder(requireOption(v.model, '--model'));
    const file = requireOption(v.text, '--text');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new InputError(`--text ${file} does not exist or is not a file`);
    const text = (await readBoundedFile(file)).toString('utf8');
    if (v.plane !== undefined && v.vector !== undefined) throw new InputError('give --plane or --vector, not both');

    let steer;
    let hookLayer: number | undefined;
    if (v.plane !== undefined) {
      const plane = await readPlaneFile(v.plane, folder.config);
      steer = { n: plane.n, b: plane.b, alpha: parseNumber(requireOption(v.alpha, '--alpha'), '--alpha'), positions: 'all' as const };
      hookLayer = plane.layer;
    } else if (v.alpha !== undefined) throw new InputError('--alpha needs --plane');
    const vector = await readVectorOption(v);
    let edits;
    if (vector) edits = rowEdits({ vector: steeringAt(vector, parseNumber(requireOption(v.coefficient, '--coefficient'), '--coefficient')) }, folder, '--vector') ?? undefined;
    else if (v.coefficient !== undefined) throw new InputError('--coefficient needs --vector');

    const tokenizer = await loadTokenizer(folder.dir);
    const runner = await Gemma2Runner.open(folder, { hookLayer, device: parseDevice(v.device), weights: parseWeights(v.weights) });
    try {
      const window = Math.min(MAX_WINDOW, folder.config.maxPositionEmbeddings);
      const r = await textLikelihood(runner, tokenizer.encode(text), text, { window, steer, edits });
      if (v.json) console.log(JSON.stringify({ tokens: r.tokens, chars: r.chars, mean_nll: r.meanNll, bits_per_char: r.bitsPerChar }));
      else console.log(`${r.tokens} tokens, ${r.chars} characters: mean NLL ${r.meanNll.toFixed(4)} nats/token, ${r.bitsPerChar.toFixed(4)} bits/char`);
    } finally {
      await runner.release();
    }
  },
};
