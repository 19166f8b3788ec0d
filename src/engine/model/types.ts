/** Shapes of a Gemma-2 model folder as the engine sees it. No vscode, no onnxruntime here. */

/** The subset of transformers' Gemma2Config the engine uses, with transformers' defaults filled in. */
export interface Gemma2Config {
  modelType: 'gemma2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  queryPreAttnScalar: number;
  slidingWindow: number;
  /** null when the config disables it. */
  attnLogitSoftcapping: number | null;
  finalLogitSoftcapping: number | null;
  /** Per layer: true where the layer uses sliding-window attention. */
  slidingLayers: boolean[];
  hiddenActivation: 'gelu_pytorch_tanh';
  bosTokenId: number;
  eosTokenId: number[];
  padTokenId: number;
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Where one tensor's bytes lie: a file and an absolute byte offset into it. */
export interface TensorLocation {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute path of the safetensors file. */
  file: string;
  /** Byte offset of the first element from the start of the file (8 + header length + data_offsets[0]). */
  offset: number;
  byteLength: number;
}

/** A validated model folder. */
export interface ModelFolder {
  dir: string;
  config: Gemma2Config;
  /** Every tensor the model has, by its transformers name. */
  tensors: Map<string, TensorLocation>;
  /** Total bytes of the weight files. */
  weightBytes: number;
  /** A stable fingerprint of config + tensor table + weight file sizes and sampled bytes, for caches and plane identity. */
  fingerprint: string;
}

/** What `microsteer info` prints and the extension shows. */
export interface ModelSummary {
  dir: string;
  architecture: string;
  hiddenSize: number;
  numHiddenLayers: number;
  vocabSize: number;
  parameterCount: number;
  dtypes: SafetensorsDtype[];
  sizeOnDiskBytes: number;
  defaultHookLayer: number;
  fingerprint: string;
}
