/**
 * The same host suites under @vscode/test-electron, for machines that can download VS Code (a developer's
 * desktop). Offline machines and CI use test/harness/hostTests.ts instead.
 *
 *   node out/test/harness/electron.js        (after npm run build and npm run compile-tests)
 *
 * MICROSTEER_VSCODE_VERSION picks the VS Code version (default: the latest stable).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { ensureTinyModel } from '../fixtures/tinyModel';
import { cacheDir, repoRoot } from './repo';
import { exitWith } from './entryPoint';

async function main(): Promise<number> {
  // Made here, outside any test's timeout; the suites find it cached.
  await ensureTinyModel();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-electron-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace);
  try {
    return await runTests({
      version: process.env.MICROSTEER_VSCODE_VERSION,
      cachePath: path.join(cacheDir, 'vscode-test'),
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: path.join(repoRoot, 'out', 'test', 'host', 'index.js'),
      launchArgs: [
        workspace,
        '--user-data-dir', path.join(tmp, 'user-data'),
        '--extensions-dir', path.join(tmp, 'extensions'),
        '--disable-extensions',
        '--disable-workspace-trust',
        // Electron refuses to start as root with its sandbox on.
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      ],
    });
  } catch (e) {
    console.error(`[harness] ${(e as Error).message}`);
    return 1;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (require.main === module) exitWith('harness', main);
