import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestMtime } from './build-functions';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The built SPA that `npm start` serves (and the tests put behind nginx). */
export const webDist = join(root, 'web/dist');

/** True when web/dist is missing or older than any file under web/. */
export function webDistIsStale(): boolean {
  const index = join(webDist, 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newestMtime(join(root, 'web'));
}

/**
 * Builds web/dist with Vite (a production build) when it is stale.
 * @throws Error with Vite's exit code when the build fails.
 */
export function ensureWebDist(log: (line: string) => void = console.log): void {
  if (!webDistIsStale()) return;
  log('Building the web app (web/dist is missing or stale)…');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (r.status !== 0) throw new Error(`vite build failed with exit code ${r.status}`);
}
