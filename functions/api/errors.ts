import type { Context, ErrorHandler, Hono, MiddlewareHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed as honoMethodNotAllowed } from 'hono/method-not-allowed';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from './logger';
import type { ErrorCode } from './schemas';

/** One error shape everywhere: {"success": false, "message": "...", "code": "..."}. */
export function fail<S extends ContentfulStatusCode>(c: Context, status: S, code: ErrorCode, message: string, headers?: Record<string, string>) {
  return c.json({ success: false as const, message, code }, status, headers);
}

/**
 * Reading the request body failed: the client closed or reset its connection mid-body (Node's
 * "aborted", ECONNRESET). Thrown where the body is read (routes/api.ts), so the error handler
 * answers it as the client's and never asks whether it is the database's: the same ECONNRESET
 * from the database driver is a 503.
 */
export class ClientClosedRequest extends Error {
  readonly code = 'CLIENT_CLOSED_REQUEST';
  constructor(cause: unknown) {
    super('the client closed the connection before its request body arrived', { cause });
  }
}

/** Reads a request body; any failure of the read is the client's connection, not the server's. */
export async function readRequestBody<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new ClientClosedRequest(err);
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'DB_BACKOFF']);

/**
 * Codes that mean "unavailable" only when a connect() raised them: on a unix socket
 * (`host=/var/run/postgresql`) a stopped server leaves no socket file (ENOENT), and a full
 * listen backlog answers EAGAIN. Any other ENOENT (a file read) is not the database's state.
 */
const SOCKET_CONNECT_CODES = new Set(['ENOENT', 'EAGAIN']);

/**
 * Errors that mean "the database cannot serve right now" (down, restarting, out of
 * connections, credentials being rotated) rather than a bug: they get a 503, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code)) return true;
    if (SOCKET_CONNECT_CODES.has(code) && (err as { syscall?: unknown }).syscall === 'connect') return true;
    if (/^(08|28|53|57P)/.test(code)) return true;
  }
  // "not queryable": node-postgres, for a checked-out client whose connection failed (a transaction's).
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Cannot use a pool after calling end|Client has encountered a connection error and is not queryable/i.test(message);
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
export const DATABASE_FAILURE_ANSWERS: Record<DatabaseFailure, { code: ErrorCode; message: string; retryAfter: number }> = {
  unavailable: { code: 'database_unavailable', message: 'The database is not reachable right now; try again shortly', retryAfter: 2 },
  busy: { code: 'database_busy', message: 'The server is busy with other requests right now; try again in a moment', retryAfter: 1 },
  timeout: { code: 'database_timeout', message: 'The database took too long to answer and nothing was changed; try again shortly', retryAfter: 2 },
};

/**
 * SQLSTATEs that mean "the schema is not there, or not up to date": the code asks for a table
 * (42P01 undefined_table), a function such as task_create (42883 undefined_function), a column
 * (42703 undefined_column) or a type, index or other object (42704 undefined_object) that the
 * migrations create. On a reachable database they come from migrations that never ran, or ran
 * only in part (an image newer than its database), never from a request's input: the API's SQL is
 * fixed and parameterised, so no client can name a missing object.
 */
export const SCHEMA_NOT_READY_CODES: ReadonlySet<string> = new Set(['42P01', '42883', '42703', '42704']);

/** The database is reachable but its schema is missing or behind the code (any driver: pg, neon, PGlite). */
export function isSchemaMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SCHEMA_NOT_READY_CODES.has(code);
}

/** The 503 a request gets when isSchemaMissing: the same on every route and every driver. */
export const SCHEMA_NOT_READY_ANSWER = {
  code: 'schema_not_ready' as const,
  message: 'The database schema is missing or not up to date: run `npm run migrate` (or start with MIGRATE_ON_START=true)',
  retryAfter: 10,
};

/**
 * The 404 answer for a request no route matched (the `unmatched` mark labels its log line and
 * metric). A known path with another method never gets here as a 404: `methodNotAllowed` below
 * turns it into the 405.
 */
export const routeNotFound: NotFoundHandler = (c) => {
  c.set('unmatched', true);
  return fail(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`);
};

/**
 * The 405 answer (RFC 9110 section 15.5.6, with `Allow`, section 10.2.1) through Hono's own
 * method-not-allowed middleware: it derives each path's methods from `app.routes` on first use,
 * so a new route is never missing from the answer, and lists HEAD wherever GET is, as Hono
 * answers HEAD for every GET route. Register it before the routes; it rewrites a 404 only when
 * the path is known and the method is not.
 */
export function methodNotAllowed(app: Hono<any, any, any>): MiddlewareHandler {
  return honoMethodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      fail(c, 405, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(', ')}`, { Allow: methods.join(', ') }),
  });
}

/**
 * Errors thrown by handlers: the body parser's (400 malformed_json, 413), the database being down
 * or slow (503 database_unavailable, database_busy, database_timeout) or without a schema (503 schema_not_ready), and anything else, a bug:
 * 500 internal_error with the request id, the stack only in the log.
 */
export function onError(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof HTTPException) {
      if (err.status === 400) return fail(c, 400, 'malformed_json', 'The request body is not valid JSON');
      if (err.status === 413) return fail(c, 413, 'payload_too_large', 'The request body is too large');
    }
    const reqId = c.get('requestId');
    if (err instanceof ClientClosedRequest) {
      const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
      log.info({ reqId, cause: { code: cause?.code, message: cause?.message } }, 'client closed the request before its body arrived');
      // 499 as nginx logs it; the status is not in Hono's list of contentful ones.
      return fail(c, 499 as ContentfulStatusCode, 'client_closed_request', 'The connection closed before the request body arrived');
    }
    const details = { reqId, err };
    const failure = databaseFailure(err);
    if (failure) {
      const answer = DATABASE_FAILURE_ANSWERS[failure];
      log.warn(details, `database ${failure}`);
      return fail(c, 503, answer.code, answer.message, { 'Retry-After': String(answer.retryAfter) });
    }
    if ((err as { code?: unknown }).code === '2200H') {
      // sequence_generator_limit_exceeded: the task ids reached 2^53 - 1 (migration 006). Retrying
      // does not help, so a 507 (RFC 4918 §11.5: no room to store what the request needs) without
      // Retry-After, which neither the page nor nginx retries.
      log.error(details, 'the task id sequence is exhausted');
      return fail(c, 507, 'ids_exhausted', 'No new task ids are left on this server; nothing was changed');
    }
    if ((err as { code?: unknown; constraint?: unknown }).code === '23514' && (err as { constraint?: unknown }).constraint === 'main_table_position_valid') {
      // check_violation of migration 014: the database refused a position key. The API checks the
      // keys it is sent first, so this is a create after a task at the very end of the key space.
      log.warn(details, 'the database refused a position key');
      return fail(c, 400, 'validation_error', 'No valid position is left after the last task: move it up, then try again; nothing was changed');
    }
    if (isSchemaMissing(err)) {
      log.error(details, 'the database schema is missing or not up to date');
      return fail(c, 503, SCHEMA_NOT_READY_ANSWER.code, SCHEMA_NOT_READY_ANSWER.message, { 'Retry-After': String(SCHEMA_NOT_READY_ANSWER.retryAfter) });
    }
    log.error(details, 'unhandled error');
    return fail(c, 500, 'internal_error', `Something went wrong on our side (request ${reqId})`);
  };
}
