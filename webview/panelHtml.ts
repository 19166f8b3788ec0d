/**
 * The steering panel's page: a strict Content-Security-Policy (scripts only with the page's nonce, styles
 * and fonts only from the extension's own files, no remote content), the static controls, and the script
 * that fills in the rest (webview/main.ts, bundled to dist/webview.js). The toolkit reads the nonce from the
 * `csp-nonce` meta tag for the one style element it adds (a probe for :focus-visible). Pure: the host passes the
 * webview's URIs and a fresh nonce. Every control has a label; ids are listed in elementIds.ts.
 */
import { PANEL_LIMITS } from '../src/protocol';
import { PANEL_IDS as ID } from './elementIds';

export interface PanelPageResources {
  /** `webview.cspSource` */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
  ].join('; ');
}

export function panelHtml(r: PanelPageResources): string {
  const csp = escapeAttribute(panelCsp(r.cspSource, r.nonce));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta property="csp-nonce" content="${escapeAttribute(r.nonce)}">
<link rel="stylesheet" href="${escapeAttribute(r.styleUri)}">
<title>Micro Steer</title>
</head>
<body>
<main>
  <h1 class="visually-hidden">Micro Steer: steered generation</h1>
  <div class="controls">
  <section class="prompt-section">
    <vscode-text-area ${testable(ID.prompt)} rows="4" resize="vertical" placeholder="Text for the model to continue (Ctrl+Enter to generate)">Prompt</vscode-text-area>
  </section>

  <section class="plane-section" aria-labelledby="plane-heading">
    <h2 id="plane-heading">Steering plane</h2>
    <div class="plane-row">
      <label id="plane-label" for="${ID.planePicker}">Plane</label>
      <vscode-dropdown ${testable(ID.planePicker)} aria-labelledby="plane-label"></vscode-dropdown>
    </div>
    <p ${testable(ID.planeInfo)} class="plane-info"></p>
    <svg ${testable(ID.lossChart)} class="loss-chart" viewBox="0 0 400 150" role="img" aria-labelledby="loss-chart-title"></svg>
    <div ${testable(ID.ablation)} class="ablation" hidden>
      <vscode-checkbox ${testable(ID.ablateDirection)}>Ablate its direction (one more column, nothing added)</vscode-checkbox>
      <label for="${ID.ablateLayers}">Ablate at layers (blank or "all": every layer)</label>
      <input type="text" ${testable(ID.ablateLayers)} placeholder="all" spellcheck="false" disabled>
    </div>
  </section>

  <details ${testable(ID.sampling)} class="sampling">
    <summary>Sampling</summary>
    <div class="sampling-grid">
      ${numberField(ID.temperature, 'Temperature (0 = greedy)', 0, PANEL_LIMITS.maxTemperature, 0.1)}
      ${numberField(ID.topK, 'Top-k (0 = off)', 0, PANEL_LIMITS.maxTopK, 1)}
      ${numberField(ID.topP, 'Top-p (1 = off)', 0, 1, 0.05)}
      ${numberField(ID.maxNewTokens, 'Max new tokens', 1, PANEL_LIMITS.maxNewTokens, 1)}
      <label for="${ID.seed}">Seed (empty: a fresh one each run)</label>
      <div class="seed-row">
        <input type="number" ${testable(ID.seed)} min="0" max="${PANEL_LIMITS.maxSeed}" step="1" placeholder="fresh each run">
        <vscode-button ${testable(ID.newSeed)} appearance="secondary" aria-label="Put a new random seed in the seed box">New seed</vscode-button>
      </div>
    </div>
    <vscode-checkbox ${testable(ID.chatTemplate)}>Wrap the prompt in the model's chat template</vscode-checkbox>
    <vscode-radio-group ${testable(ID.steerPrompt)} orientation="vertical" aria-labelledby="steer-prompt-label">
      <label slot="label" id="steer-prompt-label">Steered positions</label>
      <vscode-radio value="last">Last prompt position and every generated one</vscode-radio>
      <vscode-radio value="all">The whole prompt and every generated position</vscode-radio>
    </vscode-radio-group>
  </details>

  <section class="alpha-section" aria-labelledby="alpha-heading">
    <h2 id="alpha-heading">Alphas (steering strength; one column each)</h2>
    <ol ${testable(ID.alphaList)} class="alpha-list"></ol>
    <vscode-button ${testable(ID.addAlpha)} appearance="secondary">Add alpha</vscode-button>
  </section>

  </div>

  <div class="outputs">
  <div class="actions">
    <vscode-button ${testable(ID.generate)} aria-describedby="${ID.generateBlocked}">Generate</vscode-button>
    <vscode-button ${testable(ID.stop)} appearance="secondary" disabled>Stop</vscode-button>
    <span ${testable(ID.generateBlocked)} class="blocked" hidden></span>
  </div>
  <p ${testable(ID.status)} class="status" role="status" aria-live="polite">
    <span ${testable(ID.engineState)}></span>
    <span ${testable(ID.statusMessage)}></span>
    <vscode-button ${testable(ID.reuseSeed)} appearance="secondary" hidden></vscode-button>
    <vscode-button ${testable(ID.selectModel)} hidden>Select model folder</vscode-button>
  </p>

  <section ${testable(ID.columns)} class="columns" aria-label="Completions, one column per alpha"></section>
  </div>
</main>
<script nonce="${escapeAttribute(r.nonce)}" src="${escapeAttribute(r.scriptUri)}"></script>
</body>
</html>
`;
}

/** An element's id, also as its data-testid (both pages). */
export function testable(id: string): string {
  return `id="${id}" data-testid="${id}"`;
}

function numberField(id: string, label: string, min: number, max: number, step: number): string {
  return `<label for="${id}">${label}</label><input type="number" ${testable(id)} min="${min}" max="${max}" step="${step}" required>`;
}

/** Escapes a value for an HTML attribute (both pages). */
export function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
