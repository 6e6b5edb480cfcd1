import { getRequestListener } from '@hono/node-server';
import { answerBelowTheApp, refuseBeforeTheApp } from './client-errors';
import { createServer, type Server } from 'node:http';
import { constants as osConstants } from 'node:os';
import { databaseLabel, type Config } from './config';
import { answerHalfClosedClients } from './half-close';
import { createLogger, readByPerson, stdoutLog, type Logger } from './logger';
import { API_PATH } from './paths';
import { exitOnFatal, preflight } from './preflight';
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
  /** The result of a pre-flight the host already ran (preflight.ts); without it runHost runs one. */
  config?: Config;
  /** Serves what is not an API path (the page under `npm start`); without it, such paths reach the API's 404. */
  site?: (req: Request) => Response | Promise<Response>;
  /** Called once the port is bound (before the API's own "listening" log line when start-up migrations run). */
  onListening?: (port: number, config: Config) => void;
  /**
   * Called once the app can serve tasks: the port is bound and the schema is current (or, with
   * start-up migrations off, once the port is bound). Never called when the start fails.
   */
  onReady?: (port: number, config: Config) => void;
  /**
   * Called on the first SIGINT/SIGTERM, before the drain; `ready` is false while the start is still
   * under way (the database being created or migrated). A second signal exits at once.
   */
  onStopping?: (signal: string, ready: boolean) => void;
  /** Where log lines go instead of JSON on stdout (`npm start` on a terminal: readable lines). */
  logDestination?: { write(line: string): void };
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
 * Start-up: the pre-flight (preflight.ts: configuration, exit 78 naming the variable; a PGlite
 * directory in use, exit 75), JSON logger, listen at once, lazy database, start-up migrations that
 * retry while the database is down (fatal, only for errors a retry cannot fix). Every fatal
 * error (a port in use too) is one line on stderr through exitOnFatal: plain text on a terminal,
 * a JSON log line otherwise.
 *
 * Shutdown on SIGTERM/SIGINT (the order podinfo and Kubernetes' pod lifecycle describe): readiness
 * fails, the listener closes, idle keep-alive connections close at once, every response still
 * being written carries `Connection: close` (request-log.ts), requests in flight finish, then the pool
 * closes and the process exits 0. After SHUTDOWN_TIMEOUT_MS the remaining connections are cut.
 */
export function runHost(opts: HostOptions = {}): Host {
  // A PGlite directory another process holds: stop before listening, not after announcing.
  const env = opts.env ?? process.env;
  const { config } = opts.config ? { config: opts.config } : preflight(env, { defaults: opts.defaults });
  const log = opts.logDestination ? createLogger(config.logLevel, opts.logDestination) : createLogger(config.logLevel);
  let service: Service;
  try {
    service = createService(config, log);
  } catch (err) {
    exitOnFatal(err, log, env);
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

  // Node's own Host check answers a bare 400: refuseBeforeTheApp answers it as JSON instead, and
  // lets HTTP/1.0 without Host through, to the name nginx would give it.
  const listener = getRequestListener(fetch, { hostname: 'localhost' });
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    if (!refuseBeforeTheApp(req, res)) void listener(req, res);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000; // must exceed keepAliveTimeout (Node docs)
  answerBelowTheApp(server, { bodyLimitBytes: BODY_LIMIT_BYTES });
  answerHalfClosedClients(server);
  server.on('error', (err: NodeJS.ErrnoException & { port?: number }) => exitOnFatal(Object.assign(err, { port: err.port ?? config.port }), log, env));
  let listening: number | undefined;
  let migrated = !config.migrateOnStart;
  let waiting = false; // start-up migrations found the database unreachable and retry
  let ready = false;
  // The "listening" log line claims the process is up. With start-up migrations it waits for
  // their outcome: logged once they are done or once they wait for the database (the process stays
  // up, unready), never when they fail, so a start that stops prints only its fatal line.
  let announce: (() => void) | undefined;
  // Once a stop was asked for, nothing claims the process is up: neither line is printed.
  const announceOnce = () => {
    const a = announce;
    announce = undefined;
    if (!service.state.shuttingDown) a?.();
  };
  // A Ctrl+C that reached the process while the start was finishing (the signal is pending, its
  // handler not run yet) is read before announcing: libuv reads pending signals in the loop's poll
  // phase, which runs between two setImmediate turns. Then a stop asked for is always seen.
  let readying = false;
  const readyOnce = () => {
    if (ready || readying || listening === undefined || !migrated || service.state.shuttingDown) return;
    readying = true;
    const port = listening;
    setImmediate(() =>
      setImmediate(() => {
        if (service.state.shuttingDown) return;
        announceOnce();
        ready = true;
        opts.onReady?.(port, config);
      }),
    );
  };
  server.listen(config.port, () => {
    const port = (server.address() as { port: number }).port;
    service.metrics.startupPhase('listening', since());
    // Process metrics should not wait for traffic: load the library once start-up is quiet.
    setTimeout(() => void service.metrics.load(), 10_000).unref();
    const fields = { port, driver: config.driver, version: config.version, revision: config.revision, startupMs: Math.round(since() * 1000) };
    announce = () => log.info(fields, 'listening');
    if (waiting) announceOnce();
    opts.onListening?.(port, config);
    listening = port;
    readyOnce();
  });

  // Start-up migrations retry while the database is unreachable: a person at a terminal reads it
  // once, in plain words; a program reads the JSON warn line logged for every attempt (service.ts).
  const onWaiting = (err: unknown) => {
    waiting = true;
    announceOnce();
    if (service.state.shuttingDown || !readByPerson(process.stdout, env)) return;
    const reason = (err as { code?: string }).code ?? (err as Error).message;
    console.log(`Waiting for the database at ${databaseLabel(config)} (${reason}); retrying until it answers. Press Ctrl+C to stop.`);
  };
  service.migrateOnStart({ onWaiting })?.then(
    () => {
      migrated = true;
      readyOnce();
    },
    (err) => {
      if (service.state.shuttingDown) return;
      exitOnFatal(err, log, env);
    },
  );

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
      await service.close({ abandonOpen: true }).catch((err) => log.warn({ err }, 'closing the database failed'));
      log.info('stopped');
    })());

  // Exit whatever happens on the way (a stalled or closed log pipe, a pool that will not close):
  // 0 after a clean drain, 1 otherwise, and never later than the deadline plus 2 s. The log gets
  // what is left of the deadline to reach stdout; what it cannot write by then is dropped and
  // counted at exit (logger.ts), never waited for.
  // A second signal (Ctrl+C again) exits at once, with the shell's code for that signal (128 + n).
  let signals = 0;
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    if (++signals > 1) process.exit(128 + osConstants.signals[signal]);
    opts.onStopping?.(signal, ready);
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
