/**
 * Compiled graphs on disk. A graph is written next to the weights it reads, as
 * `microsteer-<name>-<hash>.onnx` where the hash covers the graph's bytes (which hold every
 * weight's file, offset and shape), the compiler version and the caller's key; an existing file
 * with that name is reused. Where the model folder is read-only the file is kept in a cache folder
 * instead and loaded from memory, with the model folder named as the external-data folder.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GraphParts } from './graph';
import { serializeModel } from './serialize';
import { isNotWritable, writeWholeFile } from '../wholeFile';
import type { ModelSource } from '../runtime/session';

/** Bump when the builder or an op's emission changes what a compiled graph computes. */
export const COMPILER_VERSION = 'microsteer-onnx-1';

export interface CompileOptions {
  /** The model folder: weights are read from it, and the graph is written into it when possible. */
  modelDir: string;
  /** A short name for the graph's role, e.g. 'forward-l13' or 'backward-l13'. */
  name: string;
  /** Anything else the cached file must depend on (mixed into the hash). */
  key?: string;
  /** Where graphs go when the model folder is read-only (default: $XDG_CACHE_HOME or ~/.cache, /microsteer/graphs). */
  cacheDir?: string;
}

export interface CompiledGraph {
  /** What createSession() takes: the file's path, or its bytes and the model folder. */
  source: ModelSource;
  /** Where the .onnx file is. */
  file: string;
  /** True when the model folder was read-only and the file lives in the cache folder. */
  inCacheFolder: boolean;
  /** True when an existing file was reused. */
  reused: boolean;
  hash: string;
}

/** Serialises `graph` (external data relative to the model folder) and writes or reuses its file. */
export function compileGraph(graph: GraphParts, options: CompileOptions): CompiledGraph {
  if (!/^[A-Za-z0-9_.-]+$/.test(options.name)) throw new Error(`compileGraph: bad graph name '${options.name}'`);
  const modelDir = path.resolve(options.modelDir);
  const bytes = serializeModel(graph, { externalDataDir: modelDir, producerVersion: COMPILER_VERSION });
  const hash = createHash('sha256')
    .update(COMPILER_VERSION)
    .update('\0')
    .update(options.key ?? '')
    .update('\0')
    .update(bytes)
    .digest('hex')
    .slice(0, 16);
  const fileName = `microsteer-${options.name}-${hash}.onnx`;
  const inModel = path.join(modelDir, fileName);
  const cacheDir = path.resolve(options.cacheDir ?? defaultCacheDir());
  const inCache = path.join(cacheDir, fileName);
  const fromCache = (reused: boolean): CompiledGraph => ({
    source: { bytes, externalDataDir: modelDir },
    file: inCache,
    inCacheFolder: true,
    reused,
    hash,
  });

  if (sameContent(inModel, bytes)) return { source: inModel, file: inModel, inCacheFolder: false, reused: true, hash };
  if (sameContent(inCache, bytes)) return fromCache(true);
  try {
    writeWholeFile(inModel, bytes);
    removeOtherVersions(modelDir, fileName);
    return { source: inModel, file: inModel, inCacheFolder: false, reused: false, hash };
  } catch (e) {
    if (!isNotWritable(e)) throw e;
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  writeWholeFile(inCache, bytes);
  removeOtherVersions(cacheDir, fileName);
  return fromCache(false);
}

/** A versioned cache file's name: `<role>-<16 hex digits>.<extension>`. */
const VERSIONED = /^(.+)-[0-9a-f]{16}(\.[a-z]+)$/;

/**
 * Deletes from `dir` the other versions of the cache file `current` (same role and extension, another
 * hash): what earlier compiles, or earlier weights of the model, left behind.
 */
export function removeOtherVersions(dir: string, current: string): void {
  const mine = VERSIONED.exec(current);
  if (!mine) throw new Error(`removeOtherVersions: ${current} is not a versioned file name`);
  for (const file of fs.readdirSync(dir)) {
    const other = VERSIONED.exec(file);
    if (file !== current && other && other[1] === mine[1] && other[2] === mine[2]) fs.rmSync(path.join(dir, file), { force: true });
  }
}

/** Where graphs (and the weights they read) go when the model folder is read-only. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'microsteer', 'graphs');
}

function sameContent(file: string, bytes: Uint8Array): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && st.size === bytes.length && Buffer.compare(fs.readFileSync(file), bytes) === 0;
  } catch {
    return false;
  }
}
