import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRotationHandler } from '../functions/rotate-secrets/handler';
import { ensureBundle, migrateBundle, startApi, type RunningApi } from './support/api';
import { KubeletSecretVolume } from './support/kubelet-secret-volume';
import { ROTATION_FUNCTION_ARN, startRotationFixture, type DbSecretValue, type RotationFixture } from './support/rotation-fixture';

/*
 * The whole path of a credential rotation, with nothing restarted:
 * Secrets Manager (local stand-in) → rotation function → PostgreSQL (SCRAM) → "ESO + kubelet"
 * (this test rewrites the mounted Secret volume the way the kubelet does) → the bundled API,
 * which swaps its pool. Two rotations (tasks_app → tasks_app_clone → tasks_app) run while
 * CLIENTS concurrent clients keep writing and reading; every response must be 2xx and every
 * acknowledged write must be in the database afterwards.
 * Then two more rotations in which every session of the user the API was connected as is
 * terminated (pg_terminate_backend) the moment the new files are mounted, before the API has
 * followed them: reads must all answer 200, and writes (keyed, as the page sends them) must all
 * be acknowledged, each at most once in the table.
 */
const CLIENTS = 60;
const DATABASE = 'tasks_api';
const APP_USER = 'tasks_app';

let fx: RotationFixture;
let api: RunningApi | undefined;
let volume: KubeletSecretVolume;
let secretArn: string;

function volumePayload(secret: DbSecretValue): Record<string, string> {
  // The keys the backend's ExternalSecret writes into Secret database-credentials.
  return { username: secret.username, password: secret.password, host: secret.host, port: String(secret.port), dbname: secret.dbname };
}

async function currentSecret(): Promise<DbSecretValue> {
  const out = await fx.client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return JSON.parse(out.SecretString!) as DbSecretValue;
}

/** Users the API is connected as right now (the old pool's connections close once it has drained). */
async function apiUsers(): Promise<string[]> {
  const { rows } = await fx.adminQuery<{ usename: string }>(
    'SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY usename',
    [DATABASE],
  );
  return rows.map((r) => r.usename);
}

async function waitUntilApiUses(user: string, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const users = await apiUsers();
    if (users.length === 1 && users[0] === user) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`the API still connects as ${users.join(', ') || 'nobody'}, expected only ${user}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const [fixture] = await Promise.all([startRotationFixture(), ensureBundle()]);
  fx = fixture;
  fx.sm.registerRotationFunction(ROTATION_FUNCTION_ARN, createRotationHandler({ client: fx.client, log: () => {} }));
  await fx.adminQuery(`CREATE DATABASE ${DATABASE}`);

  const initial: DbSecretValue = {
    engine: 'postgres',
    host: fx.cluster.host,
    port: fx.cluster.port,
    dbname: DATABASE,
    username: APP_USER,
    password: randomBytes(18).toString('base64url'),
    masterarn: fx.adminArn,
  };
  secretArn = (await fx.client.send(new CreateSecretCommand({ Name: 'tasks/test/db-app', SecretString: JSON.stringify(initial) }))).ARN!;
  volume = KubeletSecretVolume.create(volumePayload(initial));

  // The migration Job: owner (here the superuser) runs migrations and creates the app role with DML only.
  const migrated = spawnSync(process.execPath, [migrateBundle], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: fx.cluster.url(DATABASE), APP_CREDENTIALS_DIR: volume.dir, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrate failed: ${migrated.stderr}${migrated.stdout}`);

  api = await startApi({
    env: {
      DB_DRIVER: 'pg',
      DB_HOST: fx.cluster.host,
      DB_PORT: String(fx.cluster.port),
      DB_NAME: DATABASE,
      DB_CREDENTIALS_DIR: volume.dir,
      LOG_LEVEL: 'info',
    },
  });
});

afterAll(async () => {
  await api?.stop();
  volume?.remove();
  await fx?.stop();
});

it(`serves ${CLIENTS} concurrent clients without a failed request through two rotations`, async () => {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const written = new Map<number, string>();
  const passwords = [(await currentSecret()).password];

  async function client(n: number): Promise<void> {
    for (let i = 0; running; i++) {
      const text = `rotation load ${n}-${i}`;
      try {
        const created = await fetch(`${api!.url}/api/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task: text }),
        });
        requests++;
        const body = (await created.json()) as { task?: { id: number; task: string } };
        if (created.status !== 201 || !body.task) {
          failures.push(`POST ${created.status} ${JSON.stringify(body).slice(0, 200)}`);
          continue;
        }
        written.set(body.task.id, text);
        const read = await fetch(`${api!.url}/api/tasks/${body.task.id}`);
        requests++;
        const readBody = (await read.json()) as { task?: { task: string } };
        if (read.status !== 200 || readBody.task?.task !== text) failures.push(`GET ${read.status} ${JSON.stringify(readBody).slice(0, 200)}`);
      } catch (error) {
        requests++;
        failures.push(`network error: ${(error as Error).message}`);
      }
    }
  }

  const started = Date.now();
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  const timeline: string[] = [];
  const counts: number[] = [];
  const mark = (what: string) => {
    counts.push(requests);
    timeline.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what} (${requests} requests so far)`);
  };
  try {
    await new Promise((r) => setTimeout(r, 1000));
    expect(await apiUsers()).toEqual([APP_USER]);
    mark('load running');

    for (const expected of [`${APP_USER}_clone`, APP_USER]) {
      const { VersionId } = await fx.client.send(new RotateSecretCommand({ SecretId: secretArn, RotationLambdaARN: ROTATION_FUNCTION_ARN }));
      const run = fx.sm.rotations.find((r) => r.versionId === VersionId)!;
      await run.done;
      expect(run.error).toBeUndefined();
      mark(`rotated to ${expected}`);
      // ESO's refresh and the kubelet's sync come some time after the rotation; pods keep working meanwhile.
      await new Promise((r) => setTimeout(r, 500));
      const secret = await currentSecret();
      passwords.push(secret.password);
      expect(secret.username).toBe(expected);
      volume.update(volumePayload(secret));
      mark('mounted files swapped');
      const took = await waitUntilApiUses(expected);
      mark(`API connects only as ${expected} after ${took} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    running = false;
    await load;
  }
  const seconds = (Date.now() - started) / 1000;
  mark('load stopped');

  console.log(
    `zero-downtime rotation: ${requests} requests (${written.size} writes) from ${CLIENTS} concurrent clients in ${seconds.toFixed(1)} s, ` +
      `${failures.length} failed\n  ${timeline.join('\n  ')}`,
  );
  // A 503 "timeout exceeded when trying to connect" about 5 s after a swap means the old pool was
  // ended while requests still waited for one of its connections: pg-pool's end() never serves them.
  expect(failures.slice(0, 5), `${failures.length} failed requests, first five`).toEqual([]);
  // Requests were answered in every phase: before, during and after each rotation and swap.
  // (How many depends on the machine; the count is printed above.)
  for (let i = 1; i < counts.length; i++) expect(counts[i]! - counts[i - 1]!).toBeGreaterThan(0);

  // Every acknowledged write is in the database, with the text the client sent.
  const ids = [...written.keys()];
  const db = new pg.Client({ connectionString: fx.cluster.url(DATABASE) });
  await db.connect();
  const { rows } = await db
    .query<{ id: number; task: string }>('SELECT id::float8 AS id, task FROM main_table WHERE id = ANY($1::bigint[])', [ids])
    .finally(() => db.end());
  expect(rows).toHaveLength(ids.length);
  for (const row of rows) expect(row.task).toBe(written.get(row.id));

  const logs = api!.logs();
  expect(logs.match(/database credentials changed; new pool in use/g)).toHaveLength(2);
  for (const password of passwords) expect(logs).not.toContain(password);
});

it(`serves ${CLIENTS} concurrent clients through two rotations whose old sessions are terminated at once`, async () => {
  let running = true;
  let requests = 0;
  let writeRetries = 0;
  const failures: string[] = [];
  const written = new Map<number, string>();
  let terminated = 0;

  /** A write as the page makes it: one Idempotency-Key, repeated while the answer is a 503 or 409. */
  async function write(text: string): Promise<{ id: number } | undefined> {
    const key = `"${randomUUID()}"`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const res = await fetch(`${api!.url}/api/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ task: text }),
      });
      requests++;
      const body = (await res.json()) as { task?: { id: number; task: string }; code?: string };
      if (res.status === 201 && body.task?.task === text) return body.task;
      if (res.status !== 503 && res.status !== 409) {
        failures.push(`POST ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
        return undefined;
      }
      writeRetries++;
      await new Promise((r) => setTimeout(r, 50));
    }
    failures.push(`POST never acknowledged: ${text}`);
    return undefined;
  }

  async function client(n: number): Promise<void> {
    for (let i = 0; running; i++) {
      const text = `rotation with terminated sessions ${n}-${i}`;
      try {
        const task = await write(text);
        if (!task) continue;
        written.set(task.id, text);
        // A read gets no second chance from the client: any answer but 200 is a failure.
        const read = await fetch(`${api!.url}/api/tasks/${task.id}`);
        requests++;
        const readBody = (await read.json()) as { task?: { task: string } };
        if (read.status !== 200 || readBody.task?.task !== text) failures.push(`GET ${read.status} ${JSON.stringify(readBody).slice(0, 200)}`);
        const list = await fetch(`${api!.url}/api/tasks?limit=5`);
        requests++;
        if (list.status !== 200) failures.push(`GET list ${list.status} ${(await list.text()).slice(0, 200)}`);
        else await list.arrayBuffer();
      } catch (error) {
        requests++;
        failures.push(`network error: ${(error as Error).message}`);
      }
    }
  }

  const started = Date.now();
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  const timeline: string[] = [];
  const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what} (${requests} requests so far)`);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    for (let rotation = 0; rotation < 2; rotation++) {
      const [before] = await apiUsers();
      const { VersionId } = await fx.client.send(new RotateSecretCommand({ SecretId: secretArn, RotationLambdaARN: ROTATION_FUNCTION_ARN }));
      const run = fx.sm.rotations.find((r) => r.versionId === VersionId)!;
      await run.done;
      expect(run.error).toBeUndefined();
      const secret = await currentSecret();
      expect(secret.username).not.toBe(before);
      volume.update(volumePayload(secret));
      // At once: the API has not followed the new files yet, so these are the sessions in use.
      const { rows } = await fx.adminQuery<{ ok: boolean }>(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE usename = $1 AND datname = $2',
        [before, DATABASE],
      );
      terminated += rows.filter((r) => r.ok).length;
      mark(`rotated ${before} → ${secret.username}, files swapped, ${rows.length} sessions of ${before} terminated`);
      const took = await waitUntilApiUses(secret.username);
      mark(`API connects only as ${secret.username} after ${took} ms`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    running = false;
    await load;
  }
  mark('load stopped');
  console.log(
    `rotation with terminated sessions: ${requests} requests (${written.size} writes) from ${CLIENTS} clients, ${terminated} sessions terminated, ` +
      `${writeRetries} write answers 503/409 repeated with their key, ${failures.length} failed\n  ${timeline.join('\n  ')}`,
  );
  expect(terminated).toBeGreaterThan(0); // the terminations hit sessions in use
  expect(failures.slice(0, 5), `${failures.length} failed requests, first five`).toEqual([]);

  // Every acknowledged write is there once, with its text.
  const texts = [...written.values()];
  const db = new pg.Client({ connectionString: fx.cluster.url(DATABASE) });
  await db.connect();
  const { rows } = await db
    .query<{ task: string; n: number }>('SELECT task, count(*)::int AS n FROM main_table WHERE task = ANY($1::text[]) GROUP BY task', [texts])
    .finally(() => db.end());
  expect(rows).toHaveLength(texts.length);
  expect(rows.filter((r) => r.n !== 1)).toEqual([]);
});
