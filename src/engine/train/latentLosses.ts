/**
 * The two loss terms of `use_averaging` (DESIGN.md section 1), on the unsteered hook-site latents
 * `u_i = y_i / r`, each with its gradient with respect to the plane (`n` as a free vector, and `b`):
 * - the cap loss `L_cap = -mean_i sigmoid(dot(u_i, n) + b)`, which rewards the plane's relu being
 *   active on every token (so that steering caps every token's component along `n`);
 * - the theta loss `acos(clamp(-b, -0.999, 0.999))`.
 * Plain float64 loops: tokens x hidden is small next to one step of the model.
 */

/** The latents of every cached token, row-major [count * hidden]. */
export interface Latents {
  count: number;
  hidden: number;
  data: Float64Array;
}

export interface LatentLoss {
  loss: number;
  gradN: Float64Array;
  gradB: number;
}

/** The clamp bound of the theta loss: acos has an infinite slope at +-1. */
export const THETA_CLAMP = 0.999;

/** `u = y / r` for each token's hook-site output `y` (each row [tokens * hidden]). */
export function hookLatents(ys: readonly ArrayLike<number>[], r: Float64Array): Latents {
  const hidden = r.length;
  const count = ys.reduce((sum, y) => sum + y.length / hidden, 0);
  const data = new Float64Array(count * hidden);
  let at = 0;
  for (const y of ys) {
    for (let i = 0; i < y.length; i++) data[at + i] = y[i] / r[i % hidden];
    at += y.length;
  }
  return { count, hidden, data };
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** `L_cap = -mean_i sigmoid(dot(u_i, n) + b)`; `dL/dn = -mean_i s_i (1 - s_i) u_i`, `dL/db = -mean_i s_i (1 - s_i)`. */
export function capLoss(latents: Latents, n: ArrayLike<number>, b: number): LatentLoss {
  const { count, hidden, data } = latents;
  const gradN = new Float64Array(hidden);
  let sum = 0;
  let gradB = 0;
  for (let i = 0; i < count; i++) {
    const u = data.subarray(i * hidden, (i + 1) * hidden);
    let z = b;
    for (let k = 0; k < hidden; k++) z += u[k] * n[k];
    const s = sigmoid(z);
    const slope = s * (1 - s);
    sum += s;
    gradB -= slope / count;
    for (let k = 0; k < hidden; k++) gradN[k] -= (slope * u[k]) / count;
  }
  return { loss: -sum / count, gradN, gradB };
}

/** `acos(clamp(-b, -0.999, 0.999))`; its slope in b is `1 / sqrt(1 - b^2)` inside the clamp and 0 where it clamps. */
export function thetaLoss(b: number): { loss: number; gradB: number } {
  const x = Math.min(THETA_CLAMP, Math.max(-THETA_CLAMP, -b));
  const clamped = -b !== x;
  return { loss: Math.acos(x), gradB: clamped ? 0 : 1 / Math.sqrt(1 - b * b) };
}
