/**
 * The model's tokenizer, through @huggingface/transformers from the local folder only (never the network).
 * transformers is imported lazily: it loads native libraries, and the extension host must never load it.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { renderChatTemplate } from './chatTemplateRenderer';
import { InputError } from './errors';
import { CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, readModelConfig } from './model/modelFolder';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Turns generated ids into text as they arrive, never splitting a character. */
export interface StreamDecoder {
  /** The text that `id` completes; '' while a multi-byte character is still incomplete. */
  push(id: number): string;
  /** Whatever is held back (an incomplete character comes out as U+FFFD). */
  flush(): string;
}

export interface Tokenizer {
  readonly dir: string;
  readonly bosId: number;
  /** Ids that end generation: the config's eos_token_id, the tokenizer's eos token and <end_of_turn>. */
  readonly eosIds: readonly number[];
  /** One more than the largest token id. */
  readonly vocabSize: number;
  /** Placeholder tokens no text contains (Gemma's `<unusedN>`): generation never samples them. */
  readonly reservedIds: readonly number[];
  /** `addBos` defaults to the tokenizer config's add_bos_token; a BOS already at the start of the text is not doubled. */
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The chat template's text (it starts with the BOS token); `addGenerationPrompt` defaults to true. */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  createStreamDecoder(options?: { skipSpecialTokens?: boolean }): StreamDecoder;
}

const REPLACEMENT_CHARACTER = '\uFFFD';

export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const root = path.resolve(dir);
  const missing = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE].filter((f) => !existsSync(path.join(root, f)));
  if (missing.length > 0) {
    throw new InputError(`${root} has no ${missing.join(' or ')}: the Hugging Face tokenizer files belong next to the model's config.json`);
  }
  const config = existsSync(path.join(root, CONFIG_FILE)) ? (await readModelConfig(root)).config : undefined;

  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  let hf: PreTrainedTokenizer;
  try {
    // An absolute path is never taken for a hub model id, so it is read from disk as it is.
    hf = await AutoTokenizer.from_pretrained(root);
  } catch (e) {
    throw new InputError(`cannot load the tokenizer in ${root}: ${(e as Error).message}`);
  }
  const tokenizer = new HfTokenizer(root, hf, config?.bosTokenId, config?.eosTokenId ?? []);
  if (config && tokenizer.vocabSize > config.vocabSize) {
    throw new InputError(
      `${path.join(root, TOKENIZER_FILE)} has token ids up to ${tokenizer.vocabSize - 1}, beyond the model's vocab_size ${config.vocabSize}`,
    );
  }
  return tokenizer;
}

class HfTokenizer implements Tokenizer {
  readonly bosId: number;
  readonly eosIds: readonly number[];
  readonly vocabSize: number;
  readonly reservedIds: readonly number[];
  private readonly addBosByDefault: boolean;

  constructor(
    readonly dir: string,
    private readonly hf: PreTrainedTokenizer,
    configBos: number | undefined,
    configEos: number[],
  ) {
    const vocab = hf.get_vocab();
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.reservedIds = [...vocab].filter(([token]) => /^<unused\d+>$/.test(token)).map(([, id]) => id);
    const bos = hf.bos_token_id ?? configBos;
    if (bos === undefined) throw new InputError(`${path.join(dir, TOKENIZER_CONFIG_FILE)} defines no bos_token`);
    this.bosId = bos;
    const endOfTurn = vocab.get('<end_of_turn>');
    this.eosIds = [...new Set([...configEos, hf.eos_token_id, endOfTurn].filter((id): id is number => typeof id === 'number'))];
    this.addBosByDefault = hf.add_bos_token !== false;
  }

  encode(text: string, options: { addBos?: boolean } = {}): number[] {
    const ids = this.hf.encode(text, { add_special_tokens: false });
    const addBos = options.addBos ?? this.addBosByDefault;
    return addBos && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const source = `chat template of ${path.join(this.dir, TOKENIZER_CONFIG_FILE)}`;
    try {
      // transformers builds the render context (messages, special tokens) and renders through its
      // template cache: a cache entry that renders with a time limit keeps its context exactly.
      const template = this.hf.get_chat_template({});
      if (!this.hf._compiled_template_cache.has(template)) {
        this.hf._compiled_template_cache.set(template, { render: (context: Record<string, unknown>) => renderChatTemplate(template, context, source) });
      }
      return this.hf.apply_chat_template(messages, {
        tokenize: false,
        add_generation_prompt: options.addGenerationPrompt ?? true,
      }) as string;
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${source}: ${(e as Error).message}`);
    }
  }

  /**
   * Decodes a window of ids: the ids of the last emitted piece (context, so that the decoder sees the same
   * neighbours as a full decode) plus the new ones, and emits what extends the context's text, unless that
   * ends in U+FFFD, the mark of a byte sequence not yet complete.
   */
  createStreamDecoder(options: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const ids: number[] = [];
    let contextStart = 0;
    let emittedUpTo = 0;
    const pending = () => {
      const before = this.decode(ids.slice(contextStart, emittedUpTo), options);
      const text = this.decode(ids.slice(contextStart), options);
      return text.slice(before.length);
    };
    const advance = () => {
      contextStart = emittedUpTo;
      emittedUpTo = ids.length;
    };
    return {
      push: (id: number) => {
        ids.push(id);
        const text = pending();
        if (text === '' || text.endsWith(REPLACEMENT_CHARACTER)) return '';
        advance();
        return text;
      },
      flush: () => {
        const text = pending();
        advance();
        return text;
      },
    };
  }
}
