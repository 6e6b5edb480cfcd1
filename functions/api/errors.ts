import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** One error shape everywhere: {"success": false, "message": "...", "code": "..."}. */
export function fail<S extends ContentfulStatusCode>(c: Context, status: S, code: string, message: string, headers?: Record<string, string>) {
  return c.json({ success: false as const, message, code }, status, headers);
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH']);

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
  // "not queryable": node-postgres, for a checked-out client whose connection failed (a transaction's).
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Cannot use a pool after calling end|Client has encountered a connection error and is not queryable/i.test(message);
}
