/**
 * A pretraining corpus: one source per file (named after the file), documents separated by blank
 * lines. Documents that repeat (up to white space) are kept once, across all sources; every
 * `heldoutEvery`-th remaining document of each source is held out for evaluation.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { LIMITS, checkLimit } from '../limits';

export interface CorpusSource {
  name: string;
  train: string[];
  heldout: string[];
}

export interface CorpusOptions {
  heldoutEvery: number;
}

export async function readCorpus(files: readonly string[], options: CorpusOptions): Promise<CorpusSource[]> {
  if (files.length === 0) throw new InputError('pretraining needs at least one --corpus file');
  const names = files.map((f) => path.basename(f).replace(/\.[^.]*$/, ''));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new InputError(`two corpus files are both named "${dup}": sources are named after their files, rename one`);
  const seen = new Set<string>();
  const sources: CorpusSource[] = [];
  for (const [i, file] of files.entries()) {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new InputError(`corpus file ${file} does not exist or is not a file`);
    checkLimit(LIMITS.corpusBytes, `the size of corpus file ${file}`, info.size);
    const source: CorpusSource = { name: names[i], train: [], heldout: [] };
    let kept = 0;
    for (const doc of splitDocuments(await readFile(file, 'utf8'))) {
      const key = doc.replace(/\s+/g, ' ');
      if (seen.has(key)) continue;
      seen.add(key);
      (++kept % options.heldoutEvery === 0 ? source.heldout : source.train).push(doc);
    }
    if (source.train.length === 0 || source.heldout.length === 0) {
      throw new InputError(`corpus file ${file} has ${kept} distinct documents: too few to hold out every ${options.heldoutEvery}th and train on the rest`);
    }
    sources.push(source);
  }
  return sources;
}

/** Blank-line separated documents, trimmed, with line ends normalised to \n. */
export function splitDocuments(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}
