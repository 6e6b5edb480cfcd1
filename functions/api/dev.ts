import { createApp } from './app';
import { localLogDestination } from './local-log';
import { createLogger, stdoutLog } from './logger';
import { exitOnFatal, preflight } from './preflight';
import { createService } from './service';

/**
 * Entry for the Vite dev server (@hono/vite-dev-server, `npm run dev`). The same service and the
 * same app as host.ts; what Vite owns instead is the listening socket (so the drain on SIGTERM
 * and Connection: close are Vite's server's) and reloading: Vite re-imports this module after
 * every edit, so route changes are live on the next request. The service (and its database) is
 * kept on globalThis: re-opening PGlite on the same directory would corrupt it.
 */
const g = globalThis as { __tasksDevService?: ReturnType<typeof createService> };
if (!g.__tasksDevService) {
  // Checked before Vite listened too (web/vite.config.ts); repeated here as every host does.
  const { config } = preflight(process.env);
  const log = createLogger(config.logLevel, localLogDestination() ?? stdoutLog());
  g.__tasksDevService = createService(config, log);
  // As in host.ts: what a retry cannot fix (a failing migration, a PGlite directory in use) stops
  // the dev server, rather than leaving a page whose every API call fails.
  g.__tasksDevService.migrateOnStart()?.catch((err) => exitOnFatal(err, log));
}
const devService = g.__tasksDevService;

// Rebuild the app from the freshly imported modules on each reload, over the same database.
const { config, log, db, metrics, state } = devService;
const app = createApp({ config, db, log, metrics, state });

export default app;
