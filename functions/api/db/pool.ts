import type { Driver, DbTarget } from '../config';
import type { Logger } from '../logger';
import { MountedCredentials, type DbCredentials } from './credentials';
import { AUTH_FAILED, sqlState, type Db, type PoolStats, type Queryable, type Row } from './types';

/** The parts of a node-postgres compatible Pool we use (pg.Pool and Neon's Pool both fit). */
export interface PgLikeClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export interface PgLikePool {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
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

  function build(c: DbCredentials | undefined): PgLikePool {
    const common = {
      max: target.poolMax,
      connectionTimeoutMillis: target.connectTimeoutMs,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    };
    const config: Record<string, unknown> =
      c === undefined && target.connectionString
        ? { ...common, connectionString: target.connectionString }
        : {
            ...common,
            ...fromUrl(target.connectionString),
            ...(target.host ? { host: target.host } : {}),
            ...(target.database ? { database: target.database } : {}),
            ...(target.user ? { user: target.user } : {}),
            ...(target.password !== undefined ? { password: target.password } : {}),
            port: target.port,
            // Mounted files win: they are what rotation updates.
            ...(c?.host && !target.host ? { host: c.host } : {}),
            ...(c?.port && !target.host ? { port: c.port } : {}),
            ...(c?.dbname && !target.database ? { database: c.dbname } : {}),
            ...(c ? { user: c.username, password: c.password } : {}),
          };
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
    if (creds && next.username === creds.username && next.password === creds.password) return false;
    const old = pool;
    creds = next;
    pool = build(next);
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

  async function withAuthRetry<T>(fn: (p: PgLikePool) => Promise<T>): Promise<T> {
    const used = pool;
    try {
      return await fn(used);
    } catch (err) {
      if (!mounted || !AUTH_FAILED.has(sqlState(err) ?? '')) throw err;
      // Rotated under us: another request may already have swapped the pool.
      if (pool === used) reload(`authentication failed (${sqlState(err)})`);
      return fn(pool);
    }
  }

  return {
    driver,
    query<R extends Row = Row>(text: string, params?: unknown[]) {
      return withAuthRetry(async (p) => (await p.query(text, params)).rows as R[]);
    },
    async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const client = await withAuthRetry((p) => p.connect());
      // A checked-out client is not covered by the pool's idle listener: a connection lost during or
      // just after a transaction would be an unhandled 'error' event and end the process. The query
      // in flight fails anyway, so the listener only logs; it stays for the client's whole life.
      if (!listening.has(client)) {
        listening.add(client);
        client.on('error', (err) => log.warn({ err: describe(err) }, 'database connection lost while checked out'));
      }
      const q: Queryable = {
        query: async <R extends Row = Row>(text: string, params?: unknown[]) =>
          (await client.query(text, params)).rows as R[],
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

function fromUrl(connectionString: string | undefined): Record<string, unknown> {
  if (!connectionString) return {};
  const u = new URL(connectionString);
  const out: Record<string, unknown> = { host: u.hostname };
  if (u.port) out.port = Number(u.port);
  if (u.pathname.length > 1) out.database = decodeURIComponent(u.pathname.slice(1));
  if (u.username) out.user = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable') out.ssl = sslmode === 'no-verify' ? { rejectUnauthorized: false } : true;
  return out;
}

/** Error details safe for logs: code and message, never connection parameters. */
export function describe(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
}
