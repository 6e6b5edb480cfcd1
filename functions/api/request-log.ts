import type { Context, MiddlewareHandler } from 'hono';
import type { ServerResponse } from 'node:http';
import { routePath } from 'hono/route';
import type { AppState } from './state';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { PROBE_PATHS } from './paths';

const PROBES = new Set<string>(PROBE_PATHS);

/** The request id a client may send (hono's request-id rule): at most 255 of `[A-Za-z0-9_=-]`. */
const CLIENT_ID = /^[\w\-=]{1,255}$/;

/**
 * The request id: the client's `X-Request-Id` when it is a plausible id, else a new UUID; in the
 * context as `requestId` and echoed in the response's `X-Request-Id`. Under the Node adapter the
 * header goes straight onto the Node response (`c.env.outgoing`): setting it on the context would
 * build a fetch `Headers` object for every response, about 8 µs of CPU per request.
 */
function setRequestId(c: Context) {
  const sent = c.req.header('x-request-id');
  const id = sent !== undefined && CLIENT_ID.test(sent) ? sent : crypto.randomUUID();
  c.set('requestId', id);
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing && typeof outgoing.setHeader === 'function') outgoing.setHeader('X-Request-Id', id);
  else c.header('X-Request-Id', id);
}

/**
 * The request id (above), then one JSON log line and one metric sample per request, labelled with
 * the matched route (`unmatched` for a 404 without one). One middleware for both: each async
 * middleware is promise turns on every request. The first non-probe request a process serves is
 * its cold start: marked in the log (`coldStart: true`), the start-up metrics and a
 * `Server-Timing` header. While shutting down, every response carries `Connection: close`.
 */
export function requestLog({ log, metrics, state, uptime }: { log: Logger; metrics?: Metrics; state: AppState; uptime: () => number }): MiddlewareHandler {
  let firstRequestSeen = false;
  return async (c, next) => {
    const started = performance.now();
    setRequestId(c);
    const probe = PROBES.has(c.req.path);
    const cold = !probe && !firstRequestSeen;
    if (cold) firstRequestSeen = true;
    await next();
    const ms = performance.now() - started;
    const route = c.res.status === 404 && c.get('unmatched') ? 'unmatched' : routePath(c, -1) || 'unmatched';
    // Headers are touched only when needed: touching response headers after the handler forces
    // the Node adapter off its fast path, which costs every other request about a tenth of its
    // throughput. Shutting down: end keep-alive connections after this response, so clients
    // reconnect to another pod instead of sending their next request to one that is closing.
    if (state.shuttingDown) c.header('Connection', 'close');
    if (cold) c.header('Server-Timing', `app;dur=${ms.toFixed(1)}, cold-start;dur=${(uptime() * 1000).toFixed(0)};desc="since process start"`);
    metrics?.observe(c.req.method, route, c.res.status, ms / 1000);
    if (cold) {
      metrics?.startupPhase('first_request', uptime());
      metrics?.firstRequest(ms / 1000);
    }
    const line = { reqId: c.get('requestId'), method: c.req.method, route, path: c.req.path, status: c.res.status, ms: Number(ms.toFixed(2)), ...(cold ? { coldStart: true, sinceStartMs: Math.round(uptime() * 1000) } : {}) };
    if (probe && c.res.status < 400) log.debug(line, 'request');
    else log.info(line, 'request');
  };
}

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
    unmatched: boolean;
  }
}
