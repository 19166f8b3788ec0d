/**
 * The diagnostics panel's front end (bundled to dist/diagnostics.js): draws what the host sends, as
 * inline SVG polylines (geometry in linePlot.ts). Layer diagnostics: the cosine of the two means, and the
 * mean and max per-feature variance of each set (each group on its own scale, drawn one after the other),
 * the suggested layer marked, and a button that asks the host to train a plane there. A hidden-state
 * comparison: the cosine per state, with and without the plane. Text goes in as text, never as markup.
 */
import type { DiagnosticsToHostMessage, DiagnosticsView, HostToDiagnosticsMessage } from '../src/protocol';
import { DIAGNOSTICS_IDS as ID } from './diagnosticsHtml';
import { linePlot } from './linePlot';
import type { ChartBox } from './lossCurve';

declare function acquireVsCodeApi(): { postMessage(message: DiagnosticsToHostMessage): void; getState(): unknown; setState(state: SavedState): void };
const vscode = acquireVsCodeApi();

/** What the page keeps across a reload: the result it shows (its train button needs the examples, which are not kept). */
interface SavedState {
  view?: DiagnosticsView;
}
const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 480;
/** One colour per series of a view (layer diagnostics draw five). */
const COLOURS = [
  'var(--vscode-charts-blue)',
  'var(--vscode-charts-orange)',
  'var(--vscode-charts-green)',
  'var(--vscode-charts-red)',
  'var(--vscode-charts-purple)',
];

interface Panel {
  title: string;
  /** The y axis's title. */
  unit: string;
  labels: string[];
  series: { name: string; values: number[] }[];
  mark?: number;
}

const element = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;

function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  return e;
}

function label(text: string, x: number, y: number, anchor: string): SVGElement {
  const t = svg('text', { x, y, 'text-anchor': anchor, class: 'axis-label', fill: 'currentColor', 'font-size': 10 });
  t.textContent = text;
  return t;
}

/** The panels of a view: one plot per group of series that share a scale. */
function panels(view: DiagnosticsView): Panel[] {
  if (view.kind === 'layers') {
    const d = view.result.layers;
    const labels = d.map((x) => String(x.layer));
    const mark = d.findIndex((x) => x.layer === view.result.suggestedLayer);
    return [
      { title: 'how alike the two sets are (cosine of their means)', unit: 'cosine', labels, series: [{ name: 'cosine of the means of A and B', values: d.map((x) => x.meanCosine) }], mark },
      {
        title: 'how much each set varies (per-feature variance)',
        unit: 'variance',
        labels,
        series: [
          { name: 'A mean', values: d.map((x) => x.varianceA.mean) },
          { name: 'A max', values: d.map((x) => x.varianceA.max) },
          { name: 'B mean', values: d.map((x) => x.varianceB.mean) },
          { name: 'B max', values: d.map((x) => x.varianceB.max) },
        ],
        mark,
      },
    ];
  }
  const s = view.result.states;
  const series = [{ name: 'without the plane', values: s.map((x) => x.cosine) }];
  if (s.some((x) => x.cosineSteered !== undefined)) series.push({ name: `with ${view.planeName ?? 'the plane'} (α ${view.alpha})`, values: s.map((x) => x.cosineSteered ?? Number.NaN) });
  return [{ title: 'how alike the two tokens’ hidden states are', unit: 'cosine', labels: s.map((x) => (x.layer === null ? 'emb' : String(x.layer))), series }];
}

function draw(view: DiagnosticsView): void {
  const plot = element<SVGSVGElement>(ID.plot);
  const all = panels(view);
  const height = 130;
  plot.setAttribute('viewBox', `0 0 ${WIDTH} ${height * all.length}`);
  plot.replaceChildren();
  const legend = element(ID.legend);
  legend.replaceChildren();
  let colour = 0;
  all.forEach((panel, p) => {
    const box: ChartBox = { width: WIDTH, height, left: 66, right: 12, top: 16, bottom: 36 };
    const group = svg('g', { transform: `translate(0 ${p * height})` });
    group.append(label(panel.title, box.left, 11, 'start'));
    const geometry = linePlot(panel.labels, panel.series.map((s) => s.values), box);
    if (geometry) {
      if (panel.mark !== undefined && panel.mark >= 0) {
        const x = geometry.xs[panel.mark];
        group.append(svg('line', { x1: x, x2: x, y1: box.top, y2: height - box.bottom, class: 'suggested-layer', stroke: 'var(--vscode-charts-yellow)', 'stroke-dasharray': '4 3' }));
      }
      geometry.lines.forEach((points, i) => {
        const stroke = COLOURS[(colour + i) % COLOURS.length];
        group.append(svg('polyline', { points, fill: 'none', stroke, 'stroke-width': 1.5, class: 'plot-line', 'data-series': panel.series[i].name }));
        const item = document.createElement('li');
        item.style.color = stroke;
        item.textContent = `${panel.series[i].name} (${panel.title})`;
        legend.append(item);
      });
      for (const t of geometry.yTicks) group.append(label(t.label, box.left - 4, t.at + 3, 'end'));
      for (const t of geometry.xTicks) group.append(label(t.label, t.at, height - box.bottom + 12, 'middle'));
      const middle = (box.top + height - box.bottom) / 2;
      group.append(label('layer', (box.left + WIDTH - box.right) / 2, height - 6, 'middle'));
      const unit = label(panel.unit, 10, middle, 'middle');
      unit.setAttribute('transform', `rotate(-90 10 ${middle})`);
      group.append(unit);
    }
    colour += panel.series.length;
    plot.append(group);
  });
}

function show(view: DiagnosticsView, restored: boolean): void {
  const train = element<HTMLButtonElement>(ID.train);
  if (view.kind === 'layers') {
    const r = view.result;
    element(ID.title).textContent = 'Layer diagnostics';
    element(ID.summary).textContent =
      `Suggested steering layer: ${r.suggestedLayer}, where set B stands out from set A the most among the middle layers ` +
      `(${r.examplesA} examples in A, ${r.examplesB} in B, each read at its ${r.position === 'last' ? 'last token' : 'tokens on average'}).` +
      (restored ? ' Run the diagnostics again to train from here.' : '');
    train.hidden = restored;
    train.textContent = `Train a plane at layer ${r.suggestedLayer} on set B (${r.examplesB} examples)`;
    train.onclick = () => vscode.postMessage({ type: 'trainAtLayer', layer: r.suggestedLayer });
  } else {
    const r = view.result;
    element(ID.title).textContent = 'Hidden-state comparison';
    element(ID.summary).textContent = `Token ${JSON.stringify(r.tokenA.text)} (position ${r.tokenA.index}) of prompt A vs ${JSON.stringify(r.tokenB.text)} (position ${r.tokenB.index}) of prompt B.`;
    train.hidden = true;
  }
  draw(view);
}

window.addEventListener('message', (event: MessageEvent<HostToDiagnosticsMessage>) => {
  if (event.data?.type !== 'show') return;
  vscode.setState({ view: event.data.view });
  show(event.data.view, false);
});

// After a reload the host has no result to send: draw the saved one. It is this page's own state, but
// VS Code keeps it on disk, so a damaged one is dropped rather than drawn halfway.
const saved = vscode.getState() as SavedState | undefined;
if (saved?.view) {
  try {
    show(saved.view, true);
  } catch {
    vscode.setState({});
  }
}
vscode.postMessage({ type: 'ready' });
