import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { Config } from './config';
import type { Db } from './db';
import { methodNotAllowed, onError, routeNotFound } from './errors';
import { idempotency } from './idempotency';
import { requireInternalToken } from './internal-token';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { probes } from './probes';
import { requestBudget } from './request-budget';
import { requestLog } from './request-log';
import type { AppState } from './state';
import { apiRoutes } from './routes/api';
import { taskStore, type TaskStore } from './tasks';


export interface AppDeps {
  config: Config;
  db: () => Promise<Db>;
  log: Logger;
  metrics?: Metrics;
  state?: AppState;
  /** Seconds since process start; injectable for tests. */
  uptime?: () => number;
}

/**
 * The API, composed once: every host (host.ts for the bundle, the image and `npm start`; dev.ts for
 * `npm run dev`; the tests) serves exactly this app. In order: request id, request log and metrics (one middleware),
 * the 405 answer, probes, CORS, the internal token, the /api routes, the 404 answer, the error answer.
 */
export function createApp({ config, db, log, metrics, state = { shuttingDown: false, migrated: false }, uptime = () => performance.now() / 1000 }: AppDeps) {
  // strict: false so the previous client's GET /api/ (trailing slash) reaches the same route as /api.
  const app = new Hono({ strict: false });
  let driverName: string = config.driver;
  let store: TaskStore | undefined;
  const getStore = async (c: Context) => {
    if (store) return store;
    const d = await db();
    driverName = d.driver;
    return (store = taskStore(d));
  };

  app.use(requestLog({ log, metrics, state, uptime }));
  app.use(methodNotAllowed(app));
  app.route('/', probes({ db, log, metrics, state, uptime }));
  app.use('/api/*', requestBudget(config.requestTimeoutMs));
  if (config.corsOrigins.length > 0) app.use('/api/*', cors({ origin: config.corsOrigins, maxAge: 600 }));
  if (config.internalTokenFile) app.use('/api/*', requireInternalToken(config.internalTokenFile, log));
  app.route('/api', apiRoutes({ config, store: getStore, driver: () => driverName, idempotent: idempotency(db, log) }));
  app.notFound(routeNotFound);
  app.onError(onError(log));
  return app;
}
