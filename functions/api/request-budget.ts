import type { Context, MiddlewareHandler } from 'hono';
import type { IncomingMessage } from 'node:http';
import { fail } from './errors';

/**
 * The API's own time budget per request (REQUEST_TIMEOUT_MS): when the handler has not answered
 * by then, the client gets `503 request_budget_exceeded` with Retry-After instead of waiting for nginx
 * (API_TIMEOUT) or Knative (timeoutSeconds) to cut the connection with a 504.
 *
 * It is a backstop. Database work ends earlier on its own: a pool wait at DB_CONNECT_TIMEOUT_MS
 * (`database_busy`) and a statement at DB_STATEMENT_TIMEOUT_MS (`database_timeout`, rolled back);
 * config.ts refuses a budget that is not above both together. So when this fires, the handler is
 * stuck outside the database and has written nothing through it.
 *
 * A request whose body has not all arrived by then is the client's delay, not the API's: it gets
 * `408 request_timeout` (RFC 9110 §15.5.9) and the connection is closed, since the rest of the
 * body will not be read. Whether the body arrived is Node's `IncomingMessage.complete`, which
 * @hono/node-server and @hono/vite-dev-server pass as `c.env.incoming`.
 */
export function requestBudget(ms: number): MiddlewareHandler {
  return async (c, next) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), ms)));
    try {
      const outcome = await Promise.race([next(), expired]);
      if (outcome === 'expired' && bodyStillArriving(c)) {
        c.res = fail(c, 408, 'request_timeout', `The request body was not received within ${ms} ms`, { Connection: 'close' });
      } else if (outcome === 'expired') {
        c.res = fail(c, 503, 'request_budget_exceeded', `The request took longer than ${ms} ms; try again shortly`, { 'Retry-After': '2' });
      }
    } finally {
      clearTimeout(timer);
    }
  };
}

/** True when the request came through Node's HTTP server and its body has not all been received. */
function bodyStillArriving(c: Context): boolean {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.complete === false;
}
