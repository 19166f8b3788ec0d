/**
 * Writing a file whole: the bytes go to a fresh temporary file beside the target, created exclusively
 * (a random name opened with O_EXCL, so a link planted there is never followed), which then takes the
 * target's name. A reader sees the old file or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

export interface WholeFileOptions {
  /** Replace an existing target (default true); false fails with EEXIST instead, even if the target appeared meanwhile. */
  overwrite?: boolean;
}

export function writeWholeFile(file: string, data: string | Uint8Array, options: WholeFileOptions = {}): void {
  const temp = temporaryName(file);
  const fd = fs.openSync(temp, 'wx');
  try {
    try {
      fs.writeFileSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    if (options.overwrite ?? true) fs.renameSync(temp, file);
    else linkWithoutReplacing(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** A hard link fails with EEXIST where rename would replace; file systems without hard links get a check, then rename. */
function linkWithoutReplacing(temp: string, file: string): void {
  try {
    fs.linkSync(temp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
    if (fs.existsSync(file)) throw Object.assign(new Error(`EEXIST: file already exists, '${file}'`), { code: 'EEXIST' });
    fs.renameSync(temp, file);
  }
}

/**
 * The same for a file too large to hold in memory: `produce` writes it through the handle, in pieces.
 * The target is replaced only once every piece is written; an error or a throw from `produce` leaves
 * no trace.
 */
export async function writeWholeFileFrom(file: string, produce: (handle: FileHandle) => Promise<void>): Promise<void> {
  const temp = temporaryName(file);
  const handle = await open(temp, 'wx');
  try {
    try {
      await produce(handle);
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
}

function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Whether a write failed because the folder cannot be written (read-only, or not ours), not for another reason. */
export function isNotWritable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}
