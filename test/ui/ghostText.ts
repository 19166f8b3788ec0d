/**
 * Steered ghost text as a user meets it: with inline completions on (in the settings from the start, as
 * the extension then warms its engine at activation), open a file, type a few words at its end at
 * a person's pace and stop. No explicit trigger: the ghost text has to appear by itself. Returns the
 * seconds from the last keystroke to the ghost text.
 */
import type { Page } from 'playwright-core';
import { openFile } from './workbench';

/** Typed one key at a time, as a person types (about 8 keys a second). */
const TYPED = ' The course of true love';
const KEY_DELAY_MS = 120;

export async function ghostTextWhileTyping(page: Page, file: string, timeoutMs: number): Promise<number> {
  await openFile(page, file);
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(TYPED, { delay: KEY_DELAY_MS });
  const lastKey = Date.now();
  // VS Code draws ghost text after the cursor with these classes (one line, or the lines below it).
  const ghost = editor.locator('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text');
  await ghost.first().waitFor({ state: 'visible', timeout: timeoutMs }).catch(() => {
    throw new Error(`no ghost text appeared within ${timeoutMs / 1000} s after typing "${TYPED}" at the end of ${file}`);
  });
  const text = (await ghost.allTextContents()).join('');
  if (text.trim() === '') throw new Error('the ghost text shown is empty');
  return (Date.now() - lastKey) / 1000;
}
