import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** One error shape everywhere: {"success": false, "message": "...", "code": "..."}. */
export function fail<S extends ContentfulStatusCode>(c: Context, status: S, code: string, message: string, headers?: Record<string, string>) {
  return c.json({ success: false as const, message, code }, status, headers);
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'DB_BACKOFF']);

/**
 * Errors that mean "the database cannot serve right now" (down, restarting, out of
 * connections, credentials being rotated) rather than a bug: they get a 503, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code)) return true;
    if (/^(08|28|53|57P)/.test(code)) return true;
  }
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Cannot use a pool after calling end/i.test(message);
}

/**
 * How a database call failed, when it is the database's state and not a bug:
 * - `timeout`: the statement ran past DB_STATEMENT_TIMEOUT_MS and PostgreSQL cancelled it
 *   (SQLSTATE 57014); the statement, or its transaction, was rolled back.
 * - `busy`: no pool client became free within DB_CONNECT_TIMEOUT_MS while the database was
 *   answering (code POOL_BUSY, set by the pool wrapper in db/pool.ts).
 * - `unavailable`: the database cannot be reached, is restarting or refuses the login.
 */
export type DatabaseFailure = 'timeout' | 'busy' | 'unavailable';

export function databaseFailure(err: unknown): DatabaseFailure | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'POOL_BUSY') return 'busy';
  if (code === '57014') return 'timeout';
  return isDatabaseUnavailable(err) ? 'unavailable' : undefined;
}

/** The 503 each DatabaseFailure gets: stable code, message for a person, Retry-After in seconds. */
export const DATABASE_FAILURE_ANSWERS: Record<DatabaseFailure, { code: string; message: string; retryAfter: number }> = {
  unavailable: { code: 'database_unavailable', message: 'The database is not reachable right now; try again shortly', retryAfter: 2 },
  busy: { code: 'database_busy', message: 'The server is busy with other requests right now; try again in a moment', retryAfter: 1 },
  timeout: { code: 'database_timeout', message: 'The database took too long to answer and nothing was changed; try again shortly', retryAfter: 2 },
};
