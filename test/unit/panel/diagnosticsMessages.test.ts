/** The diagnostics panel's message checks: known messages pass as fresh values, anything else is refused by field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import { parseDiagnosticsMessage } from '../../../src/extension/diagnosticsMessages';

test('ready and trainAtLayer pass', () => {
  assert.deepEqual(parseDiagnosticsMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseDiagnosticsMessage({ type: 'trainAtLayer', layer: 2 }), { type: 'trainAtLayer', layer: 2 });
});

test('bad messages are refused naming what is wrong', () => {
  const refused = (raw: unknown, pattern: RegExp) => assert.throws(() => parseDiagnosticsMessage(raw), (e: Error) => e instanceof InputError && pattern.test(e.message));
  refused(null, /message must be an object/);
  refused({ type: 'generate' }, /message.type must be ready or trainAtLayer/);
  refused({ type: 'ready', extra: 1 }, /unknown fields/);
  refused({ type: 'trainAtLayer', layer: 1.5 }, /trainAtLayer.layer must be an integer/);
  refused({ type: 'trainAtLayer', layer: -1 }, /trainAtLayer.layer/);
  refused({ type: 'trainAtLayer', layer: '3' }, /got "3"/);
  refused({ type: 'trainAtLayer', layer: 3, script: 'x' }, /unknown fields/);
});
