/**
 * The inline provider's debounce: VS Code asks again at every keystroke and cancels the previous
 * request, so waiting out a quiet period before asking the engine is enough; a request whose token is
 * cancelled meanwhile never reaches the engine. No vscode import: unit-tested.
 */

/** The part of a CancellationToken this needs (vscode's and vscode-jsonrpc's have it). */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/** Resolves true after `ms` without cancellation, false as soon as `token` is cancelled. */
export function quietPeriod(ms: number, token: CancellationLike): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (quiet: boolean): void => {
      clearTimeout(timer);
      subscription.dispose();
      resolve(quiet);
    };
    const timer = setTimeout(() => finish(true), Math.max(0, ms));
    const subscription = token.onCancellationRequested(() => finish(false));
  });
}
