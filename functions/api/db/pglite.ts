import { existsSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { createDirectories } from '../directories';
import { loadMigrations } from '../migrations/files';
import { lockDirectory } from './directory-lock';
import { notPgliteReason } from './pglite-directory';
import { loadSeedInWorker, pgliteQueryable, seedBytes } from './pglite-seed';
import type { Db } from './types';

/**
 * Embedded Postgres for local work. One instance per data directory per process:
 * two instances on one directory corrupt it, and start-up costs seconds. Across processes a
 * lock file beside the directory refuses a second process at once (DirectoryLockedError).
 */
const open = new Map<string, Promise<PGlite>>();
const locks = new Map<string, () => void>();

/** The way out printed with every problem of a data directory. */
const WAY_OUT = '`npm run reset` deletes the local data (or set PGLITE_DIR to another directory)';

/**
 * A data directory PGlite cannot use. `PGLITE_DAMAGED`: it holds a cluster that does not open
 * (damaged files, or made by another PGlite/PostgreSQL version). `PGLITE_FOREIGN`: it is not a
 * PGlite data directory (db/pglite-directory.ts: a file, some other folder, a PostgreSQL server's
 * data directory); nothing in it is touched.
 */
export class PgliteDirectoryError extends Error {
  override name = 'PgliteDirectoryError';
  constructor(
    readonly code: 'PGLITE_DAMAGED' | 'PGLITE_FOREIGN',
    readonly dir: string,
    reason: string,
  ) {
    super(
      code === 'PGLITE_DAMAGED'
        ? `PGlite directory ${dir} cannot be opened (${reason}): it is damaged or was made by another PGlite version. ${WAY_OUT}.`
        : `PGlite directory ${dir} is not a PGlite data directory (${reason}): nothing in it is touched; set PGLITE_DIR to a new or empty directory.`,
    );
  }
}

/** Where a new directory is assembled before it takes its name: `<parent>/.<name>.creating`. */
const creatingPath = (dir: string) => join(dirname(dir), `.${basename(dir)}.creating`);

/**
 * Makes `dir` a migrated data directory from the seed (db/pglite-seed.ts) when it holds none yet.
 * The cluster is assembled beside it and renamed into place, so a start stopped half-way (Ctrl+C,
 * kill -9) leaves no half-made directory: the next start, holding the lock, discards the leftover
 * and begins again. Nothing to do for a directory that already holds a cluster.
 */
function createFromSeed(dir: string, signal?: AbortSignal): Promise<void> {
  const made = assemble(dir, signal);
  const settled = made.then(
    () => undefined,
    () => undefined,
  );
  creations.add(settled);
  void settled.then(() => creations.delete(settled));
  return made;
}

/** Directories being assembled from the seed in this process (each settles once its worker stopped). */
const creations = new Set<Promise<void>>();

/**
 * Resolves once no directory is being assembled any more. A stopped creation (its signal fired)
 * settles as soon as its worker thread has stopped, after deleting what it wrote: a process that
 * exits on Ctrl+C awaits this so that no `.<name>.creating` folder is left behind.
 */
export async function creationsSettled(): Promise<void> {
  while (creations.size) await Promise.all(creations);
}

async function assemble(dir: string, signal?: AbortSignal): Promise<void> {
  const notPglite = notPgliteReason(dir);
  if (notPglite) throw new PgliteDirectoryError('PGLITE_FOREIGN', dir, notPglite);
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const seed = await seedBytes(loadMigrations(), signal);
  const creating = creatingPath(dir);
  rmSync(creating, { recursive: true, force: true }); // a leftover of a stopped start (we hold the lock)
  createDirectories(creating);
  try {
    // In a worker: on this thread the unpacking blocks the event loop for seconds (requests and
    // Ctrl+C wait); a worker is terminated at once when the start is stopped.
    await loadSeedInWorker(creating, seed, signal);
    if (signal?.aborted) throw Object.assign(new Error('creating the PGlite database was stopped'), { code: 'ABORT_ERR' });
    if (existsSync(dir)) rmdirSync(dir); // empty (checked above): rename(2) needs the name free or an empty directory
    renameSync(creating, dir);
  } catch (err) {
    rmSync(creating, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Opens PGlite on `dir` (or a fresh `memory://` database). A new directory, and every memory://
 * database, starts from the seed instead of initdb. `signal` stops a creation in progress (the
 * promise rejects with code ABORT_ERR and nothing is left behind). `blank`: a memory:// database
 * straight from initdb, never migrated (for tests of what migrations and restores do to one).
 *
 * @throws DirectoryLockedError another live process holds the directory
 * @throws PgliteDirectoryError (PGLITE_DAMAGED, PGLITE_FOREIGN) the directory cannot be used; the message names it and the way out
 */
export async function createPgliteDb(dir: string, signal?: AbortSignal, { blank = false }: { blank?: boolean } = {}): Promise<Db> {
  // Every memory:// database is its own; only directories are shared.
  const memory = dir.startsWith('memory://');
  let instance = memory ? undefined : open.get(dir);
  if (!instance) {
    if (!memory) {
      // Not Node's recursive mkdir: it never returns for a PGLITE_DIR under /proc (directories.ts).
      createDirectories(dirname(resolve(dir)));
      locks.set(dir, lockDirectory(resolve(dir)));
    }
    // A dynamic import of the external package keeps it out of the bundle's static imports,
    // so production processes on pg or neon never resolve it.
    instance = (async () => {
      const { PGlite } = await import('@electric-sql/pglite');
      if (memory && blank) return PGlite.create(dir);
      if (memory) return PGlite.create(dir, { loadDataDir: new Blob([(await seedBytes(loadMigrations(), signal)) as BlobPart]) });
      await createFromSeed(dir, signal);
      try {
        const db = await PGlite.create(dir);
        await db.query('SELECT 1');
        return db;
      } catch (err) {
        throw new PgliteDirectoryError('PGLITE_DAMAGED', dir, String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 200));
      }
    })();
    if (!memory) {
      open.set(dir, instance);
      // A failed open must not stick: the next call (a retry, a restart of the dev server) tries again.
      instance.catch(() => {
        open.delete(dir);
        locks.get(dir)?.();
        locks.delete(dir);
      });
    }
  }
  const db = await instance;
  return {
    driver: 'pglite',
    ...pgliteQueryable(db),
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    async close() {
      if (!memory) open.delete(dir);
      if (!db.closed) await db.close();
      locks.get(dir)?.();
      locks.delete(dir);
    },
  };
}
