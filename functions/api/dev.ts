import { createApp } from './app';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { createService } from './service';

/**
 * Entry for the Vite dev server (@hono/vite-dev-server). Vite re-imports this module after
 * every edit, so route changes are live on the next request. The service (and its
 * database) is kept on globalThis: re-opening PGlite on the same directory would corrupt it.
 */
const g = globalThis as { __tasksDevService?: ReturnType<typeof createService> };
if (!g.__tasksDevService) {
  const config = loadConfig();
  g.__tasksDevService = createService(config, createLogger(config.logLevel));
  g.__tasksDevService.migrateOnStart()?.catch((err) => console.error('migrations failed:', err?.message ?? err));
}
const devService = g.__tasksDevService;

// Rebuild the app from the freshly imported modules on each reload, over the same database.
const { config, log, db, metrics, state } = devService;
const app = createApp({ config, db, log, metrics, state });

export default app;
