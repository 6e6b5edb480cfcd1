import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { lockDirectory } from './directory-lock';
import type { Db, Queryable, Row } from './types';

/**
 * Embedded Postgres for local work. One instance per data directory per process:
 * two instances on one directory corrupt it, and start-up costs seconds. Across processes a
 * lock file beside the directory refuses a second process at once (DirectoryLockedError).
 */
const open = new Map<string, Promise<PGlite>>();
const locks = new Map<string, () => void>();

export async function createPgliteDb(dir: string): Promise<Db> {
  let instance = open.get(dir);
  if (!instance) {
    if (!dir.startsWith('memory://')) {
      mkdirSync(dir, { recursive: true });
      locks.set(dir, lockDirectory(resolve(dir)));
    }
    // A dynamic import of the external package keeps it out of the bundle's static imports,
    // so production processes on pg or neon never resolve it.
    instance = import('@electric-sql/pglite').then(({ PGlite }) => PGlite.create(dir));
    open.set(dir, instance);
  }
  const db = await instance;
  const run = async <R extends Row>(q: { query: PGlite['query'] }, text: string, params?: unknown[]) =>
    (await q.query<R>(text, params as unknown[])).rows;
  return {
    driver: 'pglite',
    query: (text, params) => run(db, text, params),
    transaction: (fn) =>
      db.transaction((tx) => fn({ query: (text, params) => run(tx, text, params) } as Queryable)),
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    async close() {
      open.delete(dir);
      if (!db.closed) await db.close();
      locks.get(dir)?.();
      locks.delete(dir);
    },
  };
}
