/** Where the harness finds the checkout and keeps what it installs. */
import * as path from 'node:path';

/** The checkout's root (this file compiles to out/test/harness/repo.js). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** Installed tools and generated fixtures live here, gitignored, reused across runs. */
export const cacheDir = path.join(repoRoot, '.cache');
