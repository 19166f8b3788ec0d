/** Example texts from a file: one per line (blank lines skipped), or a JSON array of strings. */
import { InputError } from './errors';
import { LIMITS, checkLimit, readBoundedFile } from './limits';

export async function readExampleFile(file: string): Promise<string[]> {
  let content: string;
  try {
    content = (await readBoundedFile(file)).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the examples file ${file}: ${(e as Error).message}`);
  }
  let examples: string[];
  if (content.trimStart().startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch (e) {
      throw new InputError(`${file} starts like a JSON array but is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(json) || !json.every((x) => typeof x === 'string')) throw new InputError(`${file}: a JSON examples file must be an array of strings`);
    examples = json;
  } else {
    examples = content.split(/\r?\n/).filter((line) => line.trim() !== '');
  }
  checkLimit(LIMITS.examples, `the number of examples in ${file}`, examples.length);
  if (examples.length === 0) throw new InputError(`${file} has no examples (one per line, or a JSON array of strings)`);
  return examples;
}
