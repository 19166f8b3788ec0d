/**
 * Layer diagnostics for two contrastive example sets A and B, to choose a steering layer. Per decoder
 * layer, over the residual stream after it (one vector per example, as exampleStates.ts takes it):
 * the cosine similarity of the two sets' mean vectors, the mean and max over features of each set's
 * per-feature (population) variance, and the normalised mean gap
 *
 *     gap = |mean(B) - mean(A)|^2 / sum_i (var_A,i + var_B,i) / 2
 *
 * the squared distance of the means in units of the sets' own spread.
 *
 * Suggested layer: the largest gap among the middle half of the layers (L/4 <= layer < 3L/4 for L layers;
 * among all diagnosed layers when none of them is there). The cosine of the means is reported but not
 * used: both means share a large common component (the stream's mean, which grows with depth), so it
 * stays near 1 and says little about where the sets separate; the gap measures the separation against the
 * variation within each set. The first layers only see token identity and the last ones have few layers
 * left to act on a change, hence the middle half.
 */
import { InputError } from '../errors';
import type { Tokenizer } from '../tokenizer';
import { checkLayers, exampleStates, type ExamplePosition, type HiddenStateRunner } from './exampleStates';
import { cosineSimilarity, difference, featureVariance, meanOf } from './statistics';

export interface VarianceSummary {
  /** Mean over features of the per-feature variance. */
  mean: number;
  max: number;
}

export interface LayerDiagnostic {
  layer: number;
  meanCosine: number;
  varianceA: VarianceSummary;
  varianceB: VarianceSummary;
  normalisedGap: number;
}

export interface LayerDiagnostics {
  layers: LayerDiagnostic[];
  suggestedLayer: number;
  /** The rule in words, for reports. */
  rule: string;
  position: ExamplePosition;
  examplesA: number;
  examplesB: number;
}

export interface LayerDiagnosticsOptions {
  /** Decoder layers (default: every layer). */
  layers?: readonly number[];
  /** Default `last`. */
  position?: ExamplePosition;
  chatTemplate?: boolean;
  signal?: AbortSignal;
}

export const SUGGESTION_RULE = 'the largest normalised gap |mean(B) - mean(A)|^2 / sum over features of (var A + var B) / 2, among the middle half of the layers';

export async function layerDiagnostics(
  runner: HiddenStateRunner,
  tokenizer: Tokenizer,
  a: readonly string[],
  b: readonly string[],
  options: LayerDiagnosticsOptions = {},
): Promise<LayerDiagnostics> {
  if (a.length < 2 || b.length < 2) throw new InputError(`layer diagnostics need at least 2 examples per set (a variance of one example is 0); got ${a.length} and ${b.length}`);
  const c = runner.folder.config;
  const layers = [...(options.layers ?? Array.from({ length: c.numHiddenLayers }, (_, l) => l))].sort((x, y) => x - y);
  checkLayers(layers, c.numHiddenLayers, 'layer diagnostics');
  const position = options.position ?? 'last';
  const read = (examples: readonly string[]) => exampleStates(runner, tokenizer, examples, { layers, position, chatTemplate: options.chatTemplate, signal: options.signal });
  const statesA = await read(a);
  const statesB = await read(b);
  const diagnostics = layers.map((layer, j) => diagnoseLayer(layer, statesA[j], statesB[j]));
  return { layers: diagnostics, suggestedLayer: suggestSteeringLayer(diagnostics, c.numHiddenLayers), rule: SUGGESTION_RULE, position, examplesA: a.length, examplesB: b.length };
}

/** The diagnostics of one layer from each set's vectors there. */
export function diagnoseLayer(layer: number, a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): LayerDiagnostic {
  const meanA = meanOf(a);
  const meanB = meanOf(b);
  const varA = featureVariance(a);
  const varB = featureVariance(b);
  const gap = difference(meanB, meanA).reduce((sum, x) => sum + x * x, 0);
  const spread = varA.reduce((sum, x, i) => sum + (x + varB[i]) / 2, 0);
  return {
    layer,
    meanCosine: cosineSimilarity(meanA, meanB),
    varianceA: summarise(varA),
    varianceB: summarise(varB),
    normalisedGap: spread > 0 ? gap / spread : gap > 0 ? Infinity : 0,
  };
}

function summarise(variance: Float64Array): VarianceSummary {
  return { mean: variance.reduce((s, x) => s + x, 0) / variance.length, max: Math.max(...variance) };
}

/** SUGGESTION_RULE over diagnostics of a model with `numHiddenLayers` layers; ties go to the lower layer. */
export function suggestSteeringLayer(diagnostics: readonly LayerDiagnostic[], numHiddenLayers: number): number {
  const middle = diagnostics.filter((d) => d.layer >= numHiddenLayers / 4 && d.layer < (3 * numHiddenLayers) / 4);
  const candidates = middle.length > 0 ? middle : diagnostics;
  return candidates.reduce((best, d) => (d.normalisedGap > best.normalisedGap ? d : best)).layer;
}
