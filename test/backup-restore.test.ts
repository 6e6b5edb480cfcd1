import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, migrateBundle, startApi, type RunningApi } from './support/api';
import { startS3StandIn, type S3StandIn } from './support/s3-stand-in';
import { PG_BIN, startScramCluster, type ScramCluster } from './support/scram-cluster';
import { loadMigrations } from '../functions/api/migrations/files';

/**
 * The restore drill: the bundled API on a throwaway PostgreSQL cluster takes keyed writes while
 * `npm run backup`'s bundle writes to S3 (the real AWS SDK against a local stand-in, s3rver); the
 * cluster and its data directory are then deleted (a lost volume); a new cluster gets the backups
 * back, compared row for row, sequence and Idempotency-Key records included, with pg_dump as the
 * independent witness; a client retrying a key after the restore gets its stored answer.
 */

const root = new URL('..', import.meta.url).pathname;
const backupBundle = join(root, 'dist/api/backup.mjs');
const restoreBundle = join(root, 'dist/api/restore.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a bundle as a user would, without blocking this process (the S3 stand-in runs in it). A
 * command still running after 3 minutes (a hang: far beyond any run here) is killed: code null.
 */
function runBundle(bundle: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: root });
    let stdout = '';
    let stderr = '';
    const hung = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(hung);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * pg_dump of the app's data: its INSERT and setval lines, sorted (pg_dump writes rows in their
 * physical order, which a restore does not keep), comments and session settings dropped.
 */
function pgDumpData(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(join(PG_BIN, 'pg_dump'), ['--data-only', '--inserts', '--no-owner', '--dbname', url], { maxBuffer: 256 << 20 }, (err, out) =>
      err ? reject(err) : resolve(out.split('\n').filter((l) => l && !l.startsWith('--') && !l.startsWith('\\') && !l.startsWith('SET ') && !l.startsWith('SELECT pg_catalog.set_config')).sort().join('\n')),
    ),
  );
}

async function query<R extends pg.QueryResultRow>(url: string, text: string, params?: unknown[]): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

interface Ack {
  key: string;
  id: number;
  text: string;
  body: string;
  ackedAt: number;
}

const post = (api: RunningApi, key: string, text: string) =>
  fetch(`${api.url}/api/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': `"${key}"` },
    body: JSON.stringify({ task: text }),
  });

/** Clients adding tasks with keys until stopped; each acknowledged write is recorded with its time. */
function keyedLoad(api: RunningApi, clients: number) {
  const acks: Ack[] = [];
  let stop = false;
  const failures: string[] = [];
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let n = 0; !stop; n++) {
      const key = `drill-${c}-${n}-${randomUUID()}`;
      const text = `task ${c}/${n} ü “quoted” 'sql'; -- ${'x'.repeat(n % 40)}`;
      const res = await post(api, key, text);
      const body = await res.text();
      if (res.status === 201) acks.push({ key, id: JSON.parse(body).task.id, text, body, ackedAt: Date.now() });
      else failures.push(`${res.status} ${body}`);
    }
  });
  return {
    acks,
    failures,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

describe('restore drill: PostgreSQL, S3 stand-in, a lost volume', () => {
  let s3: S3StandIn;
  let first: ScramCluster;
  let second: ScramCluster | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    await ensureBundle();
    s3 = await startS3StandIn();
    first = await startScramCluster();
    env = { ...s3.env, BACKUP_URI: `s3://${s3.bucket}/drill`, BACKUP_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/stand-in' };
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await s3?.stop();
  });

  it('gives back every acknowledged write, the sequence and the keys; a retried key replays', async () => {
    const api = await startApi({ env: { DATABASE_URL: first.url(), DB_DRIVER: 'pg', MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' } });
    const load = keyedLoad(api, 8);
    await expect.poll(() => load.acks.length, { timeout: 60_000 }).toBeGreaterThan(50);
    const backupStarted = Date.now();
    const underLoad = await runBundle(backupBundle, ['--json'], { ...env, DATABASE_URL: first.url() });
    const backupEnded = Date.now();
    const ackedAtEnd = load.acks.length;
    await expect.poll(() => load.acks.length, { timeout: 60_000 }).toBeGreaterThan(ackedAtEnd + 20);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(underLoad.stderr).not.toMatch(/^\s+at /m);
    expect(underLoad.code).toBe(0);
    const busy = JSON.parse(underLoad.stdout) as { id: string; tables: Record<string, { rows: number }> };

    // At rest: a second backup, and pg_dump's view of the same data as the witness.
    const atRest = await runBundle(backupBundle, [], { ...env, DATABASE_URL: first.url() });
    expect(atRest.code).toBe(0);
    const restId = /^backup (\S+) written/.exec(atRest.stdout)![1]!;
    const before = await pgDumpData(first.url());
    const highest = (await query<{ max: string }>(first.url(), 'SELECT max(id)::text AS max FROM main_table'))[0]!.max;
    await api.stop();

    // The volume is lost: the cluster and its data directory are gone; a new one starts empty.
    await first.stop();
    second = await startScramCluster();
    await query(second.url(), 'CREATE DATABASE under_load');

    // The backup taken under load: a consistent snapshot. Every write acknowledged before it began
    // is in; each task has its key's record and each record its task (no write half in).
    const r1 = await runBundle(restoreBundle, ['--from', busy.id], { ...env, DATABASE_URL: second.url('under_load') });
    expect(r1.stderr).not.toMatch(/^\s+at /m);
    expect(r1.code).toBe(0);
    const tasks = await query<{ id: number; task: string }>(second.url('under_load'), 'SELECT id::float8 AS id, task FROM main_table ORDER BY id');
    const byId = new Map(tasks.map((t) => [t.id, t.task]));
    const earlier = load.acks.filter((a) => a.ackedAt < backupStarted);
    expect(earlier.length).toBeGreaterThan(0);
    for (const a of earlier) expect(byId.get(a.id)).toBe(a.text);
    const later = load.acks.filter((a) => a.ackedAt > backupEnded);
    for (const a of later) expect(byId.has(a.id)).toBe(false);
    const records = await query<{ key: string; body: string }>(second.url('under_load'), 'SELECT key, body FROM idempotency_keys');
    expect(records.map((r) => JSON.parse(r.body).task.id).sort((a, b) => a - b)).toEqual(tasks.map((t) => t.id));
    expect(tasks.length).toBe(busy.tables.main_table!.rows);

    // The backup at rest, into the new cluster's own database: pg_dump sees exactly the same data.
    const r2 = await runBundle(restoreBundle, ['--from', restId], { ...env, DATABASE_URL: second.url() });
    expect(r2.code).toBe(0);
    expect(await pgDumpData(second.url())).toBe(before);

    // A client retrying after the restore gets its stored answer, not a second row; new ids come after.
    const restored = await startApi({ env: { DATABASE_URL: second.url(), DB_DRIVER: 'pg', LOG_LEVEL: 'warn' } });
    try {
      const retried = load.acks.at(-1)!;
      const again = await post(restored, retried.key, retried.text);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.text()).toBe(retried.body);
      const count = (await query<{ n: string }>(second.url(), 'SELECT count(*)::text AS n FROM main_table'))[0]!.n;
      expect(Number(count)).toBe(load.acks.length);
      const fresh = await post(restored, `after-${randomUUID()}`, 'after the restore');
      expect((await fresh.json()).task.id).toBeGreaterThan(Number(highest));
    } finally {
      await restored.stop();
    }
  });

  it('refuses a truncated, corrupted or tampered backup, one without its data or with a false manifest, before writing anything (exit 4)', async () => {
    const target = second ?? first;
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const source = await runBundle(restoreBundle, ['--list'], env);
    const id = source.stdout.trim().split('\n').at(-1)!.split(/\s+/)[0]!;
    const get = async (object: string) => {
      const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `drill/${id}/${object}` }));
      return Buffer.from(await out.Body!.transformToByteArray());
    };
    const data = await get('data.ndjson.gz');
    const manifest = JSON.parse((await get('manifest.json')).toString());
    const { createHash } = await import('node:crypto');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

    const flipped = Buffer.from(data);
    flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
    const plain = gunzipSync(data).toString().replace(/task 0\/0/, 'task 0/9');
    const tampered = gzipSync(plain);
    // [what, data object (none: missing), the manifest for a backup id, the line that names the fault]
    const cases: [string, Buffer | undefined, (id: string) => unknown, RegExp][] = [
      ['truncated', data.subarray(0, data.length - 40), (fakeId) => ({ ...manifest, id: fakeId }), /damaged|not valid gzip/],
      ['corrupted', flipped, (fakeId) => ({ ...manifest, id: fakeId }), /damaged|not valid gzip/],
      // The data and its recorded SHA-256 both changed: the per-table checksums still catch it.
      ['tampered', tampered, (fakeId) => ({ ...manifest, id: fakeId, data: { ...manifest.data, bytes: tampered.length, sha256: sha(tampered) } }), /damaged/],
      ['missing_data', undefined, (fakeId) => ({ ...manifest, id: fakeId }), /is damaged: its data object data\.ndjson\.gz is missing/],
      ['empty_manifest', data, () => ({}), /is damaged: its manifest's format is missing/],
      // A manifest claiming an older schema would have the rows loaded into that schema.
      ['older_schema', data, (fakeId) => ({ ...manifest, id: fakeId, schemaVersion: '001' }), /manifest says schema 001, its schema_migrations rows end at/],
    ];
    let n = 0;
    for (const [what, body, manifestFor, line] of cases) {
      const fakeId = id.replace(/-[0-9a-f]{4}$/, `-${(0xfff0 + n++).toString(16)}`);
      if (body) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `drill/${fakeId}/data.ndjson.gz`, Body: body }));
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `drill/${fakeId}/manifest.json`, Body: JSON.stringify(manifestFor(fakeId)) }));
      const db = `refused_${what}`;
      await query(target.url(), `CREATE DATABASE ${db}`);
      const r = await runBundle(restoreBundle, ['--from', fakeId], { ...env, DATABASE_URL: target.url(db) });
      expect(r.code, `${what}: ${r.stderr}`).toBe(4);
      // The command's own output is one line, the last (on Node 20 the AWS SDK prints its version notice first).
      const out = r.stderr.trim().split('\n');
      expect(out.filter((l) => l.startsWith('restore: ')), what).toEqual([out.at(-1)]);
      expect(r.stderr, what).toMatch(line);
      const tables = await query(target.url(db), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      expect(tables, `${what}: nothing written`).toEqual([]);
    }
    client.destroy();
  });

  it('answers each mistake with one line and its own exit code, never a secret', async () => {
    const target = second ?? first;
    const cases: [string, string[], Record<string, string>, number, RegExp][] = [
      ['unknown id', ['--from', '20200101T000000.000Z-abcd'], { DATABASE_URL: target.url() }, 3, /no backup 20200101T000000\.000Z-abcd/],
      ['wrong URI', ['--list'], { BACKUP_URI: 'ftp://example/x' }, 78, /BACKUP_URI must be s3:\/\//],
      ['unreachable S3', ['--list'], { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '2' }, 69, /cannot reach S3 after 2 attempts/],
      ['wrong password', ['--from', 'latest'], { DATABASE_URL: target.url().replace(/:[^:@/]+@/, ':not-the-password@') }, 77, /refused the credentials \(28P01/],
      ['holds tasks', ['--from', 'latest'], { DATABASE_URL: target.url() }, 5, /already holds tasks/],
      ['bad flag', ['--frm', 'x'], {}, 2, /Unknown option '--frm'/],
      ['check with replace', ['--from', 'latest', '--check', '--replace'], {}, 2, /takes no --replace/],
    ];
    for (const [what, args, extra, code, line] of cases) {
      const r = await runBundle(restoreBundle, args, { ...env, ...extra });
      expect(r.code, `${what}: ${r.stderr}`).toBe(code);
      expect(r.stderr, what).toMatch(line);
      expect(r.stderr, what).not.toMatch(/^\s+at /m);
      expect(r.stderr + r.stdout, what).not.toContain(target.password);
    }
    const b = await runBundle(backupBundle, [], { ...env, DATABASE_URL: target.url().replace(/:[^:@/]+@/, ':wrong@') });
    expect(b.code).toBe(77);
    expect(b.stderr).not.toContain(target.password);
  });

  it('the migration Job backs up before applying a pending migration, and applies nothing when it cannot', async () => {
    const target = second ?? first;
    const migrations = loadMigrations();
    const older = migrations.slice(0, -1);
    for (const [db, extra, code] of [
      ['migrate_backed_up', {}, 0],
      ['migrate_refused', { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1' }, 1],
    ] as const) {
      await query(target.url(), `CREATE DATABASE ${db}`);
      // The schema one migration behind, with a task in it.
      const { migrate } = await import('../functions/api/migrations/runner');
      const { createPgDb } = await import('../functions/api/db/pg');
      const { loadConfig } = await import('../functions/api/config');
      const { createLogger } = await import('../functions/api/logger');
      const dbh = createPgDb(loadConfig({ DATABASE_URL: target.url(db) }).db, createLogger('silent'));
      await migrate(dbh, older);
      await dbh.query("INSERT INTO main_table (task) VALUES ('kept before migrating')");
      await dbh.close();
      const r = await runBundle(migrateBundle, [], { ...env, ...extra, DATABASE_URL: target.url(db) });
      expect(r.code, r.stderr).toBe(code);
      const version = (await query<{ v: string }>(target.url(db), 'SELECT max(version) AS v FROM schema_migrations'))[0]!.v;
      if (code === 0) {
        expect(r.stderr).toMatch(/backup before migrating:\nbackup \S+ written/);
        expect(version).toBe(migrations.at(-1)!.version);
      } else {
        expect(r.stderr).toMatch(/the backup before migrating failed, so no migration was applied: .*cannot reach S3/);
        expect(version).toBe(older.at(-1)!.version);
      }
    }
  });
});

describe('the commands on a local directory: one line, the exit code that fits, nothing left behind', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const scratch = () => {
    const d = mkdtempSync(join(tmpdir(), 'tasks-backup-cli-'));
    dirs.push(d);
    return d;
  };
  const lines = (r: Run) => r.stderr.trim().split('\n');

  it('a BACKUP_URI under /proc fails at once with exit 78, where the recursive mkdir never returned', async () => {
    await ensureBundle();
    const dir = scratch();
    await runBundle(migrateBundle, [], { PGLITE_DIR: join(dir, 'db') });
    for (const uri of ['file:///proc/x/y', '/proc/x/y']) {
      const r = await runBundle(backupBundle, [], { PGLITE_DIR: join(dir, 'db'), BACKUP_URI: uri });
      expect(r.code, `${uri}: ${r.stderr}`).toBe(78);
      expect(lines(r)).toEqual([expect.stringMatching(/^backup: BACKUP_URI: cannot create the directory \/proc\/x\/y\/\S+: \/proc cannot hold directories \(ENOENT\)$/)]);
    }
    // PGLITE_DIR is made the same way.
    const r = await runBundle(backupBundle, [], { PGLITE_DIR: '/proc/x/y', BACKUP_URI: join(dir, 'backups') });
    expect(r.code, r.stderr).toBe(78);
    // New PGlite directories are assembled beside their final name: the first level that cannot be made is named.
    expect(lines(r)).toEqual(['backup: cannot create the directory /proc/x: /proc cannot hold directories (ENOENT)']);
  });

  it('a never-migrated database is exit 78 with one line and leaves no backup folder', async () => {
    // A new PGlite directory starts migrated (from the seed), so the never-migrated database is an empty PostgreSQL one.
    const dir = scratch();
    const name = `never_migrated_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    let r: Awaited<ReturnType<typeof runBundle>>;
    try {
      r = await runBundle(backupBundle, [], { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`, DB_DRIVER: 'pg', BACKUP_URI: join(dir, 'backups') });
    } finally {
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    }
    expect(r.code, r.stderr).toBe(78);
    expect(lines(r)).toEqual([expect.stringMatching(/^backup: the configured database has no schema_migrations table: it was never migrated/)]);
    const list = await runBundle(restoreBundle, ['--list'], { BACKUP_URI: join(dir, 'backups') });
    expect(list.stdout.trim()).toBe(`no backups in ${join(dir, 'backups')}`);
  });

  it('a usage error prints the usage first and its one line last, exit 2', async () => {
    for (const [bundle, args, line] of [
      [restoreBundle, ['--frm', 'x'], /^restore: Unknown option '--frm'/],
      [restoreBundle, [], /^restore: --from <id\|latest> is required$/],
      [restoreBundle, ['--list', '--no-migrate'], /^restore: --list takes no other option$/],
      [restoreBundle, ['--from', 'latest', '--check', '--replace'], /^restore: --check restores into an empty scratch database; it takes no --replace$/],
      [backupBundle, ['--reason', 'Not One Word'], /^backup: --reason is one lowercase word/],
      [backupBundle, ['--bogus'], /^backup: Unknown option '--bogus'/],
    ] as const) {
      const r = await runBundle(bundle, [...args], { BACKUP_URI: scratch() });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const out = lines(r);
      expect(out[0], args.join(' ')).toMatch(/^usage: npm run (backup|restore)/);
      expect(out.at(-1), args.join(' ')).toMatch(line);
      expect(out.filter((l) => /^(backup|restore): /.test(l)), args.join(' ')).toHaveLength(1);
    }
  });

  it('a bad DATABASE_URL is one line, exit 78, never the password nor a stack trace', async () => {
    const password = 'pw-never-printed';
    // The first two are refused when the configuration is read; the %-escape only when pg parses it.
    for (const [bundle, args, url] of [
      [backupBundle, [], `postgres://u:${password}@[bad/db`],
      [restoreBundle, ['--from', 'latest'], `postgres://u:${password}@[bad/db`],
      [backupBundle, [], `postgres://u:${password}@127.0.0.1:99999/db`],
      [restoreBundle, ['--from', 'latest'], `postgres://u:${password}@127.0.0.1:99999/db`],
      [backupBundle, [], `postgres://u:${password}%zz@127.0.0.1:5432/db`],
    ] as const) {
      const r = await runBundle(bundle, [...args], { DATABASE_URL: url, BACKUP_URI: scratch() });
      expect(r.code, `${url}: ${r.stderr}`).toBe(78);
      expect(lines(r), url).toEqual([expect.stringMatching(/^(backup|restore): invalid configuration: DATABASE_URL /)]);
      expect(r.stderr + r.stdout).not.toContain(password);
    }
  });
});

describe('PGlite to PostgreSQL and back', () => {
  it('moves local tasks to PostgreSQL and back, byte for byte', async () => {
    await ensureBundle();
    const dir = mkdtempSync(join(tmpdir(), 'tasks-pglite-backup-'));
    const { createTestDatabase } = await import('./support/postgres');
    const pgdb = await createTestDatabase('tasks_backup');
    const env = { BACKUP_URI: join(dir, 'backups') };
    try {
      const local = await startApi({ env: { PGLITE_DIR: join(dir, 'one'), LOG_LEVEL: 'warn' } });
      for (const text of ['Buy milk', '  spaces kept  ', 'emoji 🧪 and עברית', "quote ' and \\ backslash"]) {
        expect((await post(local, randomUUID(), text)).status).toBe(201);
      }
      await fetch(`${local.url}/api/tasks/2`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"done":true}' });
      await fetch(`${local.url}/api/tasks/3`, { method: 'DELETE' });
      const original = await (await fetch(`${local.url}/api/tasks`)).text();
      await local.stop();

      const fromLocal = await runBundle(backupBundle, [], { ...env, PGLITE_DIR: join(dir, 'one') });
      expect(fromLocal.code, fromLocal.stderr).toBe(0);
      const intoPg = await runBundle(restoreBundle, ['--from', 'latest'], { ...env, DATABASE_URL: pgdb.url });
      expect(intoPg.code, intoPg.stderr).toBe(0);
      const onPg = await startApi({ env: { DATABASE_URL: pgdb.url, DB_DRIVER: 'pg', LOG_LEVEL: 'warn' } });
      expect(await (await fetch(`${onPg.url}/api/tasks`)).text()).toBe(original);
      await onPg.stop();

      const fromPg = await runBundle(backupBundle, [], { ...env, DATABASE_URL: pgdb.url });
      expect(fromPg.code, fromPg.stderr).toBe(0);
      const intoLocal = await runBundle(restoreBundle, ['--from', 'latest'], { ...env, PGLITE_DIR: join(dir, 'two') });
      expect(intoLocal.code, intoLocal.stderr).toBe(0);
      const back = await startApi({ env: { PGLITE_DIR: join(dir, 'two'), LOG_LEVEL: 'warn' } });
      expect(await (await fetch(`${back.url}/api/tasks`)).text()).toBe(original);
      // The id sequence came along: a new task does not reuse the deleted id 3 or any other.
      expect((await (await post(back, randomUUID(), 'next')).json()).task.id).toBe(5);
      // The record of the delete came along too (deleted_tasks): Undo still brings task 3 back, once.
      const undo = () => fetch(`${back.url}/api/tasks/restore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tasks":[{"id":3}]}' });
      expect((await (await undo()).json()).tasks.map((t: { id: number; task: string }) => [t.id, t.task])).toEqual([[3, 'emoji 🧪 and עברית']]);
      expect((await (await undo()).json()).tasks).toEqual([]);
      await back.stop();

      // Both directions gave the same bytes: the two backups' table checksums are equal.
      const manifests = (await runBundle(restoreBundle, ['--list'], env)).stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]!);
      const read = (id: string) => JSON.parse(readFileSync(join(dir, 'backups', id, 'manifest.json'), 'utf8')).tables;
      expect(read(manifests[0]!)).toEqual(read(manifests[1]!));
    } finally {
      await pgdb.drop();
      rmSync(dir, { recursive: true, force: true });
    }
    // Four processes each open a PGlite directory (initdb in WebAssembly on new ones: seconds of CPU
    // apiece); on the shared two cores this took 80 s once, past the default 60 s.
  }, 240_000);
});
