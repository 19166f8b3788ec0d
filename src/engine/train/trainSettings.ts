/**
 * The complete settings of a training run: the caller's TrainOptions checked, with the method's
 * defaults (TRAIN_DEFAULTS) filled in. This is what a PlaneRecord keeps as `training`.
 */
import { STEERING_LIMITS, TRAIN_DEFAULTS, type PlaneRecord, type TrainOptions } from '../../protocol';
import { checkAlpha } from '../gemma2/batchRows';
import { InputError } from '../errors';

export type TrainSettings = Required<PlaneRecord['training']>;

export interface TrainContext {
  /** The hook layer when options.layer is not given. */
  defaultLayer: number;
  numHiddenLayers: number;
  exampleCount: number;
}

export function resolveTrainSettings(options: TrainOptions, context: TrainContext): TrainSettings {
  if (context.exampleCount === 0) throw new InputError('training needs at least one example text, got none');
  const layer = options.layer ?? context.defaultLayer;
  if (!Number.isInteger(layer) || layer < 0 || layer >= context.numHiddenLayers) {
    throw new InputError(`training layer must be an integer in [0, ${context.numHiddenLayers - 1}], got ${layer}`);
  }
  const steps = options.steps ?? TRAIN_DEFAULTS.steps;
  if (!Number.isInteger(steps) || steps < 1) throw new InputError(`training steps must be a positive integer, got ${steps}`);
  const learningRate = options.learningRate ?? TRAIN_DEFAULTS.learningRate;
  if (!(Number.isFinite(learningRate) && learningRate > 0 && learningRate <= STEERING_LIMITS.maxLearningRate)) {
    throw new InputError(`the learning rate must be in (0, ${STEERING_LIMITS.maxLearningRate}], got ${learningRate}`);
  }
  const alpha = checkAlpha(options.alpha ?? TRAIN_DEFAULTS.alpha, 'the training alpha');
  if (alpha === 0) throw new InputError('the training alpha must not be 0: alpha 0 is the unsteered model, so the likelihood would not depend on the plane');
  const useAveraging = options.useAveraging ?? TRAIN_DEFAULTS.useAveraging;
  if (typeof useAveraging !== 'boolean') throw new InputError(`useAveraging must be true or false, got ${useAveraging}`);
  const lambda = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value >= 0 && value <= STEERING_LIMITS.maxLambda)) throw new InputError(`${name} must be in [0, ${STEERING_LIMITS.maxLambda}], got ${value}`);
    return value;
  };
  const mleMode = options.mleMode ?? TRAIN_DEFAULTS.mleMode;
  if (mleMode !== 'sequence' && mleMode !== 'notebook') throw new InputError(`the MLE mode must be "sequence" or "notebook", got "${mleMode}"`);
  const batchSize = options.batchSize ?? context.exampleCount;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError(`the batch size must be a positive integer, got ${batchSize}`);
  const batchTokens = options.batchTokens ?? TRAIN_DEFAULTS.batchTokens;
  if (!Number.isInteger(batchTokens) || batchTokens < 2) {
    throw new InputError(`the token budget of a minibatch (batchTokens) must be an integer of at least 2, the shortest example, got ${batchTokens}`);
  }
  const seed = options.seed ?? TRAIN_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`the seed must be an integer in [0, 4294967295], got ${seed}`);
  return {
    layer,
    steps,
    learningRate,
    alpha,
    useAveraging,
    lambdaMle: lambda('lambdaMle', options.lambdaMle ?? TRAIN_DEFAULTS.lambdaMle),
    lambdaCap: lambda('lambdaCap', options.lambdaCap ?? TRAIN_DEFAULTS.lambdaCap),
    lambdaTheta: lambda('lambdaTheta', options.lambdaTheta ?? TRAIN_DEFAULTS.lambdaTheta),
    mleMode,
    // A batch larger than the example list is the whole list.
    batchSize: Math.min(batchSize, context.exampleCount),
    batchTokens,
    seed,
    examples: context.exampleCount,
  };
}
