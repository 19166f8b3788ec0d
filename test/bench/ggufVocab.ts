/**
 * The model's tokenizer.json as llama.cpp's SentencePiece-style vocabulary (tokenizer.ggml.model
 * "llama", as convert_hf_to_gguf.py writes Gemma-2's): a piece, score and type per id. The bench feeds
 * llama.cpp token ids, never text, so the scores only need to order the pieces (earlier ids first, as
 * a BPE vocabulary's ids do) and the types only to mark control and byte tokens.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TOKENIZER_FILE } from '../../src/engine/model/modelFolder';
import type { Gemma2Config } from '../../src/engine/model/types';
import type { GgufMetadata } from './ggufHeader';

/** llama_token_type values. */
const TOKEN_TYPE = { normal: 1, control: 3, unused: 5, byte: 6 } as const;

export function ggufVocabulary(dir: string, config: Gemma2Config): GgufMetadata[] {
  const json = JSON.parse(readFileSync(path.join(dir, TOKENIZER_FILE), 'utf8')) as {
    added_tokens: { id: number; content: string; special: boolean }[];
    model: { vocab: Record<string, number> };
  };
  const tokens = Array.from({ length: config.vocabSize }, (_, id) => `<unused-id-${id}>`);
  const types = new Int32Array(config.vocabSize).fill(TOKEN_TYPE.unused);
  for (const [piece, id] of Object.entries(json.model.vocab)) {
    if (id >= config.vocabSize) continue;
    tokens[id] = piece;
    types[id] = /^<0x[0-9A-F]{2}>$/.test(piece) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
  }
  for (const t of json.added_tokens) {
    if (t.id >= config.vocabSize) continue;
    tokens[t.id] = t.content;
    if (t.special) types[t.id] = TOKEN_TYPE.control;
  }
  // SentencePiece's default unknown id is 0, which is Gemma's <pad>.
  const unknown = tokens.indexOf('<unk>');
  return [
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'strings', value: tokens },
    { key: 'tokenizer.ggml.scores', type: 'float32s', value: Float32Array.from({ length: config.vocabSize }, (_, id) => -id) },
    { key: 'tokenizer.ggml.token_type', type: 'int32s', value: types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: config.bosTokenId },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: config.eosTokenId[0] },
    { key: 'tokenizer.ggml.padding_token_id', type: 'uint32', value: config.padTokenId },
    ...(unknown >= 0 ? [{ key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: unknown } as const] : []),
  ];
}
