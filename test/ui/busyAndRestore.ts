/**
 * Issue 12, as a user meets it in the workbench:
 * - training from the command palette shows its progress with the loss as a share of the start and the
 *   time left; meanwhile the panel's Generate is disabled with the reason beside it, and enabled again
 *   once "Stop and keep" has stored the plane (its training record in .vscode/microsteer/planes, the
 *   settings file without the loss history);
 * - a hidden-state comparison's view comes back, drawn, after the page is reloaded (the webview serializer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { PANEL_IDS as ID } from '../../webview/elementIds';
import { DIAGNOSTICS_IDS } from '../../webview/diagnosticsHtml';
import { runCommand, waitForWorkbench, webviewContent } from './workbench';

function step(message: string): void {
  console.log(`[ui] ${message}`);
}

async function poll<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Answers the open quick input with Enter once it shows `text` (its title, a row, or the prompt). */
async function acceptQuickInput(page: Page, text: string, timeoutMs = 20_000): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.filter({ hasText: text }).waitFor({ state: 'visible', timeout: timeoutMs });
  await page.keyboard.press('Enter');
}

const generateDisabled = (panel: FrameLocator) => panel.locator(`#${ID.generate}`).evaluate((b) => (b as unknown as { disabled: boolean }).disabled);

/** Trains on the lines of `file` from the command palette, checks the progress and the panel while it runs, then stops and keeps. */
export async function trainingBlocksGenerate(page: Page, file: string, workspace: string): Promise<void> {
  // The file is open from the ghost-text step (in one group or two): its tab focuses its editor.
  await page.locator('.tabs-container .tab', { hasText: file }).first().click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+A');
  await runCommand(page, 'Micro Steer: Train steering from selection', 30_000, true);
  await acceptQuickInput(page, 'Name of the steering plane');
  await acceptQuickInput(page, 'is it a style or a concept?');
  step('training started from the command palette (the default name, "Style")');

  const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'Micro Steer: training' }).first();
  const progress = await poll(
    async () => ((await toast.count()) > 0 ? ((await toast.textContent()) ?? '') : ''),
    (text) => /step \d+\/\d+ · loss [\d.]+% of the start · about \d+ (s|min|h)/.test(text) && /left/.test(text),
    'the training notification',
    60_000,
  );
  step(`the progress reads: ${JSON.stringify(/step \d+\/.*left/.exec(progress)?.[0])}`);

  await runCommand(page, 'Micro Steer: Open steering panel');
  const panel = await webviewContent(page, `#${ID.generate}`);
  await poll(() => generateDisabled(panel), (d) => d, 'Generate disabled while the engine trains', 20_000);
  const blocked = panel.locator(`#${ID.generateBlocked}`);
  await blocked.waitFor({ state: 'visible', timeout: 10_000 });
  const reason = (await blocked.textContent())?.trim() ?? '';
  if (!/^The engine is training: Generate works again when it ends\.$/.test(reason)) throw new Error(`beside the disabled Generate: "${reason}"`);
  step(`Generate is disabled during training, and says: "${reason}"`);

  await runCommand(page, 'Micro Steer: Stop training and keep the plane so far');
  await poll(() => generateDisabled(panel), (d) => !d, 'Generate enabled again after the training', 60_000);
  if (await blocked.isVisible()) throw new Error('the reason Generate was disabled still shows after the training');
  step('after "Stop and keep", Generate is enabled again');

  // The record file is written first, then the setting that names it: wait for both.
  const records = path.join(workspace, '.vscode', 'microsteer', 'planes');
  const settingsFile = path.join(workspace, '.vscode', 'settings.json');
  const readKept = () => {
    const files = fs.existsSync(records) ? fs.readdirSync(records) : [];
    const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as { 'microSteer.planes'?: Record<string, Record<string, unknown>> };
    const entry = Object.entries(settings['microSteer.planes'] ?? {}).find(([, e]) => typeof e.record === 'string' && files.includes(e.record));
    return Promise.resolve(entry ? { name: entry[0], entry: entry[1] } : undefined);
  };
  const kept = await poll(readKept, (k) => k !== undefined, `a plane in the settings naming its record file in ${records}`, 20_000);
  if (!kept) throw new Error('unreachable: poll returned nothing');
  if ('lossHistory' in kept.entry) throw new Error(`the kept plane has its loss history in the settings: ${JSON.stringify(kept.entry)}`);
  step(`the kept plane "${kept.name}" is in the settings; its training record in .vscode/microsteer/planes/${String(kept.entry.record)}`);

  // Issue 12, item 9: the panel's picker follows the active plane, the one just trained.
  const active = kept.name;
  const picker = panel.locator(`#${ID.planePicker}`);
  const shown = () =>
    picker.evaluate((d) => {
      const dropdown = d as unknown as { value: string; shadowRoot: { querySelector(s: string): { textContent: string | null } | null } | null };
      return { value: dropdown.value, text: dropdown.shadowRoot?.querySelector('.selected-value')?.textContent?.trim() ?? '' };
    });
  await poll(shown, (p) => p.value === active && p.text === active, `the panel's plane picker showing the active plane "${active}"`, 10_000);
  step(`the panel's plane picker shows the plane just trained, "${active}"`);
}

/** Compares hidden states from the command palette, reloads the page, and checks the view comes back drawn. */
export async function diagnosticsRestoredAfterReload(page: Page): Promise<void> {
  // A quick input closes when something takes the focus (the notification of the plane just kept may):
  // then the questions are asked again from the start.
  for (let attempt = 1; ; attempt++) {
    try {
      await answerComparisonQuestions(page);
      break;
    } catch (e) {
      if (attempt === 3) throw e;
      step(`the questions were interrupted (${(e as Error).message.split('\n')[0]}); asking again`);
      await page.keyboard.press('Escape');
    }
  }
  const title = `#${DIAGNOSTICS_IDS.title}`;
  const before = await shownComparison(await webviewContent(page, title, 60_000));
  step(`the hidden-state view shows: ${JSON.stringify(before.summary)} with ${before.lines} plotted lines`);

  // As a user reloads: the command shuts the window down in order, so the workbench saves its layout
  // (a page reload can leave before that is stored, and then no tab is there to restore).
  await runCommand(page, 'Developer: Reload Window');
  await page.waitForEvent('load', { timeout: 60_000 });
  await waitForWorkbench(page);
  const after = await shownComparison(await webviewContent(page, title, 60_000));
  if (after.summary !== before.summary || after.lines !== before.lines) {
    throw new Error(`after the reload the view shows ${JSON.stringify(after)}, before it showed ${JSON.stringify(before)}`);
  }
  step('after a reload the hidden-state view is restored with the same result');
}

async function answerComparisonQuestions(page: Page): Promise<void> {
  await runCommand(page, 'Micro Steer: Compare hidden states', 30_000, true);
  const input = page.locator('.quick-input-widget input.input');
  const questions: [RegExp, string][] = [
    [/^Prompt A \(/, 'The city of Paris'],
    [/^Token position in prompt A$/, '-1'],
    [/^Prompt B$/, 'The city of Rome'],
    [/^Token position in prompt B$/, '-1'],
  ];
  for (const [question, answer] of questions) {
    await page.locator('.quick-input-widget .quick-input-title', { hasText: question }).waitFor({ state: 'visible', timeout: 20_000 });
    await input.fill(answer, { timeout: 5_000 });
    await page.keyboard.press('Enter');
  }
}

/** What the diagnostics page shows once it has drawn a hidden-state comparison. */
async function shownComparison(view: FrameLocator): Promise<{ summary: string; lines: number }> {
  await poll(() => view.locator(`#${DIAGNOSTICS_IDS.title}`).textContent(), (t) => t === 'Hidden-state comparison', 'the diagnostics title', 60_000);
  const summary = (await view.locator(`#${DIAGNOSTICS_IDS.summary}`).textContent()) ?? '';
  const lines = await view.locator(`#${DIAGNOSTICS_IDS.plot} polyline`).count();
  if (!/^Token .* of prompt A vs .* of prompt B\.$/.test(summary) || lines === 0) throw new Error(`the hidden-state view shows "${summary}" and ${lines} lines`);
  return { summary, lines };
}
