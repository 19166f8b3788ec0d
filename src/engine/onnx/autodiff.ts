/**
 * Reverse-mode differentiation over a GraphBuilder: one sweep over the recorded nodes, newest
 * first, applying each node's gradient rule (ops.ts) and summing gradients where a tensor fans out.
 * Only nodes on a path from `wrt` to `loss` take part, so weights and constants get no gradient
 * and the rules emit nothing for them.
 */
import { GraphBuilder, GraphNode, Tensor } from './graph';
import { add, ones, zerosLike } from './ops';

/**
 * The gradients of `loss` with respect to each of `wrt`, as new tensors of the same graph (same
 * shapes as `wrt`). The loss is seeded with ones (a scalar loss gives d loss / d wrt), or with
 * `seed` when given (a vector-Jacobian product). A `wrt` the loss does not depend on gets zeros.
 */
export function gradients(graph: GraphBuilder, loss: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  if (loss.graph !== graph || wrt.some((w) => w.graph !== graph)) throw new Error('gradients: tensors of another graph');
  if (seed && (seed.dtype !== loss.dtype || seed.rank !== loss.rank || seed.shape.some((d, i) => d !== loss.shape[i]))) {
    throw new Error(`gradients: seed ${seed} does not match loss ${loss}`);
  }
  const nodes = graph.nodes.slice();
  const inputsOf = (n: GraphNode) => n.gradInputs ?? n.inputs;

  // Tensors that depend on some wrt (forward), and tensors the loss depends on (backward).
  const dependsOnWrt = new Set<Tensor>(wrt);
  for (const n of nodes) {
    if (n.backward && inputsOf(n).some((t) => t && dependsOnWrt.has(t))) for (const o of n.outputs) dependsOnWrt.add(o);
  }
  const feedsLoss = new Set<Tensor>([loss]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => feedsLoss.has(o))) for (const t of inputsOf(n)) if (t) feedsLoss.add(t);
  }
  const onPath = (t: Tensor | null): t is Tensor => t !== null && dependsOnWrt.has(t) && feedsLoss.has(t);

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  accumulate(loss, seed ?? ones(loss, loss.dtype, loss.shape));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some(onPath)) continue;
    const outGrads = n.outputs.map((o) => grads.get(o) ?? null);
    if (outGrads.every((g) => g === null)) continue;
    const needs = inputsOf(n).map(onPath);
    if (!needs.some(Boolean)) continue;
    if (!n.backward) throw new Error(`gradients: ${n.opType} (${n.name}) has no gradient rule`);
    const inGrads = n.backward(outGrads, needs);
    inputsOf(n).forEach((t, k) => {
      const g = inGrads[k];
      if (t && needs[k] && g) accumulate(t, g);
    });
  }
  return wrt.map((w) => grads.get(w) ?? zerosLike(w));
}
