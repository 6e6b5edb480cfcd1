import { createApp } from './app';
import type { AppState } from './state';
import type { Config } from './config';
import { openDb, type Db } from './db';
import { isDatabaseUnavailable } from './errors';
import { droppedLogLines, type Logger } from './logger';
import { idempotencyKeyRows } from './idempotency';
import { createMetrics } from './metrics';
import { migrate } from './migrations/runner';

/**
 * Start-up migrations retry while the database is unreachable. A driver with a connection probe
 * (pg, neon) is waited on: the retry starts as soon as the probe gets an answer. Otherwise, or
 * when the failure did not open the breaker (a terminated session), 0.5 s doubling to 5 s.
 */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;

/**
 * The API with its database, state and metrics, independent of how it is served
 * (host.ts for the bundled server and `npm start`, dev.ts for the Vite dev server). The database
 * is opened on first use, so a process can listen before it has connected.
 */
export function createService(config: Config, log: Logger) {
  let opening: Promise<Db> | undefined;
  let opened: Db | undefined;
  // Fired by close(): a database still being created (a first PGlite start) stops at once.
  const stop = new AbortController();
  const db = () =>
    (opening ??= openDb(config, log, stop.signal).then(
      (d) => (opened = d),
      (err) => {
        opening = undefined; // let the next request try again
        throw err;
      },
    ));

  const state: AppState = { shuttingDown: false, migrated: false };
  // The key table's size only from a database this process already opened: a scrape opens none.
  const metrics = createMetrics(
    () => opened?.stats(),
    droppedLogLines,
    async () => (opened && state.migrated ? idempotencyKeyRows(opened) : undefined),
  );
  const app = createApp({ config, db, log, metrics, state });

  /**
   * Start-up migrations (PGlite always, others with MIGRATE_ON_START=true). While the database
   * cannot be reached the process stays up and unready (/readyz 503) and retries, so a pod that
   * starts before its database recovers by itself. Resolves once the schema is current; rejects
   * only for errors a retry cannot fix (a failing migration, a PGlite directory in use), which
   * the host treats as fatal. Resolves at once (undefined) when start-up migrations are off.
   * `onWaiting` is called once, on the first attempt that finds the database unreachable.
   */
  function migrateOnStart({ onWaiting }: { onWaiting?: (err: unknown) => void } = {}): Promise<void> | undefined {
    if (!config.migrateOnStart) return undefined;
    const run = (async () => {
      for (let attempt = 1, wait = RETRY_FIRST_MS; ; attempt++, wait = Math.min(wait * 2, RETRY_MAX_MS)) {
        let d: Db | undefined;
        try {
          d = await db();
          const r = await migrate(d);
          state.migrated = true;
          log.info({ applied: r.applied, current: r.current }, r.applied.length ? 'migrations applied' : 'schema is current');
          return;
        } catch (err) {
          if (!isDatabaseUnavailable(err) || state.shuttingDown) throw err;
          const outage = d?.outage?.();
          if (attempt === 1) onWaiting?.(err);
          log.warn({ attempt, ...(outage ? { waitingFor: 'connection probe' } : { retryInMs: wait }), err }, 'start-up migrations: database not reachable; retrying');
          await (outage ?? new Promise((r) => setTimeout(r, wait).unref()));
        }
      }
    })();
    state.migrating = run.finally(() => (state.migrating = undefined));
    state.migrating.catch(() => undefined); // the caller handles the failure; this copy only marks the phase
    return run;
  }

  /**
   * Closes the database. `abandonOpen` (a process that exits next: host.ts's shutdown) does not
   * wait for an open still under way (PGlite reading an existing data directory takes a second or
   * more on a busy machine): the process exits without it, which leaves the directory as a kill
   * would (PostgreSQL recovers it on the next open) and its lock to be released at exit. An open
   * that finishes first is closed. Without it (the dev server, tests) the open is waited for.
   */
  async function close({ abandonOpen = false }: { abandonOpen?: boolean } = {}) {
    state.shuttingDown = true;
    stop.abort();
    if (!opening) return;
    if (opened || !abandonOpen) return void (await (await opening.catch(() => undefined))?.close());
    // A directory still being assembled stops at once (its worker is terminated) and deletes what it
    // wrote: waited for, so a stopped first start keeps nothing half-made.
    if (config.driver === 'pglite') await (await import('./db/pglite')).creationsSettled();
    void opening.then(
      (d) => d.close(),
      () => undefined,
    );
  }

  return { config, log, app, db, state, metrics, migrateOnStart, close };
}

export type Service = ReturnType<typeof createService>;
