/** Argument parsing for CLI commands: node's parseArgs, with every failure an InputError (exit code 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../engine/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: withNegativeValues(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/**
 * `--alpha -1` as `--alpha=-1`: parseArgs takes a value that starts with a dash for an option, and
 * refuses it as ambiguous. A negative number (or list of numbers) after an option that takes a value is that value.
 */
function withNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/** Decimal notation only: not hex (0x10), binary, octal, or blank, which Number() would take. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function requireOption<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new InputError(`missing required option ${flag}`);
  return value;
}

/** A finite number, or an InputError naming the flag. */
export function parseNumber(text: string, flag: string): number {
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value)) throw new InputError(`${flag} must be a finite number, got "${text}"`);
  return value;
}

/** An integer in plain digits (not 1e3 or 0x10) within [min, max], or an InputError naming the flag. */
export function parseInteger(text: string, flag: string, min = -Infinity, max = Infinity): number {
  const value = parseNumber(text, flag);
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError(`${flag} must be an integer in [${min}, ${max}], got "${text}"`);
  }
  return value;
}

/** Comma-separated non-negative integer token ids. Range checks against the vocabulary happen in the engine. */
export function parseIdList(text: string, flag: string): number[] {
  return text.split(',').map((part) => parseInteger(part.trim(), `${flag} entry`, 0));
}
