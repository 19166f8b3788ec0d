/**
 * Sampling options as a generation uses them: SAMPLING_DEFAULTS filled in and every value checked,
 * since they come from untrusted places (the webview, settings, the command line).
 */
import { SAMPLING_DEFAULTS, type SamplingOptions } from '../../protocol';
import { InputError } from '../errors';
import { checkSamplerSettings } from './sampler';

export type ResolvedSampling = Required<SamplingOptions>;

export function resolveSampling(options: SamplingOptions = {}): ResolvedSampling {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SamplingOptions;
  const s: ResolvedSampling = { ...SAMPLING_DEFAULTS, ...defined };
  checkSamplerSettings(s);
  if (typeof s.seed !== 'number' || !Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) {
    throw new InputError(`seed must be an integer in [0, 4294967295], got ${s.seed}`);
  }
  if (typeof s.maxNewTokens !== 'number' || !Number.isInteger(s.maxNewTokens) || s.maxNewTokens < 1) {
    throw new InputError(`maxNewTokens must be an integer >= 1, got ${s.maxNewTokens}`);
  }
  if (typeof s.chatTemplate !== 'boolean') throw new InputError(`chatTemplate must be true or false, got ${String(s.chatTemplate)}`);
  if (s.steerPrompt !== 'last' && s.steerPrompt !== 'all') throw new InputError(`steerPrompt must be "last" or "all", got ${String(s.steerPrompt)}`);
  return s;
}
