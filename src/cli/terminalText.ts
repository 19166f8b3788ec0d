/**
 * Text from files and engines made safe for one terminal line: control characters (newlines, escape
 * sequences that would recolour or rewrite the terminal, C1 codes) are shown as \u escapes instead.
 */
export function terminalLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
