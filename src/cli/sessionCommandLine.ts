/**
 * onnxruntime-node 1.30 crashes (SIGSEGV) creating a session in a process whose command line is 32 KB
 * or longer (DESIGN.md section 7). A command that opens a model in the CLI's own process checks its
 * command line first, so that long arguments end in an error instead of a crash.
 */
import { InputError } from '../engine/errors';

/** Measured to work; 32 000 bytes crash. */
const MAX_COMMAND_LINE_BYTES = 28_000;

/** Refuses a command line too long for onnxruntime, saying what to do instead (`instead`). */
export function checkSessionCommandLine(instead: string): void {
  // As /proc/self/cmdline holds it: node, its own options, the script and the arguments, each ended by a NUL.
  const args = [process.argv[0], ...process.execArgv, ...process.argv.slice(1)];
  const bytes = args.reduce((sum, arg) => sum + Buffer.byteLength(arg) + 1, 0);
  if (bytes > MAX_COMMAND_LINE_BYTES) {
    throw new InputError(`the command line is ${bytes} bytes, over the ${MAX_COMMAND_LINE_BYTES} that onnxruntime-node can open a model under (it crashes at 32 KB): ${instead}`);
  }
}
