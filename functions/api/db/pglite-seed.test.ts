import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../migrations/runner';
import { loadMigrations, type Migration } from '../migrations/files';
import { buildSeed, pgliteQueryable, readSeed, seedIsCurrent, seedPaths, type SeedPaths } from './pglite-seed';

// The seed new PGlite databases are made from: used only when it fits today's migrations and its
// bytes are intact; the migrations added after it are applied on top.
const migrations = loadMigrations();
let dir: string;
let paths: SeedPaths;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tasks-seed-'));
  paths = seedPaths(dir);
  await buildSeed(migrations, undefined, paths);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const asDb = (db: PGlite) => ({ driver: 'pglite' as const, ...pgliteQueryable(db), stats: () => ({ total: 1, idle: 1, waiting: 0 }), close: () => db.close() });

describe('the PGlite seed', () => {
  it('holds every migration: a database loaded from it has nothing left to apply', async () => {
    expect(seedIsCurrent(migrations, paths)).toBe(true);
    const db = await PGlite.create('memory://', { loadDataDir: new Blob([readSeed(migrations, paths)!.bytes as BlobPart]) });
    try {
      expect((await migrate(asDb(db), migrations)).applied).toEqual([]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM main_table')).rows).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });

  it('is used behind a newer migration, which is then the only one applied', async () => {
    const newer: Migration = { version: '999', name: '999_test_column.sql', sql: 'ALTER TABLE main_table ADD COLUMN seed_test_note TEXT' };
    const seed = readSeed([...migrations, newer], paths);
    expect(seed?.manifest.migrations).toHaveLength(migrations.length);
    expect(seedIsCurrent([...migrations, newer], paths)).toBe(false);
    const db = await PGlite.create('memory://', { loadDataDir: new Blob([seed!.bytes as BlobPart]) });
    try {
      expect((await migrate(asDb(db), [...migrations, newer])).applied).toEqual(['999_test_column.sql']);
    } finally {
      await db.close();
    }
  });

  it('is not used when a migration inside it has changed since, or for another PGlite version', () => {
    const changed = migrations.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    expect(readSeed(changed, paths)).toBeUndefined();
    const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8'));
    expect(readSeed(migrations, { ...paths, pglite: '0.0.1' })).toBeUndefined();
    expect(manifest.pglite).toBe(paths.pglite);
  });

  it('is not used when its bytes do not match the manifest (a half-written or damaged file)', () => {
    const bytes = readFileSync(paths.tarball);
    try {
      writeFileSync(paths.tarball, bytes.subarray(0, bytes.length - 1000));
      expect(readSeed(migrations, paths)).toBeUndefined();
    } finally {
      writeFileSync(paths.tarball, bytes);
    }
    expect(readSeed(migrations, paths)).toBeDefined();
  });
});
