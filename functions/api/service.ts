import { createApp, type AppState } from './app';
import type { Config } from './config';
import { openDb, type Db } from './db';
import type { Logger } from './logger';
import { createMetrics } from './metrics';
import { migrate } from './migrations';

/**
 * The API with its database, state and metrics, independent of how it is served
 * (bundled server, `npm start`, Vite dev server). The database is opened on first use,
 * so a process can listen before it has connected.
 */
export function createService(config: Config, log: Logger) {
  let opening: Promise<Db> | undefined;
  let opened: Db | undefined;
  const db = () =>
    (opening ??= openDb(config, log).then(
      (d) => (opened = d),
      (err) => {
        opening = undefined; // let the next request try again
        throw err;
      },
    ));

  const state: AppState = { shuttingDown: false, migrated: false };
  const metrics = createMetrics(() => opened?.stats());
  const app = createApp({ config, db, log, metrics, state });

  /** Start-up migrations (PGlite always, others with MIGRATE_ON_START=true). */
  function migrateOnStart(): Promise<void> | undefined {
    if (!config.migrateOnStart) return undefined;
    const run = db()
      .then(migrate)
      .then((r) => {
        state.migrated = true;
        log.info({ applied: r.applied, current: r.current }, r.applied.length ? 'migrations applied' : 'schema is current');
      });
    state.migrating = run.finally(() => (state.migrating = undefined));
    return run;
  }

  async function close() {
    state.shuttingDown = true;
    if (opening) await (await opening.catch(() => undefined))?.close();
  }

  return { config, log, app, db, state, metrics, migrateOnStart, close };
}
