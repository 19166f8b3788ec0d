/**
 * A pretraining checkpoint: `state.json` (the step, the run's settings, what has been measured so
 * far) and `state.safetensors` (float32 weights and the AdamW moments, named `w.`, `m.`, `v.` plus
 * the weight's name). Each is written under a fresh name and renamed into place (the tensors first),
 * so an interrupted save never leaves a half-written file.
 */
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { writeWholeFile, writeWholeFileFrom } from '../wholeFile';
import { writeSafetensors } from '../model/modelWriter';
import { readSafetensorsHeader } from '../model/safetensors';
import { readTensor } from '../model/tensorData';
import type { AdamWState } from './adamw';

const STATE_JSON = 'state.json';
const STATE_TENSORS = 'state.safetensors';

export interface CheckpointData<Meta> {
  step: number;
  meta: Meta;
  weights: Map<string, Float32Array>;
  optimizer: AdamWState;
}

export async function saveCheckpoint<Meta>(dir: string, data: CheckpointData<Meta>, shapes: ReadonlyMap<string, number[]>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const names = [...shapes.keys()];
  const entries = ['w', 'm', 'v'].flatMap((kind) => names.map((name) => ({ name: `${kind}.${name}`, dtype: 'F32' as const, shape: shapes.get(name) as number[] })));
  const values = new Map<string, Float32Array>();
  names.forEach((name, i) => {
    values.set(`w.${name}`, data.weights.get(name) as Float32Array);
    values.set(`m.${name}`, data.optimizer.m[i]);
    values.set(`v.${name}`, data.optimizer.v[i]);
  });
  // The tensors are streamed to disk a tensor at a time, not held in one buffer.
  await writeWholeFileFrom(path.join(dir, STATE_TENSORS), (handle) => writeSafetensors(handle, entries, (t) => values.get(t.name) as Float32Array));
  const state: CheckpointState<Meta> = { step: data.step, adamSteps: data.optimizer.t, meta: data.meta };
  writeWholeFile(path.join(dir, STATE_JSON), `${JSON.stringify(state, null, 2)}\n`);
}

export interface CheckpointState<Meta> {
  step: number;
  /** The optimiser's step count. */
  adamSteps: number;
  meta: Meta;
}

/** state.json alone: the step, the optimiser's step count and the run's own record. */
export async function readCheckpointState<Meta>(dir: string): Promise<CheckpointState<Meta>> {
  try {
    return JSON.parse(await readFile(path.join(dir, STATE_JSON), 'utf8'));
  } catch (e) {
    throw new InputError(`cannot resume: no readable checkpoint in ${dir} (${(e as Error).message})`);
  }
}

/** The checkpoint whose state.json is `state` (from readCheckpointState), with its tensors of `shapes`. */
export async function loadCheckpoint<Meta>(dir: string, state: CheckpointState<Meta>, shapes: ReadonlyMap<string, number[]>): Promise<CheckpointData<Meta>> {
  const header = await readSafetensorsHeader(path.join(dir, STATE_TENSORS));
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const read = async (name: string, shape: number[]) => {
    const loc = byName.get(name);
    if (!loc || loc.shape.join() !== shape.join()) throw new InputError(`cannot resume: ${dir} has no tensor ${name} of shape [${shape}]`);
    return readTensor(loc);
  };
  const weights = new Map<string, Float32Array>();
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const [name, shape] of shapes) {
    weights.set(name, await read(`w.${name}`, shape));
    m.push(await read(`m.${name}`, shape));
    v.push(await read(`v.${name}`, shape));
  }
  return { step: state.step, meta: state.meta, weights, optimizer: { t: state.adamSteps, m, v } };
}
