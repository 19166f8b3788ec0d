/**
 * `npm start`: the extension, as built in this checkout, in code-server on 127.0.0.1 with the demo
 * workspace (demo/) and the demo model (models/demo, the project's own pretrained Gemma-2) configured.
 * Open the printed URL in a browser; Ctrl-C stops it.
 *
 * The model's path is a user setting of this instance's own profile (.cache/start/), so nothing
 * machine-specific lands in demo/. MICROSTEER_PORT picks the port (default 8080, or a free one if taken).
 */
import * as path from 'node:path';
import { extensionsDirOf, portIsFree, startCodeServer } from './codeServer';
import { ensureCodeServerToolchain } from './install';
import { linkExtension } from './linkExtension';
import { cacheDir, repoRoot } from './repo';

const DEFAULT_PORT = 8080;

async function main(): Promise<void> {
  const tools = ensureCodeServerToolchain();
  const model = path.join(repoRoot, 'models', 'demo');
  const wanted = Number(process.env.MICROSTEER_PORT ?? DEFAULT_PORT);
  const port = (await portIsFree(wanted)) ? wanted : 0;
  if (port === 0) console.log(`[start] port ${wanted} is taken; using a free one`);

  const stateDir = path.join(cacheDir, 'start');
  const extensionId = linkExtension(extensionsDirOf(stateDir), repoRoot);
  const server = await startCodeServer({
    node: tools.node,
    codeServerEntry: tools.codeServerEntry,
    stateDir,
    port,
    smokeTestDriver: false,
    userSettings: { 'microSteer.modelPath': model },
  });
  const demo = path.join(repoRoot, 'demo');
  console.log(`[start] demo model: ${model}`);
  console.log(`[start] code-server log: ${server.logFile}`);
  console.log(`[start] ${extensionId} is linked to ${repoRoot}`);
  console.log(`[start] open Micro Steer on the demo workspace:\n\n  ${server.origin}/?folder=${encodeURIComponent(demo)}\n`);
  console.log('[start] after `npm run watch` rebuilds, reload the page to load the new build; Ctrl-C stops the server');

  const stopped = await Promise.race([
    new Promise<undefined>((resolve) => {
      process.once('SIGINT', () => resolve(undefined));
      process.once('SIGTERM', () => resolve(undefined));
    }),
    server.exited,
  ]);
  if (stopped) {
    console.error(`[start] code-server stopped by itself (${stopped}); see ${server.logFile}`);
    process.exitCode = 1;
  } else {
    console.log('[start] stopping code-server');
  }
  await server.stop();
}

main().catch((e: unknown) => {
  console.error(`[start] ${(e as Error).message}`);
  process.exitCode = 1;
});
