import { isSessionTerminated, type Queryable, type QueryOptions, type Row } from './types';

/**
 * The same queries, each tried once more when the session it ran on was terminated under it
 * (57P01 admin_shutdown from pg_terminate_backend or a fast shutdown, 57P02, "Connection terminated
 * unexpectedly"; db/types.ts isSessionTerminated). The retry runs on a new connection: the pool
 * wrapper renews a pool whose sessions the server ended (db/pool.ts) before the error gets here.
 *
 * Only for reads. A write is never retried this way: the server may have committed it and ended
 * the session before its answer was sent (PostgreSQL checks for termination again after the
 * commit, while flushing the result), so a second run could write twice. A write with an
 * Idempotency-Key is safe for the client to repeat; one without can only be answered 503.
 */
export function retryingReads(db: Queryable): Queryable {
  return {
    async query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<R[]> {
      try {
        return await db.query<R>(text, params, options);
      } catch (err) {
        if (!isSessionTerminated(err)) throw err;
        return db.query<R>(text, params, options);
      }
    },
  };
}
