/**
 * The engine process: an Engine served over JSON-RPC (vscode-jsonrpc) on stdin/stdout, the methods of
 * EngineMethods. Requests are cancellable with $/cancelRequest; errors go back as ResponseErrors whose
 * code tells bad input (EngineErrorCodes.input) from cancellation and internal errors, message kept.
 * stdout carries only the protocol: logs, and anything a library prints, go to stderr.
 */
import {
  createMessageConnection,
  ParameterStructures,
  RequestType,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
} from 'vscode-jsonrpc/node';
import {
  EngineErrorCodes,
  EngineMethods,
  type CompareStatesParams,
  type EngineErrorData,
  type LayerDiagnosticsParams,
  type MeanDifferenceParams,
  type GenerateParams,
  type OpenModelParams,
  type SamplingOptions,
  type TokenNotification,
  type TrainOptions,
  type TrainParams,
  type TrainProgress,
  type TrainProgressNotification,
} from '../protocol';
import { Engine } from './engine';
import { CancelledError, InputError } from './errors';
import { exitWithParent } from './parentWatch';
import { parseWeightsSetting } from './weights/weightsFormat';

console.log = console.info = console.debug = console.error;
// Ctrl-C in a terminal signals the whole process group: the client (the CLI) cancels the running
// request and shuts the engine down, so the engine itself must outlive the signal.
process.on('SIGINT', () => undefined);
exitWithParent();

const engine = new Engine();
const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

/** A request whose params are one object (by name): vscode-jsonrpc answers anything else with InvalidParams. */
const byName = (method: string) => new RequestType<unknown, unknown, EngineErrorData>(method, ParameterStructures.byName);

connection.onRequest(byName(EngineMethods.openModel), (params: unknown) =>
  respond(() => {
    const p = openModelParams(params);
    return engine.openModel(p.modelPath, p.device, p.weights);
  }),
);

connection.onRequest(byName(EngineMethods.inspectModel), (params: unknown) =>
  respond(() => engine.inspectModel(text(record(params, 'inspectModel params', ['modelPath']).modelPath, 'inspectModel: modelPath'))),
);

connection.onRequest(EngineMethods.status, () => respond(async () => engine.status()));

connection.onRequest(byName(EngineMethods.train), (params: unknown, token: CancellationToken) =>
  respond(() => {
    const { requestId, examples, options } = trainParams(params);
    const onProgress = (progress: TrainProgress) => notify(EngineMethods.trainProgress, { requestId, progress } satisfies TrainProgressNotification);
    return withSignal(token, (signal) => engine.train({ examples, options }, onProgress, signal));
  }),
);

connection.onRequest(byName(EngineMethods.generate), (params: unknown, token: CancellationToken) =>
  respond(() => {
    const { requestId, prompt, promptFit, rows, sampling } = generateParams(params);
    const onDelta = (row: number, text: string) => notify(EngineMethods.token, { requestId, row, text } satisfies TokenNotification);
    return withSignal(token, (signal) => engine.generate({ prompt, promptFit, rows, sampling }, onDelta, signal));
  }),
);

connection.onRequest(byName(EngineMethods.meanDifference), (params: unknown, token: CancellationToken) =>
  respond(() => {
    const p = meanDifferenceParams(params);
    return withSignal(token, (signal) => engine.meanDifference(p, signal));
  }),
);

connection.onRequest(byName(EngineMethods.layerDiagnostics), (params: unknown, token: CancellationToken) =>
  respond(() => {
    const p = layerDiagnosticsParams(params);
    return withSignal(token, (signal) => engine.layerDiagnostics(p, signal));
  }),
);

connection.onRequest(byName(EngineMethods.compareStates), (params: unknown) => respond(() => engine.compareStates(compareStatesParams(params))));

// Exiting frees the model's sessions: nothing is released first, since a run may still be using them.
connection.onRequest(EngineMethods.shutdown, () => {
  // The client closes our stdin once it has the reply; this only covers a client that does not.
  setTimeout(() => process.exit(0), 1000).unref();
  return null;
});

// The client went away (or closed stdin after shutdown): nothing is left to serve.
connection.onClose(() => process.exit(0));
connection.listen();

function notify(method: string, params: object): void {
  connection.sendNotification(method, params).catch((e: unknown) => console.error(`engine: cannot send ${method}: ${String(e)}`));
}

async function respond<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw responseError(e);
  }
}

function responseError(e: unknown): ResponseError<EngineErrorData> {
  if (e instanceof InputError) return new ResponseError(EngineErrorCodes.input, e.message, { name: e.name });
  if (e instanceof CancelledError) {
    return new ResponseError(EngineErrorCodes.cancelled, e.message, { name: e.name, ...(e.lastGood === undefined ? {} : { lastGood: e.lastGood }) });
  }
  const error = e instanceof Error ? e : new Error(String(e));
  // The trace travels with the answer, so that the client shows it once, where its user asked for it.
  if (process.env.MICROSTEER_DEBUG === '1') console.error(`engine: ${error.stack ?? error.message}`);
  const data: EngineErrorData = { name: error.name, stack: error.stack };
  if ('lastGood' in error && error.lastGood !== undefined) data.lastGood = error.lastGood;
  return new ResponseError(EngineErrorCodes.internal, error.message, data);
}

/** An AbortSignal that follows the request's cancellation token. */
async function withSignal<T>(token: CancellationToken, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const subscription = token.onCancellationRequested(() => controller.abort());
  if (token.isCancellationRequested) controller.abort();
  try {
    return await run(controller.signal);
  } finally {
    subscription.dispose();
  }
}

// ------------------------------------------------------------------ request validation
// The structure of each request is checked here; the values (numbers, ranges, planes) are checked by
// the engine's trainer and generator, which take untrusted input from every client.

function openModelParams(params: unknown): OpenModelParams {
  const p = record(params, 'openModel params', ['modelPath', 'device', 'weights']);
  const device = p.device;
  if (device !== undefined && device !== 'auto' && device !== 'cpu' && device !== 'cuda') {
    throw new InputError(`openModel: device must be "auto", "cpu" or "cuda", got ${JSON.stringify(device)}`);
  }
  const weights = p.weights === undefined ? undefined : parseWeightsSetting(p.weights, 'openModel: weights');
  return { modelPath: text(p.modelPath, 'openModel: modelPath'), device, weights };
}

const TRAIN_OPTION_KEYS: (keyof TrainOptions)[] = [
  'layer',
  'steps',
  'learningRate',
  'alpha',
  'useAveraging',
  'lambdaMle',
  'lambdaCap',
  'lambdaTheta',
  'mleMode',
  'batchSize',
  'batchTokens',
  'seed',
];

function trainParams(params: unknown): TrainParams {
  const p = record(params, 'train params', ['requestId', 'examples', 'options']);
  const examples = texts(p.examples, 'train: examples');
  const options = record(p.options ?? {}, 'train: options', TRAIN_OPTION_KEYS) as TrainOptions;
  return { requestId: text(p.requestId, 'train: requestId'), examples, options };
}

const SAMPLING_KEYS: (keyof SamplingOptions)[] = ['temperature', 'topK', 'topP', 'seed', 'maxNewTokens', 'chatTemplate', 'steerPrompt'];

function generateParams(params: unknown): GenerateParams {
  const p = record(params, 'generate params', ['requestId', 'prompt', 'promptFit', 'rows', 'sampling']);
  if (p.promptFit !== undefined && p.promptFit !== 'end') throw new InputError(`generate: promptFit must be "end" or absent, got ${JSON.stringify(p.promptFit)}`);
  if (!Array.isArray(p.rows)) throw new InputError('generate: rows must be an array of { alpha, plane?, vector?, ablate? }');
  const rows = p.rows.map((row, i) => {
    const r = record(row, `generate: row ${i}`, ['alpha', 'plane', 'vector', 'ablate']);
    if (r.vector !== undefined) record(r.vector, `generate: row ${i}'s vector`, ['layers', 'values', 'coefficient', 'model']);
    if (r.ablate !== undefined) record(r.ablate, `generate: row ${i}'s ablation`, ['direction', 'layers', 'model']);
    if (r.plane === undefined) return r;
    const plane = record(r.plane, `generate: row ${i}'s plane`, ['layer', 'n', 'b', 'model']);
    if (plane.model !== undefined) {
      const model = record(plane.model, `generate: row ${i}'s plane model`, ['hiddenSize', 'numHiddenLayers', 'fingerprint']);
      text(model.fingerprint, `generate: row ${i}'s plane model fingerprint`);
    }
    return r;
  }) as unknown as GenerateParams['rows'];
  const sampling = record(p.sampling ?? {}, 'generate: sampling', SAMPLING_KEYS) as SamplingOptions;
  const promptFit = p.promptFit === 'end' ? ('end' as const) : undefined;
  return { requestId: text(p.requestId, 'generate: requestId'), prompt: text(p.prompt, 'generate: prompt'), promptFit, rows, sampling };
}

/** The options two example sets share: layers, position, chat template. */
function exampleSetOptions(p: Record<string, unknown>, method: string): Pick<MeanDifferenceParams, 'layers' | 'position' | 'chatTemplate'> {
  if (p.layers !== undefined && (!Array.isArray(p.layers) || !p.layers.every((l) => typeof l === 'number'))) {
    throw new InputError(`${method}: layers must be an array of layer numbers`);
  }
  if (p.position !== undefined && p.position !== 'last' && p.position !== 'mean') {
    throw new InputError(`${method}: position must be "last" or "mean", got ${JSON.stringify(p.position)}`);
  }
  if (p.chatTemplate !== undefined && typeof p.chatTemplate !== 'boolean') throw new InputError(`${method}: chatTemplate must be true or false`);
  return { layers: p.layers as number[] | undefined, position: p.position, chatTemplate: p.chatTemplate };
}

function meanDifferenceParams(params: unknown): MeanDifferenceParams {
  const p = record(params, 'meanDifference params', ['source', 'target', 'layers', 'position', 'chatTemplate']);
  return { source: texts(p.source, 'meanDifference: source'), target: texts(p.target, 'meanDifference: target'), ...exampleSetOptions(p, 'meanDifference') };
}

function layerDiagnosticsParams(params: unknown): LayerDiagnosticsParams {
  const p = record(params, 'layerDiagnostics params', ['a', 'b', 'layers', 'position', 'chatTemplate']);
  return { a: texts(p.a, 'layerDiagnostics: a'), b: texts(p.b, 'layerDiagnostics: b'), ...exampleSetOptions(p, 'layerDiagnostics') };
}

function compareStatesParams(params: unknown): CompareStatesParams {
  const p = record(params, 'compareStates params', ['promptA', 'promptB', 'tokenA', 'tokenB', 'plane', 'chatTemplate']);
  if (p.chatTemplate !== undefined && typeof p.chatTemplate !== 'boolean') throw new InputError('compareStates: chatTemplate must be true or false');
  let plane: CompareStatesParams['plane'];
  if (p.plane !== undefined) {
    const q = record(p.plane, 'compareStates: plane', ['layer', 'n', 'b', 'model', 'alpha', 'positions']);
    if (q.positions !== undefined && q.positions !== 'all' && q.positions !== 'token') throw new InputError('compareStates: plane.positions must be "all" or "token"');
    if (q.model !== undefined) record(q.model, 'compareStates: plane model', ['hiddenSize', 'numHiddenLayers', 'fingerprint']);
    plane = { ...q, b: finite(q.b, 'compareStates: plane.b'), alpha: finite(q.alpha, 'compareStates: plane.alpha') } as CompareStatesParams['plane'];
  }
  return {
    promptA: text(p.promptA, 'compareStates: promptA'),
    promptB: text(p.promptB, 'compareStates: promptB'),
    tokenA: finite(p.tokenA, 'compareStates: tokenA'),
    tokenB: finite(p.tokenB, 'compareStates: tokenB'),
    plane,
    chatTemplate: p.chatTemplate,
  };
}

function texts(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((e) => typeof e === 'string')) throw new InputError(`${what} must be an array of strings`);
  return value;
}

function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`${what} must be a finite number, got ${JSON.stringify(value)}`);
  return value;
}

/** A plain object with no keys beyond `keys`. */
function record(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${what} must be an object`);
  const unknown = Object.keys(value).filter((k) => !keys.includes(k));
  if (unknown.length > 0) throw new InputError(`${what}: unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.join(', ')} (expected ${keys.join(', ')})`);
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new InputError(`${what} must be a string`);
  return value;
}
