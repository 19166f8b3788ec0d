/**
 * tokenizer.json and tokenizer_config.json for a trained byte-level BPE, in the layout Hugging Face
 * tokenizers (Rust, Python) and @huggingface/transformers read: ByteLevel pre-tokenizer and decoder,
 * a BPE model, Gemma's special tokens at Gemma's ids (<pad> 0, <eos> 1, <bos> 2, <unk> 3) plus the
 * chat-turn markers, a post-processor that prepends <bos>, and a Gemma-style chat template.
 */
import type { BpeVocabulary } from './bpeTrainer';

/** Special tokens by id: Gemma's first four, then the turn markers its chat template uses. */
export const SPECIAL_TOKENS = ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>'] as const;
export const PAD_ID = 0;
export const EOS_ID = 1;
export const BOS_ID = 2;
export const END_OF_TURN_ID = 5;

/** Gemma's turn format: the model's turn is named "model"; a system message joins the first user turn. */
const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}" +
  "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}" +
  '{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}';

export interface TokenizerFiles {
  tokenizerJson: string;
  tokenizerConfigJson: string;
  vocabSize: number;
}

export function tokenizerFiles(vocabulary: BpeVocabulary, modelMaxLength: number): TokenizerFiles {
  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, id) => (vocab[t] = id));
  vocabulary.tokens.forEach((t, i) => (vocab[t] = SPECIAL_TOKENS.length + i));
  const addedTokens = SPECIAL_TOKENS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bos = { SpecialToken: { id: '<bos>', type_id: 0 } };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, bos, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<bos>': { id: '<bos>', ids: [BOS_ID], tokens: ['<bos>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: vocabulary.merges,
    },
  };
  const config = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
    bos_token: '<bos>',
    chat_template: CHAT_TEMPLATE,
    // Decoding must give back the exact text: no removal of spaces before punctuation.
    clean_up_tokenization_spaces: false,
    eos_token: '<eos>',
    model_max_length: modelMaxLength,
    pad_token: '<pad>',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: '<unk>',
  };
  return {
    tokenizerJson: `${JSON.stringify(tokenizer)}\n`,
    tokenizerConfigJson: `${JSON.stringify(config, null, 2)}\n`,
    vocabSize: SPECIAL_TOKENS.length + vocabulary.tokens.length,
  };
}
