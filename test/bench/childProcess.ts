/**
 * One measurement per child process: peak resident memory is per process, so each weights format and
 * each llama.cpp file is measured in a fresh Node process where nothing else was ever loaded.
 * The parent passes the arguments as JSON in argv; the child prints its result as one marked JSON line
 * (native libraries may print to stdout too).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { modelProcessEnv } from '../../src/engine/processEnv';

const RESULT_MARK = 'BENCH-RESULT ';

/** Runs `script` (a compiled .js file) with `args`, passing its stderr through, and returns its result. */
export function runChild<Result>(script: string, args: unknown, timeoutMs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(args)], {
      // Every measured process (ours and llama.cpp's) runs in the engine's environment, so that memory
      // is measured as the engine holds it.
      env: modelProcessEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code === 0 && line) resolve(JSON.parse(line.slice(RESULT_MARK.length)) as Result);
      else reject(new Error(`${script} ended with ${signal ?? `exit code ${code}`}${signal === 'SIGKILL' ? ` (killed: over ${timeoutMs / 1000} s or out of memory)` : ''}`));
    });
  });
}

/** The child's side: its arguments, and a way to hand back the result with the process's peak resident bytes. */
export function childMain<Args, Result>(run: (args: Args) => Promise<Result>): void {
  run(JSON.parse(process.argv[2]) as Args)
    .then((result) => {
      process.stdout.write(`${RESULT_MARK}${JSON.stringify({ ...result, peakRssBytes: peakResidentBytes() })}\n`);
      // Native thread pools can keep the event loop alive: the result is out, so end here.
      process.exit(0);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}

/** The most memory this process has held resident so far (VmHWM, as getrusage reports it). */
export function peakResidentBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * What this process holds resident now, each page once: the proportional set size (Pss). VmRSS counts
 * a page of a file once per mapping, and two sessions that read the same weights file map it twice
 * (measured: f32 training on the 2B shape, 17.8 GB VmRSS for 11.6 GB Pss).
 */
export function residentBytes(): number {
  const line = /^Pss:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  if (!line) throw new Error('/proc/self/smaps_rollup has no Pss line');
  return Number(line[1]) * 1024;
}
