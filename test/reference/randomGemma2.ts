/**
 * Seeded random Gemma-2 weights held in memory, for tests of the reference that need no model folder.
 * Scales keep activations of order one so that every part of the forward pass matters numerically.
 */
import type { Gemma2Config } from '../../src/engine/model/types';
import { gemma2WeightShapes, makeReferenceModel, type ReferenceModel, type WeightArray } from './gemma2Reference';

/** mulberry32 uniforms turned into standard normals by Box-Muller. */
export function seededNormals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (((z ^ (z >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A small Gemma-2 config: head_dim differs from hidden/heads, GQA groups of 2, a window shorter than test rows. */
export function smallGemma2Config(overrides: Partial<Gemma2Config> = {}): Gemma2Config {
  const numHiddenLayers = overrides.numHiddenLayers ?? 4;
  return {
    modelType: 'gemma2',
    vocabSize: 50,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 6,
    maxPositionEmbeddings: 64,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    queryPreAttnScalar: 6,
    slidingWindow: 3,
    attnLogitSoftcapping: 5,
    finalLogitSoftcapping: 3,
    slidingLayers: Array.from({ length: numHiddenLayers }, (_, i) => i % 2 === 0),
    hiddenActivation: 'gelu_pytorch_tanh',
    bosTokenId: 2,
    eosTokenId: [1],
    padTokenId: 0,
    ...overrides,
  };
}

export function randomGemma2(config: Gemma2Config, seed: number): ReferenceModel {
  const normal = seededNormals(seed);
  const weights = new Map<string, WeightArray>();
  for (const [name, shape] of gemma2WeightShapes(config)) {
    const w = new Float64Array(shape.reduce((a, b) => a * b, 1));
    // Norm gains near 0 (the stored weight is added to 1); projections ~ 1/sqrt(fan_in); embedding ~ 1/sqrt(d).
    const std = shape.length === 1 ? 0.3 : 1 / Math.sqrt(shape[1]);
    for (let i = 0; i < w.length; i++) w[i] = std * normal();
    weights.set(name, w);
  }
  return makeReferenceModel(config, weights);
}
