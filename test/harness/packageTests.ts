/**
 * The packaged-VSIX test: installs the VSIX that `npm run package` built into a fresh code-server profile
 * with `code-server --install-extension` (as a user installs it), then runs packagedExtensionSuite in that
 * server's extension host, with the tiny model configured and a CLI-trained plane in the workspace.
 * Everything lives in a temporary folder outside the checkout, so the installed extension cannot resolve
 * a module from the checkout's node_modules: what the VSIX lacks, the test lacks.
 *
 *   node out/test/harness/packageTests.js [FILE.vsix]     (npm run test:package packages and compiles first)
 *
 * MICROSTEER_PACKAGE_TIMEOUT_S bounds the run (default 240).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureTinyModel } from '../fixtures/tinyModel';
import { installExtensionPackage } from './codeServer';
import { extensionTestsUrl, runExtensionTests } from './hostTests';
import { trainPlaneWithCli, writePlaneWorkspace } from './planeWorkspace';
import { repoRoot } from './repo';
import { exitWith } from './entryPoint';
import { runSession } from './session';

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };

/** Tells packagedExtensionSuite (which imports vscode, so not importable here) the installed extension's folder. */
const INSTALLED_EXTENSION_ENV = 'MICROSTEER_INSTALLED_EXTENSION';

/** Where scripts/package.mjs writes the VSIX by default. */
const DEFAULT_VSIX = path.join(repoRoot, `${manifest.name}-linux-x64-${manifest.version}.vsix`);

/**
 * An empty extension to stand as the workbench's "extension under development": extension tests need one,
 * and Micro Steer itself must load as the installed extension it is.
 */
function writeDriverExtension(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const driver = { name: 'package-test-driver', publisher: 'microsteer-tests', version: '0.0.0', engines: { vscode: '*' } };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(driver, null, 2) + '\n');
  return dir;
}

async function main(): Promise<number> {
  const vsix = path.resolve(process.argv[2] ?? DEFAULT_VSIX);
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} does not exist: build it with \`npm run package\``);
  const limitS = Number(process.env.MICROSTEER_PACKAGE_TIMEOUT_S ?? 240);
  const model = await ensureTinyModel();

  return runSession('package test', limitS, async (session) => {
    const installed = await installExtensionPackage({ ...session.tools, stateDir: session.stateDir }, vsix, `${manifest.publisher}.${manifest.name}`);
    console.log(`[package] installed ${path.basename(vsix)} (${(fs.statSync(vsix).size / 1024 / 1024).toFixed(1)} MB) into ${installed}`);
    const record = trainPlaneWithCli(model, path.join(session.dir, 'plane.json'));
    const workspace = writePlaneWorkspace(path.join(session.dir, 'workspace'), record);
    const driver = writeDriverExtension(path.join(session.dir, 'driver'));
    // The server's environment reaches the extension host; NODE_PATH could hide a module the VSIX lacks.
    process.env[INSTALLED_EXTENSION_ENV] = installed;
    delete process.env.NODE_PATH;
    const server = await session.startServer({ smokeTestDriver: true, userSettings: { 'microSteer.modelPath': model } });
    const context = await session.launchBrowser();
    return runExtensionTests(context, extensionTestsUrl(server.origin, workspace, driver, path.join(__dirname, 'packagedExtensionSuite.js')));
  });
}

if (require.main === module) exitWith('package', main);
