/**
 * The engine ends when its client goes away, even in the middle of work. Closing stdin is noticed by the
 * event loop, which a long onnxruntime run or a busy loop holds; so a worker thread, which keeps running
 * meanwhile, checks every half second that the parent process is still there, and kills this process
 * when it is not (its parent id changes when the parent dies: the orphan is adopted).
 */
import { Worker } from 'node:worker_threads';

const WATCH = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.parent) process.kill(process.pid, 'SIGKILL');
}, 500);
`;

export function exitWithParent(): void {
  const worker = new Worker(WATCH, { eval: true, workerData: { parent: process.ppid } });
  // Never the reason the engine stays alive.
  worker.unref();
}
