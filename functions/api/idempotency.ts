import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Db, Queryable, Row } from './db/types';
import { fail } from './errors';
import type { Logger } from './logger';
import { IDEMPOTENCY_KEY_PATTERN } from './schemas';

/**
 * Exactly-once writes with `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field"). All SQL for the `idempotency_keys` table lives here.
 *
 * A keyed write runs in one transaction that holds a per-key advisory lock, runs the handler on that
 * transaction and stores the key, a fingerprint of the request and the response before COMMIT: the
 * write and its record commit together or not at all. Then:
 * - same key, same request, first one finished → the stored status and body, `Idempotent-Replayed: true`;
 * - same key, another method, path or body     → 422 `idempotency_key_reused` (draft §2.7);
 * - same key while the first is still running  → 409 `idempotency_key_in_use` with `Retry-After`
 *   (draft §2.7: "MUST respond with a resource conflict error"); answering at once instead of waiting
 *   keeps the retry from holding a connection and a request slot for as long as the stall lasts.
 *   PGlite runs one transaction at a time, so there the repeat waits and is answered from the record.
 * What is stored: every response of a request that reached the database (2xx, and 404 for a missing
 * task). Not stored: refusals before that (400 validation, 401, 403, 413, 415: the draft lets the
 * client correct the request and reuse the key) and 5xx (the transaction rolled back; a retry runs again).
 */

/** How long a key is remembered; a key older than this is treated as new. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;
/** At most one clean-up of expired keys per process per interval, a bounded batch each time. */
const CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH = 1000;
/**
 * First half of the two-int advisory lock key (the second is hashtext(key)). The two-int key space
 * never overlaps the one-bigint space the migrations lock uses. Two keys with the same 32-bit hash
 * running at the very same moment get a 409 and retry: harmless.
 */
const LOCK_NAMESPACE = 7315;

/** `"abc"` → `abc` (RFC 8941 sf-string unescaping), or undefined when it is not a valid key. */
export function parseIdempotencyKey(raw: string): string | undefined {
  const value = raw.trim();
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) return undefined;
  return value.slice(1, -1).replace(/\\(["\\])/g, '$1');
}

/** sha256 over method, path and the body's raw bytes: the draft's "checksum of the entire request payload". */
export function requestFingerprint(method: string, path: string, body: Uint8Array): string {
  return createHash('sha256').update(`${method} ${path}\n`).update(body).digest('hex');
}

interface Stored extends Row {
  fingerprint: string;
  status: number;
  body: string;
}

class RolledBack extends Error {}

/**
 * Route middleware for POST, PUT, PATCH and DELETE. Without the header it does nothing. With it,
 * the handler must take its database from `writeQueryable(c)` so that it runs in this transaction.
 */
export function idempotency(db: () => Promise<Db>, log: Logger): MiddlewareHandler {
  let lastCleanup = 0;

  function cleanUp(d: Db) {
    const now = Date.now();
    if (now - lastCleanup < CLEANUP_INTERVAL_MS) return;
    lastCleanup = now;
    d.query(
      `DELETE FROM idempotency_keys WHERE key IN (
         SELECT key FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1) ORDER BY created_at LIMIT $2)`,
      [IDEMPOTENCY_RETENTION_HOURS, CLEANUP_BATCH],
    ).catch((err) => log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'removing expired idempotency keys failed'));
  }

  return async (c, next) => {
    const raw = c.req.header('idempotency-key');
    if (raw === undefined) return next();
    const key = parseIdempotencyKey(raw);
    if (key === undefined) {
      return fail(
        c,
        400,
        'invalid_idempotency_key',
        'Idempotency-Key must be one quoted string of 1 to 255 printable ASCII characters, for example "8e03978e-40d5-43e8-bc93-6894a57f9324"',
      );
    }
    const fingerprint = requestFingerprint(c.req.method, c.req.path, new Uint8Array(await c.req.arrayBuffer()));
    const d = await db();

    let outcome = 'done' as 'done' | 'busy' | 'reused' | Stored;
    let stored = false;
    try {
      await d.transaction(async (q) => {
        const [lock] = await q.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked', [LOCK_NAMESPACE, key]);
        if (!lock?.locked) return void (outcome = 'busy');
        const [previous] = await q.query<Stored>(
          'SELECT fingerprint, status, body FROM idempotency_keys WHERE key = $1 AND created_at > now() - make_interval(hours => $2)',
          [key, IDEMPOTENCY_RETENTION_HOURS],
        );
        if (previous) return void (outcome = previous.fingerprint === fingerprint ? previous : 'reused');

        let reachedDatabase = false;
        c.set('writeQueryable', {
          query: <R extends Row = Row>(text: string, params?: unknown[]) => {
            reachedDatabase = true;
            return q.query<R>(text, params);
          },
        });
        await next();
        c.set('writeQueryable', undefined);
        // A thrown error became c.res through onError; roll the write back so a retry runs it again.
        if (c.error || c.res.status >= 500) throw new RolledBack();
        if (!reachedDatabase) return;
        await q.query(
          `INSERT INTO idempotency_keys (key, fingerprint, status, body) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body, created_at = now()`,
          [key, fingerprint, c.res.status, await c.res.clone().text()],
        );
        stored = true;
      });
    } catch (err) {
      if (!(err instanceof RolledBack)) throw err;
    }

    if (stored) cleanUp(d);
    if (outcome === 'busy') {
      return fail(c, 409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly', { 'Retry-After': '1' });
    }
    if (outcome === 'reused') {
      return fail(c, 422, 'idempotency_key_reused', 'This Idempotency-Key was already used for a different request; send a new key with a new request');
    }
    if (outcome !== 'done') {
      return c.body(outcome.body, outcome.status as ContentfulStatusCode, { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' });
    }
  };
}

/** The transaction a keyed write must run in, when there is one. */
export const writeQueryable = (c: Context): Queryable | undefined => c.get('writeQueryable');

declare module 'hono' {
  interface ContextVariableMap {
    writeQueryable: Queryable | undefined;
  }
}
