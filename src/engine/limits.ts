/**
 * Limits on the sizes the engine takes in, so that its work and memory are bounded by configuration,
 * never by an input: a config.json, an examples file or a token list is checked against them before
 * anything is allocated for it. Each limit can be changed with its environment variable (read when the
 * process starts), which the error message names.
 */
import { stat, readFile } from 'node:fs/promises';
import { InputError } from './errors';

export interface SizeLimit {
  /** The environment variable that changes it. */
  env: string;
  value: number;
  /** What it counts, e.g. "decoder layers". */
  unit: string;
}

function sizeLimit(env: string, fallback: number, unit: string): SizeLimit {
  const given = process.env[env];
  const value = given !== undefined && /^\d+$/.test(given) && Number(given) > 0 ? Number(given) : fallback;
  return { env, value, unit };
}

export const LIMITS = {
  layers: sizeLimit('MICROSTEER_MAX_LAYERS', 256, 'decoder layers'),
  /** hidden_size, intermediate_size and head_dim. */
  width: sizeLimit('MICROSTEER_MAX_WIDTH', 65_536, 'values of width'),
  heads: sizeLimit('MICROSTEER_MAX_HEADS', 1024, 'attention heads'),
  vocabulary: sizeLimit('MICROSTEER_MAX_VOCABULARY', 1_048_576, 'tokens of vocabulary'),
  /** Examples of a training run, or of one set of a mean difference or a layer diagnosis. */
  examples: sizeLimit('MICROSTEER_MAX_EXAMPLES', 10_000, 'examples'),
  /** All examples' tokens together: their hook sites are cached for the whole run. */
  exampleTokens: sizeLimit('MICROSTEER_MAX_EXAMPLE_TOKENS', 65_536, 'tokens in all examples'),
  /** Rows of one generation. */
  rows: sizeLimit('MICROSTEER_MAX_ROWS', 64, 'rows'),
  /** Files the engine reads whole (config.json, examples, planes, vectors); weights are read in place. */
  fileBytes: sizeLimit('MICROSTEER_MAX_FILE_BYTES', 16 * 1024 * 1024, 'bytes'),
  /**
   * Logits scored in one run (rows x positions x vocabulary): the full log-softmax at every labelled
   * position, and its gradient, dominate the memory of a training step or an NLL (measured: about
   * 30 bytes per logit on the CPU, so about 2 GB at the default; 256 tokens per row for Gemma's vocabulary).
   */
  logits: sizeLimit('MICROSTEER_MAX_LOGITS', 64 * 1024 * 1024, 'logits (rows x tokens x vocabulary) in one run'),
  /**
   * Positions (rows x tokens) in one run of hidden states or an NLL: longer inputs run in pieces through
   * the KV cache (gemma2/positionPieces.ts), so that a run's activations and attention scores are bounded.
   */
  runPositions: sizeLimit('MICROSTEER_MAX_RUN_POSITIONS', 2048, 'positions (rows x tokens) in one run'),
  /** One corpus file of `microsteer pretrain` (it is tokenized whole). */
  corpusBytes: sizeLimit('MICROSTEER_MAX_CORPUS_BYTES', 64 * 1024 * 1024, 'bytes in one corpus file'),
  /** Time one chat template may take to render. */
  templateMs: sizeLimit('MICROSTEER_TEMPLATE_MS', 2000, 'milliseconds'),
  /** Characters per token at most, for refusing text before it is encoded (Gemma's tokens average about 4). */
  charactersPerToken: 8,
} as const;

/** The error for `subject` (e.g. "config.json: num_hidden_layers") being `got`, over `limit`. */
export function overLimit(limit: SizeLimit, subject: string, got: number): InputError {
  return new InputError(`${subject} is ${got}, over the limit of ${limit.value} ${limit.unit} (set ${limit.env} to raise it)`);
}

export function checkLimit(limit: SizeLimit, subject: string, got: number): void {
  if (got > limit.value) throw overLimit(limit, subject, got);
}

/** A file read whole, after its size is checked against LIMITS.fileBytes. Errors of the file system are thrown as they are. */
export async function readBoundedFile(file: string): Promise<Buffer> {
  checkLimit(LIMITS.fileBytes, `the size of ${file}`, (await stat(file)).size);
  return readFile(file);
}
