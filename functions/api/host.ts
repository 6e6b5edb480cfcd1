import { createAdaptorServer } from '@hono/node-server';
import { answerBelowTheApp } from './client-errors';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config';
import { assertUnlocked } from './db/directory-lock';
import { createLogger, stdoutLog, type Logger } from './logger';
import { API_PATH } from './paths';
import { BODY_LIMIT_BYTES } from './routes/api';
import { createService, type Service } from './service';

/**
 * Node closes an idle keep-alive connection after this long. It must outlast the idle timeout of
 * every proxy that keeps connections to the API open (nginx's upstream `keepalive_timeout`, 60 s
 * in web/nginx/nginx.conf.template), or a proxy can send a request on a connection Node is
 * closing at that moment and its client sees a 502.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface HostOptions {
  /** Environment to read (process.env). */
  env?: Record<string, string | undefined>;
  /** Configuration defaults a host imposes, e.g. `npm start` always migrates. Applied before validation. */
  defaults?: Record<string, string>;
  /** Serves what is not an API path (the page under `npm start`); without it, such paths reach the API's 404. */
  site?: (req: Request) => Response | Promise<Response>;
  /** Called once the port is bound (after the API's own "listening" log line). */
  onListening?: (port: number, config: Config) => void;
}

export interface Host {
  config: Config;
  log: Logger;
  service: Service;
  server: Server;
  /** Fails readiness, drains and closes; resolves when the process may exit. */
  shutdown(signal: string): Promise<void>;
}

/**
 * Runs the API as a process: the one start-up and shutdown path for the production server
 * (server.ts → dist/api/server.mjs, the image) and `npm start` (scripts/start.ts).
 *
 * Start-up: configuration (exit 78 naming the variable), JSON logger, listen at once, lazy
 * database, start-up migrations that retry while the database is down (fatal, exit 1, only for
 * errors a retry cannot fix). A port in use is one log line naming it, exit 1.
 *
 * Shutdown on SIGTERM/SIGINT (the order podinfo and Kubernetes' pod lifecycle describe): readiness
 * fails, the listener closes, idle keep-alive connections close at once, every response still
 * being written carries `Connection: close` (request-log.ts), requests in flight finish, then the pool
 * closes and the process exits 0. After SHUTDOWN_TIMEOUT_MS the remaining connections are cut.
 */
export function runHost(opts: HostOptions = {}): Host {
  let config: Config;
  try {
    config = loadConfig(withDefaults(opts.env ?? process.env, opts.defaults));
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(78); // EX_CONFIG
  }
  const log = createLogger(config.logLevel);
  let service: Service;
  try {
    // A PGlite directory another process holds: stop before listening, not after announcing.
    if (config.driver === 'pglite' && !config.pgliteDir.startsWith('memory://')) assertUnlocked(resolve(config.pgliteDir));
    service = createService(config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Invalid configuration:\n  ${err.message}`);
      process.exit(78);
    }
    log.fatal({ code: (err as { code?: string }).code }, (err as Error).message);
    process.exit(1);
  }
  const since = () => performance.now() / 1000;

  const api = service.app.fetch;
  const site = opts.site;
  const fetch = site
    ? (req: Request, env?: unknown) => {
        const url = req.url;
        const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).replace(/[?#].*$/, '');
        // env carries Node's request (`incoming`): the request budget reads whether the body arrived.
        if (API_PATH.test(path)) return api(req, env);
        const res = site(req);
        return service.state.shuttingDown ? Promise.resolve(res).then(closeAfter) : res;
      }
    : api;

  const server = createAdaptorServer({ fetch }) as Server;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000; // must exceed keepAliveTimeout (Node docs)
  answerBelowTheApp(server, { bodyLimitBytes: BODY_LIMIT_BYTES });
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') log.fatal({ port: config.port }, `port ${config.port} is already in use: stop the other process or set PORT`);
    else if (err.code === 'EACCES') log.fatal({ port: config.port }, `not allowed to listen on port ${config.port}: set PORT to 1024 or above`);
    else log.fatal({ err: { code: err.code, message: err.message } }, 'cannot listen');
    process.exit(1);
  });
  server.listen(config.port, () => {
    const port = (server.address() as { port: number }).port;
    service.metrics.startupPhase('listening', since());
    // Process metrics should not wait for traffic: load the library once start-up is quiet.
    setTimeout(() => void service.metrics.load(), 10_000).unref();
    log.info({ port, driver: config.driver, version: config.version, revision: config.revision, startupMs: Math.round(since() * 1000) }, 'listening');
    opts.onListening?.(port, config);
  });

  service.migrateOnStart()?.catch((err) => {
    if (service.state.shuttingDown) return;
    log.fatal({ err: { code: err?.code, message: err?.message } }, 'start-up migrations failed');
    process.exit(1);
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) =>
    (stopping ??= (async () => {
      service.state.shuttingDown = true;
      log.info({ signal }, 'shutting down');
      const deadline = setTimeout(() => {
        log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline reached; closing open connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      deadline.unref();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      clearTimeout(deadline);
      await service.close().catch((err) => log.warn({ err: { message: err?.message } }, 'closing the database failed'));
      log.info('stopped');
    })());

  // Exit whatever happens on the way (a stalled or closed log pipe, a pool that will not close):
  // 0 after a clean drain, 1 otherwise, and never later than the deadline plus 2 s. The log gets
  // what is left of the deadline to reach stdout; what it cannot write by then is dropped and
  // counted at exit (logger.ts), never waited for.
  const onSignal = (signal: string) => {
    const deadline = performance.now() + config.shutdownTimeoutMs;
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 2000).unref();
    const exit = (code: number) => void stdoutLog().drain(Math.max(0, deadline - performance.now())).then(() => process.exit(code));
    shutdown(signal).then(
      () => exit(0),
      () => exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  return { config, log, service, server, shutdown };
}

/** A response that ends its connection: set while shutting down so keep-alive clients reconnect elsewhere. */
export function closeAfter(res: Response): Response {
  try {
    res.headers.set('Connection', 'close');
    return res;
  } catch {
    // Immutable headers (a fetched Response): copy them.
    const headers = new Headers(res.headers);
    headers.set('Connection', 'close');
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  }
}

/** A host's defaults fill only variables that are unset or empty; what the user sets wins. */
function withDefaults(env: Record<string, string | undefined>, defaults: Record<string, string> = {}) {
  const merged = { ...env };
  for (const [k, v] of Object.entries(defaults)) if (!merged[k]?.trim()) merged[k] = v;
  return merged;
}
