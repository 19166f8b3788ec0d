/**
 * Adam (Kingma & Ba) over a flat parameter vector, with bias correction, as torch.optim.Adam without
 * weight decay: `m <- beta1 m + (1 - beta1) g`, `v <- beta2 v + (1 - beta2) g^2`,
 * `x <- x - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)`.
 */
export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  /** Steps taken so far. */
  private t = 0;

  constructor(size: number, options: AdamOptions) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
    this.beta2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
    this.eps = options.eps ?? ADAM_DEFAULTS.eps;
  }

  /** One step: moves `params` in place against `grad`. */
  step(params: Float64Array, grad: ArrayLike<number>): void {
    if (params.length !== this.m.length || grad.length !== this.m.length) {
      throw new Error(`Adam over ${this.m.length} parameters got ${params.length} parameters and ${grad.length} gradient entries`);
    }
    this.t++;
    const correction1 = 1 - Math.pow(this.beta1, this.t);
    const correction2 = 1 - Math.pow(this.beta2, this.t);
    for (let i = 0; i < params.length; i++) {
      this.m[i] = this.beta1 * this.m[i] + (1 - this.beta1) * grad[i];
      this.v[i] = this.beta2 * this.v[i] + (1 - this.beta2) * grad[i] * grad[i];
      params[i] -= (this.learningRate * (this.m[i] / correction1)) / (Math.sqrt(this.v[i] / correction2) + this.eps);
    }
  }
}
