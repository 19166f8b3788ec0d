/** `microsteer compare`: one prompt at several alphas of a plane, generated as one batched run. */
import type { Command } from '../command';
import { parseCommandArgs, parseNumber, requireOption } from '../args';
import { withEngine } from '../engineSession';
import { SAMPLING_FLAGS, SAMPLING_USAGE, parseSampling, readPlaneSpec } from '../generationArgs';
import { InputError } from '../../engine/errors';
import type { GenerationResult } from '../../protocol';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { VECTOR_FLAGS, VECTOR_USAGE, vectorRowParts } from './vectorOptions';

/** Side by side needs at least this many characters per column. */
export const MIN_COLUMN_WIDTH = 30;
const SEPARATOR = ' | ';

export const compareCommand: Command = {
  name: 'compare',
  summary: 'generate one prompt at several alphas of a plane (or coefficients of a vector) in one batched run, side by side',
  usage: `usage: microsteer compare --model DIR --plane FILE --alphas 0,1.5,2.5,3.5 --prompt "..." [options]
       microsteer compare --model DIR --vector FILE --coefficients 0,4,8 --prompt "..." [options]

Generates every alpha as a row of one batched run (with one seed, each row equals its run alone) and
shows the rows side by side when the terminal is wide enough (${MIN_COLUMN_WIDTH}+ characters each), one after
another otherwise. Alpha 0 is the unsteered model.

  --model DIR         the model folder
  --plane FILE        a plane file (from microsteer train)
  --alphas LIST       comma-separated steering strengths
  --coefficients LIST comma-separated coefficients of --vector, one row each (instead of --plane and --alphas)
${VECTOR_USAGE}
  --prompt TEXT       the text to continue
  --json              print the result as JSON: {"rows": [{"text", "tokens", "stopReason"}]}
${SAMPLING_USAGE}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      plane: { type: 'string' },
      alphas: { type: 'string' },
      prompt: { type: 'string' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      weights: { type: 'string' },
      coefficients: { type: 'string' },
      ...VECTOR_FLAGS,
      ...SAMPLING_FLAGS,
    });
    const modelPath = requireOption(v.model, '--model');
    const byVector = v.vector !== undefined;
    if (byVector && (v.plane !== undefined || v.alphas !== undefined)) throw new InputError('compare either alphas of --plane or coefficients of --vector, not both');
    const plane = byVector ? undefined : await readPlaneSpec(requireOption(v.plane, '--plane'));
    const alphas = byVector ? undefined : parseAlphas(requireOption(v.alphas, '--alphas'));
    const coefficients = v.coefficients === undefined ? undefined : parseAlphas(v.coefficients, '--coefficients');
    const vectorParts = await vectorRowParts(v, coefficients, '--coefficients');
    const prompt = requireOption(v.prompt, '--prompt');
    const sampling = parseSampling(v);
    const rows = alphas ? alphas.map((alpha) => ({ plane, alpha, ...vectorParts[0] })) : vectorParts.map((parts) => ({ alpha: 0, ...parts }));
    const labels = alphas ?? (coefficients ?? []).map((c) => `coefficient ${c}`);

    const result = await withEngine('compare', { modelPath, device: parseDevice(v.device), weights: parseWeights(v.weights) }, (client, signal) =>
      client.generate({ prompt, rows, sampling }, undefined, signal),
    );
    console.log(v.json ? JSON.stringify(result, null, 2) : formatComparison(labels, result.rows, process.stdout.columns));
  },
};

export function parseAlphas(text: string, flag = '--alphas'): number[] {
  const alphas = text.split(',').map((part) => parseNumber(part.trim(), `${flag} entry`));
  if (alphas.length === 0) throw new InputError(`${flag} needs at least one value`);
  return alphas;
}

/**
 * The rows in columns when `columns` (the terminal's width) gives each MIN_COLUMN_WIDTH, else one after another.
 * A row's label is its alpha (a number) or a text of its own.
 */
export function formatComparison(labels: readonly (number | string)[], rows: GenerationResult['rows'], columns: number | undefined): string {
  const headers = rows.map((row, i) => `${typeof labels[i] === 'number' ? `alpha ${labels[i]}` : labels[i]} (${row.tokens} tokens, ${row.stopReason})`);
  const width = columns === undefined ? 0 : Math.floor((columns - SEPARATOR.length * (rows.length - 1)) / rows.length);
  if (rows.length === 1 || width < MIN_COLUMN_WIDTH) {
    return rows.map((row, i) => `== ${headers[i]} ==\n${row.text}`).join('\n\n');
  }
  const cells = rows.map((row, i) => [...wrap(headers[i], width), '-'.repeat(width), ...wrap(row.text, width)]);
  const height = Math.max(...cells.map((c) => c.length));
  const lines: string[] = [];
  for (let line = 0; line < height; line++) {
    lines.push(cells.map((c) => pad(c[line] ?? '', width)).join(SEPARATOR).trimEnd());
  }
  return lines.join('\n');
}

/** Lines of at most `width` characters: broken at spaces where possible, at the width otherwise; newlines kept. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.replace(/\t/g, '  ').split(/\r?\n/)) {
    let rest = Array.from(paragraph);
    if (rest.length === 0) lines.push('');
    while (rest.length > 0) {
      if (rest.length <= width) {
        lines.push(rest.join(''));
        break;
      }
      const space = rest.lastIndexOf(' ', width);
      const cut = space > 0 ? space : width;
      lines.push(rest.slice(0, cut).join('').trimEnd());
      rest = rest.slice(space > 0 ? cut + 1 : cut);
    }
  }
  return lines;
}

function pad(line: string, width: number): string {
  return line + ' '.repeat(Math.max(0, width - Array.from(line).length));
}
