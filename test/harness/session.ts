/**
 * One bounded session of code-server and headless chromium, for the UI test and the packaged-VSIX test:
 * a temporary folder for all their state, a time limit, Ctrl-C handling, and one clean-up however the
 * session ends (the browser closed, the server's whole process group ended, the folder removed). On a
 * failure it prints the logs that say why: the server's, the extension host's and the extension's output.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { startCodeServer, type CodeServer } from './codeServer';
import { interrupted, launchBrowser, timeout } from './hostTests';
import { ensureChromium, ensureCodeServerToolchain, type Toolchain } from './install';

export interface Session {
  /** A fresh temporary folder (outside the checkout), removed at the end. */
  readonly dir: string;
  /** code-server's state folder (its extensions folder is extensionsDirOf(stateDir)). */
  readonly stateDir: string;
  readonly tools: Toolchain;
  /** Starts the session's one code-server; its unexpected exit fails the session. */
  startServer(options: { smokeTestDriver: boolean; userSettings?: Record<string, unknown> }): Promise<CodeServer>;
  /** Starts the session's one browser. */
  launchBrowser(viewport?: { width: number; height: number }): Promise<BrowserContext>;
}

/** The last `chars` characters of each file under `dir` whose name passes `wanted`. */
function logTails(dir: string, wanted: (name: string) => boolean, chars: number): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => wanted(path.basename(f)))
    .map((f) => `--- ${f} (last ${chars} characters)\n${fs.readFileSync(path.join(dir, f), 'utf8').slice(-chars)}`);
}

function printFailureLogs(server: CodeServer | undefined, stateDir: string): void {
  if (server) console.error(`[harness] code-server log (last 4000 characters):\n${fs.readFileSync(server.logFile, 'utf8').slice(-4000)}`);
  // The extension host's log names activation errors; the "Micro Steer" output channel holds the engine's log.
  const logs = logTails(path.join(stateDir, 'user-data', 'logs'), (name) => name === 'exthost.log' || name.includes('Micro Steer'), 4000);
  for (const log of logs) console.error(log);
}

/** Runs `body` in a session and resolves with its exit code; 1 when it throws or runs past `limitS`, 130 on Ctrl-C. */
export async function runSession(label: string, limitS: number, body: (session: Session) => Promise<number>): Promise<number> {
  const started = Date.now();
  const tools = ensureCodeServerToolchain();
  const chromium = ensureChromium();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-session-'));
  const stateDir = path.join(dir, 'code-server');
  let server: CodeServer | undefined;
  let context: BrowserContext | undefined;
  let reportServerDeath: (e: Error) => void = () => undefined;
  const serverDied = new Promise<never>((_, reject) => (reportServerDeath = reject));
  // Settled by the clean-up's own stop() too, after the race: that rejection is nobody's news.
  serverDied.catch(() => undefined);

  const session: Session = {
    dir,
    stateDir,
    tools,
    async startServer(options) {
      if (server) throw new Error('a session runs one code-server');
      server = await startCodeServer({ node: tools.node, codeServerEntry: tools.codeServerEntry, stateDir, port: 0, ...options });
      const launched = server;
      void launched.exited.then((how) => reportServerDeath(new Error(`code-server stopped during the ${label} (${how})`)));
      console.log(`[harness] code-server on ${launched.origin}`);
      return launched;
    },
    async launchBrowser(viewport) {
      if (context) throw new Error('a session runs one browser');
      context = await launchBrowser(chromium, path.join(dir, 'chromium'), viewport);
      return context;
    },
  };

  const running = body(session);
  // After a timeout or an interrupt the body is abandoned: its late failure (the browser closing under it) is not news.
  running.catch(() => undefined);
  try {
    const code = await Promise.race([running, serverDied, timeout(limitS, label), interrupted()]);
    console.log(`[harness] ${label} exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (code !== 0 && code !== 130) printFailureLogs(server, stateDir);
    return code;
  } catch (e) {
    console.error(`[harness] ${label} failed: ${(e as Error).message}`);
    printFailureLogs(server, stateDir);
    return 1;
  } finally {
    await context?.close().catch(() => undefined);
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
