/**
 * The two onnxruntime sessions of a pretraining run, and what the loop asks of them: one training
 * step (the loss and every weight's gradient for a batch of windows) and the measure of a token
 * stream (mean NLL per text token and bits per character) under given weights.
 */
import type { Gemma2Config } from '../model/types';
import { serializeModel } from '../onnx/serialize';
import { createSession, runSession, type Device, type HostTensor, type OpenedSession } from '../runtime/session';
import { buildPretrainGraph, gradName } from './pretrainGraph';
import { evaluationStarts, firstNewPrediction, windowBatch, type TokenStream, type WindowBatch } from './tokenStream';

export interface SourceMeasure {
  source: string;
  /** Mean NLL (nats) per predicted text token. */
  loss: number;
  bitsPerChar: number;
  tokens: number;
  chars: number;
}

export type Weights = ReadonlyMap<string, Float32Array>;

export class PretrainSessions {
  private constructor(
    private readonly train: OpenedSession,
    private readonly evaluation: OpenedSession,
    private readonly shapes: ReadonlyMap<string, number[]>,
    /** Windows per run. */
    readonly rows: number,
    readonly context: number,
  ) {}

  static async open(
    config: Gemma2Config,
    shapes: ReadonlyMap<string, number[]>,
    options: { rows: number; context: number; device: Device; threads?: number; dir: string },
  ): Promise<PretrainSessions> {
    const sessionOptions = { device: options.device, intraOpNumThreads: options.threads };
    const open = (gradients: boolean) => createSession({ bytes: serializeModel(buildPretrainGraph(config, { gradients }), { externalDataDir: options.dir }) }, sessionOptions);
    return new PretrainSessions(await open(true), await open(false), shapes, options.rows, options.context);
  }

  get device(): 'cuda' | 'cpu' {
    return this.train.device;
  }

  get fallbackReason(): string | undefined {
    return this.train.fallbackReason;
  }

  /** The loss of `batch` under `weights`, and d loss / d weight for every weight, in the order of the shapes. */
  async step(weights: Weights, batch: WindowBatch): Promise<{ loss: number; grads: Float32Array[] }> {
    const result = await runSession(this.train.session, this.feeds(weights, batch));
    return { loss: (result.loss.data as Float32Array)[0], grads: [...this.shapes.keys()].map((n) => result[gradName(n)].data as Float32Array) };
  }

  /**
   * The measure of `stream` read in consecutive windows (the first `maxWindows` of them), counting
   * only predictions of document text, each once.
   */
  async measure(weights: Weights, stream: TokenStream, source: string, maxWindows = Infinity): Promise<SourceMeasure> {
    const all = evaluationStarts(stream, this.context);
    const starts = all.slice(0, maxWindows);
    let nll = 0;
    let tokens = 0;
    for (let k0 = 0; k0 < starts.length; k0 += this.rows) {
      const chunk = starts.slice(k0, k0 + this.rows);
      const batch = windowBatch(stream, chunk, this.context);
      const tokenNll = (await runSession(this.evaluation.session, this.feeds(weights, batch), ['token_nll'])).token_nll.data as Float32Array;
      chunk.forEach((_, r) => {
        for (let t = firstNewPrediction(starts, k0 + r, this.context); t < this.context; t++) {
          if (!batch.targetIsText[r * this.context + t]) continue;
          nll += tokenNll[r * this.context + t];
          tokens++;
        }
      });
    }
    // A partial evaluation covers a share of the text: scale the characters by the share of text tokens read.
    const chars = starts.length === all.length ? stream.chars : (stream.chars * tokens) / stream.isText.reduce((a, b) => a + b, 0);
    return { source, loss: nll / tokens, bitsPerChar: nll / Math.LN2 / chars, tokens, chars: Math.round(chars) };
  }

  private feeds(weights: Weights, batch: WindowBatch): Record<string, HostTensor> {
    const dims = [batch.rows, batch.context];
    const n = batch.rows * batch.context;
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', data: batch.inputIds, dims },
      target_ids: { dtype: 'int64', data: batch.targetIds, dims },
      position_ids: { dtype: 'int64', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % batch.context)), dims },
      attention_mask: { dtype: 'int64', data: new BigInt64Array(n).fill(1n), dims },
    };
    for (const [name, shape] of this.shapes) feeds[name] = { dtype: 'float32', data: weights.get(name) as Float32Array, dims: shape };
    return feeds;
  }
}
