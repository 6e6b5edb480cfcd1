import { ConfigError, dbConnection, type Driver, type DbTarget } from '../config';
import type { Logger } from '../logger';
import { isDatabaseUnavailable } from '../errors';
import { MountedCredentials, type DbCredentials } from './credentials';
import { pgQuery, type NamedQuery } from './prepared';
import { AUTH_FAILED, sqlState, type Db, type PoolStats, type Queryable, type QueryOptions, type Row } from './types';

/** The parts of a node-postgres compatible Pool we use (pg.Pool and Neon's Pool both fit). */
export interface PgLikeClient {
  query(text: string | NamedQuery, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export interface PgLikePool {
  query(text: string | NamedQuery, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgLikeClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}
export type PoolFactory = (config: Record<string, unknown>) => PgLikePool;

/**
 * A Db over a pg-compatible pool. With a credentials directory it follows rotations:
 * a new username/password pair gets a new pool; queries already running finish on the old
 * one, which is then ended. An authentication failure re-reads the files once and retries.
 */
export function createPoolDb(driver: Driver, target: DbTarget, makePool: PoolFactory, log: Logger): Db {
  const mounted = target.credentialsDir ? new MountedCredentials(target.credentialsDir) : undefined;
  let creds: DbCredentials | undefined = mounted?.read();
  let pool = build(creds);
  let generation = 0;
  const breaker = connectionBreaker();

  function build(c: DbCredentials | undefined): PgLikePool {
    const common = {
      max: target.poolMax,
      connectionTimeoutMillis: target.connectTimeoutMs,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
      // Sent as a start-up parameter, so it holds for every statement on every connection; the
      // server cancels the statement (57014) and rolls it back. Below REQUEST_TIMEOUT_MS.
      statement_timeout: target.statementTimeoutMs,
    };
    const config: Record<string, unknown> = { ...common, ...dbConnection(target, c) };
    const p = makePool(config);
    // An idle client losing its connection must not crash the process.
    p.on('error', (err) => log.warn({ err: describe(err) }, 'idle database connection failed'));
    return p;
  }

  /** Swap to the credentials on disk if they differ from the ones in use. */
  function reload(reason: string): boolean {
    if (!mounted) return false;
    let next: DbCredentials;
    try {
      next = mounted.read();
    } catch (err) {
      log.warn({ err: describe(err) }, 'cannot read database credentials; keeping the current pool');
      return false;
    }
    if (creds && sameCredentials(next, creds)) return false;
    let replacement: PgLikePool;
    try {
      replacement = build(next);
    } catch (err) {
      // The same precedence as at start-up (config.ts dbConnection): files that now contradict
      // DATABASE_URL or a DB_* variable are not followed; the message names both sources.
      if (!(err instanceof ConfigError)) throw err;
      log.error({ err: describe(err) }, 'database credentials changed but contradict the configuration; keeping the current pool');
      return false;
    }
    const old = pool;
    creds = next;
    pool = replacement;
    generation++;
    log.info({ reason, user: next.username, generation }, 'database credentials changed; new pool in use');
    retire(old);
    return true;
  }

  /**
   * Ends a replaced pool once nothing is queued on it. end() lets checked-out clients finish
   * their queries, but it fails requests still waiting for a client, so wait for those first.
   */
  function retire(old: PgLikePool) {
    const tryEnd = () => {
      if (old.waitingCount > 0) return void setTimeout(tryEnd, 25);
      old.end().catch((err) => log.warn({ err: describe(err) }, 'closing the previous pool failed'));
    };
    tryEnd();
  }

  const stopWatching = mounted?.watch(() => reload('mounted secret changed'));
  const listening = new WeakSet<PgLikeClient>();

  /** Runs fn on the pool through the breaker; a full pool while the database answers is POOL_BUSY. */
  async function guarded<T>(p: PgLikePool, fn: (p: PgLikePool) => Promise<T>): Promise<T> {
    breaker.admit();
    try {
      const result = await fn(p);
      breaker.succeeded();
      return result;
    } catch (err) {
      if (isPoolWaitTimeout(err)) {
        breaker.inconclusive();
        // pg-pool says the same whether the pool is full of working clients or of connection
        // attempts hanging on a dead server; only the first is "busy".
        if (!breaker.isOpen()) throw poolBusy(err, target.poolMax);
      } else if (isDatabaseUnavailable(err) && !AUTH_FAILED.has(sqlState(err) ?? '')) breaker.failed();
      // The server answered: an SQL error is still an answer, and a refused login during a
      // rotation is retried with the new credentials at once (withAuthRetry), not backed off.
      else breaker.succeeded();
      throw err;
    }
  }

  async function withAuthRetry<T>(fn: (p: PgLikePool) => Promise<T>): Promise<T> {
    const used = pool;
    try {
      return await guarded(used, fn);
    } catch (err) {
      if (!mounted || !AUTH_FAILED.has(sqlState(err) ?? '')) throw err;
      // Rotated under us: another request may already have swapped the pool.
      if (pool === used) reload(`authentication failed (${sqlState(err)})`);
      return guarded(pool, fn);
    }
  }

  return {
    driver,
    query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions) {
      return withAuthRetry(async (p) => (await p.query(pgQuery(text, params, options), params)).rows as R[]);
    },
    async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const client = await withAuthRetry((p) => p.connect());
      // A checked-out client has no pool listener: without this, a connection dropped while it is
      // held (between statements, or while waiting on a lock) is an unhandled 'error' event that
      // ends the process. The failing statement rejects on its own; this only records it. It stays
      // for the client's whole life: after release(err) the pool ends the client, and an 'error'
      // that arrives then (57P01 during a restart, found by test/faults/db-restart) would crash too.
      if (!listening.has(client)) {
        listening.add(client);
        client.on('error', (err) => log.debug({ err: describe(err) }, 'database connection in a transaction failed'));
      }
      const q: Queryable = {
        query: async <R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions) =>
          (await client.query(pgQuery(text, params, options), params)).rows as R[],
      };
      try {
        await client.query('BEGIN');
        const result = await fn(q);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release(err instanceof Error ? err : true);
        throw err;
      }
    },
    stats(): PoolStats {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    },
    async close() {
      stopWatching?.();
      await pool.end();
    },
  };
}

/** Error details safe for logs: code and message, never connection parameters. */
export function describe(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
}

/** Every value of a credentials directory, so a change of host, port or dbname is followed too. */
function sameCredentials(a: DbCredentials, b: DbCredentials): boolean {
  return a.username === b.username && a.password === b.password && a.host === b.host && a.port === b.port && a.dbname === b.dbname;
}

/** pg-pool's error when no client became free within connectionTimeoutMillis. */
function isPoolWaitTimeout(err: unknown): boolean {
  return /timeout exceeded when trying to connect/.test(String((err as { message?: unknown } | null)?.message ?? ''));
}

function poolBusy(cause: unknown, poolMax: number): Error {
  return Object.assign(new Error(`all ${poolMax} database connections stayed busy for the connect timeout`, { cause }), { code: 'POOL_BUSY' });
}

/**
 * Backoff for connection attempts during an outage. After a connection-class failure the
 * breaker opens: calls fail at once with code DB_BACKOFF (a 503 database_unavailable) until
 * the backoff has passed, then one call is let through as a trial. The backoff doubles from
 * `minMs` to `maxMs` per failure and resets on the first success. Without it every request
 * during an outage opened its own connection attempt (thousands per second).
 */
export function connectionBreaker({ minMs = 100, maxMs = 2000, now = Date.now } = {}) {
  let failures = 0;
  let retryAt = 0;
  let trialRunning = false;
  return {
    /** Throws DB_BACKOFF while open; otherwise the caller may try (as the trial when half-open). */
    admit(): void {
      if (failures === 0) return;
      const wait = retryAt - now();
      if (wait > 0 || trialRunning) {
        throw Object.assign(new Error(`database unreachable; next connection attempt in ${Math.max(0, wait)} ms`), { code: 'DB_BACKOFF' });
      }
      trialRunning = true;
    },
    succeeded(): void {
      failures = 0;
      trialRunning = false;
    },
    failed(): void {
      failures++;
      trialRunning = false;
      retryAt = now() + Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 16));
    },
    /** Neither success nor failure (the pool wait timed out): let the next call try. */
    inconclusive(): void {
      trialRunning = false;
    },
    isOpen: () => failures > 0,
  };
}
