/**
 * AdamW (Loshchilov & Hutter) over a list of float32 parameter arrays, as torch.optim.AdamW:
 * decoupled weight decay `x <- x - lr * wd * x` on the tensors that take it, then the Adam step
 * with bias correction. Gradients are first clipped to a global L2 norm, and the learning rate
 * follows a linear warm-up and a cosine decay to a floor.
 */

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Largest global gradient norm; larger gradients are scaled down to it. */
  clipNorm: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };

export interface AdamWState {
  /** Steps taken so far. */
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  readonly state: AdamWState;

  constructor(
    sizes: readonly number[],
    private readonly options: AdamWOptions,
    state?: AdamWState,
  ) {
    this.state = state ?? { t: 0, m: sizes.map((n) => new Float32Array(n)), v: sizes.map((n) => new Float32Array(n)) };
    if (this.state.m.length !== sizes.length || this.state.m.some((m, i) => m.length !== sizes[i] || this.state.v[i].length !== sizes[i])) {
      throw new Error('AdamW: the optimiser state does not match the parameters');
    }
  }

  /**
   * One step at learning rate `lr`: moves `params` in place against `grads` (clipped first), decaying
   * only where `decays[i]`. Returns the gradient norm before clipping.
   */
  step(params: Float32Array[], grads: readonly Float32Array[], lr: number, decays: readonly boolean[]): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.options;
    const norm = globalNorm(grads);
    const scale = norm > clipNorm ? clipNorm / norm : 1;
    const t = ++this.state.t;
    const correction1 = 1 - Math.pow(beta1, t);
    const correction2 = 1 - Math.pow(beta2, t);
    params.forEach((x, i) => {
      const g = grads[i];
      const m = this.state.m[i];
      const v = this.state.v[i];
      const decay = decays[i] ? 1 - lr * weightDecay : 1;
      for (let j = 0; j < x.length; j++) {
        const gj = g[j] * scale;
        m[j] = beta1 * m[j] + (1 - beta1) * gj;
        v[j] = beta2 * v[j] + (1 - beta2) * gj * gj;
        x[j] = x[j] * decay - (lr * (m[j] / correction1)) / (Math.sqrt(v[j] / correction2) + eps);
      }
    });
    return norm;
  }
}

export function globalNorm(arrays: readonly ArrayLike<number>[]): number {
  let sum = 0;
  for (const a of arrays) for (let j = 0; j < a.length; j++) sum += a[j] * a[j];
  return Math.sqrt(sum);
}

export interface LearningRateSchedule {
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  /** The floor of the cosine, as a fraction of the peak. */
  minRatio: number;
}

/** The learning rate of step `step` (0-based): linear warm-up to the peak, then a cosine down to peak * minRatio. */
export function learningRate(step: number, s: LearningRateSchedule): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  const floor = s.peak * s.minRatio;
  return floor + (s.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
