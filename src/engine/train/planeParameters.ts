/**
 * The plane's trainable parameters (DESIGN.md section 1): a raw direction `n_raw` (model width) and a
 * scalar `theta`, giving the plane `n = n_raw / |n_raw|` and `b = tanh(theta)`. They live in one flat
 * vector `[n_raw..., theta]`, the shape the optimiser steps over.
 */
import type { SeededRandom } from '../random';

/** The plane as the hook uses it. */
export interface PlaneValues64 {
  n: Float64Array;
  b: number;
}

export class PlaneParameters {
  private constructor(
    /** `[n_raw (hidden entries), theta]`. */
    readonly values: Float64Array,
  ) {}

  /** `n_raw ~ N(0, I)` drawn from `random`, `theta = 0`. */
  static init(hidden: number, random: SeededRandom): PlaneParameters {
    const values = new Float64Array(hidden + 1);
    for (let i = 0; i < hidden; i++) values[i] = random.normal();
    return new PlaneParameters(values);
  }

  /** Parameters at given values (copied), e.g. to evaluate the loss at a chosen point. */
  static of(nRaw: ArrayLike<number>, theta: number): PlaneParameters {
    const values = new Float64Array(nRaw.length + 1);
    values.set(Array.from(nRaw));
    values[nRaw.length] = theta;
    return new PlaneParameters(values);
  }

  get hidden(): number {
    return this.values.length - 1;
  }

  get nRaw(): Float64Array {
    return this.values.subarray(0, this.hidden);
  }

  get theta(): number {
    return this.values[this.hidden];
  }

  /** `n = n_raw / |n_raw|`, `b = tanh(theta)`. */
  plane(): PlaneValues64 {
    const nRaw = this.nRaw;
    const norm = euclideanNorm(nRaw);
    return { n: nRaw.map((x) => x / norm), b: Math.tanh(this.theta) };
  }

  /**
   * The chain rule from the gradients with respect to the plane (`n` as a free vector, and `b`) to
   * the flat gradient `[dL/dn_raw..., dL/dtheta]`: `dn/dn_raw = (I - n n^T) / |n_raw|` (only the part of
   * dL/dn across n moves a unit vector) and `db/dtheta = 1 - tanh(theta)^2`.
   */
  backward(gradN: ArrayLike<number>, gradB: number): Float64Array {
    const nRaw = this.nRaw;
    const norm = euclideanNorm(nRaw);
    let along = 0;
    for (let i = 0; i < nRaw.length; i++) along += (gradN[i] * nRaw[i]) / norm;
    const grad = new Float64Array(this.values.length);
    for (let i = 0; i < nRaw.length; i++) grad[i] = (gradN[i] - along * (nRaw[i] / norm)) / norm;
    const b = Math.tanh(this.theta);
    grad[this.hidden] = gradB * (1 - b * b);
    return grad;
  }

  /** `n_raw <- n_raw / |n_raw|`: after each optimiser step, so the step size stays relative to a unit vector. */
  renormalise(): void {
    const nRaw = this.nRaw;
    const norm = euclideanNorm(nRaw);
    for (let i = 0; i < nRaw.length; i++) nRaw[i] /= norm;
  }

  clone(): PlaneParameters {
    return new PlaneParameters(this.values.slice());
  }
}

export function euclideanNorm(x: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return Math.sqrt(sum);
}
