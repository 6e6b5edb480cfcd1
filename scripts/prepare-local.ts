import { loadMigrations } from '../functions/api/migrations/files';
import { buildSeed, seedIsCurrent, seedPaths } from '../functions/api/db/pglite-seed';
import { ensureWebDist } from './web-dist';

/**
 * `npm install`'s postinstall: prepares what the first `npm start` would otherwise do while the
 * person waits: the page (web/dist) and the migrated PGlite seed that new data directories are
 * made from (functions/api/db/pglite-seed.ts). Each step is skipped when already current. It never
 * fails the install: a step that fails prints one line and `npm start` does that step itself.
 */
const steps: Array<[string, () => Promise<void> | void]> = [
  ['the web app (web/dist)', () => ensureWebDist(() => undefined)],
  [
    'the local database template',
    async () => {
      const migrations = loadMigrations();
      if (seedIsCurrent(migrations)) return;
      await buildSeed(migrations);
      if (!seedIsCurrent(migrations)) throw new Error(`could not write ${seedPaths().tarball}`);
    },
  ],
];

for (const [what, run] of steps) {
  try {
    await run();
  } catch (err) {
    console.warn(`npm install: preparing ${what} failed (${(err as Error).message}); npm start will do it on first use`);
  }
}
