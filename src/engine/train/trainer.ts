/**
 * Training a steering plane (DESIGN.md section 1): the examples' lower layers run once, then each
 * step draws the MLE rows, evaluates the loss and its gradient through the runner's training step,
 * and takes an Adam step on (n_raw, theta) followed by renormalising n_raw.
 */
import type { PlaneRecord, TrainOptions, TrainProgress } from '../../protocol';
import { CancelledError, InputError } from '../errors';
import type { Gemma2Runner } from '../gemma2/runner';
import { defaultHookLayer } from '../model/config';
import { encodePlaneVector } from '../plane';
import { SeededRandom } from '../random';
import type { Tokenizer } from '../tokenizer';
import { Adam } from './adam';
import { hookLatents } from './latentLosses';
import { minibatchSize, notebookRow, sequenceRows } from './mleRows';
import { NonFiniteTrainingError, firstNonFinite } from './nonFiniteGuard';
import { PlaneParameters, euclideanNorm } from './planeParameters';
import { evaluateObjective } from './planeObjective';
import { cacheExamples, encodeExamples } from './trainingExamples';
import { resolveTrainSettings, type TrainSettings } from './trainSettings';

/** What training needs of a runner (opened for the training layer). */
export type TrainingRunner = Pick<Gemma2Runner, 'folder' | 'hookLayer' | 'hookScale' | 'hookActivations' | 'trainStep'>;

export interface TrainHooks {
  /** Called after every step; its loss, b and gradient norm are those the step measured, before its update. */
  onProgress?(progress: TrainProgress): void;
  /** Checked before every step: training stops within one step of the abort, with CancelledError carrying the plane so far. */
  signal?: AbortSignal;
}

/**
 * Trains a plane on the example texts. Throws InputError for bad examples or options (or a runner
 * opened for another layer), CancelledError when `signal` aborts (with the plane after the last
 * completed step, if any, as `lastGood`), and NonFiniteTrainingError (with the last good plane) when a
 * loss, gradient or parameter goes non-finite. The same seed gives the
 * same plane.
 */
export async function trainPlane(
  runner: TrainingRunner,
  tokenizer: Pick<Tokenizer, 'encode'>,
  examples: readonly string[],
  options: TrainOptions,
  hooks: TrainHooks = {},
): Promise<PlaneRecord> {
  const config = runner.folder.config;
  const resolved = resolveTrainSettings(options, {
    defaultLayer: defaultHookLayer(config),
    numHiddenLayers: config.numHiddenLayers,
    exampleCount: examples.length,
  });
  if (resolved.layer !== runner.hookLayer) {
    throw new InputError(`training at layer ${resolved.layer} needs a runner opened for that layer; this runner steers layer ${runner.hookLayer}`);
  }
  const ids =
    resolved.mleMode === 'notebook'
      ? encodeExamples(tokenizer, examples, 3, 'notebook mode (a cut c in [1, T-2])')
      : encodeExamples(tokenizer, examples, 2, 'a next-token loss');
  // Minibatches by the token budget: memory bounded whatever the number and length of the examples.
  const settings: TrainSettings = { ...resolved, ...minibatchSize(resolved, options.batchTokens !== undefined, ids, config) };
  const throwIfCancelled = () => {
    if (hooks.signal?.aborted) throw new CancelledError('training');
  };
  throwIfCancelled();
  const cached = await cacheExamples(runner, ids);
  const latents = hookLatents(
    cached.map((e) => e.y),
    await runner.hookScale(),
  );

  const random = new SeededRandom(settings.seed);
  let params = PlaneParameters.init(config.hiddenSize, random);
  const adam = new Adam(params.values.length, { learningRate: settings.learningRate });
  const lossHistory: number[] = [];
  const record = () => planeRecord(params, settings, runner.folder, lossHistory);
  // The plane so far is what `steps: <steps done>` would have trained: its record says so.
  const cancelled = () =>
    new CancelledError('training', lossHistory.length > 0 ? planeRecord(params, { ...settings, steps: lossHistory.length }, runner.folder, lossHistory) : undefined);

  for (let step = 1; step <= settings.steps; step++) {
    if (hooks.signal?.aborted) throw cancelled();
    const started = performance.now();
    const rows = settings.mleMode === 'notebook' ? [notebookRow(cached, random)] : sequenceRows(cached, settings.batchSize, random);
    // A runner may stop a step itself when cancelled (the engine's does): the plane so far still goes with it.
    const value = await evaluateObjective(runner, rows, latents, params, settings).catch((e: unknown) => {
      throw e instanceof CancelledError ? cancelled() : e;
    });
    let bad = firstNonFinite([
      ['the MLE loss', value.mleLoss],
      ['the cap loss', value.capLoss],
      ['the total loss', value.loss],
      ['dLoss/dn', value.gradN],
      ['dLoss/db', value.gradB],
      ['dLoss/d(n_raw, theta)', value.grad],
    ]);
    // The step goes into a copy, so that a non-finite update never reaches the plane.
    const next = params.clone();
    if (!bad) {
      adam.step(next.values, value.grad);
      next.renormalise();
      // |n_raw| can overflow to infinity while every entry is finite: check the plane, not only the parameters.
      const plane = next.plane();
      bad = firstNonFinite([
        ['the plane parameters (n_raw, theta) after the Adam step', next.values],
        ['the plane n after the Adam step', plane.n],
        ['the plane b after the Adam step', plane.b],
      ]);
    }
    if (bad) throw new NonFiniteTrainingError(step, bad, lossHistory.length > 0 ? record() : undefined);

    hooks.onProgress?.({
      step,
      totalSteps: settings.steps,
      loss: value.loss,
      mleLoss: value.mleLoss,
      capLoss: value.capLoss,
      b: params.plane().b,
      gradNorm: euclideanNorm(value.grad),
      msPerStep: performance.now() - started,
    });
    params = next;
    lossHistory.push(value.loss);
  }
  return record();
}

/**
 * The record of a plane: lossHistory[k] is the total loss that step k + 1 measured (before its
 * update); initialLoss is the first (the loss of the initial plane), finalLoss the last.
 */
function planeRecord(params: PlaneParameters, settings: TrainSettings, folder: TrainingRunner['folder'], lossHistory: readonly number[]): PlaneRecord {
  const { n, b } = params.plane();
  return {
    layer: settings.layer,
    n: encodePlaneVector(Float32Array.from(n)),
    b,
    model: { hiddenSize: folder.config.hiddenSize, numHiddenLayers: folder.config.numHiddenLayers, fingerprint: folder.fingerprint },
    training: { ...settings },
    initialLoss: lossHistory[0],
    finalLoss: lossHistory[lossHistory.length - 1],
    lossHistory: lossHistory.slice(),
    createdAt: new Date().toISOString(),
  };
}
