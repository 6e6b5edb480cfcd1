import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api';
import { startScramCluster, type ScramCluster } from '../support/scram-cluster';

/**
 * The database restarts (`pg_ctl stop -m fast`, then `-m immediate`) under 32 clients that mix
 * reads with keyed writes, each write retried with its own key until it is acknowledged. Holds:
 * every acknowledged write is in the table, no write is there twice, no 500, and the outage is
 * ended by the API's connection probe: in the API's own log (one process, lines in the order they
 * happened) the breaker's last close follows a probe's answer, and no request after that line is
 * answered 503. Counted in log events, never in milliseconds: how soon that is depends on a shared
 * machine. The time from the database accepting connections again (a watcher connecting
 * every 10 ms) to the first 2xx and to steady 2xx is printed, a measured figure.
 * Then single sessions terminated under a read and under a write (pg_terminate_backend).
 */
const CLIENTS = 32;
const DOWN_MS = 1500;
/** How long the clients go on after the database is back: the figures printed are measured within it. */
const AFTER_MS = 2500;
/** How long one write keeps retrying with its key before the client gives up on it. */
const WRITE_RETRY_MS = 15_000;

let cluster: ScramCluster;
let api: RunningApi;
let url: string;

beforeAll(async () => {
  cluster = await startScramCluster();
  const admin = new pg.Client({ connectionString: cluster.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE tasks');
  await admin.end();
  url = cluster.url('tasks');
  // info: one log line per request with its status, beside the breaker's lines.
  api = await startApi({ env: { DATABASE_URL: url, DB_DRIVER: 'pg', MIGRATE_ON_START: 'true', LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  await api?.stop();
  await cluster?.stop();
});

interface Sample {
  at: number;
  ok: boolean;
}

/** What the API logged from `offset` on that tells the outage's story: the breaker's lines and every /api answer's status. */
type OutageEvent = { kind: 'closed'; probes: number; outageMs: number } | { kind: 'answer'; status: number };
function outageEvents(offset: number): OutageEvent[] {
  return api
    .logs()
    .slice(offset)
    .split('\n')
    .flatMap((line): OutageEvent[] => {
      if (!line.startsWith('{')) return [];
      const e = JSON.parse(line) as { msg?: string; probes?: number; outageMs?: number; status?: number; path?: string };
      if (e.msg === 'database reachable again') return [{ kind: 'closed', probes: e.probes!, outageMs: e.outageMs! }];
      if (e.msg === 'request' && e.path?.startsWith('/api/')) return [{ kind: 'answer', status: e.status! }];
      return [];
    });
}

async function underLoad(mode: 'fast' | 'immediate') {
  const logOffset = api.logs().length;
  const samples: Sample[] = [];
  const statuses = new Map<number | string, number>();
  const acknowledged: string[] = [];
  let replayed = 0;
  let retriedWrites = 0;
  let stop = false;
  const note = (status: number | string) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    samples.push({ at: Date.now(), ok: typeof status === 'number' && status < 300 });
  };

  async function write(text: string) {
    const key = `"${randomUUID()}"`;
    const deadline = Date.now() + WRITE_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      if (attempt === 1) retriedWrites++;
      let status: number | string;
      try {
        const res = await fetch(`${api.url}/api/tasks`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
          body: JSON.stringify({ task: text }),
        });
        status = res.status;
        const body = (await res.json()) as { task?: { task: string } };
        if (status === 201) {
          if (body.task?.task !== text) throw new Error(`acknowledged the wrong task: ${JSON.stringify(body)}`);
          if (res.headers.get('idempotent-replayed') === 'true') replayed++;
          note(status);
          acknowledged.push(text);
          return;
        }
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('acknowledged')) throw err;
        status = 'network';
      }
      note(status);
      // Only an outage or a first try still running is worth repeating; anything else is a finding.
      if (status !== 503 && status !== 409 && status !== 'network') return;
      if (Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 150));
    }
  }

  async function client(n: number) {
    for (let i = 0; !stop; i++) {
      if (Math.random() < 0.5) {
        try {
          const res = await fetch(`${api.url}/api/tasks?limit=5`);
          await res.arrayBuffer();
          note(res.status);
        } catch {
          note('network');
        }
      } else {
        await write(`${mode}-c${n}-w${i}`);
      }
    }
  }

  const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
  await new Promise((r) => setTimeout(r, 1000));
  const stoppedAt = Date.now();
  await cluster.halt(mode);
  // pg_ctl start -w notices a started server only on its next poll: this watcher also looks for
  // the moment itself (a connection every 10 ms), so the figures count from the database's return.
  let acceptingAt = Infinity;
  const watcher = (async () => {
    while (!stop) {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        acceptingAt = Date.now();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
  await new Promise((r) => setTimeout(r, DOWN_MS));
  await cluster.resume();
  const resumedAt = Date.now();
  await watcher;
  // Both are upper bounds of the moment the server accepted connections (the watcher shares this
  // busy event loop with the clients); the earlier one is the closer.
  const backAt = Math.min(resumedAt, acceptingAt);
  await new Promise((r) => setTimeout(r, AFTER_MS));
  stop = true;
  await Promise.all(clients);

  // Steady 2xx: from the first success after the last failure that ended after the database returned.
  const lastFailure = samples.filter((s) => !s.ok).reduce((m, s) => Math.max(m, s.at), 0);
  const steadyAt = samples.filter((s) => s.ok && s.at >= lastFailure).reduce((m, s) => Math.min(m, s.at), Infinity);
  const firstOkAt = samples.filter((s) => s.ok && s.at >= backAt).reduce((m, s) => Math.min(m, s.at), Infinity);
  return { samples, statuses, acknowledged, replayed, retriedWrites, stoppedAt, backAt, firstOkAt, steadyAt, lastFailure, events: outageEvents(logOffset) };
}

describe('database restart under 32 clients with keyed writes', () => {
  for (const mode of ['fast', 'immediate'] as const) {
    it(`pg_ctl stop -m ${mode}: every acknowledged write kept, none twice, no 500`, async () => {
      const run = await underLoad(mode);
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const { rows } = await db.query<{ task: string; n: number }>(
          'SELECT task, count(*)::int AS n FROM main_table WHERE task LIKE $1 GROUP BY task',
          [`${mode}-%`],
        );
        const stored = new Map(rows.map((r) => [r.task, r.n]));
        const missing = run.acknowledged.filter((t) => !stored.has(t));
        const twice = rows.filter((r) => r.n > 1);
        const backToSteadyMs = Math.max(0, run.steadyAt - run.backAt);
        const backToFirstOkMs = run.firstOkAt - run.backAt;
        // The API's log of this run: the answers, the breaker closing, what came after its last close.
        const closes = run.events.filter((e): e is Extract<OutageEvent, { kind: 'closed' }> => e.kind === 'closed');
        const lastClose = closes.length ? run.events.lastIndexOf(closes.at(-1)!) : -1;
        const after = run.events.slice(lastClose + 1).filter((e): e is Extract<OutageEvent, { kind: 'answer' }> => e.kind === 'answer');
        const before = run.events.slice(0, Math.max(0, lastClose)).filter((e): e is Extract<OutageEvent, { kind: 'answer' }> => e.kind === 'answer');
        console.log(
          `pg_ctl stop -m ${mode}: ${run.samples.length} answers (${[...run.statuses].map(([s, n]) => `${s}×${n}`).join(', ')}); ` +
            `${run.acknowledged.length} writes acknowledged, ${run.retriedWrites} retried with their key, ${run.replayed} answered from the record; ` +
            `${missing.length} missing, ${twice.length} twice; database accepting connections → first 2xx in ${backToFirstOkMs} ms, ` +
            `steady 2xx in ${backToSteadyMs} ms (database down ${run.backAt - run.stoppedAt} ms); the API's log: ` +
            `${closes.length} breaker close(s) (${closes.map((c) => `after ${c.probes} probes, ${c.outageMs} ms open`).join('; ')}), ` +
            `${before.filter((e) => e.status === 503).length} answers 503 before the last, ${after.length} answers after it (${after.filter((e) => e.status === 503).length} of them 503)`,
        );
        expect(api.child.exitCode, api.logs().slice(-3000)).toBeNull();
        const unhandled = api.logs().split('\n').filter((l) => l.includes('unhandled error'));
        expect(run.statuses.get(500) ?? 0, unhandled.slice(0, 3).join('\n')).toBe(0);
        expect([...run.statuses.keys()].every((s) => s === 200 || s === 201 || s === 503 || s === 409)).toBe(true);
        expect(run.statuses.get(503) ?? 0).toBeGreaterThan(0); // the outage was seen
        expect(missing).toEqual([]);
        expect(twice).toEqual([]);
        // Every write that was stored was acknowledged to its client: none left behind unanswered.
        expect([...stored.keys()].filter((t) => !run.acknowledged.includes(t))).toEqual([]);
        expect(run.firstOkAt).toBeLessThan(Infinity);
        expect(run.steadyAt).toBeLessThan(Infinity);
        // The outage was ended by the connection probe's answer, not by a request let through on a
        // timer, and at once: after the breaker's last close no request is refused. In events of
        // the API's own log, not in milliseconds.
        expect(closes.length, 'the breaker never closed').toBeGreaterThan(0);
        expect(closes.at(-1)!.probes, 'the outage was not ended by a probe').toBeGreaterThan(0);
        // Once: a close on a probe that did not hold (the breaker open again) would be a second one.
        // A close after 0 probes is a request that was already running when the breaker opened.
        expect(closes.filter((c) => c.probes > 0), 'closed on a probe more than once').toHaveLength(1);
        expect(after.filter((e) => e.status === 503), 'refused after the probe closed the breaker').toEqual([]);
        expect(after.some((e) => e.status < 300)).toBe(true);
      } finally {
        await db.end();
      }
    });
  }
});

describe('a session terminated under a request (pg_terminate_backend)', () => {
  /**
   * Holds an exclusive lock on main_table, sends the request, terminates the API's backend once it
   * waits on the lock, then releases the lock. Returns the answer and the request's text.
   */
  async function terminatedUnder(send: () => Promise<Response>) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE main_table IN ACCESS EXCLUSIVE MODE');
      const answer = send();
      for (let i = 0; ; i++) {
        const { rows } = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()",
        );
        if (rows.length > 0) {
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          break;
        }
        if (i > 400) throw new Error(`the request never waited on the lock:\n${api.logs().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await admin.query('ROLLBACK');
      return await answer;
    } finally {
      await admin.end();
    }
  }

  it('a read is retried once on a new connection: 200', async () => {
    const res = await terminatedUnder(() => fetch(`${api.url}/api/tasks?limit=1`));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { success: boolean }).success).toBe(true);
    expect(api.logs()).toContain('database sessions were terminated; new pool in use');
  });

  it('a write without a key is not retried: 503 database_unavailable, nothing stored, and the next request is served', async () => {
    const text = `terminated write ${randomUUID()}`;
    const res = await terminatedUnder(() =>
      fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ task: text }) }),
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ success: false, code: 'database_unavailable' });
    // The statement waited on the lock when its session ended, so it was rolled back; one run only.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      expect((await db.query('SELECT count(*)::int AS n FROM main_table WHERE task = $1', [text])).rows[0].n).toBe(0);
    } finally {
      await db.end();
    }
    // One ended session is not an outage: the breaker stayed closed and the next request is answered.
    expect((await fetch(`${api.url}/api/tasks?limit=1`)).status).toBe(200);
  });
});
