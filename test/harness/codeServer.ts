/**
 * A code-server on 127.0.0.1 in its own process group, with every piece of state under one folder
 * (nothing lands in $HOME). `stop()` ends the whole group: the server, its extension hosts and their children.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface CodeServerOptions {
  node: string;
  codeServerEntry: string;
  /** Holds user data, extensions, XDG config/data and the server's log. */
  stateDir: string;
  /** 0 picks a free port. */
  port: number;
  /** VS Code's smoke-test driver: needed to run extension tests from the browser (it also hides toasts). */
  smokeTestDriver: boolean;
  /** User settings merged into the profile's settings.json (the keys given win). */
  userSettings?: Record<string, unknown>;
}

/**
 * Quiet, offline defaults: no AI features, gallery look-ups, update checks, telemetry, welcome page or
 * prompts (offline the look-ups only fail, and their failures would drown the tests' log).
 */
const QUIET_SETTINGS: Record<string, unknown> = {
  'chat.disableAIFeatures': true,
  'git.openRepositoryInParentFolders': 'never',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
};

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The server's stdout and stderr. */
  logFile: string;
  /** Settles when the server process ends, with how it ended. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** Whether 127.0.0.1:`port` can be listened on now. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Where a server with this state folder keeps its installed extensions. */
export function extensionsDirOf(stateDir: string): string {
  return path.join(stateDir, 'extensions');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * This process's environment less what would change code-server's behaviour (passwords, tokens, its
 * options, a parent VS Code's variables), with the XDG folders moved under `stateDir`.
 */
function serverEnv(stateDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const inherited = !/^(VSCODE_|ELECTRON_|CODE_SERVER_|CS_)/.test(key) && !['PASSWORD', 'HASHED_PASSWORD', 'GITHUB_TOKEN', 'PORT'].includes(key);
    if (inherited) env[key] = value;
  }
  return {
    ...env,
    XDG_CONFIG_HOME: path.join(stateDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(stateDir, 'xdg-data'),
    // No marketplace: the instance is a sandbox for this extension, and offline every look-up fails loudly.
    EXTENSIONS_GALLERY: '{}',
  };
}

function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): void {
  const file = path.join(userDataDir, 'User', 'settings.json');
  let current: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    try {
      current = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      // VS Code allows comments there; such a file is left for VS Code to read, and the harness's keys are not applied.
      console.warn(`[harness] ${file} is not plain JSON; leaving it as it is`);
      return;
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ ...current, ...settings }, null, 2) + '\n');
}

async function waitUntilServing(origin: string, exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exitReason = exited();
    if (exitReason) throw new Error(`code-server exited before serving (${exitReason})`);
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer on ${origin} within ${timeoutMs / 1000} s`);
    await delay(250);
  }
}

/**
 * Installs a VSIX into the profile a server with `options.stateDir` uses (`code-server --install-extension`),
 * as a user installs it. Resolves with the installed extension's folder.
 */
export async function installExtensionPackage(
  options: Pick<CodeServerOptions, 'node' | 'codeServerEntry' | 'stateDir'>,
  vsix: string,
  extensionId: string,
): Promise<string> {
  const extensionsDir = extensionsDirOf(options.stateDir);
  const args = [
    options.codeServerEntry,
    '--user-data-dir', path.join(options.stateDir, 'user-data'),
    '--extensions-dir', extensionsDir,
    '--install-extension', vsix,
  ];
  const child = spawn(options.node, args, { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv(options.stateDir) });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | string>((resolve) => {
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? `signal ${signal}`));
    child.on('error', (e) => resolve(e.message));
  });
  const installed = fs.existsSync(extensionsDir)
    ? fs.readdirSync(extensionsDir).filter((name) => name.toLowerCase().startsWith(`${extensionId.toLowerCase()}-`))
    : [];
  if (code !== 0 || installed.length !== 1) {
    throw new Error(`code-server --install-extension ${vsix} ended with ${code} and installed ${installed.length ? installed.join(', ') : 'nothing'}:\n${output.trim()}`);
  }
  return path.join(extensionsDir, installed[0]);
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const port = options.port || (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  fs.mkdirSync(options.stateDir, { recursive: true });
  const logFile = path.join(options.stateDir, 'code-server.log');
  const userDataDir = path.join(options.stateDir, 'user-data');
  writeUserSettings(userDataDir, { ...QUIET_SETTINGS, ...options.userSettings });
  const logFd = fs.openSync(logFile, 'a');
  const args = [
    options.codeServerEntry,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDirOf(options.stateDir),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
  ];
  const child = spawn(options.node, args, {
    // Its own process group, so that stop() reaches every descendant with one signal.
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: serverEnv(options.stateDir),
  });
  fs.closeSync(logFd);
  let exitReason: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => resolve((exitReason = signal ? `signal ${signal}` : `exit code ${code}`)));
    child.on('error', (e) => resolve((exitReason = e.message)));
  });
  const pgid = child.pid;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (pgid) process.kill(-pgid, signal);
    } catch {
      // the group is already gone
    }
  };
  // If this process dies without calling stop(), the group must not outlive it.
  const onExit = (): void => killGroup('SIGKILL');
  process.on('exit', onExit);

  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    killGroup('SIGTERM');
    await Promise.race([exited, delay(5000, undefined, { ref: false })]);
    // Whatever is left (a server that ignored SIGTERM, extension hosts outliving it) shares its group.
    killGroup('SIGKILL');
  };

  try {
    await waitUntilServing(origin, () => exitReason, 60_000);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}; its log ends:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
  }
  return { origin, logFile, exited, stop };
}
