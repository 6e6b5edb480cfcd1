import type { MiddlewareHandler } from 'hono';
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
 */
export function requestBudget(ms: number): MiddlewareHandler {
  return async (c, next) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), ms)));
    try {
      const outcome = await Promise.race([next(), expired]);
      if (outcome === 'expired') {
        c.res = fail(c, 503, 'request_budget_exceeded', `The request took longer than ${ms} ms; try again shortly`, { 'Retry-After': '2' });
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
