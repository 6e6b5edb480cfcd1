import { createApp } from '../../functions/api/app';
import { loadConfig } from '../../functions/api/config';
import type { Db } from '../../functions/api/db';
import { createLogger } from '../../functions/api/logger';
import { createMetrics } from '../../functions/api/metrics';
import { migrate } from '../../functions/api/migrations/runner';
import type { StartHost } from './api-contract';

/**
 * The API in-process (`app.request`), on a database `open` makes fresh for each start: the
 * fastest host, and the only one that runs the contract on every driver.
 */
export function inProcessHost(driver: 'pg' | 'neon' | 'pglite', open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>): StartHost {
  return async (env) => {
    const { db, cleanup } = await open();
    await migrate(db);
    const config = loadConfig({ DB_DRIVER: driver, DB_HOST: 'unused', ...env });
    const app = createApp({ config, db: async () => db, log: createLogger('silent'), metrics: createMetrics(() => db.stats()), state: { shuttingDown: false, migrated: false } });
    return {
      request: async (method, path, body, headers = {}) => {
        // As Node's server hands the app a request: header lines combined (RFC 9110 §5.3), and as
        // received in `incoming.rawHeaders` (name, value, name, value, …).
        const combined = new Headers();
        const rawHeaders: string[] = [];
        for (const [name, value] of Object.entries(headers)) {
          for (const line of [value].flat()) {
            combined.append(name, line);
            rawHeaders.push(name, line);
          }
        }
        const init = { method, body: body as BodyInit | undefined, headers: combined, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit;
        return app.request(path, init, { incoming: { rawHeaders } });
      },
      stop: cleanup,
    };
  };
}
