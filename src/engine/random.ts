/**
 * The engine's one seeded random source: the tiny model's weights, the plane's initial direction,
 * minibatch and cut choices in training, and sampling all draw from it, so a seed reproduces a run.
 * Uniforms come from a 32-bit counter hashed by a Murmur3-style finaliser; normals pair them by
 * Box-Muller. Not cryptographic; chosen for being small, fast and identical on every platform.
 */
export class SeededRandom {
  private counter: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.counter = seed >>> 0;
  }

  /** Uniform in (0, 1]. */
  uniform(): number {
    this.counter = (this.counter + 0x9e3779b9) >>> 0;
    let z = this.counter;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return ((z >>> 0) + 1) / 4294967296;
  }

  /** A standard normal deviate. */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** An integer in [min, max]. */
  integer(min: number, max: number): number {
    return Math.min(max, min + Math.floor((1 - this.uniform()) * (max - min + 1)));
  }
}
