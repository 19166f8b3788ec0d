/**
 * Screenshots of the steering panel in light, dark and high-contrast themes, at two widths: the panel's
 * editor group maximized (the wide, two-column layout) and beside the editor in a narrow window (the
 * stacked layout, about 300 px). The theme is set in the workspace settings file, as a user's
 * settings.json would; each shot waits until the panel's page carries that theme's class.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { runCommand } from './workbench';

const THEMES = [
  { name: 'light', theme: 'Default Light Modern', bodyClass: 'vscode-light' },
  { name: 'dark', theme: 'Default Dark Modern', bodyClass: 'vscode-dark' },
  { name: 'high-contrast', theme: 'Default High Contrast', bodyClass: 'vscode-high-contrast' },
] as const;

const WIDE = { width: 1400, height: 1000 };
const NARROW = { width: 820, height: 1000 };

/** Nothing cut off sideways; in the wide layout the columns start inside the first screen. */
async function checkLayout(panel: FrameLocator, layout: 'wide' | 'narrow'): Promise<void> {
  const overflowing = await panel.locator('main *').evaluateAll((elements) =>
    elements.filter((e) => e.getBoundingClientRect().right > e.ownerDocument.documentElement.clientWidth + 1).map((e) => e.id || e.tagName),
  );
  if (overflowing.length) throw new Error(`${layout} layout: these elements reach past the panel's right edge: ${[...new Set(overflowing)].slice(0, 8).join(', ')}`);
  if (layout === 'wide') {
    const top = await panel.locator('#columns').evaluate((columns) => columns.getBoundingClientRect().top);
    const height = await panel.locator('body').evaluate((body) => body.ownerDocument.documentElement.clientHeight);
    if (top > height) throw new Error(`wide layout: the columns start ${top} px down, below the ${height} px the panel shows`);
  }
}

function setWorkspaceTheme(workspace: string, theme: string): void {
  const file = path.join(workspace, '.vscode', 'settings.json');
  const settings = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...settings, 'workbench.colorTheme': theme }, null, 2) + '\n');
}

/** Writes panel-<theme>-<wide|narrow>.png into `outputDir`; returns the panel's width in each layout. */
export async function panelScreenshots(page: Page, panel: FrameLocator, workspace: string, outputDir: string): Promise<{ wide: number; narrow: number }> {
  const widths = { wide: 0, narrow: 0 };
  for (const layout of ['wide', 'narrow'] as const) {
    await page.setViewportSize(layout === 'wide' ? WIDE : NARROW);
    // The panel's group is the active one after Generate: maximizing it gives the panel the whole window.
    if (layout === 'wide') await runCommand(page, 'View: Toggle Maximize Editor Group');
    for (const { name, theme, bodyClass } of THEMES) {
      setWorkspaceTheme(workspace, theme);
      await panel.locator(`body.${bodyClass}`).waitFor({ state: 'attached', timeout: 20_000 });
      // Let the workbench finish repainting in the new theme.
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(outputDir, `panel-${name}-${layout}.png`) });
    }
    widths[layout] = await panel.locator('body').evaluate((body) => body.clientWidth);
    await checkLayout(panel, layout);
    if (layout === 'wide') await runCommand(page, 'View: Toggle Maximize Editor Group');
  }
  return widths;
}
