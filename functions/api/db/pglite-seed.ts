import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { migrate, migrationChecksum } from '../migrations/runner';
import type { Migration } from '../migrations/files';
import type { Db, Queryable, Row } from './types';

/**
 * The seed: a PGlite data directory that has been through initdb and the migrations, kept as
 * PGlite's own dump (`dumpDataDir('gzip')`, a tar.gz, about 4.6 MB) in
 * `node_modules/.cache/tasks-pglite/`. A new data directory is made by loading it
 * (`PGlite.create(dir, { loadDataDir })`, both documented at pglite.dev/docs/api) instead of
 * running initdb in WebAssembly and every migration: 0.6 s instead of 4.4 s on a quiet 2-core
 * machine. `npm install` prepares it (scripts/prepare-local.ts); a start that finds none makes it
 * once, for itself and every later new directory.
 *
 * The manifest beside it records the PGlite version, the migrations inside (version and SHA-256)
 * and the dump's own SHA-256. A seed is used only with the same PGlite version, when its
 * migrations are the first ones of today's files unchanged, and when its bytes are intact; the
 * migrations added since are then applied as on any database.
 */
export interface SeedManifest {
  pglite: string;
  migrations: Array<{ version: string; checksum: string }>;
  sha256: string;
}

const require_ = createRequire(import.meta.url);

/** The installed PGlite: its version and the node_modules folder that holds it. */
function installedPglite(): { version: string; nodeModules: string } {
  const entry = require_.resolve('@electric-sql/pglite');
  const pkgDir = entry.slice(0, entry.lastIndexOf('@electric-sql/pglite') + '@electric-sql/pglite'.length);
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  return { version, nodeModules: dirname(dirname(pkgDir)) };
}

export interface SeedPaths {
  tarball: string;
  manifest: string;
  /** The PGlite version the seed is for. */
  pglite: string;
}

/** Where the seed and its manifest live (one pair per PGlite version); `dir` for tests. */
export function seedPaths(dir = join(installedPglite().nodeModules, '.cache', 'tasks-pglite')): SeedPaths {
  const { version } = installedPglite();
  return { tarball: join(dir, `seed-${version}.tar.gz`), manifest: join(dir, `seed-${version}.json`), pglite: version };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The stored seed when it fits `migrations` (see {@link SeedManifest}); undefined when there is
 * none, or it is for another PGlite, holds a migration that differs from today's file, or its
 * bytes do not match the manifest (a half-written or damaged file).
 */
export function readSeed(migrations: Migration[], paths = seedPaths()): { bytes: Uint8Array; manifest: SeedManifest } | undefined {
  let manifest: SeedManifest;
  let bytes: Uint8Array;
  try {
    manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as SeedManifest;
    bytes = readFileSync(paths.tarball);
  } catch {
    return undefined;
  }
  if (manifest.pglite !== paths.pglite || manifest.migrations.length > migrations.length) return undefined;
  const fits = manifest.migrations.every((m, i) => m.version === migrations[i]!.version && m.checksum === migrationChecksum(migrations[i]!.sql));
  if (!fits || sha256(bytes) !== manifest.sha256) return undefined;
  return { bytes, manifest };
}

/** True when the stored seed holds exactly `migrations` (nothing left to apply after loading it). */
export function seedIsCurrent(migrations: Migration[], paths = seedPaths()): boolean {
  return readSeed(migrations, paths)?.manifest.migrations.length === migrations.length;
}

/**
 * Runs `script` (CommonJS, with `PGlite` and `workerData` in scope) in a worker thread: PGlite's
 * WebAssembly calls take seconds during which a thread answers nothing (15 s measured for initdb on
 * a busy 2-core machine: /healthz and the page stalled, Ctrl+C waited). Resolves with what the
 * script posts. Rejects with code `ABORT_ERR` when `signal` fires: the worker is terminated at
 * once, so Ctrl+C never waits for PGlite, and the promise rejects once the thread has stopped; what
 * it was writing is then the caller's to discard.
 */
export function pgliteInWorker<T>(script: string, workerData: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  const pglite = require_.resolve('@electric-sql/pglite');
  return new Promise((resolve, reject) => {
    const stopped = () => reject(Object.assign(new Error('creating the PGlite database was stopped'), { code: 'ABORT_ERR' }));
    if (signal?.aborted) return stopped();
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const { PGlite } = require(workerData.pglite);
       (async () => { ${script} })().then((result) => parentPort.postMessage(result, result instanceof Uint8Array ? [result.buffer] : []));`,
      { eval: true, workerData: { ...workerData, pglite } },
    );
    // Rejected only once the thread has stopped ('exit'), so the caller can delete what it wrote.
    let aborted = false;
    const abort = () => {
      aborted = true;
      void worker.terminate();
    };
    signal?.addEventListener('abort', abort, { once: true });
    worker.once('message', (result: T) => resolve(result));
    worker.once('error', (err) => aborted || reject(err));
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', abort);
      if (aborted) stopped();
      else if (code !== 0) reject(new Error(`PGlite worker failed (exit ${code})`));
    });
  });
}

/** initdb in a worker (see {@link pgliteInWorker}): the fresh cluster as an uncompressed dump. */
const initdbInWorker = (signal?: AbortSignal) =>
  pgliteInWorker<Uint8Array>(
    `const db = await PGlite.create('memory://');
     const dump = new Uint8Array(await (await db.dumpDataDir('none')).arrayBuffer());
     await db.close();
     return dump;`,
    {},
    signal,
  );

/**
 * Unpacks `seed` into the data directory `dir` in a worker (see {@link pgliteInWorker}): PGlite's
 * own `loadDataDir`, then a clean shutdown, so `dir` opens like any existing directory. On
 * ABORT_ERR `dir` is half-written.
 */
export const loadSeedInWorker = (dir: string, seed: Uint8Array, signal?: AbortSignal) =>
  pgliteInWorker<true>(
    `const db = await PGlite.create(workerData.dir, { loadDataDir: new Blob([workerData.seed]) });
     await db.close();
     return true;`,
    { dir, seed },
    signal,
  );

/** The driver interface over one PGlite instance (shared with db/pglite.ts). */
export function pgliteQueryable(db: PGlite): Pick<Db, 'query' | 'transaction'> {
  const run = async <R extends Row>(q: { query: PGlite['query'] }, text: string, params?: unknown[]) =>
    (await q.query<R>(text, params as unknown[])).rows;
  return {
    query: (text, params) => run(db, text, params),
    transaction: (fn) => db.transaction((tx) => fn({ query: (text, params) => run(tx, text, params) } as Queryable)),
  };
}

/**
 * Makes the seed for `migrations` and stores it (atomically: written under a temporary name, then
 * renamed, so a concurrent reader sees the old pair or the new one). Returns its bytes; storing is
 * best-effort (a read-only node_modules still gets a working database, only not a faster next one).
 */
export async function buildSeed(migrations: Migration[], signal?: AbortSignal, paths = seedPaths()): Promise<Uint8Array> {
  const empty = await initdbInWorker(signal);
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create('memory://', { loadDataDir: new Blob([empty as BlobPart]) });
  try {
    await migrate({ driver: 'pglite', ...pgliteQueryable(db), stats: () => ({ total: 1, idle: 1, waiting: 0 }), close: () => db.close() }, migrations);
    const bytes = new Uint8Array(await (await db.dumpDataDir('gzip')).arrayBuffer());
    const manifest: SeedManifest = {
      pglite: paths.pglite,
      migrations: migrations.map((m) => ({ version: m.version, checksum: migrationChecksum(m.sql) })),
      sha256: sha256(bytes),
    };
    const tmp = `.tmp-${process.pid}-${Date.now()}`;
    try {
      mkdirSync(dirname(paths.tarball), { recursive: true });
      writeFileSync(paths.tarball + tmp, bytes);
      writeFileSync(paths.manifest + tmp, JSON.stringify(manifest, null, 2));
      renameSync(paths.tarball + tmp, paths.tarball);
      renameSync(paths.manifest + tmp, paths.manifest);
    } catch {
      rmSync(paths.tarball + tmp, { force: true });
      rmSync(paths.manifest + tmp, { force: true });
    }
    return bytes;
  } finally {
    await db.close();
  }
}

/** The seed's bytes: the stored one when it fits `migrations`, else a new one (then stored). */
export async function seedBytes(migrations: Migration[], signal?: AbortSignal, paths = seedPaths()): Promise<Uint8Array> {
  return readSeed(migrations, paths)?.bytes ?? buildSeed(migrations, signal, paths);
}
