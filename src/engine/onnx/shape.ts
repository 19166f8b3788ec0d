/**
 * Static shapes of symbolic tensors: a dim is a number or a symbolic name such as 'batch' or 'seq'
 * (unknown until run time, equal wherever the same name appears).
 */

export type Dim = number | string;
export type Shape = readonly Dim[];

export function shapeToString(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Normalises a possibly negative axis for a tensor of the given rank. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  }
  return a;
}

/** Number of elements when every dim is a number, else null. */
export function staticSize(s: Shape): number | null {
  let n = 1;
  for (const d of s) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}

/** Whether every dim is a number. */
export function isStatic(s: Shape): s is readonly number[] {
  return s.every((d) => typeof d === 'number');
}

/**
 * NumPy-style broadcast of two shapes. A symbolic dim broadcasts against 1 and equals itself;
 * two different symbolic names, or two different numbers other than 1, are an error.
 */
export function broadcastShapes(a: Shape, b: Shape, what: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`${what}: shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
  }
  return out;
}

/**
 * The axes along which `operand` was broadcast to reach `target` (the result shape of a
 * broadcasting op): leading axes it lacks, and axes where it has 1 and the target does not.
 * Gradients are summed over these axes to come back to the operand's shape.
 */
export function broadcastAxes(operand: Shape, target: Shape): { leading: number[]; kept: number[] } {
  const lead = target.length - operand.length;
  const leading: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < lead; i++) leading.push(i);
  for (let i = 0; i < operand.length; i++) {
    if (operand[i] === 1 && target[i + lead] !== 1) kept.push(i + lead);
  }
  return { leading, kept };
}
