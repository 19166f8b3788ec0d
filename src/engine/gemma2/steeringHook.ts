/**
 * The steering hook of DESIGN.md section 1, at the output `y` of post_feedforward_layernorm of
 * the hook layer, before it is added to the residual stream:
 *
 *     v = y / r,  s = relu(dot(n, v) + b),  v' = v + (alpha - s) n,  y' = v' r
 *
 * with r = (1 + w) * sqrt(hidden) from that norm's weight w. Every plane quantity is a graph input
 * so that changing the plane, alpha or the steered positions never changes the graph.
 */
import { Tensor } from '../onnx/graph';
import { add, div, mul, reduceSum, relu, sub, where } from '../onnx/ops';

/** The plane and where it applies, each broadcastable against y [batch, seq, hidden]. */
export interface PlaneInputs {
  /** The plane's direction, used as given (no normalisation here): [..., hidden]. */
  n: Tensor;
  /** The offset b: [..., 1]. */
  b: Tensor;
  /** The steering strength: [..., 1]. */
  alpha: Tensor;
  /** bool, true where the hook applies: [batch, seq, 1]. */
  steered: Tensor;
}

/** r = (1 + w) * sqrt(hidden): the gain that maps the unit-sphere latent v to y. */
export function hookScale(postFeedforwardWeight: Tensor): Tensor {
  const hidden = postFeedforwardWeight.shape[0] as number;
  return mul(add(postFeedforwardWeight, 1), Math.sqrt(hidden));
}

/**
 * y' at steered positions, y elsewhere. Written as y + (alpha - s) (n r), which is (v + (alpha - s) n) r,
 * so that n = 0 gives y back exactly rather than (y / r) r.
 */
export function steerHookSite(y: Tensor, r: Tensor, plane: PlaneInputs): Tensor {
  const v = div(y, r);
  const s = relu(add(reduceSum(mul(plane.n, v), [-1], true), plane.b));
  const steered = add(y, mul(sub(plane.alpha, s), mul(plane.n, r)));
  return where(plane.steered, steered, y);
}
