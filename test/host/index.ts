/**
 * The entry VS Code's extension host calls for extension tests (`extensionTestsPath`): runs every
 * `*.test.js` suite beside this file with mocha's `tdd` UI. Runner-agnostic: code-server + chromium
 * (test/harness/hostTests.ts) and @vscode/test-electron (test/harness/electron.ts) both load it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

function suiteFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

export function run(): Promise<void> {
  // The extension host has no terminal: colours would arrive as escape codes in the log.
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000 });
  const grep = process.env.MICROSTEER_HOST_GREP;
  if (grep) mocha.grep(grep);
  const files = suiteFiles(__dirname);
  // Zero suites is a broken build, not a pass.
  if (files.length === 0) return Promise.reject(new Error(`no *.test.js suites under ${__dirname}`));
  for (const file of files) mocha.addFile(file);
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      // A closing line in the plain form CI reads, whatever the reporter printed above it.
      const stats = runner.stats;
      if (stats) console.log(`host: ${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`);
      if (failures > 0) reject(new Error(`${failures} host test(s) failed`));
      else resolve();
    });
  });
}
