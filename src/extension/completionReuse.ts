/**
 * Finished inline completions kept for reuse. VS Code cancels an inline request soon after the last
 * keystroke, often before the engine has finished; the engine's work goes on and its text lands here,
 * so the next request for the same text before the cursor (or for that text plus the first characters of
 * the completion, typed by the user) is answered at once. Entries belong to one steering setup (plane,
 * alpha, length): a change of it empties the store. No vscode import: unit-tested.
 */

/** How many prompts are remembered; older ones are dropped first. */
const CAPACITY = 16;

export class CompletionReuse {
  private setup = '';
  /** Prompt -> its completion, oldest first. */
  private readonly entries = new Map<string, string>();

  /** The completion still to show for `prompt` under `setup`, if a stored one covers it. */
  lookup(setup: string, prompt: string): string | undefined {
    if (setup !== this.setup) return undefined;
    const exact = this.entries.get(prompt);
    if (exact !== undefined) return exact === '' ? undefined : exact;
    // The user typed the start of a stored completion: offer the rest of it.
    for (const [stored, completion] of this.entries) {
      if (prompt.length <= stored.length || !prompt.startsWith(stored)) continue;
      const typed = prompt.slice(stored.length);
      if (completion.startsWith(typed) && completion.length > typed.length) return completion.slice(typed.length);
    }
    return undefined;
  }

  store(setup: string, prompt: string, completion: string): void {
    if (setup !== this.setup) {
      this.entries.clear();
      this.setup = setup;
    }
    this.entries.delete(prompt);
    this.entries.set(prompt, completion);
    while (this.entries.size > CAPACITY) this.entries.delete(this.entries.keys().next().value as string);
  }
}
