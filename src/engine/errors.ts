/**
 * An error in what the user gave us (a model folder, a file, an id, a number), as opposed to a bug.
 * The CLI exits with code 2 for these; the extension shows the message as it is. Messages name the
 * file, tensor or value at fault and say what was expected.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** True for errors whose message is meant for the user. */
export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}

/** A run stopped because its caller cancelled it. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  /** `lastGood`: for a training cancelled after some steps, the plane trained so far (the caller may keep it). */
  constructor(
    what: string,
    readonly lastGood?: unknown,
  ) {
    super(`${what} was cancelled`);
  }
}
