/**
 * Text streamed into an editor at a position as it arrives, as ONE undo step: the first edit opens an
 * undo group (undoStopBefore) and every later edit joins it (no undo stops), so a single Undo removes
 * the whole continuation. Deltas that arrive while an edit is being applied are inserted together
 * with the next edit. If anyone else edits the document meanwhile, the insertion stops (`stopped`)
 * rather than write at a stale position.
 */
import * as vscode from 'vscode';

export class StreamingInsertion {
  private pending = '';
  private inserted = '';
  private end: vscode.Position;
  private version: number;
  private first = true;
  private flushing: Promise<void> | undefined;
  /** Why insertion stopped early, if it did. */
  stopped: string | undefined;

  constructor(
    private readonly editor: vscode.TextEditor,
    at: vscode.Position,
    /** Called once when the insertion stops early, so that the generation can be cancelled. */
    private readonly onStop: (why: string) => void,
  ) {
    this.end = at;
    this.version = editor.document.version;
  }

  /** Everything inserted so far. */
  get text(): string {
    return this.inserted;
  }

  append(delta: string): void {
    if (this.stopped || delta === '') return;
    this.pending += delta;
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Resolves when every appended delta is in the document (or insertion stopped). */
  async finished(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.pending !== '' && !this.stopped) {
      const text = this.pending;
      this.pending = '';
      if (this.editor.document.version !== this.version) return this.stop('the document was edited during generation');
      const at = this.end;
      let applied = false;
      try {
        applied = await this.editor.edit((edit) => edit.insert(at, text), { undoStopBefore: this.first, undoStopAfter: false });
      } catch {
        applied = false;
      }
      if (!applied) return this.stop('the editor was closed or did not accept the text');
      this.first = false;
      this.version = this.editor.document.version;
      this.inserted += text;
      this.end = endOf(at, text);
    }
  }

  private stop(why: string): void {
    this.stopped = why;
    this.pending = '';
    this.onStop(why);
  }
}

/** Where `text` inserted at `at` ends, counted in lines and characters (so the document's line endings do not matter). */
function endOf(at: vscode.Position, text: string): vscode.Position {
  const lines = text.split(/\r\n|\r|\n/);
  const last = lines[lines.length - 1];
  return lines.length === 1 ? at.translate(0, last.length) : new vscode.Position(at.line + lines.length - 1, last.length);
}
