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
  close(): Promise<void>;
}

/** SQLSTATEs that mean "these credentials are not (or no longer) valid". */
export const AUTH_FAILED = new Set(['28P01', '28000']);

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
