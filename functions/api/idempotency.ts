import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Db, Queryable, Row } from './db/types';
import { fail } from './errors';
import type { Logger } from './logger';
import { IDEMPOTENCY_KEY_PATTERN } from './schemas';
import { PREPARED, Params, type Answer, type TaskWrite } from './tasks';

/**
 * Exactly-once writes with `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field"). All SQL for the `idempotency_keys` table lives here.
 *
 * A keyed write is one statement (keyedWrite): it takes a per-key advisory lock, looks the key up,
 * and only when the key is free makes the write, builds its answer and stores the key, a
 * fingerprint of the request and that answer. The write and its record commit together or not at
 * all, and the answer sent is the stored one, byte for byte. Its text is fixed per write kind (key,
 * fingerprint and values are parameters), so it is a prepared statement (tasks.ts PREPARED): parsing
 * and planning it cost PostgreSQL five times running it. Then:
 * - same key, same request, first one finished → the stored status and body, `Idempotent-Replayed: true`;
 * - same key, another method, path or body     → 422 `idempotency_key_reused` (draft §2.7);
 * - same key while the first is still running  → 409 `idempotency_key_in_use` with `Retry-After`
 *   (draft §2.7: "MUST respond with a resource conflict error"); answering at once instead of waiting
 *   keeps the retry from holding a connection and a request slot for as long as the stall lasts.
 *   PGlite runs one statement at a time, so there the repeat waits and is answered from the record.
 * What is stored: every response of a request that reached the database (2xx, and 404 for a missing
 * task). Not stored: refusals before that (400 validation, 401, 403, 413, 415: the draft lets the
 * client correct the request and reuse the key) and 5xx (the statement failed and changed nothing;
 * a retry runs again).
 */

/** How long a key is remembered; a key older than this is treated as new. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;
/**
 * First half of the two-int advisory lock key (the second is hashtext(key)). The two-int key space
 * never overlaps the one-bigint space the migrations lock uses. Two keys with the same 32-bit hash
 * running at the very same moment get a 409 and retry: harmless.
 */
const LOCK_NAMESPACE = 7315;

/**
 * The key a header value names, or undefined when it is not a valid key: an RFC 8941 sf-string
 * (`"abc"`, unescaped), or the same characters sent bare (`abc`), as Stripe-style clients and most
 * HTTP libraries send them. `abc` and `"abc"` are one key.
 */
export function parseIdempotencyKey(raw: string): string | undefined {
  const value = raw.trim();
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) return undefined;
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(["\\])/g, '$1') : value;
}

/**
 * sha256 over method, path, the If-Match value when sent (its condition is part of what the request
 * asks; without one the fingerprint is what it was before conditional writes) and the body's raw
 * bytes: the draft's "checksum of the entire request payload".
 */
export function requestFingerprint(method: string, path: string, body: Uint8Array, ifMatch?: string): string {
  const hash = createHash('sha256').update(`${method} ${path}\n`);
  if (ifMatch !== undefined) hash.update(`If-Match: ${ifMatch}\n`);
  return hash.update(body).digest('hex');
}

/**
 * What a keyed write came to: `done` (written now, its answer stored), `replay` (answered before
 * for this request), `reused` (the key belongs to another request) or `busy` (the first request
 * with this key is still running).
 */
export type KeyedOutcome = { outcome: 'done' | 'replay'; answer: Answer } | { outcome: 'reused' | 'busy' };

interface Stored extends Row {
  fingerprint: string;
  status: number;
  body: string;
}

const live = (hours: string) => `created_at > now() - make_interval(hours => ${hours})`;
/** A stored key: SQLSTATE 23505 on the table's primary key. */
const isKeyTaken = (err: unknown) =>
  (err as { code?: string }).code === '23505' && (err as { constraint?: string }).constraint === 'idempotency_keys_pkey';

/**
 * Runs `write` under the key in one statement and says what came of it.
 *
 * Concurrency (READ COMMITTED; every sub-statement sees the statement's one snapshot): while the
 * first request runs, a repeat fails to take the advisory lock: `busy`. When the first commits
 * after the repeat's snapshot was taken but before its lock attempt, the repeat cannot see the
 * record and goes ahead; its plain INSERT of the key then meets the committed row and fails with
 * unique_violation, which undoes its write: the record is read in a second statement (only on this
 * path). An expired record for the key is deleted by the same statement before the key is stored.
 */
export async function keyedWrite(db: Queryable, key: string, fingerprint: string, write: TaskWrite): Promise<KeyedOutcome> {
  const p = new Params();
  const k = p.add(key);
  const fp = p.add(fingerprint);
  const hours = p.add(IDEMPOTENCY_RETENTION_HOURS);
  const sql = `WITH lock AS (SELECT pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${k})) AS held),
    earlier AS (SELECT fingerprint, status, body FROM idempotency_keys WHERE key = ${k} AND ${live(hours)}),
    expired AS (DELETE FROM idempotency_keys WHERE key = ${k} AND NOT (${live(hours)}) AND (SELECT held FROM lock) RETURNING 1),
    claim AS (SELECT FROM lock WHERE held AND NOT EXISTS (SELECT FROM earlier) AND (SELECT count(*) FROM expired) >= 0),
    ${write(p, 'EXISTS (SELECT FROM claim)')},
    stored AS (INSERT INTO idempotency_keys (key, fingerprint, status, body) SELECT ${k}, ${fp}, status, body FROM answer RETURNING status, body)
  SELECT 'done' AS outcome, status, body FROM stored
  UNION ALL SELECT CASE WHEN fingerprint = ${fp} THEN 'replay' ELSE 'reused' END, status, body FROM earlier
  UNION ALL SELECT 'busy', NULL, NULL FROM lock WHERE NOT held AND NOT EXISTS (SELECT FROM earlier)`;
  let row: (Stored & { outcome: KeyedOutcome['outcome'] }) | undefined;
  try {
    [row] = await db.query<Stored & { outcome: KeyedOutcome['outcome'] }>(sql, p.values, PREPARED);
  } catch (err) {
    if (!isKeyTaken(err)) throw err;
    const [stored] = await db.query<Stored>(
      `SELECT fingerprint, status, body FROM idempotency_keys WHERE key = $1 AND ${live('$2')}`,
      [key, IDEMPOTENCY_RETENTION_HOURS],
      PREPARED,
    );
    if (!stored) return { outcome: 'busy' };
    return stored.fingerprint === fingerprint ? { outcome: 'replay', answer: { status: stored.status, body: stored.body } } : { outcome: 'reused' };
  }
  if (!row) throw new Error('the keyed write answered no row');
  if (row.outcome === 'done' || row.outcome === 'replay') return { outcome: row.outcome, answer: { status: row.status, body: row.body } };
  return { outcome: row.outcome };
}

/** Clean-up of expired keys: batches of 1,000, back to back while they come back full. */
const CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH = 1000;
/** A tick never runs longer than this (so ticks never overlap); it uses one connection at a time. */
const CLEANUP_BUDGET_MS = 30_000;

/**
 * Deletes expired keys, at most one tick per interval per process, started by a stored write and
 * run beside the requests (none waits for it). A tick repeats batches while a batch came back full,
 * for at most its budget, so expiry keeps up with any rate of stored keys the table can take (a
 * batch deletes 1,000 rows in one statement; storing them took 1,000). `SKIP LOCKED` lets the
 * processes of a scaled-out API clean at once without waiting on each other's batches.
 * Resolves with the number of keys the tick deleted (0 when no tick was due).
 */
export function expiredKeyCleanup(log: Logger, { intervalMs = CLEANUP_INTERVAL_MS, batch = CLEANUP_BATCH, budgetMs = CLEANUP_BUDGET_MS } = {}) {
  let lastTick = -Infinity;
  return async function tick(db: Queryable): Promise<number> {
    const started = Date.now();
    if (started - lastTick < intervalMs) return 0;
    lastTick = started;
    let deleted = 0;
    try {
      for (;;) {
        const [row] = await db.query<{ n: number }>(
          // By ctid (a TID scan) rather than by key: the rows are found through the created_at index
          // and locked by the subquery, so a second look-up per row in the primary key is wasted;
          // 13.9k instead of 28.7k instructions per deleted row (callgrind, PostgreSQL 15).
          `WITH gone AS (DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM idempotency_keys WHERE NOT (${live('$1')}) ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
          [IDEMPOTENCY_RETENTION_HOURS, batch],
          PREPARED,
        );
        deleted += row!.n;
        if (row!.n < batch || Date.now() - started >= budgetMs) break;
      }
    } catch (err) {
      log.warn({ err }, 'removing expired idempotency keys failed');
    }
    return deleted;
  };
}

/**
 * Rows in `idempotency_keys` for the metric: PostgreSQL's estimate (pg_class.reltuples, as of the
 * table's last VACUUM or ANALYZE, which autovacuum runs as the table changes), so a scrape costs
 * one catalog row; a count only while the table has never been analysed (reltuples = -1).
 */
export async function idempotencyKeyRows(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT CASE WHEN reltuples >= 0 THEN reltuples::float8 ELSE (SELECT count(*) FROM idempotency_keys)::float8 END AS n
       FROM pg_class WHERE oid = 'idempotency_keys'::regclass`,
  );
  return row!.n;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

/**
 * Route middleware for POST, PUT, PATCH and DELETE. Without the header it does nothing. With a
 * valid one it hands the route a keyed writer (`keyedWriter(c)`): the route runs its write through
 * it, which answers the write, the replay, the 409 or the 422.
 */
export function idempotency(db: () => Promise<Db>, log: Logger): MiddlewareHandler {
  const cleanUp = expiredKeyCleanup(log);
  return async (c, next) => {
    const raw = c.req.header('idempotency-key');
    if (raw === undefined) return next();
    const key = parseIdempotencyKey(raw);
    if (key === undefined) {
      return fail(
        c,
        400,
        'invalid_idempotency_key',
        'Idempotency-Key must be 1 to 255 printable ASCII characters, bare or as one quoted string, for example "8e03978e-40d5-43e8-bc93-6894a57f9324"',
      );
    }
    const fingerprint = requestFingerprint(c.req.method, c.req.path, new Uint8Array(await c.req.arrayBuffer()), c.req.header('if-match'));
    c.set('keyedWrite', async (write: TaskWrite, headersFor: AnswerHeaders = () => undefined) => {
      const d = await db();
      const result = await keyedWrite(d, key, fingerprint, write);
      switch (result.outcome) {
        case 'done':
          void cleanUp(d);
          return c.body(result.answer.body, result.answer.status as ContentfulStatusCode, { ...JSON_TYPE, ...headersFor(result.answer) });
        case 'replay':
          return c.body(result.answer.body, result.answer.status as ContentfulStatusCode, { ...JSON_TYPE, ...headersFor(result.answer), 'Idempotent-Replayed': 'true' });
        case 'busy':
          return fail(c, 409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly', { 'Retry-After': '1' });
        case 'reused':
          return fail(c, 422, 'idempotency_key_reused', 'This Idempotency-Key was already used for a different request; send a new key with a new request');
      }
    });
    await next();
  };
}

/** The keyed writer of a request that carries a valid Idempotency-Key, else undefined. */
export const keyedWriter = (c: Context): KeyedWriter | undefined => c.get('keyedWrite');

/** Headers a route adds to a written or replayed answer, from the answer itself (the ETag of the task it carries). */
export type AnswerHeaders = (answer: Answer) => Record<string, string> | undefined;
export type KeyedWriter = (write: TaskWrite, headersFor?: AnswerHeaders) => Promise<Response>;

declare module 'hono' {
  interface ContextVariableMap {
    keyedWrite: KeyedWriter | undefined;
  }
}
