import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionReuse } from '../../../src/extension/completionReuse';

test('a stored completion answers the same prompt under the same setup', () => {
  const reuse = new CompletionReuse();
  assert.equal(reuse.lookup('plane a', 'The harbour'), undefined);
  reuse.store('plane a', 'The harbour', ' lights were low');
  assert.equal(reuse.lookup('plane a', 'The harbour'), ' lights were low');
  assert.equal(reuse.lookup('plane b', 'The harbour'), undefined, 'another plane or alpha must not reuse it');
});

test('typing the start of the completion leaves the rest of it to show', () => {
  const reuse = new CompletionReuse();
  reuse.store('s', 'The harbour', ' lights were low');
  assert.equal(reuse.lookup('s', 'The harbour li'), 'ghts were low');
  assert.equal(reuse.lookup('s', 'The harbour lo'), undefined, 'typed text that differs from the completion');
  assert.equal(reuse.lookup('s', 'The harbour lights were low'), undefined, 'nothing is left to show');
});

test('an empty completion is remembered but offers nothing', () => {
  const reuse = new CompletionReuse();
  reuse.store('s', 'x', '');
  assert.equal(reuse.lookup('s', 'x'), undefined);
});

test('a new setup forgets the old completions, and the oldest go first when full', () => {
  const reuse = new CompletionReuse();
  reuse.store('s', 'p', ' q');
  reuse.store('t', 'r', ' s');
  assert.equal(reuse.lookup('t', 'p'), undefined);
  for (let i = 0; i < 20; i++) reuse.store('t', `prompt ${i}`, ` completion ${i}`);
  assert.equal(reuse.lookup('t', 'prompt 0'), undefined);
  assert.equal(reuse.lookup('t', 'prompt 19'), ' completion 19');
});
