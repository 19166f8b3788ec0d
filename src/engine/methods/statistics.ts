/**
 * Statistics of residual-stream vectors in float64: means, per-feature variances, cosine similarity.
 * Rows are [hidden] vectors; the sums run in float64 whatever the activations' dtype.
 */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** dot(a, b) / (|a| |b|); NaN when either is zero (no direction to compare). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const denominator = norm(a) * norm(b);
  return denominator === 0 ? NaN : dot(a, b) / denominator;
}

/** The mean of equally long rows. */
export function meanOf(rows: readonly ArrayLike<number>[]): Float64Array {
  const mean = new Float64Array(rows[0].length);
  for (const row of rows) for (let i = 0; i < mean.length; i++) mean[i] += row[i];
  return mean.map((x) => x / rows.length);
}

/** Per feature, the population variance of the rows (divided by their count): sum_j (x_ji - mean_i)^2 / n. */
export function featureVariance(rows: readonly ArrayLike<number>[]): Float64Array {
  const mean = meanOf(rows);
  const variance = new Float64Array(mean.length);
  for (const row of rows) {
    for (let i = 0; i < mean.length; i++) variance[i] += (row[i] - mean[i]) ** 2;
  }
  return variance.map((x) => x / rows.length);
}

/** a - b. */
export function difference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
}
