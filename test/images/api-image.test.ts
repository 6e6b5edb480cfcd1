import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildah, inspectImage } from '../../scripts/images/buildah';
import { appImages, root, runtimeBase } from '../../scripts/images/app-images';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { adminUrl, renderedContainer, runContainer, runMigrateImage, startApiImage, type RunningApiImage } from '../support/images';

// The tasks-api image run as the prod manifests run it (see test/support/images.ts): the
// migration Job's command first, then the Knative Service's container, on the machine's
// PostgreSQL, as the DML-only role the migration creates.
const api = appImages.find((i) => i.name === 'tasks-api')!;
const manifest = renderedContainer('prod/backend/30-tasks-api.yaml', 'api');
const appRole = { username: `tasks_image_app_${randomBytes(4).toString('hex')}`, password: 'not-checked-by-trust-auth' };

let database: TestDatabase;
let running: RunningApiImage;
let migration: Awaited<ReturnType<typeof runMigrateImage>>;

beforeAll(async () => {
  database = await createTestDatabase('tasks_image');
  migration = await runMigrateImage(database.url, { app: appRole });
  if (migration.code !== 0) throw new Error(`migrate exited with ${migration.code}:\n${migration.logs}`);
  const asApp = new URL(database.url);
  asApp.username = appRole.username;
  running = await startApiImage({ databaseUrl: asApp.toString() });
});

afterAll(async () => {
  if (running && running.container.child.exitCode === null) await running.stop();
  await database?.drop();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS "${appRole.username}"`).finally(() => admin.end());
});

const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = running.headers) => {
  const res = await fetch(`${running.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
};

/** Every file path under a directory, relative to it. */
function paths(dir: string, rel = ''): string[] {
  const out = [rel || '/'];
  if (lstatSync(join(dir, rel)).isDirectory()) for (const n of readdirSync(join(dir, rel))) out.push(...paths(dir, `${rel}/${n}`));
  return out;
}

async function withMounted<T>(image: string, fn: (rootfs: string) => T): Promise<T> {
  const ctr = (await buildah(['from', '--pull=never', image])).trim();
  try {
    return fn((await buildah(['mount', ctr])).trim());
  } finally {
    await buildah(['umount', ctr]);
    await buildah(['rm', ctr]);
  }
}

describe('the tasks-api image', () => {
  it('runs as the non-root user and in the directory the image and the manifest agree on', async () => {
    const config = (await inspectImage(api.ref))!;
    expect(config.User).toBe(`${manifest.runAsUser}:${manifest.runAsGroup}`);
    expect(manifest.runAsUser).toBeGreaterThan(0);
    expect(manifest.runAsNonRoot && manifest.readOnlyRootFilesystem).toBe(true);
    expect(config.WorkingDir).toBe('/app');
    expect(config.Entrypoint).toEqual(['node', '/app/server.mjs']);
    // The process itself: the kernel's view of its ids, and no capabilities at all.
    const status = readFileSync(`/proc/${running.container.pid}/status`, 'utf8');
    expect(status).toMatch(new RegExp(`^Uid:\\s+${manifest.runAsUser}\\s+${manifest.runAsUser}\\s+${manifest.runAsUser}\\s+${manifest.runAsUser}$`, 'm'));
    expect(status).toMatch(new RegExp(`^Gid:\\s+${manifest.runAsGroup}\\s`, 'm'));
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(readFileSync(`/proc/${running.container.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual(['node', '/app/server.mjs']);
  });

  it('adds exactly the four bundles (server, migrate, backup, restore) and V8\'s code cache of server.mjs to its base: no node_modules, no dev dependency', async () => {
    const [image, base] = await Promise.all([withMounted(api.ref, (r) => paths(r)), withMounted(runtimeBase(api), (r) => paths(r))]);
    const added = image.filter((p) => !base.includes(p));
    const cache = added.filter((p) => p.startsWith('/app/compile-cache/'));
    expect(added.filter((p) => !cache.includes(p)).sort()).toEqual(['/app', '/app/backup.mjs', '/app/compile-cache', '/app/migrate.mjs', '/app/restore.mjs', '/app/server.mjs']);
    // One entry, made by the image's node for the user it runs as (Node names the folder by both).
    expect(cache).toHaveLength(2);
    expect(cache[0]).toMatch(new RegExp(`^/app/compile-cache/v24\\.[\\w.-]+-${manifest.runAsUser}$`));
    expect(cache[1]).toMatch(new RegExp(`^${cache[0]!.replace(/[.]/g, '\\.')}/[0-9a-f]+$`));
    expect(image.filter((p) => p.startsWith('/app/') && p.includes('node_modules'))).toEqual([]);

    // Whatever the bundles still import by name is a Node built-in, or PGlite: the local-only
    // driver, loaded only when DB_DRIVER=pglite and not shipped; or the AWS SDK's optional SigV4a
    // signers, which it requires only for S3 multi-region access points (not used). Never a dev dependency.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const bundles = await withMounted(api.ref, (r) => ['server.mjs', 'migrate.mjs', 'backup.mjs', 'restore.mjs'].map((f) => readFileSync(join(r, 'app', f), 'utf8')));
    const specifiers = new Set<string>();
    for (const code of bundles) {
      for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)) {
        // Only what names a module: a built-in or a package (minified code has other strings there).
        if (/^(node:[\w/]+|(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w.-]+)*)$/.test(m[1]!)) specifiers.add(m[1]!);
      }
    }
    const external = [...specifiers].filter((s) => !s.startsWith('node:'));
    const optional = new Set(['@electric-sql/pglite', '@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);
    expect(external.filter((s) => !optional.has(s) && !s.startsWith('@electric-sql/pglite/'))).toEqual([]);
    for (const dev of Object.keys(pkg.devDependencies)) expect([...specifiers].some((s) => s === dev || s.startsWith(`${dev}/`)), dev).toBe(false);
  });

  it('starts from the code cache made at build time: V8 accepts it and nothing is written', async () => {
    const asApp = new URL(database.url);
    asApp.username = appRole.username;
    const traced = await startApiImage({ databaseUrl: asApp.toString(), env: { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } });
    const accepted = traced.logs();
    expect(await traced.stop()).toBe(0);
    expect(accepted).toMatch(/V8 code cache for ESM file:\/\/\/app\/server\.mjs was accepted/);
    // At exit: the cache still matches, so Node writes nothing to the read-only root.
    expect(traced.logs()).toMatch(/skip persisting ESM file:\/\/\/app\/server\.mjs because cache was the same/);
  });

  it('ran the migrate entry as the Job does: schema applied, the app role made, nothing written outside /tmp', async () => {
    expect(migration.code).toBe(0);
    expect(migration.writes).toEqual([]);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query(`SELECT has_table_privilege($1, 'main_table', 'INSERT') AS dml, has_database_privilege($1, current_database(), 'CREATE') AS ddl`, [appRole.username]);
      expect(rows).toEqual([{ dml: true, ddl: false }]);
    } finally {
      await admin.end();
    }
  });

  it('answers the task API over HTTP on PostgreSQL: create, list, get, update, delete', async () => {
    const created = await call('POST', '/api/tasks', { task: 'Ship the image' });
    expect(created.status).toBe(201);
    expect(created.type).toMatch(/^application\/json/);
    const task = created.body.task;
    expect(created.body).toEqual({
      success: true,
      message: 'Task added successfully',
      task: { id: expect.any(Number), task: 'Ship the image', done: false, position: 'a0', createdAt: expect.any(String), updatedAt: expect.any(String), version: 1 },
    });

    expect(await call('GET', '/api/tasks')).toMatchObject({ status: 200, body: { success: true, tasks: [task], nextCursor: null } });
    expect(await call('GET', `/api/tasks/${task.id}`)).toMatchObject({ status: 200, body: { success: true, task } });

    const updated = await call('PUT', `/api/tasks/${task.id}`, { task: 'Ship both images' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ success: true, message: 'Task updated successfully', task: { id: task.id, task: 'Ship both images', done: false } });
    const patched = await call('PATCH', `/api/tasks/${task.id}`, { done: true });
    expect(patched).toMatchObject({ status: 200, body: { task: { id: task.id, task: 'Ship both images', done: true } } });

    expect(await call('DELETE', `/api/tasks/${task.id}`)).toEqual({
      status: 200,
      type: expect.stringMatching(/^application\/json/),
      body: { success: true, message: 'Task deleted successfully', id: task.id },
    });
    expect(await call('GET', '/api/tasks')).toMatchObject({ status: 200, body: { tasks: [] } });
  });

  it('answers bad input, unknown paths and a missing token with JSON errors, and writes nothing', async () => {
    const invalid = await call('POST', '/api/tasks', { task: '   ' });
    expect(invalid).toMatchObject({ status: 400, body: { success: false, code: 'validation_error', message: expect.any(String) } });
    expect(invalid.type).toMatch(/^application\/json/);
    expect(await call('GET', '/api/tasks/999999')).toMatchObject({ status: 404, body: { success: false, code: 'not_found', message: 'Task not found' } });
    expect(await call('GET', '/api/no-such-route')).toMatchObject({ status: 404, body: { success: false, code: 'not_found' } });
    expect(await call('GET', '/api/tasks', undefined, {})).toMatchObject({ status: 401, body: { success: false, code: 'unauthorized' } });
    expect(await call('GET', '/api/tasks')).toMatchObject({ status: 200, body: { tasks: [] } });
  });

  it('reports ready and live on the probe paths, and its revision from K_REVISION', async () => {
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    const info = await call('GET', '/api/info');
    expect(info).toMatchObject({ status: 200, body: { version: manifest.env.APP_VERSION, revision: 'tasks-api-00001', driver: 'pg' } });
  });

  it('sees a read-only root and a writable /tmp only', async () => {
    const probe = `const fs = require('node:fs');
      const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({ uid: process.getuid(), cwd: process.cwd(), root: tryWrite('/probe'), app: tryWrite('/app/probe'), etc: tryWrite('/etc/probe'), tmp: tryWrite('/tmp/probe') }));`;
    const container = await runContainer({ image: api.ref, command: ['node', '-e', probe], runAsUser: manifest.runAsUser!, runAsGroup: manifest.runAsGroup! });
    try {
      expect(await container.exited).toBe(0);
      expect(JSON.parse(container.logs())).toEqual({ uid: manifest.runAsUser, cwd: '/app', root: 'EROFS', app: 'EROFS', etc: 'EROFS', tmp: 'written' });
      expect(container.writesOutsideTmp()).toEqual([]);
    } finally {
      await container.remove();
    }
  });

  it('drains on SIGTERM, exits 0 and has written nothing outside /tmp', async () => {
    // Requests sent as the signal arrives: each is answered 200, or (not yet accepted, or on a
    // connection still idle) refused at the connection; never a 5xx or a cut-off answer.
    const settled = Promise.allSettled(Array.from({ length: 20 }, () => call('GET', '/api/tasks')));
    await new Promise((r) => setTimeout(r, 20));
    const stopped = Date.now();
    const code = await running.container.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    for (const r of await settled) {
      if (r.status === 'fulfilled') expect(r.value.status).toBe(200);
      else expect(String((r.reason as Error).cause)).toMatch(/ECONNRESET|ECONNREFUSED|other side closed/);
    }
    expect(running.container.writesOutsideTmp()).toEqual([]);
    expect(running.logs()).not.toMatch(/"level":(50|60)/);
    await running.stop();
  });
});
