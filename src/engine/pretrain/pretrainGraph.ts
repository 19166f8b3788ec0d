/**
 * The pretraining graph: the whole Gemma-2 (embedding, every decoder layer, final norm, tied head,
 * final soft-cap) with its weights as graph inputs rather than initializers, the mean next-token
 * NLL of a batch of packed token windows, and that loss's gradient with respect to every weight by
 * reverse-mode differentiation of the same layer code the forward and steering graphs use.
 *
 * Inputs
 *   input_ids, target_ids, position_ids [batch, seq] int64 (windows are fully packed: no padding)
 *   attention_mask [batch, seq] int64 (all ones; the masks are built from it as in the forward graph)
 *   every weight of the model by its transformers name, [shape] in the compute dtype (float32;
 *   float64 for the finite-difference tests)
 * Outputs
 *   loss []: mean NLL per predicted token, on the soft-capped logits
 *   grad.{name} [shape]: d loss / d weight, for every weight (training graph)
 *   token_nll [batch, seq]: the NLL of each prediction (evaluation graph, for per-source measures)
 *
 * The optimiser stays outside the graph (AdamW over host arrays): onnxruntime has no in-place
 * update of inputs, and the weights cross the JS boundary once per step either way.
 */
import type { Gemma2Config } from '../model/types';
import { gemma2TensorShapes } from '../model/modelFolder';
import { gradients } from '../onnx/autodiff';
import { GraphBuilder, type ComputeDType, type Tensor } from '../onnx/graph';
import { reduceMean } from '../onnx/ops';
import { decoderLayer, denseWeights, embed, headNll, layerContext } from '../gemma2/layers';

export const gradName = (weight: string) => `grad.${weight}`;

export interface PretrainGraphOptions {
  /** false: the evaluation graph (losses without the reverse sweep). */
  gradients?: boolean;
  computeDtype?: ComputeDType;
}

export function buildPretrainGraph(config: Gemma2Config, options: PretrainGraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder({ computeDtype: options.computeDtype, name: options.gradients === false ? 'gemma2-pretrain-eval' : 'gemma2-pretrain' });
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const targetIds = g.input('target_ids', 'int64', ['batch', 'seq']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const weights = new Map<string, Tensor>();
  for (const [name, shape] of gemma2TensorShapes(config)) weights.set(name, g.input(name, g.computeDtype, shape));
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`pretrain graph: no weight ${name}`);
    return w;
  };

  const ctx = layerContext(config, denseWeights(weight), positionIds, attentionMask);
  let hidden = embed(ctx, inputIds);
  for (let i = 0; i < config.numHiddenLayers; i++) hidden = decoderLayer(ctx, i, hidden).hidden;
  const nll = headNll(ctx, hidden, targetIds);
  const loss = reduceMean(nll, [0, 1]);
  g.output('loss', loss);
  if (options.gradients === false) g.output('token_nll', nll);
  else {
    const names = [...weights.keys()];
    const grads = gradients(g, loss, names.map(weight));
    names.forEach((name, i) => g.output(gradName(name), grads[i]));
  }
  return g;
}
