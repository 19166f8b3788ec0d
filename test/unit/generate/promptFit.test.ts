/**
 * A prompt longer than the model's context: refused by default, and with promptFit 'end' (the text
 * before a cursor) cut to its end so that it and the new tokens fit. On the demo model, whose
 * context is 256 tokens.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { generate } from '../../../src/engine/generate/generator';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { ROOT } from '../../fixtures/cli';

const MODEL = path.join(ROOT, 'models', 'demo');
let runner: Gemma2Runner;
let tokenizer: Tokenizer;
const LONG = Array.from({ length: 120 }, (_, i) => `Line ${i} of a long document.`).join('\n');

before(async () => {
  runner = await Gemma2Runner.open(await openModelFolder(MODEL), { device: 'cpu' });
  tokenizer = await loadTokenizer(MODEL);
});
after(() => runner.release());

test('a prompt over the context is refused unless its end may be kept', async () => {
  const context = runner.folder.config.maxPositionEmbeddings;
  assert.ok(tokenizer.encode(LONG).length > context, 'the prompt is longer than the context');
  const request = { prompt: LONG, rows: [{ alpha: 0 }], sampling: { seed: 1, maxNewTokens: 8, temperature: 0 } };
  await assert.rejects(generate(runner, tokenizer, request), /model's context of 256 tokens/);
  const tokensOver = { ...request, prompt: LONG.slice(-1500) };
  assert.ok(tokenizer.encode(tokensOver.prompt).length + 8 > context, 'over the context in tokens, within it in characters');
  await assert.rejects(generate(runner, tokenizer, tokensOver), /exceed the model's context/);
  for (const r of [request, tokensOver]) {
    const kept = await generate(runner, tokenizer, { ...r, promptFit: 'end' });
    assert.ok(['maxTokens', 'eos'].includes(kept.rows[0].stopReason), `stopped by ${kept.rows[0].stopReason}`);
  }
});
