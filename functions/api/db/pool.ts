import { ConfigError, dbConnection, type Driver, type DbTarget } from '../config';
import type { Logger } from '../logger';
import { isDatabaseUnavailable } from '../errors';
import { MountedCredentials, type DbCredentials } from './credentials';
import { pgQuery, type NamedQuery } from './prepared';
import { AUTH_FAILED, SESSION_TERMINATED, sqlState, type Db, type PoolStats, type Queryable, type QueryOptions, type Row } from './types';

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
  // The probe runs on the pool in use at that moment, so it follows a rotation too. A login
  // refused during a rotation is an answer: the requests' own retry (withAuthRetry) handles it.
  const breaker = connectionBreaker({
    probe: async () => {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch (err) {
        return !isDatabaseUnavailable(err) || AUTH_FAILED.has(sqlState(err) ?? '');
      }
    },
    // warn, like the 'database unavailable' lines of the outage, so whoever reads those sees its end.
    onClose: (outageMs, probes) => log.warn({ outageMs, probes }, 'database reachable again'),
  });

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
    p.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
    return p;
  }

  /** Swap to the credentials on disk if they differ from the ones in use. */
  function reload(reason: string): boolean {
    if (!mounted) return false;
    let next: DbCredentials;
    try {
      next = mounted.read();
    } catch (err) {
      log.warn({ err }, 'cannot read database credentials; keeping the current pool');
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
      log.error({ err }, 'database credentials changed but contradict the configuration; keeping the current pool');
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
   * A new pool with the same credentials, after the server ended a session of `used` (57P01 from
   * pg_terminate_backend or a shutdown, 57P02). Sessions are rarely ended one at a time: the other
   * idle clients of that pool may be dead without knowing yet (their termination message still
   * unread), and a retried read must not be handed one of them. Queries running on the old pool
   * finish there; only the first such error per pool renews it.
   */
  function renew(used: PgLikePool, code: string) {
    if (used !== pool) return;
    let replacement: PgLikePool;
    try {
      replacement = build(creds);
    } catch (err) {
      log.warn({ err }, 'cannot open a new pool after sessions were terminated; keeping the current one');
      return;
    }
    pool = replacement;
    log.warn({ code }, 'database sessions were terminated; new pool in use');
    retire(used);
  }

  /**
   * Ends a replaced pool once nothing is queued on it. end() lets checked-out clients finish
   * their queries, but it fails requests still waiting for a client, so wait for those first.
   */
  function retire(old: PgLikePool) {
    const tryEnd = () => {
      if (old.waitingCount > 0) return void setTimeout(tryEnd, 25);
      old.end().catch((err) => log.warn({ err }, 'closing the previous pool failed'));
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
      const code = sqlState(err) ?? '';
      if (isPoolWaitTimeout(err)) {
        // pg-pool says the same whether the pool is full of working clients or of connection
        // attempts hanging on a dead server; only the first is "busy".
        if (!breaker.isOpen()) throw poolBusy(err, target.poolMax);
      } else if (SESSION_TERMINATED.has(code)) {
        // The server ended this session and said so: no evidence that it is down (a rotation's
        // pg_terminate_backend leaves it answering). Opening the breaker here turned one ended
        // session into 503s for every request; if the server is going away, the next connection
        // attempt fails and opens it.
        renew(p, code);
      } else if (isDatabaseUnavailable(err) && !AUTH_FAILED.has(code)) breaker.failed();
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
        client.on('error', (err) => log.debug({ err }, 'database connection in a transaction failed'));
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
    outage: () => breaker.whenClosed(),
    async close() {
      stopWatching?.();
      breaker.stop();
      await pool.end();
    },
  };
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

/** How the connection probe paces itself while the database is unreachable. */
export interface ProbeSchedule {
  /** Delay before the first probe, doubling per failed probe up to `fastMs`. */
  minMs: number;
  /** The probe interval for the first `fastForMs` of an outage: the longest wait for a database that is back. */
  fastMs: number;
  fastForMs: number;
  /** After that the interval keeps doubling up to this. */
  maxMs: number;
}

/**
 * Restarts end within seconds and failovers within tens of seconds, so the first 30 s of an outage
 * are probed every 250 ms at most (a database that is back is found within 0.25 s): at most 4
 * connection attempts a second per process, one refused TCP connect each. A longer outage is probed
 * less often, down to once a second.
 */
export const PROBE_SCHEDULE: ProbeSchedule = { minMs: 50, fastMs: 250, fastForMs: 30_000, maxMs: 1000 };

/** The wait before probe number `n` (0-based), `elapsedMs` into the outage. */
export function probeDelay(n: number, elapsedMs: number, s: ProbeSchedule = PROBE_SCHEDULE): number {
  const doubled = s.minMs * 2 ** Math.min(n, 16);
  if (elapsedMs < s.fastForMs) return Math.min(s.fastMs, doubled);
  return Math.min(s.maxMs, Math.max(s.fastMs, doubled));
}

/**
 * The connection breaker. After a connection-class failure it opens: every call fails at once
 * with code DB_BACKOFF (a 503 database_unavailable) instead of opening its own connection attempt
 * (without it, thousands a second during an outage). While open, one probe at a time (never two)
 * asks the database on the schedule above; the first probe that gets an answer closes the breaker
 * at once, so recovery waits for the database, not for a backoff timer, and wakes whoever waits
 * in `whenClosed()` (the start-up migrations). A call that succeeds closes it too.
 *
 * `probe` resolves true when the server answered (even with an error), false when it could not be
 * reached; a rejection counts as false.
 */
export function connectionBreaker({
  probe,
  schedule = PROBE_SCHEDULE,
  onClose,
}: {
  probe: () => Promise<boolean>;
  schedule?: ProbeSchedule;
  onClose?: (outageMs: number, probes: number) => void;
}) {
  let open = false;
  let openedAt = 0;
  let probes = 0;
  let probing = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: (() => void)[] = [];

  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };
  const close = () => {
    if (!open) return;
    open = false;
    clearTimeout(timer);
    timer = undefined;
    onClose?.(Date.now() - openedAt, probes);
    wake();
  };
  const next = () => {
    if (stopped) return;
    timer = setTimeout(runProbe, probeDelay(probes, Date.now() - openedAt, schedule));
    timer.unref?.();
  };
  async function runProbe() {
    timer = undefined;
    if (!open || probing || stopped) return;
    probing = true;
    probes++;
    const answered = await probe().catch(() => false);
    probing = false;
    if (!open) return; // a call succeeded meanwhile
    if (answered) close();
    else next();
  }

  return {
    /** Throws DB_BACKOFF while open; otherwise the caller may try. */
    admit(): void {
      if (open) {
        throw Object.assign(new Error(`database unreachable for ${Date.now() - openedAt} ms; probing for it`), { code: 'DB_BACKOFF' });
      }
    },
    succeeded: close,
    /** A connection-class failure: opens the breaker and starts probing (once per outage). */
    failed(): void {
      if (open || stopped) return;
      open = true;
      openedAt = Date.now();
      probes = 0;
      next();
    },
    isOpen: () => open,
    /** Whether a probe is talking to the database right now (at most one ever is). */
    isProbing: () => probing,
    /** While open, a promise that resolves when the breaker closes (or on stop()); else undefined. */
    whenClosed(): Promise<void> | undefined {
      return open && !stopped ? new Promise((resolve) => waiters.push(resolve)) : undefined;
    },
    /** No more probes (the Db is closing); releases every waiter. */
    stop(): void {
      stopped = true;
      clearTimeout(timer);
      wake();
    },
  };
}
