import type { Driver } from '../config';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<R[]>;
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

/** SQLSTATEs that mean "these credentials are not (or no longer) valid": one list, in postgres-roles.ts. */
export { AUTH_FAILED } from './postgres-roles';

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
