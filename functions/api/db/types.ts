import type { Driver } from '../config';

export type Row = Record<string, unknown>;

/** How a statement is sent. */
export interface QueryOptions {
  /**
   * Keep it parsed and planned per connection (a named prepared statement; db/prepared.ts) rather
   * than parsing and planning it on every call. Only for a text that never varies with the
   * request. PGlite ignores it.
   */
  prepare?: boolean;
}

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<R[]>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** The one small interface every driver implements. */
export interface Db extends Queryable {
  readonly driver: Driver;
  /** Runs fn inside BEGIN/COMMIT on one connection; rolls back when it throws. */
  transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  stats(): PoolStats;
  /**
   * While an outage is under way (the connection breaker is open), a promise that resolves when
   * the connection probe first gets an answer, or when the Db is closed; otherwise undefined
   * (db/pool.ts connectionBreaker). Drivers without a network connection (PGlite) leave it out.
   */
  outage?(): Promise<void> | undefined;
  close(): Promise<void>;
}

/** SQLSTATEs that mean "these credentials are not (or no longer) valid": one list, in postgres-roles.ts. */
export { AUTH_FAILED } from './postgres-roles';

/**
 * SQLSTATEs the server sends on a session it is ending (PostgreSQL, Appendix A, class 57):
 * 57P01 admin_shutdown (pg_terminate_backend, a fast shutdown), 57P02 crash_shutdown,
 * 57P05 idle_session_timeout. The server answered: this is not evidence that it is down.
 */
export const SESSION_TERMINATED = new Set(['57P01', '57P02', '57P05']);

/**
 * The session a statement ran on ended under it: the server's termination message, or the socket
 * closing without one (node-postgres: "Connection terminated unexpectedly"; a client whose
 * connection already failed is "not queryable"). A new connection may well succeed.
 */
export function isSessionTerminated(err: unknown): boolean {
  if (SESSION_TERMINATED.has(sqlState(err) ?? '')) return true;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  return /Connection terminated unexpectedly|Client has encountered a connection error and is not queryable/.test(message);
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
