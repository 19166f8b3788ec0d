/**
 * Stable element ids of the steering panel (each singleton also carries data-testid = its id), and the
 * data-testid values of repeated elements. UI tests select by these; the table in main.ts says what each is.
 */
export const PANEL_IDS = {
  prompt: 'prompt',
  planePicker: 'plane-picker',
  planeInfo: 'plane-info',
  lossChart: 'loss-chart',
  ablation: 'ablation',
  ablateDirection: 'ablate-direction',
  ablateLayers: 'ablate-layers',
  sampling: 'sampling',
  temperature: 'temperature',
  topK: 'top-k',
  topP: 'top-p',
  maxNewTokens: 'max-new-tokens',
  seed: 'seed',
  newSeed: 'new-seed',
  reuseSeed: 'reuse-seed',
  chatTemplate: 'chat-template',
  steerPrompt: 'steer-prompt',
  alphaList: 'alpha-list',
  addAlpha: 'add-alpha',
  generate: 'generate',
  stop: 'stop',
  generateBlocked: 'generate-blocked',
  selectModel: 'select-model',
  status: 'status',
  engineState: 'engine-state',
  statusMessage: 'status-message',
  columns: 'columns',
} as const;

export const PANEL_TEST_IDS = {
  alphaRow: 'alpha-row',
  alphaSlider: 'alpha-slider',
  alphaInput: 'alpha-input',
  removeAlpha: 'remove-alpha',
  column: 'column',
  columnText: 'column-text',
  columnEnd: 'column-end',
  copy: 'copy',
  insert: 'insert',
} as const;
