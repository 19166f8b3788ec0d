/**
 * Runs the host suites (out/test/host) inside a real VS Code extension host, offline: code-server with
 * the smoke-test driver, opened by headless chromium through playwright-core. VS Code's workbench
 * reports the extension host's log through `codeAutomationLog` and the tests' result through
 * `codeAutomationExit`; this process streams the one and exits with the other.
 *
 *   node out/test/harness/hostTests.js        (npm run test:host builds and compiles first)
 *
 * MICROSTEER_HOST_TIMEOUT_S bounds the whole run (default 300); MICROSTEER_HOST_GREP picks tests by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { format } from 'node:util';
import { chromium, type BrowserContext } from 'playwright-core';
import { startCodeServer, type CodeServer } from './codeServer';
import { ensureChromium, ensureCodeServerToolchain } from './install';
import { repoRoot } from './repo';
import { ensureTinyModel } from '../fixtures/tinyModel';
import { exitWith } from './entryPoint';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The workbench URL that opens `workspace` with the checkout loaded as an extension under development and
 * its host suites run on load. Paths are on the server, addressed through its remote authority (host:port).
 * The workbench reads this payload only with the smoke-test driver on.
 */
export function extensionTestsUrl(
  origin: string,
  workspace: string,
  developmentPath = repoRoot,
  testsPath = path.join(repoRoot, 'out', 'test', 'host', 'index.js'),
): string {
  const remote = (p: string): string => `vscode-remote://${new URL(origin).host}${p}`;
  const payload = [
    ['extensionDevelopmentPath', remote(developmentPath)],
    ['extensionTestsPath', remote(testsPath)],
  ];
  return `${origin}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** The workbench passes console-style arguments: a format string and its values. */
function printLog(level: string, args: unknown): void {
  const text = (Array.isArray(args) ? format(...(args as unknown[])) : String(args)).replace(/\n$/, '');
  if (level === 'error') console.error(text);
  else console.log(text);
}

/** A fresh profile, and XDG folders under `dir` too: chromium keeps crash reports there, not in the profile. */
export function launchBrowser(executablePath: string, dir: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'xdg-config'), XDG_CACHE_HOME: path.join(dir, 'xdg-cache') };
  return chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    env,
    ...(viewport ? { viewport } : {}),
    // The harness's own handlers close the browser and the server, then remove the temporary folder.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/** Opens the workbench and resolves with the extension tests' exit code, streaming their log meanwhile. */
export async function runExtensionTests(context: BrowserContext, url: string): Promise<number> {
  const page = context.pages()[0] ?? (await context.newPage());
  let reportExit: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((resolve) => (reportExit = resolve));
  await page.exposeFunction('codeAutomationExit', (code: number) => reportExit(code));
  await page.exposeFunction('codeAutomationLog', printLog);
  page.on('pageerror', (e) => console.error(`[browser] ${e.message}`));
  await page.goto(url);
  return exitCode;
}

export function timeout(seconds: number, what = 'host tests'): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`${what} did not finish within ${seconds} s`)), seconds * 1000).unref();
  });
}

/** Resolves with 130 on Ctrl-C or SIGTERM, so that the run ends through the same clean-up as any other end. */
export function interrupted(): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      console.error(`[harness] ${signal}: stopping`);
      resolve(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  const limitS = Number(process.env.MICROSTEER_HOST_TIMEOUT_S ?? 300);
  const tools = ensureCodeServerToolchain();
  const browser = ensureChromium();
  // Made here, outside any test's timeout; the suites find it cached.
  await ensureTinyModel();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-host-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace);

  let server: CodeServer | undefined;
  let context: BrowserContext | undefined;
  const run = async (): Promise<number> => {
    server = await startCodeServer({
      node: tools.node,
      codeServerEntry: tools.codeServerEntry,
      stateDir: path.join(tmp, 'code-server'),
      port: 0,
      smokeTestDriver: true,
    });
    console.log(`[harness] code-server on ${server.origin}, workspace ${workspace}`);
    context = await launchBrowser(browser, path.join(tmp, 'chromium'));
    const serverDied = server.exited.then((how) => Promise.reject(new Error(`code-server stopped during the tests (${how})`)));
    return Promise.race([runExtensionTests(context, extensionTestsUrl(server.origin, workspace)), serverDied]);
  };
  const running = run();
  // After a timeout or an interrupt the run is abandoned: its late failure (the browser closing under it) is not news.
  running.catch(() => undefined);
  try {
    const code = await Promise.race([running, timeout(limitS), interrupted()]);
    console.log(`[harness] host tests exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return code;
  } catch (e) {
    console.error(`[harness] ${(e as Error).message}`);
    if (server) console.error(`[harness] code-server log (last 4000 characters):\n${fs.readFileSync(server.logFile, 'utf8').slice(-4000)}`);
    return 1;
  } finally {
    await context?.close().catch(() => undefined);
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (require.main === module) exitWith('harness', main);
