import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { createDirectories } from '../directories';
import { lockDirectory } from './directory-lock';
import type { Db, Queryable, Row } from './types';

/**
 * Embedded Postgres for local work. One instance per data directory per process:
 * two instances on one directory corrupt it, and start-up costs seconds. Across processes a
 * lock file beside the directory refuses a second process at once (DirectoryLockedError).
 */
const open = new Map<string, Promise<PGlite>>();
const locks = new Map<string, () => void>();

/**
 * Creating a new data directory runs initdb inside WebAssembly: seconds of CPU in one call, during
 * which the thread answers nothing (15 s measured on a busy 2-core machine: /healthz and the page
 * stalled). So a new directory is created in a worker thread first; opening an existing one is
 * far shorter. Resolves at once for memory:// and for a directory that already holds a cluster.
 */
function initialise(dir: string): Promise<void> {
  if (dir.startsWith('memory://') || existsSync(join(dir, 'PG_VERSION'))) return Promise.resolve();
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { PGlite } = require(workerData.pglite);
     PGlite.create(workerData.dir).then((db) => db.close());`,
    { eval: true, workerData: { pglite, dir } },
  );
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`initialising PGlite in ${dir} failed (worker exit ${code})`))));
  });
}

export async function createPgliteDb(dir: string): Promise<Db> {
  // Every memory:// database is its own; only directories are shared.
  const memory = dir.startsWith('memory://');
  let instance = memory ? undefined : open.get(dir);
  if (!instance) {
    if (!memory) {
      // Not Node's recursive mkdir: it never returns for a PGLITE_DIR under /proc (directories.ts).
      createDirectories(dir);
      locks.set(dir, lockDirectory(resolve(dir)));
    }
    // A dynamic import of the external package keeps it out of the bundle's static imports,
    // so production processes on pg or neon never resolve it.
    instance = initialise(dir).then(() => import('@electric-sql/pglite')).then(({ PGlite }) => PGlite.create(dir));
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
      locks.get(dir)?.();
      locks.delete(dir);
    },
  };
}
