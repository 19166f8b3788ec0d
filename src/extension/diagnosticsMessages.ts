/**
 * Checks of what the diagnostics panel's webview sends (untrusted input, as for the steering panel): a
 * fresh value with only the known fields, or InputError naming the field. No vscode import: unit-tested.
 */
import { InputError } from '../engine/errors';
import type { DiagnosticsToHostMessage } from '../protocol';
import { parseRecord } from './panelMessages';

/** Above any model's layer count: the host checks the layer against the model when it trains. */
const MAX_LAYER = 1000;

export function parseDiagnosticsMessage(raw: unknown): DiagnosticsToHostMessage {
  const m = parseRecord(raw, 'message');
  const keys = Object.keys(m);
  switch (m.type) {
    case 'ready':
      if (keys.length !== 1) throw new InputError(`ready message has unknown fields (expected only type)`);
      return { type: 'ready' };
    case 'trainAtLayer': {
      if (keys.some((k) => k !== 'type' && k !== 'layer')) throw new InputError('trainAtLayer message has unknown fields (expected only type, layer)');
      const layer = m.layer;
      if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0 || layer > MAX_LAYER) {
        throw new InputError(`trainAtLayer.layer must be an integer in [0, ${MAX_LAYER}], got ${JSON.stringify(layer) ?? String(layer)}`);
      }
      return { type: 'trainAtLayer', layer };
    }
    default:
      throw new InputError(`message.type must be ready or trainAtLayer, got ${JSON.stringify(m.type) ?? String(m.type)}`);
  }
}
