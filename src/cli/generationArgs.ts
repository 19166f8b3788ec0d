/** The options that `microsteer generate` and `microsteer compare` share: sampling flags and the plane file. */
import { readFile } from 'node:fs/promises';
import { InputError } from '../engine/errors';
import { encodePlaneVector, readPlaneFile } from '../engine/plane';
import { SAMPLING_DEFAULTS, type ModelIdentity, type PlaneSpec, type SamplingOptions } from '../protocol';
import { parseInteger, parseNumber } from './args';

export const SAMPLING_FLAGS = {
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'max-tokens': { type: 'string' },
  chat: { type: 'boolean' },
  'steer-prompt': { type: 'string' },
} as const;

const d = SAMPLING_DEFAULTS;

export const SAMPLING_USAGE = `  --temperature T     sampling temperature, 0 = greedy (default ${d.temperature})
  --top-k K           keep the K most likely tokens, 0 = off (default ${d.topK})
  --top-p P           nucleus sampling, 1 = off (default ${d.topP})
  --seed N            sampling seed (default ${d.seed})
  --max-tokens N      new tokens at most (default ${d.maxNewTokens})
  --chat              wrap the prompt in the model's chat template
  --steer-prompt P    last (default): steer the last prompt position and every generated one; all: the whole prompt too`;

type SamplingValues = { [K in keyof typeof SAMPLING_FLAGS]?: (typeof SAMPLING_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

export function parseSampling(v: SamplingValues): SamplingOptions {
  const steerPrompt = v['steer-prompt'];
  if (steerPrompt !== undefined && steerPrompt !== 'last' && steerPrompt !== 'all') {
    throw new InputError(`--steer-prompt must be last or all, got "${steerPrompt}"`);
  }
  return {
    temperature: v.temperature === undefined ? undefined : parseNumber(v.temperature, '--temperature'),
    topK: v['top-k'] === undefined ? undefined : parseInteger(v['top-k'], '--top-k', 0),
    topP: v['top-p'] === undefined ? undefined : parseNumber(v['top-p'], '--top-p'),
    seed: v.seed === undefined ? undefined : parseInteger(v.seed, '--seed', 0, 0xffffffff),
    maxNewTokens: v['max-tokens'] === undefined ? undefined : parseInteger(v['max-tokens'], '--max-tokens', 1),
    chatTemplate: v.chat,
    steerPrompt,
  };
}

/** A plane file as the engine takes it, with the model it was trained on when the file records one (the engine refuses a plane from another model). */
export async function readPlaneSpec(file: string): Promise<PlaneSpec> {
  const plane = await readPlaneFile(file);
  const { model } = JSON.parse(await readFile(file, 'utf8')) as { model?: ModelIdentity };
  return { layer: plane.layer, n: encodePlaneVector(plane.n), b: plane.b, ...(model === undefined ? {} : { model }) };
}
