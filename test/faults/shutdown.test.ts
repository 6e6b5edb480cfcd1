import { Agent, request } from 'node:http';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { webDist } from '../../scripts/web-dist';
import { startApi } from '../support/api';
import { startNginx } from '../support/nginx';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/** One POST with a unique task; resolves with the status, or 0 when the connection failed. */
function post(url: string, agent: Agent, task: string): Promise<number> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ task });
    const req = request(`${url}/api/tasks`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(15_000, () => req.destroy());
    req.end(body);
  });
}

/**
 * `clients` loops of POSTs (keep-alive or a new connection each) against `url`, SIGTERM to the API
 * after `signalAfterMs`, until the API has exited and every client saw a failure. Returns each
 * task's outcome, the exit code and the time from the signal to the exit.
 */
async function writesThroughShutdown(url: string, api: Awaited<ReturnType<typeof startApi>>, keepAlive: boolean, clients = 16, signalAfterMs = 1500) {
  const outcomes = new Map<string, number>();
  let signalledAt = 0;
  let exitedAt = 0;
  const exit = new Promise<number | null>((resolve) => api.child.once('exit', (code) => ((exitedAt = performance.now()), resolve(code))));
  const loops = Array.from({ length: clients }, async (_, c) => {
    const agent = new Agent({ keepAlive, maxSockets: 1 });
    for (let i = 0; ; i++) {
      const task = `client ${c} write ${i}`;
      const status = await post(url, agent, task);
      outcomes.set(task, status);
      if (exitedAt && performance.now() - exitedAt > 300) break; // the API is gone: nothing more to learn
      if (status !== 201) await new Promise((r) => setTimeout(r, 20));
    }
    agent.destroy();
  });
  await new Promise((r) => setTimeout(r, signalAfterMs));
  signalledAt = performance.now();
  api.child.kill('SIGTERM');
  const code = await exit;
  await Promise.all(loops);
  return { outcomes, code, exitMs: Math.round(exitedAt - signalledAt) };
}

async function committedTasks(database: TestDatabase): Promise<string[]> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    return (await c.query<{ task: string }>('SELECT task FROM main_table')).rows.map((r) => r.task);
  } finally {
    await c.end();
  }
}

/** Every acknowledged write is there once; no write whose client saw an error is there at all. */
function judge(name: string, outcomes: Map<string, number>, committed: string[]) {
  const counts = new Map<string, number>();
  for (const t of committed) counts.set(t, (counts.get(t) ?? 0) + 1);
  const acknowledged = [...outcomes].filter(([, s]) => s === 201).map(([t]) => t);
  const failed = [...outcomes].filter(([, s]) => s !== 201).map(([t]) => t);
  const lost = acknowledged.filter((t) => counts.get(t) !== 1);
  const committedButFailed = failed.filter((t) => counts.has(t));
  const statuses = Object.fromEntries([...new Set(outcomes.values())].map((s) => [s, [...outcomes.values()].filter((x) => x === s).length]));
  console.log(`${name}: ${acknowledged.length} acknowledged, ${failed.length} failed (status 0 = connection error) ${JSON.stringify(statuses)}; lost ${lost.length}; committed while the client saw an error ${committedButFailed.length}`);
  expect(acknowledged.length).toBeGreaterThan(50);
  expect(lost).toEqual([]);
  expect(committedButFailed).toEqual([]);
  expect(statuses[500]).toBeUndefined();
}

describe('SIGTERM under load: nothing lost, nothing committed behind an error', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of databases) await d.drop();
  });

  for (const keepAlive of [true, false]) {
    it(`direct, ${keepAlive ? 'keep-alive' : 'a new connection per request'}: exit 0 from the drain, never the deadline`, async () => {
      const database = await createTestDatabase();
      databases.push(database);
      const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '10000' } });
      const { outcomes, code, exitMs } = await writesThroughShutdown(api.url, api, keepAlive);
      console.log(`exit ${code} ${exitMs} ms after SIGTERM`);
      expect(code).toBe(0);
      // Short requests: the drain ended by itself, not at the 10 s deadline (the mechanism, not a duration).
      expect(api.logs()).not.toContain('shutdown deadline reached');
      judge(`direct ${keepAlive ? 'keep-alive' : 'new connections'}`, outcomes, await committedTasks(database));
    });
  }

  it('through nginx (upstream keep-alive): exit 0, failures are JSON 502s for writes that never ran', async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' } });
    const nginx = await startNginx({ htmlDir: webDist, apiUpstream: api.url });
    try {
      const { outcomes, code, exitMs } = await writesThroughShutdown(nginx.url, api, true);
      console.log(`through nginx: exit ${code} ${exitMs} ms after SIGTERM`);
      expect(code).toBe(0);
      expect(api.logs()).not.toContain('shutdown deadline reached');
      for (const s of new Set(outcomes.values())) expect([201, 502]).toContain(s);
      judge('through nginx', outcomes, await committedTasks(database));
    } finally {
      await nginx.stop();
    }
  });
});
