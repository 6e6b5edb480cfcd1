import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, Row } from './types';

/**
 * Embedded Postgres for local work. One instance per data directory per process:
 * two instances on one directory corrupt it, and start-up costs seconds.
 */
const open = new Map<string, Promise<PGlite>>();

export async function createPgliteDb(dir: string): Promise<Db> {
  // Every memory:// database is its own; only directories are shared.
  const memory = dir.startsWith('memory://');
  let instance = memory ? undefined : open.get(dir);
  if (!instance) {
    if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
    // A dynamic import of the external package keeps it out of the bundle's static imports,
    // so production processes on pg or neon never resolve it.
    instance = import('@electric-sql/pglite').then(({ PGlite }) => PGlite.create(dir));
    if (!memory) open.set(dir, instance);
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
      if (!memory) open.delete(dir);
      if (!db.closed) await db.close();
    },
  };
}
