/**
 * Steered, streaming generation of one prompt for several rows (an alpha, with or without a plane; a
 * steering vector's coefficient; an ablated direction) at once: one batched prefill of the prompt (whose
 * tokens before the last run once where the rows steer only the last one: Gemma2Runner.prefill), then
 * one batched decode per step. Each row samples from its own SeededRandom(seed) and stops on its own,
 * so a row of a comparison equals its run alone.
 * A row that has stopped keeps decoding an unsteered pad token (its outputs are ignored): attention
 * never crosses rows, so this changes nothing for the others and keeps the KV cache one batch.
 */
import type { GenerationResult, GenerationRow, SamplingOptions, StopReason } from '../../protocol';
import { InputError } from '../errors';
import { LIMITS, checkLimit } from '../limits';
import type { Gemma2Runner } from '../gemma2/runner';
import { checkAlpha, type SteerRow } from '../gemma2/batchRows';
import type { ResidualEdits } from '../gemma2/residualEdits';
import { rowEdits } from '../methods/rowEdits';
import { parsePlane } from '../plane';
import { SeededRandom } from '../random';
import type { StreamDecoder, Tokenizer } from '../tokenizer';
import { sampleToken } from './sampler';
import { resolveSampling, type ResolvedSampling } from './samplingOptions';

/** What generation needs of a runner (a wrapper may stand in for one in tests). */
export type GenerationRunner = Pick<Gemma2Runner, 'folder' | 'hookLayer' | 'prefill' | 'decode'>;

export interface GenerationRequest {
  prompt: string;
  /** 'end': keep the end of a prompt too long for the context (GenerateParams.promptFit). */
  promptFit?: 'end';
  rows: GenerationRow[];
  sampling: SamplingOptions;
}

export interface GenerationHooks {
  /** A text delta of one row; a row's deltas concatenate to its final text. */
  onDelta?(row: number, text: string): void;
  /** Checked before every step: the run stops, flushes and returns the rows so far as 'cancelled'. */
  signal?: AbortSignal;
}

export interface GeneratedRow {
  /** The decode of `ids`. */
  text: string;
  /** Generated tokens in the text (the stop token is not one of them). */
  tokens: number;
  stopReason: StopReason;
  ids: number[];
}

export interface Generation extends GenerationResult {
  rows: GeneratedRow[];
}

const NEVER = -3.4028234663852886e38;

export async function generate(
  runner: GenerationRunner,
  tokenizer: Tokenizer,
  request: GenerationRequest,
  hooks: GenerationHooks = {},
): Promise<Generation> {
  const sampling = resolveSampling(request.sampling);
  if (typeof request.prompt !== 'string' || request.prompt.length === 0) throw new InputError('the prompt is empty: generation needs a prompt to continue');
  if (!Array.isArray(request.rows) || request.rows.length === 0) throw new InputError('a generation needs at least one row (an alpha, with or without a plane)');
  checkLimit(LIMITS.rows, 'the number of generation rows', request.rows.length);
  const steering = request.rows.map((row, i) => rowSteering(row, i, runner, sampling));
  const context = runner.folder.config.maxPositionEmbeddings;
  const keepEnd = request.promptFit === 'end';
  let prompt = request.prompt;
  if (prompt.length > LIMITS.charactersPerToken * context) {
    if (!keepEnd) throw new InputError(`the prompt has ${prompt.length} characters, more than the model's context of ${context} tokens can hold`);
    prompt = prompt.slice(-LIMITS.charactersPerToken * context);
  }
  let promptIds = encodePrompt(tokenizer, prompt, sampling.chatTemplate);
  const room = context - sampling.maxNewTokens;
  // Keep the first token (<bos>) and as many of the last ones as leave room for the new tokens.
  if (keepEnd && promptIds.length > room && room >= 2) promptIds = [promptIds[0], ...promptIds.slice(promptIds.length - (room - 1))];
  if (promptIds.length + sampling.maxNewTokens > context) {
    throw new InputError(
      `the prompt's ${promptIds.length} tokens and up to ${sampling.maxNewTokens} new ones exceed the model's context of ${context} tokens (max_position_embeddings): shorten the prompt or ask for fewer tokens`,
    );
  }
  const rows = request.rows.map((_, i) => new RowStream(i, tokenizer, sampling.seed, hooks.onDelta));

  const { vocabSize, padTokenId } = runner.folder.config;
  const eos = new Set(tokenizer.eosIds);
  const cancelled = () => hooks.signal?.aborted === true;
  if (!cancelled()) {
    let step = await runner.prefill(
      rows.map(() => promptIds),
      steering.map((s) => s.prompt),
      // The cache keeps a slot for every token a row may add.
      { edits: steering.map((s) => s.edits), reserve: sampling.maxNewTokens },
    );
    for (let token = 1; ; token++) {
      rows.forEach((row, i) => {
        if (!row.active) return;
        const logits = step.logits.subarray(i * vocabSize, (i + 1) * vocabSize);
        // Padding and reserved placeholders are never a continuation (a random model such as the tiny one
        // would sample them, and they show as "<unused5747>"): the most negative finite float32 gives them
        // zero probability and keeps the logits finite.
        logits[padTokenId] = NEVER;
        for (const id of tokenizer.reservedIds) logits[id] = NEVER;
        row.take(sampleToken(logits, sampling, row.random, `row ${i}, token ${token}`), eos, sampling.maxNewTokens);
      });
      if (!rows.some((row) => row.active) || cancelled()) break;
      step = await runner.decode(
        step.cache,
        rows.map((row) => (row.active ? row.ids[row.ids.length - 1] : padTokenId)),
        rows.map((row, i) => (row.active ? steering[i].generated : null)),
      );
    }
  }
  for (const row of rows) if (row.active) row.stop('cancelled');
  return { rows: rows.map((row) => row.result(tokenizer)) };
}

/** The prompt's ids with one BOS, raw or wrapped as a user turn in the model's chat template. */
function encodePrompt(tokenizer: Tokenizer, prompt: string, chatTemplate: boolean): number[] {
  const text = chatTemplate ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]) : prompt;
  return tokenizer.encode(text, { addBos: true });
}

/**
 * A row's plane over the prompt and over generated tokens (null for both without one), and its
 * residual-stream edits, which hold at every position (the KV cache keeps them from the prefill on).
 */
interface RowSteering {
  prompt: SteerRow | null;
  generated: SteerRow | null;
  edits: ResidualEdits | null;
}

function rowSteering(row: GenerationRow, i: number, runner: GenerationRunner, sampling: ResolvedSampling): RowSteering {
  const what = `row ${i}`;
  if (typeof row !== 'object' || row === null) throw new InputError(`${what}: expected { alpha, plane? }`);
  checkAlpha(row.alpha, `${what}: alpha`);
  const edits = rowEdits(row, runner.folder, what);
  if (row.plane === undefined) return { prompt: null, generated: null, edits };
  const plane = parsePlane(row.plane, `${what} plane`, runner.folder.config);
  if (plane.layer !== runner.hookLayer) {
    throw new InputError(
      `${what} plane: it steers layer ${plane.layer}, but the model was opened with its hook at layer ${runner.hookLayer}; open it at layer ${plane.layer} to use this plane`,
    );
  }
  // Alpha 0 is the unsteered model, as everywhere (STEERING_LIMITS): the hook would still subtract s * n.
  if (row.alpha === 0) return { prompt: null, generated: null, edits };
  const steer = { n: plane.n, b: plane.b, alpha: row.alpha };
  return { prompt: { ...steer, positions: sampling.steerPrompt }, generated: { ...steer, positions: 'all' }, edits };
}

/** One row's generated ids, its own random stream, and its text as streamed deltas. */
class RowStream {
  readonly ids: number[] = [];
  readonly random: SeededRandom;
  private readonly decoder: StreamDecoder;
  private stopReason: StopReason | undefined;

  constructor(
    private readonly index: number,
    tokenizer: Tokenizer,
    seed: number,
    private readonly onDelta: GenerationHooks['onDelta'],
  ) {
    this.random = new SeededRandom(seed);
    this.decoder = tokenizer.createStreamDecoder();
  }

  get active(): boolean {
    return this.stopReason === undefined;
  }

  /** A sampled token: the end of the row, or one more token of its text. */
  take(id: number, eos: ReadonlySet<number>, maxNewTokens: number): void {
    if (eos.has(id)) return this.stop('eos');
    this.ids.push(id);
    this.emit(this.decoder.push(id));
    if (this.ids.length >= maxNewTokens) this.stop('maxTokens');
  }

  stop(reason: StopReason): void {
    this.stopReason = reason;
    this.emit(this.decoder.flush());
  }

  result(tokenizer: Tokenizer): GeneratedRow {
    if (this.stopReason === undefined) throw new Error(`row ${this.index} has not stopped`);
    return { text: tokenizer.decode(this.ids), tokens: this.ids.length, stopReason: this.stopReason, ids: this.ids };
  }

  private emit(text: string): void {
    if (text !== '') this.onDelta?.(this.index, text);
  }
}
