/**
 * Splits a graph holding a forward pass and its reverse sweep into two graphs. The forward graph can
 * then serve inference and training alike, one session holding one copy of each weight, while the
 * sweep (whose products need the weights in the other orientation) is opened only while something
 * trains, and released after.
 *
 * - The forward graph is the nodes before the sweep, with one more output per forward value the sweep
 *   reads ("saved"): `saved.<name>`, the value's first `keep` entries along axis 0. onnxruntime runs
 *   every node whatever the fetches, so `keep` = 0 makes those outputs empty, and free, when nothing
 *   trains; a `keep` past every axis 0 returns the values whole.
 * - The backward graph is the sweep's nodes. Saved values and the graph inputs the sweep reads are its
 *   inputs, under their own names. A forward value computed from weights alone (a cast or transposed
 *   weight) or from inputs alone (masks, positions, one-hot targets) is computed again there rather
 *   than passed from run to run: only activations cross from one graph to the other.
 */
import type { GraphBuilder, GraphNode, GraphParts, Initializer, Tensor } from './graph';

export interface SplitGraph {
  forward: GraphParts;
  backward: GraphParts;
  /** Names of the saved values: the forward graph's `saved.<name>` is the backward graph's input `<name>`. */
  saved: readonly string[];
}

export const savedOutputName = (name: string) => `saved.${name}`;

/**
 * Splits `g` where its reverse sweep begins: nodes from `sweepStart` on. `backwardOutputs` are the
 * sweep's results by output name; `keep` is an int64 [1] forward value (see above). The forward
 * graph's outputs are `g`'s declared outputs and the saved values.
 */
export function splitBackward(g: GraphBuilder, sweepStart: number, backwardOutputs: Readonly<Record<string, Tensor>>, keep: Tensor): SplitGraph {
  const outputs = Object.entries(backwardOutputs).map(([name, t]) => g.emit('Identity', [t], {}, [{ dtype: t.dtype, shape: t.shape, name }])[0]);
  const sweep = g.nodes.slice(sweepStart);
  const inSweep = new Set(sweep);
  const forwardNodes = g.nodes.slice(0, sweepStart);

  // What a value is computed from: weights (1), graph inputs (2), both (3); inline constants count as neither.
  const sources = new Map<Tensor, number>();
  const sourcesOf = (t: Tensor): number => {
    if (t.kind !== 'value') return t.kind === 'weight' ? 1 : t.kind === 'input' ? 2 : 0;
    let known = sources.get(t);
    if (known === undefined) {
      known = (t.producer as GraphNode).inputs.reduce((bits, x) => bits | (x ? sourcesOf(x) : 0), 0);
      sources.set(t, known);
    }
    return known;
  };
  /** Activations come from weights and inputs both; anything else is as cheap to compute again as to pass. */
  const isActivation = (t: Tensor) => sourcesOf(t) === 3;

  // The sweep's nodes, after the forward nodes it recomputes (in an order where each follows its
  // inputs); the activations it reads are saved, and the graph inputs it reads are its inputs.
  const saved: Tensor[] = [];
  const backwardInputs: Tensor[] = [];
  const seen = new Set<Tensor>();
  const recomputed: GraphNode[] = [];
  const pulled = new Set<GraphNode>();
  const pull = (node: GraphNode): void => {
    if (pulled.has(node)) return;
    pulled.add(node);
    for (const t of node.inputs) {
      if (t?.producer) pull(t.producer);
      else if (t?.kind === 'input' && !seen.has(t)) {
        seen.add(t);
        backwardInputs.push(t);
      }
    }
    recomputed.push(node);
  };
  for (const node of sweep) {
    for (const t of node.inputs) {
      if (!t || seen.has(t) || (t.producer && inSweep.has(t.producer))) continue;
      seen.add(t);
      if (t.kind === 'input') backwardInputs.push(t);
      else if (t.kind === 'value' && isActivation(t)) saved.push(t);
      else if (t.kind === 'value') pull(t.producer as GraphNode);
    }
  }

  const savedOutputs = saved.map((t) => {
    const name = savedOutputName(t.name);
    if (t.rank === 0) return g.emit('Identity', [t], {}, [{ dtype: t.dtype, shape: [], name }])[0];
    const shape = [`${name}.rows`, ...t.shape.slice(1)];
    return g.emit('Slice', [t, g.int64s([0]), keep, g.int64s([0])], {}, [{ dtype: t.dtype, shape, name }])[0];
  });
  const slices = savedOutputs.map((t) => t.producer as GraphNode);
  const backwardNodes = [...recomputed, ...sweep];

  const initializerOf = new Map(g.initializers.map((init) => [init.tensor, init]));
  const initializersOf = (nodes: readonly GraphNode[]): Initializer[] => {
    const found = new Set<Initializer>();
    for (const node of nodes) {
      for (const t of node.inputs) {
        const init = t && initializerOf.get(t);
        if (init) found.add(init);
      }
    }
    return g.initializers.filter((init) => found.has(init));
  };
  const forward = [...forwardNodes, ...slices];
  return {
    forward: { name: g.name, nodes: forward, inputs: g.inputs, outputs: [...g.outputs, ...savedOutputs], initializers: initializersOf(forward) },
    backward: { name: `${g.name}-backward`, nodes: backwardNodes, inputs: [...backwardInputs, ...saved], outputs, initializers: initializersOf(backwardNodes) },
    saved: saved.map((t) => t.name),
  };
}
