/**
 * Driving VS Code's workbench in the browser the way a user does: wait for it to load, run a command from
 * the command palette by its title, and reach a webview's content. VS Code nests each webview in two
 * iframes: an outer `iframe.webview` (the host page) and, inside it, `#active-frame` (the extension's page).
 */
import type { FrameLocator, Page } from 'playwright-core';

/** Waits until the workbench shows its editor area. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.locator('.monaco-workbench .part.editor').waitFor({ state: 'visible', timeout: timeoutMs });
}

/**
 * Opens the command palette (F1) and runs the command titled `title` ("Category: Title"). The palette lists
 * an extension's commands from its manifest, before the extension runs, so this also activates it.
 * With `asks`, the command opens a question of its own in the same widget: the palette is not waited on to close.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000, asks = false): Promise<void> {
  const palette = page.locator('.quick-input-widget');
  const input = palette.locator('input.input');
  const row = palette.locator('.monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  // Early in a session the workbench may not take keys yet, or the palette may list commands from before
  // the extensions were registered: close it and open it again until the command shows.
  for (;;) {
    await page.keyboard.press('F1');
    const opened = await input.waitFor({ state: 'visible', timeout: 2_000 }).then(
      () => true,
      () => false,
    );
    if (opened) {
      await input.fill(`>${title}`);
      const listed = await row.waitFor({ state: 'visible', timeout: 5_000 }).then(
        () => true,
        () => false,
      );
      if (listed) break;
      await page.keyboard.press('Escape');
    }
    if (Date.now() > deadline) throw new Error(`the command palette did not list "${title}" within ${timeoutMs / 1000} s`);
  }
  await row.click();
  if (!asks) await input.waitFor({ state: 'hidden', timeout: timeoutMs });
}

/** Opens a workspace file by name through Quick Open, as a user does with Ctrl+P. */
export async function openFile(page: Page, name: string, timeoutMs = 30_000): Promise<void> {
  const palette = page.locator('.quick-input-widget');
  const input = palette.locator('input.input');
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  // Without the ">" prefix the palette searches files.
  await input.fill(name);
  await palette.locator('.monaco-list-row', { hasText: name }).first().click({ timeout: timeoutMs });
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Waits until the status bar shows an item with `text` (an extension's status item: the extension is running). */
export async function waitForStatusItem(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  await page.locator('.part.statusbar .statusbar-item', { hasText: text }).first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/**
 * The content of the webview whose page has an element matching `marker`, waiting for it to load. Several
 * webviews may be open; the marker picks the one of interest.
 */
export async function webviewContent(page: Page, marker: string, timeoutMs = 30_000): Promise<FrameLocator> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hosts = await page.locator('iframe.webview').count();
    for (let i = 0; i < hosts; i++) {
      const content = page.locator('iframe.webview').nth(i).contentFrame().locator('#active-frame').contentFrame();
      if ((await content.locator(marker).count()) > 0) return content;
    }
    if (Date.now() > deadline) throw new Error(`no webview with ${marker} appeared within ${timeoutMs / 1000} s (${hosts} webview frame(s) open)`);
    await page.waitForTimeout(250);
  }
}
