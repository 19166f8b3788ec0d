/**
 * The guard against non-finite training values: a NaN or infinity in a loss, a gradient or the
 * updated parameters stops training with an error that names it and the step, and carries the last
 * good plane, so that nothing non-finite is ever written into a plane.
 */
import type { PlaneRecord } from '../../protocol';

export class NonFiniteTrainingError extends Error {
  override readonly name = 'NonFiniteTrainingError';

  constructor(
    readonly step: number,
    /** What went non-finite, e.g. "dLoss/dn[3] (NaN)". */
    readonly what: string,
    /** The plane after the last completed step; undefined when the first step failed. */
    readonly lastGood: PlaneRecord | undefined,
  ) {
    super(
      `training stopped at step ${step}: ${what} is not finite` +
        (lastGood ? `; the plane after step ${step - 1} is kept` : '; no step had completed, so there is no trained plane'),
    );
  }
}

/** The first non-finite value among named scalars and vectors, described with its index; undefined when all are finite. */
export function firstNonFinite(values: readonly (readonly [string, number | ArrayLike<number>])[]): string | undefined {
  for (const [name, value] of values) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${name} (${value})`;
      continue;
    }
    for (let i = 0; i < value.length; i++) {
      if (!Number.isFinite(value[i])) return `${name}[${i}] (${value[i]})`;
    }
  }
  return undefined;
}
