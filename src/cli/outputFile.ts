/**
 * The files a CLI command writes (--out, --gguf). They are checked before any work starts, so a wrong
 * path costs nothing: never one of the command's inputs or the model's own files, never an existing
 * file without --force, never a folder, and the folder must take a new file. When the final write still
 * fails (a full disk), the result is saved elsewhere and the error says where: a long run is never lost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../engine/errors';
import { writeWholeFile } from '../engine/wholeFile';

export interface OutputFile {
  file: string;
  flag: string;
  force: boolean;
}

export interface OutputChecks {
  /** Replace an existing file. */
  force?: boolean;
  /** The files the command reads, by flag: an output must be none of them. */
  inputs?: Record<string, string | undefined>;
  /** The model folder: no existing file in it is replaced, even with --force. */
  modelDir?: string;
}

export function checkOutputFile(given: string, flag: string, checks: OutputChecks = {}): OutputFile {
  const file = path.resolve(given);
  const dir = path.dirname(file);
  if (!isFolder(dir)) throw new InputError(`${flag} ${file}: the folder ${dir} does not exist`);
  const existing = statOrUndefined(file);
  if (existing?.isDirectory()) throw new InputError(`${flag} ${file} is a folder: give the name of the file to write`);
  if (existing) {
    const real = fs.realpathSync(file);
    for (const [inputFlag, input] of Object.entries(checks.inputs ?? {})) {
      if (input !== undefined && statOrUndefined(input) && fs.realpathSync(input) === real) {
        throw new InputError(`${flag} ${file} is the ${inputFlag} file this command reads: write the result to another file`);
      }
    }
    if (checks.modelDir !== undefined && isFolder(checks.modelDir) && isInside(real, fs.realpathSync(checks.modelDir))) {
      throw new InputError(`${flag} ${file} is a file of the model folder: write the result outside it`);
    }
    if (!checks.force) throw new InputError(`${flag} ${file} exists: pass --force to replace it, or choose another file`);
  }
  probeWritable(dir, flag);
  return { file, flag, force: checks.force ?? false };
}

/**
 * Writes `data` whole to the checked output. If that fails, the data goes to a fresh folder in the
 * temporary directory (or, for text, to stdout) and the error names where it went.
 */
export function saveOutputFile(output: OutputFile, data: string | Uint8Array, what: string): void {
  try {
    writeWholeFile(output.file, data, { overwrite: output.force });
    return;
  } catch (e) {
    const reason = (e as Error).message;
    let kept: string;
    try {
      const fallback = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-')), path.basename(output.file));
      writeWholeFile(fallback, data);
      kept = `the ${what} is saved in ${fallback} instead`;
    } catch {
      if (typeof data !== 'string') throw new Error(`cannot write ${output.flag} ${output.file} (${reason}), nor a copy in ${os.tmpdir()}`);
      process.stdout.write(data);
      kept = `the ${what} is printed above instead`;
    }
    throw new Error(`cannot write ${output.flag} ${output.file} (${reason}); ${kept}`);
  }
}

/** Creates and removes an exclusive file in `dir`, so that a read-only or inaccessible folder is found before the work. */
function probeWritable(dir: string, flag: string): void {
  const probe = path.join(dir, `.microsteer-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (e) {
    throw new InputError(`${flag}: cannot create a file in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  fs.rmSync(probe, { force: true });
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function isFolder(dir: string): boolean {
  return statOrUndefined(dir)?.isDirectory() ?? false;
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
