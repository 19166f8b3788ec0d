/**
 * A Gemma-2 model folder converted to GGUF for the llama.cpp peer, in llama.cpp's Gemma-2 conventions
 * (convert_hf_to_gguf.py, llama-arch.cpp): general.architecture "gemma2" with its gemma2.* keys, tensors
 * token_embd / blk.N.* / output_norm (the output head is the tied embedding), and RMS-norm gains stored
 * as 1 + w, since Gemma scales by (1 + w) and llama.cpp by the stored weight. Every matrix, the
 * embedding included, is in one type (F16, Q8_0 or Q4_0) so that the peer reads the same precision as
 * our matching format; norms stay F32. Converted once per model fingerprint under .cache/bench-models.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { readTensorRows } from '../../src/engine/model/tensorData';
import type { ModelFolder } from '../../src/engine/model/types';
import { writeWholeFileFrom } from '../../src/engine/wholeFile';
import { encodeGgml, ggmlRowBytes, GGML_TYPE, LLAMA_FTYPE } from './ggmlBlocks';
import { encodeGgufHeader, type GgufMetadata, type GgufTensorInfo } from './ggufHeader';
import { ggufVocabulary } from './ggufVocab';
import type { GgufFormat } from './roofline';

/** Bump when the conversion changes: the name of the cached file carries it. */
const CONVERTER_VERSION = 1;
/** Values converted per piece, so that memory stays bounded whatever the tensor's size. */
const PIECE_VALUES = 1 << 22;

/** llama.cpp's name of each of our tensors (Hugging Face names). */
function ggufName(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (name === 'model.norm.weight') return 'output_norm.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name);
  if (!m) throw new Error(`no GGUF name for ${name}`);
  const part: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    post_attention_layernorm: 'post_attention_norm',
    pre_feedforward_layernorm: 'ffn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
    post_feedforward_layernorm: 'post_ffw_norm',
  };
  if (!(m[2] in part)) throw new Error(`no GGUF name for ${name}`);
  return `blk.${m[1]}.${part[m[2]]}.weight`;
}

function hyperparameters(folder: ModelFolder, format: GgufFormat): GgufMetadata[] {
  const c = folder.config;
  const u32 = (key: string, value: number): GgufMetadata => ({ key, type: 'uint32', value });
  const f32 = (key: string, value: number): GgufMetadata => ({ key, type: 'float32', value });
  return [
    { key: 'general.architecture', type: 'string', value: 'gemma2' },
    { key: 'general.name', type: 'string', value: path.basename(folder.dir) },
    u32('general.file_type', LLAMA_FTYPE[format]),
    u32('gemma2.context_length', c.maxPositionEmbeddings),
    u32('gemma2.embedding_length', c.hiddenSize),
    u32('gemma2.block_count', c.numHiddenLayers),
    u32('gemma2.feed_forward_length', c.intermediateSize),
    u32('gemma2.attention.head_count', c.numAttentionHeads),
    u32('gemma2.attention.head_count_kv', c.numKeyValueHeads),
    u32('gemma2.attention.key_length', c.headDim),
    u32('gemma2.attention.value_length', c.headDim),
    u32('gemma2.rope.dimension_count', c.headDim),
    f32('gemma2.rope.freq_base', c.ropeTheta),
    f32('gemma2.attention.layer_norm_rms_epsilon', c.rmsNormEps),
    u32('gemma2.attention.sliding_window', c.slidingWindow),
    ...(c.attnLogitSoftcapping !== null ? [f32('gemma2.attn_logit_softcapping', c.attnLogitSoftcapping)] : []),
    ...(c.finalLogitSoftcapping !== null ? [f32('gemma2.final_logit_softcapping', c.finalLogitSoftcapping)] : []),
  ];
}


/**
 * The GGUF file of the model in `format` under `cacheDir`, converted first when it is not there. Checks
 * of the Gemma-2 graph against the model folder's config and tensors are the engine's: this assumes a
 * folder that openModelFolder accepted.
 */
export async function ggufModel(folder: ModelFolder, format: GgufFormat, cacheDir: string): Promise<{ file: string; convertMs: number | null }> {
  const file = path.join(cacheDir, `${path.basename(folder.dir)}-${folder.fingerprint.slice(0, 16)}-v${CONVERTER_VERSION}-${format}.gguf`);
  const tensors = [...folder.tensors.values()];
  const infos: GgufTensorInfo[] = tensors.map((t) => {
    const [rows, cols] = t.shape.length === 1 ? [1, t.shape[0]] : t.shape;
    const matrix = t.shape.length === 2;
    return {
      name: ggufName(t.name),
      dims: [...t.shape].reverse(),
      ggmlType: matrix ? GGML_TYPE[format] : GGML_TYPE.F32,
      byteLength: matrix ? rows * ggmlRowBytes(format, cols) : cols * 4,
    };
  });
  const { header, offsets } = encodeGgufHeader([...hyperparameters(folder, format), ...ggufVocabulary(folder.dir, folder.config)], infos);
  const size = offsets[offsets.length - 1] + infos[infos.length - 1].byteLength;
  if (existsSync(file) && statSync(file).size === size) return { file, convertMs: null };

  mkdirSync(cacheDir, { recursive: true });
  const t0 = performance.now();
  await writeWholeFileFrom(file, async (handle) => {
    await handle.write(header, 0, header.length, 0);
    for (const [i, t] of tensors.entries()) {
      const [rows, cols] = t.shape.length === 1 ? [1, t.shape[0]] : t.shape;
      const step = Math.max(1, Math.floor(PIECE_VALUES / cols));
      for (let r = 0; r < rows; r += step) {
        const count = Math.min(step, rows - r);
        const values = await readTensorRows(t, r, count);
        let bytes: Uint8Array;
        if (t.shape.length === 1) {
          for (let j = 0; j < values.length; j++) values[j] += 1;
          bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        } else {
          bytes = encodeGgml(values, format);
        }
        // Gaps left for the alignment between tensors read as zeros.
        await handle.write(bytes, 0, bytes.length, offsets[i] + r * (infos[i].byteLength / rows));
      }
    }
  });
  return { file, convertMs: performance.now() - t0 };
}
