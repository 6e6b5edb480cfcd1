import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import type { Config } from './config';
import type { Db } from './db';
import { fail, isDatabaseUnavailable } from './errors';
import { idempotency, writeQueryable } from './idempotency';
import { internalTokenCheck } from './internal-token';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { migrationsApplied } from './migrations';
import { apiRoutes, ROUTES } from './routes/api';
import { taskStore, type TaskStore } from './tasks';

/** What the server knows about itself; /readyz reports it. */
export interface AppState {
  shuttingDown: boolean;
  /** Set once the schema is known to be current; a later database outage does not unset it. */
  migrated: boolean;
  /** Set while start-up migrations run (PGlite, MIGRATE_ON_START). */
  migrating?: Promise<unknown>;
}

export interface AppDeps {
  config: Config;
  db: () => Promise<Db>;
  log: Logger;
  metrics?: Metrics;
  state?: AppState;
  /** Seconds since process start; injectable for tests. */
  uptime?: () => number;
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

export function createApp({ config, db, log, metrics, state = { shuttingDown: false, migrated: false }, uptime = () => performance.now() / 1000 }: AppDeps) {
  // strict: false so the seed client's GET /api/ (trailing slash) reaches the same route as /api.
  const app = new Hono({ strict: false });
  let driverName: string = config.driver;
  let firstRequestSeen = false;
  let readyRecorded = false;
  let store: TaskStore | undefined;
  const getStore = async (c: Context) => {
    // A keyed write runs in its own transaction (idempotency.ts).
    const tx = writeQueryable(c);
    if (tx) return taskStore(tx);
    if (store) return store;
    const d = await db();
    driverName = d.driver;
    return (store = taskStore(d));
  };

  app.use(requestId());

  // One log line and one metric sample per request. The first request a process serves is its
  // cold start: marked in the log, the metrics and a Server-Timing header.
  app.use(async (c, next) => {
    const started = performance.now();
    const probe = PROBES.has(c.req.path);
    const cold = !probe && !firstRequestSeen;
    if (cold) firstRequestSeen = true;
    await next();
    const ms = performance.now() - started;
    const route = c.res.status === 404 && c.get('unmatched') ? 'unmatched' : routePath(c, -1) || 'unmatched';
    // Only on the cold request: touching response headers after the handler forces the Node
    // adapter off its fast path, which costs every other request about a tenth of its throughput.
    if (cold) c.header('Server-Timing', `app;dur=${ms.toFixed(1)}, cold-start;dur=${(uptime() * 1000).toFixed(0)};desc="since process start"`);
    metrics?.observe(c.req.method, route, c.res.status, ms / 1000);
    if (cold) {
      metrics?.startupPhase('first_request', uptime());
      metrics?.firstRequest(ms / 1000);
    }
    const line = { reqId: c.get('requestId'), method: c.req.method, route, path: c.req.path, status: c.res.status, ms: Number(ms.toFixed(2)), ...(cold ? { coldStart: true, sinceStartMs: Math.round(uptime() * 1000) } : {}) };
    if (probe && c.res.status < 400) log.debug(line, 'request');
    else log.info(line, 'request');
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    if (state.shuttingDown) return c.json({ status: 'shutting down' }, 503);
    if (!state.migrated) {
      if (state.migrating) return c.json({ status: 'starting', reason: 'migrations running' }, 503);
      try {
        state.migrated = await migrationsApplied(await db());
      } catch (err) {
        log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'readiness: cannot check the schema');
        return c.json({ status: 'starting', reason: 'database not reachable yet' }, 503);
      }
      if (!state.migrated) return c.json({ status: 'starting', reason: 'migrations not applied' }, 503);
    }
    if (!readyRecorded) {
      readyRecorded = true;
      metrics?.startupPhase('ready', uptime());
    }
    return c.json({ status: 'ready' });
  });

  app.get('/metrics', async (c) => {
    if (!metrics) return fail(c, 404, 'not_found', 'Metrics are not enabled');
    const { contentType, body } = await metrics.render();
    return c.text(body, 200, { 'Content-Type': contentType });
  });

  if (config.corsOrigins.length > 0) app.use('/api/*', cors({ origin: config.corsOrigins, maxAge: 600 }));

  if (config.internalTokenFile) {
    const check = internalTokenCheck(config.internalTokenFile);
    app.use('/api/*', async (c, next) => {
      if (!check(c.req.header('x-internal-token'))) {
        return fail(c, 401, 'unauthorized', 'This API only answers requests that come through the web front end');
      }
      await next();
    });
  }

  app.route('/api', apiRoutes({ config, store: getStore, driver: () => driverName, idempotent: idempotency(db, log) }));

  app.notFound((c) => {
    c.set('unmatched', true);
    const allowed = ROUTES.find(([re]) => re.test(c.req.path))?.[1];
    if (allowed && !allowed.includes(c.req.method) && !(c.req.method === 'HEAD' && allowed.includes('GET'))) {
      return fail(c, 405, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`, {
        Allow: allowed.join(', '),
      });
    }
    return fail(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`);
  });

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      if (err.status === 400) return fail(c, 400, 'malformed_json', 'The request body is not valid JSON');
      if (err.status === 413) return fail(c, 413, 'payload_too_large', 'The request body is too large');
      return fail(c, err.status, 'http_error', err.message || 'Request failed');
    }
    const reqId = c.get('requestId');
    const details = { reqId, code: (err as { code?: string }).code, message: err.message };
    if (isDatabaseUnavailable(err)) {
      log.warn({ err: details }, 'database unavailable');
      return fail(c, 503, 'database_unavailable', 'The database is not reachable right now; try again shortly', { 'Retry-After': '2' });
    }
    log.error({ err: { ...details, stack: err.stack } }, 'unhandled error');
    return fail(c, 500, 'internal_error', `Something went wrong on our side (request ${reqId})`);
  });

  return app;
}

declare module 'hono' {
  interface ContextVariableMap {
    unmatched: boolean;
  }
}
