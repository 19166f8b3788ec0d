/**
 * The diagnostics panel's page: the steering panel's Content-Security-Policy (scripts only with the page's
 * nonce, no remote content), a heading, a summary line, the plot's <svg> and the train button; the script
 * (webview/diagnostics.ts, bundled to dist/diagnostics.js) draws the rest. Pure: the host passes URIs and a nonce.
 */
import { escapeAttribute as attr, panelCsp, testable as id, type PanelPageResources } from './panelHtml';

export const DIAGNOSTICS_IDS = {
  title: 'diagnostics-title',
  summary: 'diagnostics-summary',
  plot: 'diagnostics-plot',
  legend: 'diagnostics-legend',
  train: 'train-at-layer',
} as const;

export function diagnosticsHtml(r: PanelPageResources): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(panelCsp(r.cspSource, r.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(r.styleUri)}">
<title>Micro Steer diagnostics</title>
</head>
<body>
<main>
  <h1 ${id(DIAGNOSTICS_IDS.title)}>Micro Steer diagnostics</h1>
  <p ${id(DIAGNOSTICS_IDS.summary)} role="status"></p>
  <svg ${id(DIAGNOSTICS_IDS.plot)} class="loss-chart" viewBox="0 0 480 220" role="img" aria-label="Diagnostics plot"></svg>
  <ul ${id(DIAGNOSTICS_IDS.legend)} class="plot-legend"></ul>
  <button ${id(DIAGNOSTICS_IDS.train)} class="train-button" type="button" hidden></button>
</main>
<script nonce="${attr(r.nonce)}" src="${attr(r.scriptUri)}"></script>
</body>
</html>
`;
}
