/**
 * The steering panel's UI test, in real VS Code (code-server) and headless chromium, as a user works:
 * code-server without the smoke-test driver (notifications show), the checkout linked as an installed
 * extension (as `npm start` does), the tiny model configured and a CLI-trained plane in the workspace
 * settings, with steered inline completions on. It first types into a file and waits for ghost text
 * (no explicit trigger), then opens the panel from the command palette, keeps three alphas (0, 2 and 4),
 * types a prompt, clicks Generate and waits until text has arrived in all three columns, then saves a screenshot.
 * After the theme screenshots it trains from the palette and checks the progress and the disabled Generate,
 * then reloads the page to see the hidden-state view restored (busyAndRestore.ts).
 *
 *   node out/test/ui/panel.ui.js        (npm run test:ui builds and compiles first)
 *
 * Writes test-output/ui/ghost-text.png, panel.png and panel-{light,dark,high-contrast}-{wide,narrow}.png
 * (test-output/ui/panel-failure.png when it fails).
 * MICROSTEER_UI_TIMEOUT_S bounds the run (default 240).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { PANEL_IDS as ID, PANEL_TEST_IDS as TEST_ID } from '../../webview/elementIds';
import { ensureTinyModel } from '../fixtures/tinyModel';
import { extensionsDirOf } from '../harness/codeServer';
import { linkExtension } from '../harness/linkExtension';
import { PLANE_NAME, trainPlaneWithCli, writePlaneWorkspace } from '../harness/planeWorkspace';
import { repoRoot } from '../harness/repo';
import { exitWith } from '../harness/entryPoint';
import { runSession } from '../harness/session';
import { diagnosticsRestoredAfterReload, trainingBlocksGenerate } from './busyAndRestore';
import { ghostTextWhileTyping } from './ghostText';
import { panelScreenshots } from './screenshots';
import { runCommand, waitForStatusItem, waitForWorkbench, webviewContent } from './workbench';

const OUTPUT_DIR = path.join(repoRoot, 'test-output', 'ui');
const SCREENSHOT = path.join(OUTPUT_DIR, 'panel.png');
const GHOST_SCREENSHOT = path.join(OUTPUT_DIR, 'ghost-text.png');
/** The workspace file the ghost-text step types into. */
const NOTES_FILE = 'notes.txt';
/** From the last keystroke: well inside the second or so VS Code waits before it gives up on a request. */
const GHOST_TEXT_TIMEOUT_MS = 20_000;
const FAILURE_SCREENSHOT = path.join(OUTPUT_DIR, 'panel-failure.png');

const ALPHAS = [0, 2, 4];
const PROMPT = 'Shall I compare thee to a summer';
/** Enough tokens to fill a few lines per column, few enough for a 2-core CI machine. */
const MAX_NEW_TOKENS = 40;
/** From the click on Generate: the engine starts, compiles or loads its graphs, then streams. */
const GENERATION_TIMEOUT_MS = 90_000;

function step(message: string): void {
  console.log(`[ui] ${message}`);
}

/** Leaves exactly `alphas.length` alpha rows (removing from the end) holding `alphas`. */
async function setAlphas(panel: FrameLocator, alphas: number[]): Promise<void> {
  const rows = panel.locator(`[data-testid=${TEST_ID.alphaRow}]`);
  for (let count = await rows.count(); count > alphas.length; count--) {
    await panel.locator(`#remove-alpha-${count - 1}`).click();
    await waitForCount(rows, count - 1, 'alpha rows after Remove');
  }
  if ((await rows.count()) !== alphas.length) throw new Error(`the panel shows ${await rows.count()} alpha rows, wanted ${alphas.length}`);
  for (const [i, alpha] of alphas.entries()) {
    const input = panel.locator(`#alpha-input-${i}`);
    await input.fill(String(alpha));
    await input.press('Tab');
    const slider = await panel.locator(`#alpha-slider-${i}`).inputValue();
    if (Number(slider) !== alpha) throw new Error(`alpha ${i + 1}: typed ${alpha}, the slider shows ${slider}`);
  }
}

async function waitForCount(locator: ReturnType<FrameLocator['locator']>, n: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await locator.count()) !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} ${what}, found ${await locator.count()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens the Sampling section, sets the token limit, and closes it again (as the panel first shows it). */
async function setMaxNewTokens(panel: FrameLocator, tokens: number): Promise<void> {
  const summary = panel.locator(`#${ID.sampling} > summary`);
  await summary.click();
  await panel.locator(`#${ID.maxNewTokens}`).fill(String(tokens));
  await summary.click();
}

/** Columns as the panel shows them: alpha, state and streamed text. */
async function readColumns(panel: FrameLocator): Promise<{ alpha: string; state: string; text: string }[]> {
  return panel.locator(`[data-testid=${TEST_ID.column}]`).evaluateAll((sections, textId) =>
    sections.map((s) => ({
      alpha: s.getAttribute('data-alpha') ?? '',
      state: s.getAttribute('data-state') ?? '',
      text: s.querySelector(`[data-testid=${textId}]`)?.textContent ?? '',
    })),
  TEST_ID.columnText);
}

/** Waits until every alpha has a column with text in it and the run has ended; fails with what the panel shows. */
async function waitForColumns(panel: FrameLocator, alphas: number[]): Promise<{ alpha: string; state: string; text: string }[]> {
  const deadline = Date.now() + GENERATION_TIMEOUT_MS;
  let firstText: number | undefined;
  for (;;) {
    const columns = await readColumns(panel);
    const filled = columns.length === alphas.length && columns.every((c) => c.text.trim() !== '');
    if (filled && firstText === undefined) firstText = Date.now();
    if (filled && columns.every((c) => c.state !== 'running')) return columns;
    if (columns.some((c) => c.state === 'failed') || Date.now() > deadline) {
      const status = await panel.locator(`#${ID.status}`).textContent();
      const shown = columns.map((c) => `alpha ${c.alpha} ${c.state}: ${JSON.stringify(c.text.slice(0, 80))}`).join('; ') || 'no columns';
      throw new Error(`the columns did not all fill with text (${shown}); status line: "${status?.trim()}"`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function drivePanel(page: Page, origin: string, workspace: string): Promise<FrameLocator> {
  await page.goto(`${origin}/?folder=${encodeURIComponent(workspace)}`);
  await waitForWorkbench(page);
  // The extension starts after the workbench (onStartupFinished); its status item names the active plane.
  await waitForStatusItem(page, PLANE_NAME);
  await waitForStatusItem(page, 'inline', 10_000);
  step(`workbench loaded, the status bar shows plane "${PLANE_NAME}" and inline completions on; typing into ${NOTES_FILE}`);
  const ghostAfterS = await ghostTextWhileTyping(page, NOTES_FILE, GHOST_TEXT_TIMEOUT_MS);
  step(`ghost text appeared ${ghostAfterS.toFixed(1)} s after the last keystroke`);
  await page.screenshot({ path: GHOST_SCREENSHOT });
  await page.keyboard.press('Escape');

  step('running "Micro Steer: Open steering panel" from the command palette');
  await runCommand(page, 'Micro Steer: Open steering panel');
  const panel = await webviewContent(page, `#${ID.generate}`);
  await panel.locator(`#${ID.planePicker} vscode-option[value="${PLANE_NAME}"]`).waitFor({ state: 'attached', timeout: 30_000 });
  step(`panel open with plane "${PLANE_NAME}"; setting alphas ${ALPHAS.join(', ')}`);

  await setAlphas(panel, ALPHAS);
  await setMaxNewTokens(panel, MAX_NEW_TOKENS);
  await panel.locator(`#${ID.prompt} textarea`).fill(PROMPT);
  const started = Date.now();
  await panel.locator(`#${ID.generate}`).click();
  step('clicked Generate');

  const columns = await waitForColumns(panel, ALPHAS);
  const alphas = columns.map((c) => Number(c.alpha));
  if (JSON.stringify(alphas) !== JSON.stringify(ALPHAS)) throw new Error(`the columns are for alphas ${alphas.join(', ')}, not ${ALPHAS.join(', ')}`);
  for (const c of columns) step(`alpha ${c.alpha} (${c.state}): ${JSON.stringify(c.text.slice(0, 60))}…`);
  // One batched run, one sampling seed: only the steering tells the rows apart.
  const [baseline, ...steered] = columns;
  if (steered.every((c) => c.text === baseline.text)) throw new Error(`every column shows the same text: the alphas did not reach the engine`);
  step(`all ${columns.length} columns streamed text in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The seed box was left empty: the run drew a fresh seed and offers it for reuse.
  const reuse = panel.locator(`#${ID.reuseSeed}`);
  await reuse.waitFor({ state: 'visible', timeout: 5_000 });
  const offered = (await reuse.textContent())?.trim() ?? '';
  if (!/^Reuse seed \d+$/.test(offered)) throw new Error(`after a run with an empty seed box the panel offers "${offered}"`);
  if ((await panel.locator(`#${ID.seed}`).inputValue()) !== '') throw new Error('the seed box is not empty by default');
  step(`the run drew a fresh seed: "${offered}"`);
  return panel;
}

async function main(): Promise<number> {
  const limitS = Number(process.env.MICROSTEER_UI_TIMEOUT_S ?? 240);
  const model = await ensureTinyModel();
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  fs.rmSync(SCREENSHOT, { force: true });
  fs.rmSync(GHOST_SCREENSHOT, { force: true });
  fs.rmSync(FAILURE_SCREENSHOT, { force: true });

  return runSession('UI test', limitS, async (session) => {
    const record = trainPlaneWithCli(model, path.join(session.dir, 'plane.json'));
    step(`trained plane "${PLANE_NAME}" with the CLI (layer ${record.layer}, final loss ${record.finalLoss.toPrecision(4)})`);
    const workspace = writePlaneWorkspace(path.join(session.dir, 'workspace'), record);
    fs.writeFileSync(path.join(workspace, NOTES_FILE), 'Shall I compare thee to a summer\'s day?\n');
    linkExtension(extensionsDirOf(session.stateDir), repoRoot);
    const server = await session.startServer({ smokeTestDriver: false, userSettings: {
        'microSteer.modelPath': model,
        'microSteer.inlineCompletions.enabled': true,
        // Long enough to look at the panel while it trains; the test stops it ("Stop and keep").
        'microSteer.training.steps': 100_000,
      },
    });
    const context = await session.launchBrowser({ width: 1400, height: 1000 });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => console.error(`[browser] ${e.message}`));
    try {
      const panel = await drivePanel(page, server.origin, workspace);
      await page.screenshot({ path: SCREENSHOT });
      console.log(`[ui] screenshot: ${SCREENSHOT}`);
      const widths = await panelScreenshots(page, panel, workspace, OUTPUT_DIR);
      step(`panel screenshots in light, dark and high contrast at ${widths.wide} px and ${widths.narrow} px wide: ${OUTPUT_DIR}/panel-*.png`);
      await page.setViewportSize({ width: 1400, height: 1000 });
      await trainingBlocksGenerate(page, NOTES_FILE, workspace);
      await diagnosticsRestoredAfterReload(page);
    } catch (e) {
      await page.screenshot({ path: FAILURE_SCREENSHOT }).catch(() => undefined);
      throw new Error(`${(e as Error).message}\n[ui] screenshot of the failure: ${FAILURE_SCREENSHOT}`);
    }
    return 0;
  });
}

if (require.main === module) exitWith('ui', main);
