import { Hono, type Context } from 'hono';
import type { AppState } from './state';
import type { Db } from './db';
import { fail } from './errors';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { migrationsApplied } from './migrations/runner';

/**
 * Liveness (`/healthz`, `/health`, `/live`), readiness (`/readyz`, `/ready`) and `/metrics`.
 * Readiness fails until the schema is known to be current and again once shutdown starts; a
 * database outage after that does not fail it (README: "Readiness and the database").
 */
export function probes({ db, log, metrics, state, uptime }: { db: () => Promise<Db>; log: Logger; metrics?: Metrics; state: AppState; uptime: () => number }) {
  const app = new Hono();
  let readyRecorded = false;

  const live = (c: Context) => c.json({ status: 'ok' });
  const ready = async (c: Context) => {
    if (state.shuttingDown) return c.json({ status: 'shutting down' }, 503);
    if (!state.migrated) {
      if (state.migrating) return c.json({ status: 'starting', reason: 'migrations running' }, 503);
      try {
        state.migrated = await migrationsApplied(await db());
      } catch (err) {
        log.warn({ err }, 'readiness: cannot check the schema');
        return c.json({ status: 'starting', reason: 'database not reachable yet' }, 503);
      }
      if (!state.migrated) return c.json({ status: 'starting', reason: 'migrations not applied' }, 503);
    }
    if (!readyRecorded) {
      readyRecorded = true;
      metrics?.startupPhase('ready', uptime());
    }
    return c.json({ status: 'ready' });
  };

  app.get('/healthz', live);
  app.get('/health', live);
  app.get('/live', live);
  app.get('/readyz', ready);
  app.get('/ready', ready);
  app.get('/metrics', async (c) => {
    if (!metrics) return fail(c, 404, 'not_found', 'Metrics are not enabled');
    const { contentType, body } = await metrics.render();
    return c.text(body, 200, { 'Content-Type': contentType });
  });
  return app;
}
