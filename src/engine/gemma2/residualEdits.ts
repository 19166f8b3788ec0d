/**
 * Edits of the residual stream after decoder layers, per batch row and per layer, as run inputs of the
 * forward graph: an added vector (mean-difference steering, control vectors) and the removal of a unit
 * direction r, x <- x - dot(x, r) r (directional ablation). Both act on the layer's output, after its MLP
 * branch is added: where llama.cpp adds a control vector (`direction.<layer>`), and the stream that the
 * hidden-states output reports. At one layer the ablation comes first and the vector is added after it,
 * so a vector arrives in full whatever is ablated there. They apply at every position of the row (prompt
 * and generated tokens alike); a zero vector and a zero direction are exactly the identity.
 *
 * Graph inputs: resid_add [batch, layers, hidden] (coefficient folded in), ablate_dir [batch, layers, hidden].
 */
import { InputError } from '../errors';
import type { Tensor } from '../onnx/graph';
import { add, mul, reduceSum, slice, sub } from '../onnx/ops';
import { finite } from './batchRows';

/** The edit inputs of a forward graph: [batch, layers, hidden] each. */
export interface ResidualEditInputs {
  add: Tensor;
  ablate: Tensor;
}

/** The residual stream after `layer` with that layer's edits: ablation of its direction, then its vector added. */
export function editResidual(hidden: Tensor, layer: number, edits: ResidualEditInputs): Tensor {
  const r = slice(edits.ablate, 1, layer, layer + 1);
  const ablated = sub(hidden, mul(reduceSum(mul(hidden, r), [-1], true), r));
  return add(ablated, slice(edits.add, 1, layer, layer + 1));
}

/** One row's edits, by decoder layer. */
export interface ResidualEdits {
  /** Vectors [hidden] added to the residual stream after their layer (already scaled by the coefficient). */
  add?: readonly { layer: number; vector: ArrayLike<number> }[];
  /** Unit directions [hidden] removed from the residual stream after their layer. */
  ablate?: readonly { layer: number; direction: ArrayLike<number> }[];
}

/** The edit inputs of a batch: [batch * layers * hidden] each. Rows without edits stay zero. */
export interface ResidualEditFeeds {
  add: Float64Array;
  ablate: Float64Array;
}

/** How far a direction's norm may be from 1 (float32 files, normalised in float64 or float32). */
const UNIT_TOLERANCE = 1e-3;

export function residualEditFeeds(edits: readonly (ResidualEdits | null | undefined)[] | undefined, batch: number, layers: number, hidden: number): ResidualEditFeeds {
  if (edits && edits.length !== batch) throw new InputError(`${edits.length} residual-edit rows for a batch of ${batch}`);
  const feeds = { add: new Float64Array(batch * layers * hidden), ablate: new Float64Array(batch * layers * hidden) };
  edits?.forEach((row, i) => {
    if (!row) return;
    const placed = new Set<string>();
    const place = (target: Float64Array, layer: number, values: ArrayLike<number>, what: string) => {
      if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new InputError(`${what}: layer ${layer} is not a layer of the model (0 to ${layers - 1})`);
      if (values.length !== hidden) throw new InputError(`${what}: ${values.length} entries, expected the model's hidden size ${hidden}`);
      const key = `${target === feeds.add ? 'add' : 'ablate'}:${layer}`;
      if (placed.has(key)) throw new InputError(`${what}: layer ${layer} is given twice`);
      placed.add(key);
      const at = (i * layers + layer) * hidden;
      for (let k = 0; k < hidden; k++) target[at + k] = finite(values[k], `${what}[${k}]`);
    };
    for (const { layer, vector } of row.add ?? []) place(feeds.add, layer, vector, `row ${i}: the vector added after layer ${layer}`);
    for (const { layer, direction } of row.ablate ?? []) {
      const what = `row ${i}: the direction ablated after layer ${layer}`;
      let norm = 0;
      for (let k = 0; k < direction.length; k++) norm += direction[k] * direction[k];
      if (Math.abs(Math.sqrt(norm) - 1) > UNIT_TOLERANCE) throw new InputError(`${what} has norm ${Math.sqrt(norm)}, expected a unit vector`);
      place(feeds.ablate, layer, direction, what);
    }
  });
  return feeds;
}

/** Whether every row of a batch's edit inputs holds the same edits. */
export function editsAlike(feeds: ResidualEditFeeds, batch: number): boolean {
  const alike = (values: Float64Array) => {
    const width = values.length / batch;
    for (let k = width; k < values.length; k++) if (values[k] !== values[k % width]) return false;
    return true;
  };
  return alike(feeds.add) && alike(feeds.ablate);
}
