/**
 * This machine's memory read bandwidth, measured in the same run as the decode speeds it bounds:
 * `threads` workers (the decode's thread count) each compare two equal buffers far larger than any
 * cache, so that memcmp streams both from memory with nothing written. Buffers are filled first, since
 * untouched pages would all map to one zero page and be read from cache.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const half = workerData.bytes / 2;
const a = Buffer.allocUnsafeSlow(half).fill(7);
const b = Buffer.allocUnsafeSlow(half).fill(7);
Buffer.compare(a, b);
parentPort.postMessage('ready');
parentPort.once('message', () => {
  const t0 = performance.now();
  for (let i = 0; i < workerData.repeat; i++) if (Buffer.compare(a, b) !== 0) throw new Error('buffers differ');
  parentPort.postMessage({ ms: performance.now() - t0, bytes: workerData.repeat * workerData.bytes });
});
`;

export interface Bandwidth {
  bytesPerSecond: number;
  threads: number;
}

/** Aggregate read bandwidth of `threads` threads: all bytes read over the slowest thread's time, best of `trials`. */
export async function measureReadBandwidth(threads: number, trials = 3, bytesPerThread = 512 * 2 ** 20, repeat = 8): Promise<Bandwidth> {
  let best = 0;
  for (let t = 0; t < trials; t++) {
    const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { bytes: bytesPerThread, repeat } }));
    try {
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      const results = await Promise.all(
        workers.map((w) => {
          const done = new Promise<{ ms: number; bytes: number }>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
          w.postMessage('go');
          return done;
        }),
      );
      const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
      best = Math.max(best, bytes / (Math.max(...results.map((r) => r.ms)) / 1000));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return { bytesPerSecond: best, threads };
}
