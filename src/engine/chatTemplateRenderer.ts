/**
 * Chat templates rendered with a time limit (LIMITS.templateMs). A template is code from the model
 * folder: nested loops over range(100000) would hold the engine for ever. Rendering runs on a worker
 * thread (chatTemplateWorker.ts) while this thread waits for it synchronously, as the tokenizer's API
 * is synchronous; past the limit the worker is terminated and the render is refused.
 */
import * as path from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { InputError } from './errors';
import { LIMITS } from './limits';

interface RenderThread {
  worker: Worker;
  port: MessagePort;
  done: Int32Array;
}

let thread: RenderThread | undefined;

function startThread(): RenderThread {
  const { port1, port2 } = new MessageChannel();
  const done = new Int32Array(new SharedArrayBuffer(4));
  // Beside this module: dist/ for the bundles, out/src/engine/ for the compiled tests.
  const worker = new Worker(path.join(__dirname, 'chatTemplateWorker.js'), { workerData: { port: port2, done }, transferList: [port2] });
  // An idle render thread must not keep the process alive.
  worker.unref();
  port1.unref();
  return { worker, port: port1, done };
}

/** `template` rendered with `context` (plain data), or an InputError naming `source` when it fails or takes too long. */
export function renderChatTemplate(template: string, context: Record<string, unknown>, source: string): string {
  const t = (thread ??= startThread());
  Atomics.store(t.done, 0, 0);
  t.port.postMessage({ template, context });
  const limit = LIMITS.templateMs;
  if (Atomics.wait(t.done, 0, 0, limit.value) === 'timed-out') {
    thread = undefined;
    void t.worker.terminate();
    throw new InputError(`${source}: the chat template did not finish rendering within ${limit.value} ms (set ${limit.env} to allow longer)`);
  }
  const reply = receiveMessageOnPort(t.port)?.message as { text: string } | { error: string } | undefined;
  if (!reply) throw new Error('the chat template thread answered without a result');
  if ('error' in reply) throw new InputError(`${source}: ${reply.error}`);
  return reply.text;
}
