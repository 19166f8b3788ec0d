/**
 * The steering hook of DESIGN.md section 1, written out in float64 for the fidelity tests.
 * It acts on `y`, the output of `post_feedforward_layernorm` at the hook layer, one position at a time.
 */

/** A steering plane as the hook uses it: `n` is taken as given (no normalisation here), `b` is the offset. */
export interface ReferencePlane {
  n: Float64Array;
  b: number;
}

/** `r = (1 + w) * sqrt(d)`: the per-feature gain that maps the unit-sphere latent `v` to `y`. */
export function hookScale(postFeedforwardWeight: ArrayLike<number>): Float64Array {
  const d = postFeedforwardWeight.length;
  const r = new Float64Array(d);
  for (let i = 0; i < d; i++) r[i] = (1 + postFeedforwardWeight[i]) * Math.sqrt(d);
  return r;
}

/** `v = y / r`, the normalised latent. */
export function hookLatent(y: ArrayLike<number>, r: Float64Array): Float64Array {
  const v = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) v[i] = y[i] / r[i];
  return v;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** `y' = (v + (alpha - relu(dot(n, v) + b)) n) r` with `v = y / r`. The identity when `n = 0`. */
export function steerHookSite(y: ArrayLike<number>, r: Float64Array, plane: ReferencePlane, alpha: number): Float64Array {
  const v = hookLatent(y, r);
  const s = Math.max(0, dot(plane.n, v) + plane.b);
  const out = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) out[i] = (v[i] + (alpha - s) * plane.n[i]) * r[i];
  return out;
}
