/** Argument parsing for CLI commands: node's parseArgs, with every failure an InputError (exit code 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../engine/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

export function requireOption<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new InputError(`missing required option ${flag}`);
  return value;
}

/** A finite number, or an InputError naming the flag. */
export function parseNumber(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new InputError(`${flag} must be a finite number, got "${text}"`);
  return value;
}

/** An integer within [min, max], or an InputError naming the flag. */
export function parseInteger(text: string, flag: string, min = -Infinity, max = Infinity): number {
  const value = parseNumber(text, flag);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${flag} must be an integer in [${min}, ${max}], got "${text}"`);
  }
  return value;
}

/** Comma-separated non-negative integer token ids. Range checks against the vocabulary happen in the engine. */
export function parseIdList(text: string, flag: string): number[] {
  return text.split(',').map((part) => parseInteger(part.trim(), `${flag} entry`, 0));
}
