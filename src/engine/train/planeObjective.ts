/**
 * The training loss of DESIGN.md section 1 at given plane parameters, and its gradient with respect
 * to them: `lambda_mle * L_mle + [use_averaging] * (lambda_cap * L_cap + lambda_theta * L_theta)`.
 * L_mle and its plane gradient come from the runner's training step; the latent terms are computed
 * here; the chain rule to (n_raw, theta) is PlaneParameters.backward.
 */
import type { Gemma2Runner, TrainRow } from '../gemma2/runner';
import { capLoss, thetaLoss, type Latents } from './latentLosses';
import type { PlaneParameters } from './planeParameters';
import type { TrainSettings } from './trainSettings';

export type LossWeights = Pick<TrainSettings, 'alpha' | 'useAveraging' | 'lambdaMle' | 'lambdaCap' | 'lambdaTheta'>;

export interface ObjectiveValue {
  loss: number;
  mleLoss: number;
  capLoss: number;
  thetaLoss: number;
  /** dLoss/dn with n a free vector, and dLoss/db. */
  gradN: Float64Array;
  gradB: number;
  /** dLoss/d[n_raw..., theta]: what the optimiser steps on. */
  grad: Float64Array;
}

export async function evaluateObjective(
  runner: Pick<Gemma2Runner, 'trainStep'>,
  rows: readonly TrainRow[],
  latents: Latents,
  params: PlaneParameters,
  weights: LossWeights,
): Promise<ObjectiveValue> {
  const { n, b } = params.plane();
  const mle = await runner.trainStep(rows, { n, b }, weights.alpha);
  const cap = capLoss(latents, n, b);
  const theta = thetaLoss(b);
  const averaging = weights.useAveraging ? 1 : 0;
  const gradN = new Float64Array(n.length);
  for (let k = 0; k < n.length; k++) gradN[k] = weights.lambdaMle * mle.gradN[k] + averaging * weights.lambdaCap * cap.gradN[k];
  const gradB = weights.lambdaMle * mle.gradB + averaging * (weights.lambdaCap * cap.gradB + weights.lambdaTheta * theta.gradB);
  return {
    loss: weights.lambdaMle * mle.loss + averaging * (weights.lambdaCap * cap.loss + weights.lambdaTheta * theta.loss),
    mleLoss: mle.loss,
    capLoss: cap.loss,
    thetaLoss: theta.loss,
    gradN,
    gradB,
    grad: params.backward(gradN, gradB),
  };
}
