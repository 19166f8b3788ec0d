import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWebviewMessage } from '../../../src/extension/panelMessages';
import { InputError } from '../../../src/engine/errors';
import { PANEL_LIMITS } from '../../../src/protocol';

function generateMessage(overrides: { params?: Record<string, unknown>; sampling?: Record<string, unknown> } = {}) {
  return {
    type: 'generate',
    params: {
      prompt: 'Shall I compare thee',
      planeName: 'shakespeare',
      alphas: [0, 1.5, 2.5, 3.5],
      sampling: {
        temperature: 1,
        topK: 0,
        topP: 1,
        seed: 0,
        maxNewTokens: 200,
        chatTemplate: false,
        steerPrompt: 'last',
        ...overrides.sampling,
      },
      ...overrides.params,
    },
  };
}

function rejects(raw: unknown, reason: RegExp): void {
  assert.throws(
    () => parseWebviewMessage(raw),
    (e: unknown) => e instanceof InputError && reason.test(e.message),
    `expected rejection matching ${reason} for ${JSON.stringify(raw)?.slice(0, 120)}`,
  );
}

test('well-formed messages are accepted as fresh copies', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseWebviewMessage({ type: 'stop' }), { type: 'stop' });
  assert.deepEqual(parseWebviewMessage({ type: 'copy', text: 'abc' }), { type: 'copy', text: 'abc' });
  assert.deepEqual(parseWebviewMessage({ type: 'insert', text: '' }), { type: 'insert', text: '' });
  const raw = generateMessage();
  const parsed = parseWebviewMessage(raw);
  assert.deepEqual(parsed, raw);
  assert.ok(parsed.type === 'generate');
  // A copy: the webview's later edits of its own objects cannot reach a running request.
  assert.notEqual(parsed.params, raw.params);
  assert.notEqual(parsed.params.alphas, raw.params.alphas);
  assert.notEqual(parsed.params.sampling, raw.params.sampling);
});

test('values at the edges of every range are accepted', () => {
  const edges = generateMessage({
    params: { prompt: '', alphas: [-5, 10], planeName: 'p'.repeat(PANEL_LIMITS.maxPlaneNameChars) },
    sampling: { temperature: 0, topK: PANEL_LIMITS.maxTopK, topP: 1, seed: 0xffffffff, maxNewTokens: 1, steerPrompt: 'all', chatTemplate: true },
  });
  assert.deepEqual(parseWebviewMessage(edges), edges);
  const most = generateMessage({
    params: { alphas: Array.from({ length: PANEL_LIMITS.maxAlphas }, (_, i) => i), prompt: 'x'.repeat(PANEL_LIMITS.maxPromptChars) },
    sampling: { temperature: PANEL_LIMITS.maxTemperature, topP: 1e-6, maxNewTokens: PANEL_LIMITS.maxNewTokens },
  });
  assert.deepEqual(parseWebviewMessage(most), most);
  const longText = 'y'.repeat(PANEL_LIMITS.maxTextChars);
  assert.equal((parseWebviewMessage({ type: 'copy', text: longText }) as { text: string }).text.length, longText.length);
});

test('a message that is not an object is rejected', () => {
  for (const raw of [null, undefined, 'ready', 42, true, ['ready']]) rejects(raw, /message must be an object/);
});

test('unknown or missing message types are rejected', () => {
  rejects({}, /message\.type must be one of/);
  rejects({ type: 'eval', code: '1' }, /message\.type must be one of .* got "eval"/);
  rejects({ type: 'READY' }, /message\.type/);
  rejects({ type: 7 }, /message\.type/);
});

test('unknown fields are rejected, __proto__ included', () => {
  rejects({ type: 'ready', extra: 1 }, /ready message has an unknown field "extra"/);
  rejects({ type: 'stop', runId: 3 }, /stop message has an unknown field "runId"/);
  rejects({ type: 'copy', text: 'a', html: '<b>' }, /copy message has an unknown field "html"/);
  rejects(JSON.parse('{"type":"ready","__proto__":{"polluted":true}}'), /unknown field "__proto__"/);
  rejects(generateMessage({ params: { plane: 'x' } }), /generate\.params has an unknown field "plane"/);
  rejects(generateMessage({ sampling: { topk: 3 } }), /generate\.params\.sampling has an unknown field "topk"/);
});

test('copy and insert need a string within the length limit', () => {
  rejects({ type: 'copy' }, /copy\.text must be a string/);
  rejects({ type: 'insert', text: 5 }, /insert\.text must be a string .* got 5/);
  rejects({ type: 'insert', text: ['a'] }, /insert\.text must be a string .* got an array of 1/);
  rejects({ type: 'copy', text: 'z'.repeat(PANEL_LIMITS.maxTextChars + 1) }, /copy\.text must be a string of at most .* characters, got a string of \d+ characters/);
});

test('generate needs params as an object', () => {
  rejects({ type: 'generate' }, /generate\.params must be an object, got undefined/);
  rejects({ type: 'generate', params: [] }, /generate\.params must be an object/);
  rejects({ type: 'generate', params: 'go' }, /generate\.params must be an object/);
});

test('prompt and plane name must be strings within their limits', () => {
  rejects(generateMessage({ params: { prompt: 3 } }), /generate\.params\.prompt must be a string/);
  rejects(generateMessage({ params: { prompt: undefined } }), /generate\.params\.prompt must be a string/);
  rejects(generateMessage({ params: { prompt: 'x'.repeat(PANEL_LIMITS.maxPromptChars + 1) } }), /generate\.params\.prompt/);
  rejects(generateMessage({ params: { planeName: '' } }), /generate\.params\.planeName must be a string of 1 to/);
  rejects(generateMessage({ params: { planeName: null } }), /generate\.params\.planeName/);
  rejects(generateMessage({ params: { planeName: 'p'.repeat(PANEL_LIMITS.maxPlaneNameChars + 1) } }), /generate\.params\.planeName/);
});

test('alphas must be 1 to maxAlphas finite numbers in [-5, 10]', () => {
  assert.equal(PANEL_LIMITS.alphaMin, -5);
  assert.equal(PANEL_LIMITS.alphaMax, 10);
  rejects(generateMessage({ params: { alphas: 1.5 } }), /generate\.params\.alphas must be an array of 1 to 8 alphas, got 1.5/);
  rejects(generateMessage({ params: { alphas: [] } }), /generate\.params\.alphas must be an array/);
  rejects(generateMessage({ params: { alphas: new Array(PANEL_LIMITS.maxAlphas + 1).fill(1) } }), /got an array of 9/);
  const bad: unknown[] = [Number.NaN, Infinity, -Infinity, '1', null, 10.01, -5.01, 1e308, { value: 1 }];
  for (const alpha of bad) {
    rejects(generateMessage({ params: { alphas: [0, alpha] } }), /generate\.params\.alphas\[1\] must be a finite number in \[-5, 10\]/);
  }
});

test('every sampling setting is checked for type and range', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['temperature', -0.1, /temperature must be a finite number in \[0, 10\], got -0.1/],
    ['temperature', Number.NaN, /temperature .* got NaN/],
    ['temperature', PANEL_LIMITS.maxTemperature + 0.5, /temperature/],
    ['temperature', '1', /temperature .* got "1"/],
    ['topK', 1.5, /topK must be an integer in \[0, 1000000\]/],
    ['topK', -1, /topK must be an integer/],
    ['topK', Infinity, /topK must be an integer/],
    ['topP', 0, /topP must be a finite number in \(0, 1\]/],
    ['topP', 1.01, /topP/],
    ['topP', -0.5, /topP/],
    ['seed', -1, /seed must be an integer in \[0, 4294967295\]/],
    ['seed', 2 ** 32, /seed/],
    ['seed', 0.5, /seed/],
    ['maxNewTokens', 0, /maxNewTokens must be an integer in \[1, 4096\]/],
    ['maxNewTokens', PANEL_LIMITS.maxNewTokens + 1, /maxNewTokens/],
    ['maxNewTokens', null, /maxNewTokens .* got null/],
    ['chatTemplate', 'yes', /chatTemplate must be true or false, got "yes"/],
    ['chatTemplate', 1, /chatTemplate must be true or false/],
    ['steerPrompt', 'first', /steerPrompt must be "last" or "all", got "first"/],
    ['steerPrompt', undefined, /steerPrompt must be "last" or "all", got undefined/],
  ];
  for (const [field, value, reason] of cases) {
    rejects(generateMessage({ sampling: { [field]: value } }), new RegExp(`generate\\.params\\.sampling\\.${reason.source}`));
  }
  rejects(generateMessage({ params: { sampling: null } }), /generate\.params\.sampling must be an object, got null/);
});

test('selectPlane carries only a plane name', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'selectPlane', name: 'sonnet' }), { type: 'selectPlane', name: 'sonnet' });
  rejects({ type: 'selectPlane', name: '' }, /selectPlane\.name must be a string of 1 to 200 characters/);
  rejects({ type: 'selectPlane', name: 'a', extra: 1 }, /selectPlane message has an unknown field "extra"/);
});

test('selectModelFolder carries nothing else', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'selectModelFolder' }), { type: 'selectModelFolder' });
  rejects({ type: 'selectModelFolder', folder: '/etc' }, /selectModelFolder message has an unknown field "folder"/);
});

test('a null seed asks for a fresh one; a missing one is an error', () => {
  const message = parseWebviewMessage(generateMessage({ sampling: { seed: null } }));
  assert.equal(message.type === 'generate' && message.params.sampling.seed, null);
  rejects(generateMessage({ sampling: { seed: undefined } }), /generate\.params\.sampling\.seed must be an integer/);
});

test('error messages never repeat a long untrusted string', () => {
  const long = 'A'.repeat(5000);
  try {
    parseWebviewMessage({ type: long });
    assert.fail('accepted an unknown type');
  } catch (e) {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /a string of 5000 characters/);
    assert.ok(e.message.length < 200, `message is ${e.message.length} characters long`);
  }
});
