/**
 * Issue 10's targets on this machine, each with its status in this run: goals to print, never test
 * assertions. "not measured" where the run left out what a target needs (a format, the peer, a model
 * without the graph and steering benches).
 */
import type { Gemma2Config } from '../../src/engine/model/types';
import type { Bandwidth } from './bandwidth';
import type { FormatResult } from './formatBench';
import type { PeerResult } from './llamaBench';
import { formatValue, textTable, type Measurement } from './report';
import { PEER_FORMAT, rooflineTokensPerSecond, weightBytes } from './roofline';

export interface Target {
  model: string;
  goal: string;
  measured: string;
  status: 'met' | 'not met' | 'not measured' | 'reported';
}

/** Start-up "within a few seconds of llama.cpp's": read here as at most this much later to the first token. */
const STARTUP_SLACK_MS = 3000;

export interface TargetInputs {
  model: string;
  config: Gemma2Config;
  formats: readonly FormatResult[];
  peers: readonly PeerResult[];
  measurements: readonly Measurement[];
  bandwidth: Bandwidth;
}

export function evaluateTargets(inputs: TargetInputs): Target[] {
  const { model, config } = inputs;
  const out: Target[] = [];
  const target = (goal: string, measured: number | undefined, limit: number, atMost: boolean, show: (x: number) => string) => {
    // Without the value or its limit (the peer's speed, where the peer was left out) there is nothing to compare.
    if (measured === undefined || !Number.isFinite(measured) || !Number.isFinite(limit)) out.push({ model, goal, measured: measured !== undefined && Number.isFinite(measured) ? show(measured) : '-', status: 'not measured' });
    else out.push({ model, goal, measured: show(measured), status: (atMost ? measured <= limit : measured >= limit) ? 'met' : 'not met' });
  };
  const ours = (format: string) => inputs.formats.find((f) => f.format === format)?.run;
  const peer = (format: string) => inputs.peers.find((p) => p.format === format)?.run;
  const gb = (x: number) => `${(x / 1e9).toFixed(2)} GB`;
  const tps = (x: number) => `${formatValue(x)} tokens/s`;

  for (const f of inputs.formats) {
    const limit = 1.3 * weightBytes(config, f.format) + 0.5e9;
    target(`${f.format}: generate's peak resident memory <= 1.3 x weights + 0.5 GB (${gb(limit)})`, f.run?.generatePeakRssBytes, limit, true, gb);
  }
  const int8 = ours('int8');
  const roofline = rooflineTokensPerSecond(config, 'int8', inputs.bandwidth.bytesPerSecond);
  target(`int8 decode batch 1 >= 70% of the roofline (${tps(0.7 * roofline)})`, int8?.decodeTokensPerSecond[1], 0.7 * roofline, false, tps);
  for (const format of ['int8', 'int4'] as const) {
    const theirs = peer(PEER_FORMAT[format])?.decodeTokensPerSecond[1];
    target(`${format} decode batch 1 >= llama.cpp ${PEER_FORMAT[format]}${theirs ? ` (${tps(theirs)})` : ''}`, ours(format)?.decodeTokensPerSecond[1], theirs ?? NaN, false, tps);
  }
  for (const f of inputs.formats) {
    const theirs = peer(PEER_FORMAT[f.format])?.firstTokenMs;
    const mine = f.run && theirs !== undefined ? f.run.firstTokenMs - theirs : undefined;
    target(`${f.format}: first token at most ${STARTUP_SLACK_MS / 1000} s after llama.cpp ${PEER_FORMAT[f.format]}'s`, mine, STARTUP_SLACK_MS, true, (x) => `${(x / 1000).toFixed(1)} s later`);
  }
  const metric = (name: string) => inputs.measurements.find((m) => m.model === model && m.metric === name)?.value;
  const ratio = (x: number) => `${formatValue(x)}x`;
  target('4-alpha comparison <= 1.3 x a single generation', metric('4-row comparison / 1-row generation'), 1.3, true, ratio);
  target('the same, on a long prompt', metric('4-row comparison / 1-row generation, long prompt'), 1.3, true, ratio);
  target('steering <= 2% over unsteered', metric('steered / unsteered generation'), 1.02, true, ratio);
  target('training step <= 2.5 x the forward of the layers above the hook', metric('train step / forward of the same layers'), 2.5, true, ratio);
  const recipe = inputs.measurements.find((m) => m.model === model && m.metric.startsWith('original recipe'));
  out.push({ model, goal: "the method's recipe (19 examples, 500 steps): report the time", measured: recipe ? `${formatValue(recipe.value)} s (${recipe.weights ?? 'f32'}, ${recipe.metric})` : '-', status: recipe ? 'reported' : 'not measured' });
  return out;
}

export function formatTargets(targets: readonly Target[]): string {
  return textTable(['model', 'target (a goal, not a test)', 'measured', 'status'], targets.map((t) => [t.model, t.goal, t.measured, t.status]));
}
