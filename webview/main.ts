/**
 * The steering panel's front end, bundled by esbuild into dist/webview.js. It talks only to the extension
 * host (src/extension/steeringPanel.ts) through the typed messages of src/protocol.ts, keeps its state with
 * vscode.setState so it survives being hidden and a window reload, and builds every dynamic element with
 * DOM calls (text goes in as text, never as markup).
 *
 * Elements for UI tests (constants in elementIds.ts; each singleton has data-testid equal to its id):
 *   #prompt             vscode-text-area with the prompt; type into its inner <textarea> (`#prompt textarea`)
 *   #plane-picker       vscode-dropdown of the planes, then the vectors; a plane's vscode-option value is its
 *                       name, a vector's "vector:" + its name (data-kind=vector)
 *   #plane-info         layer, b, final loss and model of the chosen plane
 *   #loss-chart         <svg> of the chosen plane's training loss: polyline.loss-line, <title id=loss-chart-title>
 *   #ablation           shown only while a vector is chosen: vscode-checkbox #ablate-direction ("Ablate its direction",
 *                       off by default) and input#ablate-layers (text: blank or "all" = every layer, else "1, 2");
 *                       when checked the run has one more column, last, with data-ablated=true and data-alpha="0"
 *   #sampling           <details> with number inputs #temperature #top-k #top-p #max-new-tokens #seed (empty: a fresh
 *                       seed each run), vscode-button #new-seed (puts a random seed in #seed),
 *                       vscode-checkbox #chat-template, vscode-radio-group #steer-prompt (values last | all)
 *   #alpha-list         <ol>; alpha i (from 0) is li[data-testid=alpha-row][data-index=i] holding
 *                       input#alpha-slider-i[data-testid=alpha-slider] (range), input#alpha-input-i[data-testid=alpha-input]
 *                       (number; typing a value updates the alpha) and vscode-button#remove-alpha-i[data-testid=remove-alpha]
 *   #add-alpha #generate #stop   vscode-buttons (Ctrl/Cmd+Enter in the prompt also generates)
 *   #generate-blocked   shown while the engine works for another command (training): why #generate is disabled
 *   #status             role=status line: #engine-state (model and engine), #status-message (class "error" on errors)
 *                       and vscode-button #reuse-seed (after a run: puts the run's seed in #seed); vscode-button
 *                       #select-model, shown while no model folder is set or after an error of the model folder
 *   #columns            one section[data-testid=column][data-index=i][data-alpha=A][data-state=running|done|cancelled|failed]
 *                       per alpha of the shown comparison, holding pre#column-text-i[data-testid=column-text][data-alpha=A]
 *                       (the streamed text), vscode-buttons #column-copy-i[data-testid=copy] and
 *                       #column-insert-i[data-testid=insert], and #column-end-i[data-testid=column-end] (how it ended)
 * data-alpha is String(alpha): "0", "1.5", "2.5", "3.5" for the defaults.
 */
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeRadio,
  vsCodeRadioGroup,
  vsCodeTextArea,
  type Button,
  type Checkbox,
  type Dropdown,
  type RadioGroup,
  type TextArea,
} from '@vscode/webview-ui-toolkit';
import {
  PANEL_LIMITS,
  type HostToWebviewMessage,
  type PanelColumn,
  type PanelPlane,
  type PanelRun,
  type PanelVector,
  type StopReason,
  type WebviewToHostMessage,
} from '../src/protocol';
import { SAMPLING_FIELDS, parseAlpha, parseGenerateParams } from '../src/extension/panelMessages';
import { lossSummary } from '../src/extension/trainingText';
import { PANEL_IDS as ID, PANEL_TEST_IDS as TEST_ID } from './elementIds';
import { formatLoss, lossCurve, type ChartBox } from './lossCurve';
import {
  addAlpha,
  choosePlane,
  columnLabel,
  parseLayerChoice,
  pickedSteering,
  pickerValue,
  removeAlpha,
  restorePanelState,
  type PanelState,
} from './panelState';

interface VsCodeApi {
  postMessage(message: WebviewToHostMessage): void;
  getState(): unknown;
  setState(state: PanelState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

provideVSCodeDesignSystem().register(
  vsCodeButton(),
  vsCodeCheckbox(),
  vsCodeDropdown(),
  vsCodeOption(),
  vsCodeRadio(),
  vsCodeRadioGroup(),
  vsCodeTextArea(),
);

const vscode = acquireVsCodeApi();
const state: PanelState = restorePanelState(vscode.getState());
let planes: PanelPlane[] = [];
let vectors: PanelVector[] = [];
/** A generate request is on its way and the host has not answered yet. */
let awaitingRun = false;
/** Why Generate cannot run now (the engine trains for another command), from the host. */
let engineBusy: string | undefined;
/** No model folder is set (from the host's engine state), and the last error was the model folder's. */
let noModel = false;
let modelError = false;
/** The text nodes of the shown columns, appended to as deltas arrive. */
let columnTexts: Text[] = [];

function element<T extends Element = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`steering panel: element #${id} is missing`);
  return found as unknown as T;
}

// ------------------------------------------------------------------ state persistence

let saveTimer: number | undefined;

function saveNow(): void {
  if (saveTimer !== undefined) window.clearTimeout(saveTimer);
  saveTimer = undefined;
  vscode.setState(state);
}

/** Streaming calls this per delta: one save per burst is enough. */
function saveSoon(): void {
  saveTimer ??= window.setTimeout(saveNow, 250);
}

// ------------------------------------------------------------------ status line

function showMessage(text: string, level: 'info' | 'error' = 'info'): void {
  const line = element(ID.statusMessage);
  line.textContent = text;
  line.classList.toggle('error', level === 'error');
}

// ------------------------------------------------------------------ prompt

function bindPrompt(): void {
  const prompt = element<TextArea>(ID.prompt);
  prompt.value = state.prompt;
  prompt.addEventListener('input', () => {
    state.prompt = prompt.value;
    saveNow();
  });
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      generate();
    }
  });
}

// ------------------------------------------------------------------ plane picker and loss chart

const CHART_BOX: ChartBox = { width: 400, height: 150, left: 48, right: 12, top: 10, bottom: 32 };
const SVG_NS = 'http://www.w3.org/2000/svg';

function bindPlanePicker(): void {
  const picker = element<Dropdown>(ID.planePicker);
  picker.addEventListener('change', () => {
    const picked = pickedSteering(picker.value, vectors);
    state.planeName = picked.name;
    if (picked.steerWith === 'vector') state.steerWith = 'vector';
    else {
      delete state.steerWith;
      // The active plane is the one source of truth: the host stores the pick and every command follows it.
      if (picked.name !== '') vscode.postMessage({ type: 'selectPlane', name: picked.name });
    }
    renderPlaneDetails();
    saveNow();
  });
}

// ------------------------------------------------------------------ directional ablation (vectors only)

function bindAblation(): void {
  const checkbox = element<Checkbox>(ID.ablateDirection);
  const layers = element<HTMLInputElement>(ID.ablateLayers);
  checkbox.checked = state.ablate !== undefined;
  layers.value = state.ablate && state.ablate.layers !== 'all' ? state.ablate.layers.join(', ') : '';
  const update = (): void => {
    layers.disabled = !checkbox.checked;
    if (!checkbox.checked) {
      delete state.ablate;
      markValidity(layers, undefined);
      saveNow();
      return;
    }
    try {
      state.ablate = { layers: parseLayerChoice(layers.value, 'Ablate at layers') };
      markValidity(layers, undefined);
      saveNow();
    } catch (e) {
      markValidity(layers, (e as Error).message);
    }
  };
  checkbox.addEventListener('change', update);
  layers.addEventListener('input', update);
  update();
}

/** The option applies to a vector's direction: hidden while a plane is chosen. */
function renderAblation(): void {
  element(ID.ablation).hidden = state.steerWith !== 'vector';
}

function renderPlanes(): void {
  const picker = element<Dropdown>(ID.planePicker);
  // The `selected` attribute, not picker.value: the dropdown sees new options only after its slot updates.
  picker.replaceChildren(
    ...planes.map((plane) => {
      const option = document.createElement('vscode-option');
      option.setAttribute('value', plane.name);
      option.textContent = plane.name;
      if (plane.name === state.planeName && state.steerWith !== 'vector') option.setAttribute('selected', '');
      return option;
    }),
    ...vectors.map((vector) => {
      const option = document.createElement('vscode-option');
      option.setAttribute('value', pickerValue('vector', vector.name));
      option.dataset.kind = 'vector';
      option.textContent = `${vector.name} (vector)`;
      if (vector.name === state.planeName && state.steerWith === 'vector') option.setAttribute('selected', '');
      return option;
    }),
  );
  picker.disabled = planes.length + vectors.length === 0;
  // The dropdown keeps its old value while that option is still listed, whatever `selected` says (a plane
  // just trained and made active stayed shown as the previous one): set the value once it has taken in
  // the new options. The change this fires names the plane already chosen, so the host stores nothing new.
  const wanted = pickerValue(state.steerWith, state.planeName);
  setTimeout(() => {
    if (picker.value !== wanted && [...picker.querySelectorAll('vscode-option')].some((o) => o.getAttribute('value') === wanted)) picker.value = wanted;
  }, 0);
  renderPlaneDetails();
}

function renderPlaneDetails(): void {
  renderAblation();
  const vector = state.steerWith === 'vector' ? vectors.find((v) => v.name === state.planeName) : undefined;
  if (vector) {
    element(ID.planeInfo).textContent =
      `Mean-difference vector at layer ${vector.steeringLayer} (of layers ${vector.layers.join(', ')}); each α is its coefficient` +
      (vector.model ? ` · model: width ${vector.model.hiddenSize}, ${vector.model.numHiddenLayers} layers` : ' · imported control vector');
    renderLossChart(undefined);
    return;
  }
  const plane = planes.find((p) => p.name === state.planeName);
  // The same words as the training notification and the plane picker: both ends and the share of the start.
  element(ID.planeInfo).textContent = plane
    ? `Layer ${plane.layer} · b = ${plane.b.toFixed(3)} · ${lossSummary(plane.lossHistory[0] ?? plane.finalLoss, plane.finalLoss, plane.lossHistory.length)} · ` +
      `model: width ${plane.model.hiddenSize}, ${plane.model.numHiddenLayers} layers`
    : 'No steering plane yet: select example text in an editor and run "Micro Steer: Train steering from selection".';
  renderLossChart(plane);
}

function renderLossChart(plane: PanelPlane | undefined): void {
  const svg = element<SVGSVGElement>(ID.lossChart);
  const title = svgElement('title', { id: 'loss-chart-title' });
  svg.replaceChildren(title);
  svg.classList.toggle('no-plane', !plane);
  const curve = plane ? lossCurve(plane.lossHistory, CHART_BOX) : undefined;
  if (!plane || !curve) {
    title.textContent = plane ? `${plane.name} has no training loss history` : 'No plane chosen';
    svg.append(svgText(plane ? 'no loss history' : 'no plane', CHART_BOX.width / 2, CHART_BOX.height / 2, 'middle', 'empty'));
    return;
  }
  const finite = plane.lossHistory.filter((v) => Number.isFinite(v));
  title.textContent =
    `Training loss of ${plane.name} over ${plane.lossHistory.length} steps: ` +
    `${formatLoss(finite[0])} at the start, ${formatLoss(finite[finite.length - 1])} at the end`;
  const left = CHART_BOX.left;
  const right = CHART_BOX.width - CHART_BOX.right;
  const top = CHART_BOX.top;
  const bottom = CHART_BOX.height - CHART_BOX.bottom;
  svg.append(
    svgElement('line', { class: 'axis', x1: left, y1: bottom, x2: right, y2: bottom }),
    svgElement('line', { class: 'axis', x1: left, y1: top, x2: left, y2: bottom }),
    ...curve.xTicks.map((t) => svgText(t.label, t.at, bottom + 13, 'middle', 'tick')),
    ...curve.yTicks.map((t) => svgText(t.label, left - 4, t.at + 4, 'end', 'tick')),
    svgText('step', (left + right) / 2, CHART_BOX.height - 4, 'middle', 'axis-title'),
    svgText('loss', 10, (top + bottom) / 2, 'middle', 'axis-title', `rotate(-90 10 ${(top + bottom) / 2})`),
    svgElement('polyline', { class: 'loss-line', points: curve.points }),
  );
}

function svgElement(tag: string, attributes: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  return el;
}

function svgText(text: string, x: number, y: number, anchor: 'middle' | 'end', cls: string, transform?: string): SVGElement {
  const el = svgElement('text', { x, y, 'text-anchor': anchor, class: cls, ...(transform ? { transform } : {}) });
  el.textContent = text;
  return el;
}

// ------------------------------------------------------------------ sampling settings

type NumericSetting = 'temperature' | 'topK' | 'topP' | 'maxNewTokens' | 'seed';

function bindSampling(): void {
  bindNumberSetting('temperature', ID.temperature);
  bindNumberSetting('topK', ID.topK);
  bindNumberSetting('topP', ID.topP);
  bindNumberSetting('maxNewTokens', ID.maxNewTokens);
  bindNumberSetting('seed', ID.seed);
  element<Button>(ID.newSeed).addEventListener('click', () => setSeed(Math.floor(Math.random() * (PANEL_LIMITS.maxSeed + 1))));
  element<Button>(ID.reuseSeed).addEventListener('click', () => setSeed(state.run?.seed ?? null));

  const chatTemplate = element<Checkbox>(ID.chatTemplate);
  chatTemplate.checked = state.sampling.chatTemplate;
  chatTemplate.addEventListener('change', () => {
    state.sampling.chatTemplate = chatTemplate.checked;
    saveNow();
  });

  const steerPrompt = element<RadioGroup>(ID.steerPrompt);
  // The group checks the radio with its value (it unchecks any radio checked directly).
  steerPrompt.value = state.sampling.steerPrompt;
  steerPrompt.addEventListener('change', () => {
    try {
      state.sampling.steerPrompt = SAMPLING_FIELDS.steerPrompt(steerPrompt.value, 'steered positions');
      saveNow();
    } catch {
      // A transient value while the group switches radios; the next change event carries the real one.
    }
  });
}

/** A number box of the sampling settings; only the seed's may be empty (a fresh seed each run). */
function bindNumberSetting(key: NumericSetting, id: string): void {
  const input = element<HTMLInputElement>(id);
  const parse = SAMPLING_FIELDS[key] as (value: unknown, field: string) => number | null;
  const settings = state.sampling as Record<NumericSetting, number | null>;
  input.value = boxText(settings[key]);
  input.addEventListener('input', () => {
    try {
      settings[key] = key === 'seed' && input.value.trim() === '' ? null : parse(input.valueAsNumber, input.labels?.[0]?.textContent ?? key);
      markValidity(input, undefined);
      if (key === 'seed') renderSeedReuse();
      saveNow();
    } catch (e) {
      markValidity(input, (e as Error).message);
    }
  });
  // Leaving the field with a bad value puts the last good one back.
  input.addEventListener('change', () => {
    if (input.getAttribute('aria-invalid') !== 'true') return;
    input.value = boxText(settings[key]);
    markValidity(input, undefined);
  });
}

function boxText(value: number | null): string {
  return value === null ? '' : String(value);
}

function setSeed(seed: number | null): void {
  const input = element<HTMLInputElement>(ID.seed);
  state.sampling.seed = seed;
  input.value = boxText(seed);
  markValidity(input, undefined);
  renderSeedReuse();
  saveNow();
}

/** After a run with a seed other than the box's, a button offers to keep that seed. */
function renderSeedReuse(): void {
  const button = element<Button>(ID.reuseSeed);
  const seed = state.run?.state === 'running' ? undefined : state.run?.seed;
  button.hidden = seed === undefined || seed === state.sampling.seed;
  button.textContent = seed === undefined ? '' : `Reuse seed ${seed}`;
}

function markValidity(input: HTMLInputElement, error: string | undefined): void {
  input.setAttribute('aria-invalid', String(error !== undefined));
  input.title = error ?? '';
  if (error !== undefined) showMessage(error, 'error');
}

// ------------------------------------------------------------------ alphas

function bindAlphas(): void {
  element<Button>(ID.addAlpha).addEventListener('click', () => {
    state.alphas = addAlpha(state.alphas);
    renderAlphas();
    element<HTMLInputElement>(`alpha-input-${state.alphas.length - 1}`).focus();
    saveNow();
  });
}

function renderAlphas(): void {
  element(ID.alphaList).replaceChildren(...state.alphas.map((alpha, i) => alphaRow(alpha, i)));
  element<Button>(ID.addAlpha).disabled = state.alphas.length >= PANEL_LIMITS.maxAlphas;
}

function alphaRowLabel(alpha: number, i: number): string {
  return `Alpha ${i + 1}${alpha === 0 ? ' (unsteered baseline)' : ''}`;
}

function alphaRow(alpha: number, i: number): HTMLLIElement {
  const row = document.createElement('li');
  row.className = 'alpha-row';
  row.dataset.testid = TEST_ID.alphaRow;
  row.dataset.index = String(i);

  const label = document.createElement('label');
  label.id = `alpha-label-${i}`;
  label.htmlFor = `alpha-input-${i}`;
  label.textContent = alphaRowLabel(alpha, i);

  const slider = alphaInput('range', `alpha-slider-${i}`, TEST_ID.alphaSlider, alpha);
  slider.setAttribute('aria-label', `Alpha ${i + 1} slider`);
  const number = alphaInput('number', `alpha-input-${i}`, TEST_ID.alphaInput, alpha);
  number.required = true;

  const setAlpha = (value: number): void => {
    state.alphas[i] = value;
    label.textContent = alphaRowLabel(value, i);
    saveNow();
  };
  slider.addEventListener('input', () => {
    setAlpha(slider.valueAsNumber);
    number.value = slider.value;
    markValidity(number, undefined);
  });
  number.addEventListener('input', () => {
    try {
      setAlpha(parseAlpha(number.valueAsNumber, `Alpha ${i + 1}`));
      slider.value = String(state.alphas[i]);
      markValidity(number, undefined);
    } catch (e) {
      markValidity(number, (e as Error).message);
    }
  });
  number.addEventListener('change', () => {
    if (number.getAttribute('aria-invalid') !== 'true') return;
    number.value = String(state.alphas[i]);
    markValidity(number, undefined);
  });

  const remove = document.createElement('vscode-button') as Button;
  remove.id = `remove-alpha-${i}`;
  remove.dataset.testid = TEST_ID.removeAlpha;
  remove.setAttribute('appearance', 'secondary');
  remove.setAttribute('aria-label', `Remove alpha ${i + 1}`);
  remove.textContent = 'Remove';
  remove.disabled = state.alphas.length <= 1;
  remove.addEventListener('click', () => {
    state.alphas = removeAlpha(state.alphas, i);
    renderAlphas();
    const next = document.getElementById(`remove-alpha-${Math.min(i, state.alphas.length - 1)}`);
    (next && !(next as Button).disabled ? next : element(ID.addAlpha)).focus();
    saveNow();
  });

  row.append(label, slider, number, remove);
  return row;
}

function alphaInput(type: 'range' | 'number', id: string, testId: string, alpha: number): HTMLInputElement {
  const input = document.createElement('input');
  input.type = type;
  input.id = id;
  input.dataset.testid = testId;
  input.min = String(PANEL_LIMITS.alphaMin);
  input.max = String(PANEL_LIMITS.alphaMax);
  input.step = String(PANEL_LIMITS.alphaStep);
  input.value = String(alpha);
  return input;
}

// ------------------------------------------------------------------ generate, stop, columns

function bindActions(): void {
  element<Button>(ID.generate).addEventListener('click', generate);
  element<Button>(ID.stop).addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  element<Button>(ID.selectModel).addEventListener('click', () => vscode.postMessage({ type: 'selectModelFolder' }));
}

function generate(): void {
  if (awaitingRun || state.run?.state === 'running') return;
  const chosen = state.steerWith === 'vector' ? vectors.some((v) => v.name === state.planeName) : planes.some((p) => p.name === state.planeName);
  if (!chosen) {
    showMessage('Choose a steering plane first (train one with "Micro Steer: Train steering from selection").', 'error');
    return;
  }
  try {
    const { prompt, planeName, steerWith, alphas, ablate, sampling } = state;
    if (steerWith === 'vector' && ablate && element<HTMLInputElement>(ID.ablateLayers).getAttribute('aria-invalid') === 'true') {
      showMessage('Fix the layers to ablate at first (blank or "all" for every layer, else e.g. "1, 2").', 'error');
      return;
    }
    // The host checks the same rules; checking here names the problem before anything is sent.
    const params = parseGenerateParams(
      { prompt, planeName, alphas, sampling, ...(steerWith ? { steerWith } : {}), ...(steerWith === 'vector' && ablate ? { ablate } : {}) },
      'generate',
    );
    vscode.postMessage({ type: 'generate', params });
  } catch (e) {
    showMessage((e as Error).message, 'error');
    return;
  }
  awaitingRun = true;
  showMessage('Starting…');
  renderButtons();
}

/** "Select model folder" shows while it is the way forward. */
function renderModelButton(): void {
  element<Button>(ID.selectModel).hidden = !noModel && !modelError;
}

function renderButtons(): void {
  const running = state.run?.state === 'running';
  element<Button>(ID.generate).disabled = running || awaitingRun || engineBusy !== undefined;
  element<Button>(ID.stop).disabled = !running;
  const blocked = element(ID.generateBlocked);
  blocked.hidden = engineBusy === undefined || running;
  blocked.textContent = engineBusy === undefined ? '' : `${engineBusy}: Generate works again when it ends.`;
}

function renderRun(): void {
  const run = state.run;
  columnTexts = [];
  element(ID.columns).replaceChildren(...(run ? run.columns.map((c, i) => columnSection(run, c, i)) : []));
  renderButtons();
  renderSeedReuse();
  // At narrow widths the columns sit below the controls: bring a starting run into view.
  if (run?.state === 'running') element(ID.columns).scrollIntoView({ block: 'nearest' });
  if (run) showMessage(runSummary(run), run.state === 'failed' ? 'error' : 'info');
}

function runSummary(run: PanelRun): string {
  const n = run.columns.length;
  switch (run.state) {
    case 'running':
      return `Generating ${n} column${n === 1 ? '' : 's'} with ${run.planeName} in one batched run…`;
    case 'done':
      return `Done: ${n} column${n === 1 ? '' : 's'} with ${run.planeName}${run.seed === undefined ? '' : `, seed ${run.seed}`}.`;
    case 'cancelled':
      return 'Stopped.';
    case 'failed':
      return `Generation failed: ${run.error ?? 'unknown error'}`;
  }
}

function columnSection(run: PanelRun, column: PanelColumn, i: number): HTMLElement {
  const alpha = String(column.alpha);
  const section = document.createElement('section');
  section.className = 'column';
  section.dataset.testid = TEST_ID.column;
  section.dataset.index = String(i);
  section.dataset.alpha = alpha;
  if (column.ablation) section.dataset.ablated = 'true';
  section.dataset.state = run.state;
  section.setAttribute('aria-labelledby', `column-title-${i}`);

  const header = document.createElement('header');
  const title = document.createElement('h3');
  title.id = `column-title-${i}`;
  const label = columnLabel(column);
  title.textContent = label;
  const copy = columnButton(`column-copy-${i}`, TEST_ID.copy, 'Copy', `Copy the text of ${label}`);
  copy.addEventListener('click', () => vscode.postMessage({ type: 'copy', text: column.text }));
  const insert = columnButton(`column-insert-${i}`, TEST_ID.insert, 'Insert', `Insert the text of ${label} into the editor`);
  insert.addEventListener('click', () => vscode.postMessage({ type: 'insert', text: column.text }));
  header.append(title, copy, insert);

  const text = document.createElement('pre');
  text.id = `column-text-${i}`;
  text.dataset.testid = TEST_ID.columnText;
  text.dataset.alpha = alpha;
  text.tabIndex = 0;
  text.setAttribute('aria-labelledby', title.id);
  // Screen readers hear the column when it is done, not every token.
  text.setAttribute('aria-busy', String(run.state === 'running'));
  const node = document.createTextNode(column.text);
  text.append(node);
  columnTexts[i] = node;

  const end = document.createElement('p');
  end.id = `column-end-${i}`;
  end.dataset.testid = TEST_ID.columnEnd;
  end.className = 'column-end';
  end.textContent = columnEnd(run, column);

  section.append(header, text, end);
  return section;
}

function columnButton(id: string, testId: string, text: string, ariaLabel: string): Button {
  const button = document.createElement('vscode-button') as Button;
  button.id = id;
  button.dataset.testid = testId;
  button.setAttribute('appearance', 'secondary');
  button.setAttribute('aria-label', ariaLabel);
  button.textContent = text;
  return button;
}

const STOP_REASON_TEXT: Record<StopReason, string> = {
  eos: 'end of text',
  maxTokens: 'token limit reached',
  cancelled: 'stopped',
};

function columnEnd(run: PanelRun, column: PanelColumn): string {
  if (run.state === 'running') return 'streaming…';
  const reason = column.stopReason ? STOP_REASON_TEXT[column.stopReason] : run.state === 'failed' ? 'failed' : 'stopped';
  return column.tokens === undefined ? reason : `${column.tokens} tokens · ${reason}`;
}

function appendDelta(runId: number, index: number, text: string): void {
  const run = state.run;
  const column = run?.columns[index];
  if (!run || run.runId !== runId || run.state !== 'running' || !column) return;
  column.text += text;
  columnTexts[index]?.appendData(text);
  saveSoon();
}

// ------------------------------------------------------------------ messages from the host

function receive(message: HostToWebviewMessage): void {
  switch (message.type) {
    case 'planes':
      planes = message.planes;
      vectors = message.vectors ?? [];
      if (state.steerWith !== 'vector' || !vectors.some((v) => v.name === state.planeName)) {
        delete state.steerWith;
        state.planeName = choosePlane(state.planeName, planes, message.activePlane);
      }
      renderPlanes();
      saveNow();
      break;
    case 'engineState':
      element(ID.engineState).textContent = message.text;
      engineBusy = message.busy;
      noModel = message.noModel === true;
      renderButtons();
      renderModelButton();
      break;
    case 'run':
      awaitingRun = false;
      state.run = message.run;
      if (message.run.state !== 'running') modelError = message.run.modelProblem === true;
      renderModelButton();
      renderRun();
      saveNow();
      break;
    case 'delta':
      appendDelta(message.runId, message.column, message.text);
      break;
    case 'notice':
      if (message.level === 'error') awaitingRun = false;
      if (message.level === 'error') modelError = message.modelProblem === true;
      renderModelButton();
      showMessage(message.text, message.level);
      renderButtons();
      break;
  }
}

bindPrompt();
bindPlanePicker();
bindSampling();
bindAlphas();
bindAblation();
bindActions();
renderAlphas();
renderPlanes();
renderRun();
window.addEventListener('message', (event: MessageEvent<HostToWebviewMessage>) => receive(event.data));
vscode.postMessage({ type: 'ready' });
