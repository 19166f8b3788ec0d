/**
 * The thread that renders chat templates (Jinja, by transformers' own template engine) for
 * chatTemplateRenderer.ts, so that a template that never ends can be stopped: the caller waits a
 * limited time, then terminates this thread. Bundled as dist/chatTemplateWorker.js.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { Template } from '@huggingface/jinja' with { 'resolution-mode': 'import' };

const { port, done } = workerData as { port: MessagePort; done: Int32Array };
const compiled = new Map<string, Template>();

// The port keeps what arrives before the module has loaded.
void import('@huggingface/jinja').then(({ Template }) => port.on('message', ({ template, context }: { template: string; context: Record<string, unknown> }) => {
  let reply: { text: string } | { error: string };
  try {
    let t = compiled.get(template);
    if (!t) compiled.set(template, (t = new Template(template)));
    reply = { text: t.render(context) };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  port.postMessage(reply);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}));
