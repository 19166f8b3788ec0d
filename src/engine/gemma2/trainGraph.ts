/**
 * The training graph for hook layer L: from the cached hook-site values of L (the forward graph's
 * hook_residual and hook_y, computed once per training run) through the steering hook, the layers
 * above L, the final norm, the tied head and the final soft-cap, to the mean next-token NLL, and
 * its gradients with respect to the plane by reverse-mode differentiation of the same layer code.
 * Only the weights of layers L+1.. and the head are in it. Weights are constants.
 *
 * Inputs
 *   hook_residual, hook_y [batch, seq, hidden] (compute dtype)
 *   target_ids [batch, seq] int64: the token each position predicts (any id where unlabelled)
 *   label_mask [batch, seq] (compute dtype): 1 where that prediction counts in the loss, else 0
 *   attention_mask [batch, seq] int64, position_ids [batch, seq] int64 (as in the forward graph)
 *   plane_n [hidden] (taken as given: the gradient is with respect to n itself, not a normalised
 *     parametrisation), plane_b [], alpha [], steer_mask [batch, seq] bool
 * Outputs
 *   loss []: sum(label_mask * nll) / sum(label_mask), nll taken on the soft-capped logits
 *   grad_n [hidden], grad_b []: its gradient
 *
 * The method's other terms stay outside this graph: the cap loss -mean_i sigmoid(dot(u_i, n) + b)
 * runs over the unsteered latents u_i = hook_y_i / r of every token of every example (not one
 * minibatch), and the theta term depends on b alone; both are d-sized sums the trainer computes on
 * the cached hook_y with r from `Gemma2Runner.hookScale()`, adding their gradients to grad_n and grad_b.
 */
import type { ModelFolder } from '../model/types';
import { gradients } from '../onnx/autodiff';
import { GraphBuilder, type ComputeDType } from '../onnx/graph';
import { add, div, mul, reduceSum, unsqueeze } from '../onnx/ops';
import { checkHookLayer } from './forwardGraph';
import { decoderLayer, layerContext, logits, tokenNll, type ModelWeights } from './layers';
import { modelWeights } from '../weights/graphWeights';
import { hookScale, steerHookSite } from './steeringHook';

export interface TrainGraphOptions {
  hookLayer: number;
  computeDtype?: ComputeDType;
  /** false: the loss alone (the same upper layers without the reverse sweep), for the benchmark's baseline. */
  gradients?: boolean;
  /** How the graph reads the weights (default: the model folder's, dense in the compute dtype). */
  weights?: (g: GraphBuilder) => ModelWeights;
}

export function buildTrainGraph(folder: ModelFolder, options: TrainGraphOptions): GraphBuilder {
  checkHookLayer(folder, options.hookLayer);
  const c = folder.config;
  const L = options.hookLayer;
  const g = new GraphBuilder({ computeDtype: options.computeDtype, name: `gemma2-train-l${L}` });
  const dtype = g.computeDtype;

  const residual = g.input('hook_residual', dtype, ['batch', 'seq', c.hiddenSize]);
  const y = g.input('hook_y', dtype, ['batch', 'seq', c.hiddenSize]);
  const targetIds = g.input('target_ids', 'int64', ['batch', 'seq']);
  const labelMask = g.input('label_mask', dtype, ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'seq']);
  const n = g.input('plane_n', dtype, [c.hiddenSize]);
  const b = g.input('plane_b', dtype, []);
  const alpha = g.input('alpha', dtype, []);
  const steered = unsqueeze(g.input('steer_mask', 'bool', ['batch', 'seq']), [-1]);

  const ctx = layerContext(c, options.weights?.(g) ?? modelWeights(g, folder), positionIds, attentionMask);
  const r = hookScale(ctx.weights.tensor(`model.layers.${L}.post_feedforward_layernorm.weight`));
  let hidden = add(residual, steerHookSite(y, r, { n, b, alpha, steered }));
  for (let i = L + 1; i < c.numHiddenLayers; i++) hidden = decoderLayer(ctx, i, hidden).hidden;

  const nll = tokenNll(logits(ctx, hidden), targetIds);
  const loss = div(reduceSum(mul(nll, labelMask), [0, 1]), reduceSum(labelMask, [0, 1]));
  g.output('loss', loss);
  if (options.gradients !== false) {
    const [gradN, gradB] = gradients(g, loss, [n, b]);
    g.output('grad_n', gradN);
    g.output('grad_b', gradB);
  }
  return g;
}
