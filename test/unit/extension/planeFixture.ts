/** A plane record as the extension stores it, for the tests of planeRecords.ts and planeLayout.ts. */
import type { PlaneRecord } from '../../../src/protocol';

/** Base64 of little-endian float32s, written independently of the code under test (DataView, explicit endianness). */
export function base64Floats(values: number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return Buffer.from(view.buffer).toString('base64');
}

export const MODEL = { hiddenSize: 4, numHiddenLayers: 6, fingerprint: 'abc123def456abc123' };

export function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    layer: 3,
    n: base64Floats([0.5, -0.5, 0.5, -0.5]),
    b: 0.125,
    model: { ...MODEL },
    training: {
      layer: 3,
      steps: 10,
      learningRate: 5e-4,
      alpha: 1,
      useAveraging: true,
      lambdaMle: 1e4,
      lambdaCap: 0.1,
      lambdaTheta: 0.1,
      mleMode: 'sequence',
      batchSize: 2,
      seed: 0,
      examples: 2,
    },
    initialLoss: 9.5,
    finalLoss: 4.25,
    lossHistory: [9.5, 6, 4.25],
    createdAt: '2025-01-31T12:00:00.000Z',
    ...overrides,
  };
}

/** The record above, typed (it is a valid one). */
export const RECORD = record() as unknown as PlaneRecord;
