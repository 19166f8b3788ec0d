/**
 * The folder of plane record files (`.vscode/microsteer/planes` in a workspace). Its files are named by
 * an untrusted settings file and may be planted by whoever wrote the workspace, so no symbolic link is
 * followed, neither the folders on the way nor the files: a link is reported, never read or written
 * through. Files are written whole through writeWholeFile (an exclusive temporary file, then a rename)
 * and a new name is taken exclusively. No vscode import: this is unit-tested.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIMITS, checkLimit } from '../engine/limits';
import { writeWholeFile } from '../engine/wholeFile';
import type { RecordFiles } from './planeLayout';

export class RecordFolder implements RecordFiles {
  /**
   * `root` is trusted (the workspace folder, the extension's storage); `parts` are the folders below it,
   * each checked. Messages name files relative to the root when `relative` (a workspace's own folder).
   */
  constructor(
    private readonly root: string,
    private readonly parts: readonly string[],
    private readonly relative = true,
  ) {}

  get dir(): string {
    return path.join(this.root, ...this.parts);
  }

  /** The file as a person finds it: relative to the root with forward slashes, or its whole path. */
  describe(file: string): string {
    return this.relative ? [...this.parts, file].join('/') : path.join(this.dir, file);
  }

  read(file: string): string {
    const missing = 'is missing: restore it, or delete the plane and train it again';
    const problem = this.folderProblem(false);
    if (problem === MISSING) throw new Error(missing);
    if (problem) throw new Error(`cannot be read: ${problem}`);
    const full = path.join(this.dir, file);
    const stat = lstatOrUndefined(full);
    if (!stat) throw new Error(missing);
    if (stat.isSymbolicLink()) throw new Error('is a symbolic link, which Micro Steer does not follow: put the file itself there');
    if (!stat.isFile()) throw new Error('is not a file');
    checkLimit(LIMITS.fileBytes, 'its size', stat.size);
    let fd: number;
    try {
      // O_NOFOLLOW closes the window between the check above and the open, where the platform has it.
      fd = fs.openSync(full, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    } catch (e) {
      throw new Error(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      checkLimit(LIMITS.fileBytes, 'its size', fs.fstatSync(fd).size);
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Writes `text` to a new file named by `pick` (called again with each name found taken, since a file
   * may appear between the choice and the write) and returns its name. Never replaces a file.
   */
  create(pick: (taken: (file: string) => boolean) => string, text: string): string {
    this.prepare();
    const clashes = new Set<string>();
    for (let attempt = 0; attempt < 100; attempt++) {
      const file = pick((f) => clashes.has(f.toLowerCase()) || lstatOrUndefined(path.join(this.dir, f)) !== undefined);
      try {
        writeWholeFile(path.join(this.dir, file), text, { overwrite: false });
        return file;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        clashes.add(file.toLowerCase());
      }
    }
    throw new Error(`cannot find a free file name in ${this.describe('')}`);
  }

  /** Removes a record file (a link there is removed itself, not what it points to); a missing one is fine. */
  remove(file: string): void {
    if (this.folderProblem(false)) return;
    const full = path.join(this.dir, file);
    if (lstatOrUndefined(full)?.isDirectory()) return;
    fs.rmSync(full, { force: true });
  }

  /** Creates the folders below the root, refusing any that is a link or not a folder. */
  private prepare(): void {
    fs.mkdirSync(this.root, { recursive: true });
    const problem = this.folderProblem(true);
    if (problem !== undefined) throw new Error(`cannot keep plane records in ${this.describe('')}: ${problem}`);
  }

  /** Why the folders below the root cannot be used (creating the missing ones when `create`; MISSING otherwise), or undefined. */
  private folderProblem(create: boolean): string | undefined {
    let dir = this.root;
    for (const part of this.parts) {
      dir = path.join(dir, part);
      let stat = lstatOrUndefined(dir);
      if (!stat && create) {
        try {
          fs.mkdirSync(dir);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        stat = lstatOrUndefined(dir);
      }
      const shown = path.relative(this.root, dir).split(path.sep).join('/');
      if (!stat) return MISSING;
      if (stat.isSymbolicLink()) return `${shown} is a symbolic link, which Micro Steer does not follow`;
      if (!stat.isDirectory()) return `${shown} is not a folder`;
    }
    return undefined;
  }
}

const MISSING = 'missing';

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}
