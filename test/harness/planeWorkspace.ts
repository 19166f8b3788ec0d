/**
 * A workspace as a user has it after training: a plane trained by the CLI (`microsteer train`, a few
 * steps on the tiny model) stored in the folder's .vscode/settings.json as microSteer.planes and
 * microSteer.activePlane. The record goes through the extension's own validation first, so a CLI whose
 * plane files the extension would refuse fails here, by name.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePlaneRecord } from '../../src/extension/planeRecords';
import type { PlaneRecord } from '../../src/protocol';
import { repoRoot } from './repo';

export const PLANE_NAME = 'sonnet';

/** Lines of demo/shakespeare.txt: the plane's examples. */
const EXAMPLES = ["Shall I compare thee to a summer's day? Thou art more lovely and more temperate.", 'The course of true love never did run smooth.'];

/** Trains a plane on the model with the built CLI (dist/cli.js) and returns its validated record. */
export function trainPlaneWithCli(modelPath: string, out: string, steps = 5): PlaneRecord {
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const args = [cli, 'train', '--model', modelPath, ...EXAMPLES.flatMap((t) => ['--text', t]), '--steps', String(steps), '--out', out];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`microsteer train ended with ${result.status ?? result.signal ?? result.error?.message}:\n${result.stderr.slice(-2000)}`);
  }
  return parsePlaneRecord(JSON.parse(fs.readFileSync(out, 'utf8')), out);
}

/** Makes `dir` a workspace folder whose settings hold `record` as the active plane PLANE_NAME; returns `dir`. */
export function writePlaneWorkspace(dir: string, record: PlaneRecord): string {
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  const settings = { 'microSteer.planes': { [PLANE_NAME]: record }, 'microSteer.activePlane': PLANE_NAME };
  fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
  return dir;
}
