/**
 * How the CLI's model commands use the engine: through an EngineClient (the same engine process the
 * extension runs), with the model open, and Ctrl-C cancelling the running request. A cancelled
 * command exits with 130 (the shell's code for SIGINT) once the engine has stopped, or after a grace
 * period with the engine killed; a second Ctrl-C kills it and exits at once.
 */
import { EngineClient } from '../engine/client';
import { CancelledError } from '../engine/errors';
import type { Device, WeightsSetting } from '../protocol';

/** How long a cancelled request may take to stop before the engine is killed. */
const CANCEL_GRACE_MS = 3000;

export async function withEngine<T>(
  command: string,
  model: { modelPath: string; device: Device; weights: WeightsSetting },
  work: (client: EngineClient, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const client = new EngineClient();
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) return quit();
    controller.abort();
    // An engine busy in one long run may not see the cancellation soon: past the grace, stop it.
    setTimeout(quit, CANCEL_GRACE_MS).unref();
  };
  const quit = () => {
    client.dispose();
    console.error(`microsteer ${command}: cancelled`);
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  let result: T | undefined;
  try {
    await client.openModel(model);
    result = await work(client, controller.signal);
    const { fallbackReason, weights } = await client.status();
    if (fallbackReason && model.device === 'cuda') console.error(`microsteer ${command}: ${fallbackReason}`);
    // auto says what it picked when that is not the exact float32 path.
    if (weights && model.weights === 'auto' && weights.format !== 'f32') console.error(`microsteer ${command}: ${weights.reason}`);
  } catch (e) {
    if (!(e instanceof CancelledError && controller.signal.aborted)) throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await client.shutdown();
    client.dispose();
  }
  if (controller.signal.aborted) {
    console.error(`microsteer ${command}: cancelled`);
    process.exit(130);
  }
  return result as T;
}
