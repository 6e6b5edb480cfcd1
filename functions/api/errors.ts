import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every error code the API answers with, and its status. The README's error table lists exactly
 * these plus nginx's own (test/error-codes.test.ts derives both lists and compares them), and
 * `fail` accepts no other code, so a new code cannot ship undocumented.
 */
export const ERROR_CODES = {
  validation_error: 400,
  malformed_json: 400,
  unauthorized: 401,
  feature_disabled: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal_error: 500,
  database_unavailable: 503,
  schema_not_ready: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One error shape everywhere: {"success": false, "message": "...", "code": "..."}. */
export function fail<S extends ContentfulStatusCode>(c: Context, status: S, code: ErrorCode, message: string, headers?: Record<string, string>) {
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
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Cannot use a pool after calling end/i.test(message);
}

/**
 * The database is reachable but has no schema: the task table (SQLSTATE 42P01 undefined_table)
 * or the migrations table is missing because migrations never ran against it.
 */
export function isSchemaMissing(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '42P01';
}
