import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Config } from './config';
import { identityBodies } from './content-encoding';
import type { Db } from './db';
import { methodNotAllowed, onError, routeNotFound } from './errors';
import { idempotency } from './idempotency';
import { internalTokenGuards } from './internal-token';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { probes } from './probes';
import { requestBudget } from './request-budget';
import { requestLog } from './request-log';
import type { AppState } from './state';
import { apiRoutes } from './routes/api';
import { withTaskRepository } from './tasks';
import { oneLineHeaders } from './header-lines';


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
 * the 405 answer, the internal token on /metrics, probes, headers sent once, the request budget, CORS, the internal token on /api,
 * bodies without a content coding, the /api routes, the 404 answer, the error answer.
 */
export function createApp({ config, db, log, metrics, state = { shuttingDown: false, migrated: false }, uptime = () => performance.now() / 1000 }: AppDeps) {
  // strict: false so the previous client's GET /api/ (trailing slash) reaches the same route as /api.
  const app = new Hono({ strict: false });
  const token = config.internalTokenFile ? internalTokenGuards(config.internalTokenFile, log) : undefined;
  app.use(requestLog({ log, metrics, state, uptime }));
  app.use(methodNotAllowed(app));
  if (token) app.use('/metrics', token.metrics); // before the probes' route serves it
  app.route('/', probes({ db, log, metrics, state, uptime }));
  // First on /api, as nginx refuses these before anything else.
  app.use('/api/*', oneLineHeaders);
  app.use('/api/*', requestBudget(config.requestTimeoutMs));
  // A page on another origin reads the headers the API defines for it (Fetch: only CORS-safelisted ones otherwise).
  if (config.corsOrigins.length > 0) app.use('/api/*', cors({ origin: config.corsOrigins, maxAge: 600, exposeHeaders: ['ETag', 'Idempotent-Replayed'] }));
  if (token) app.use('/api/*', token.api);
  app.use('/api/*', identityBodies);
  app.route('/api', apiRoutes({ config, idempotent: idempotency(db, log), tasks: withTaskRepository(db) }));
  app.notFound(routeNotFound);
  app.onError(onError(log));
  return app;
}
