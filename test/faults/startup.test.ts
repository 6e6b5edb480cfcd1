import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { freePort, startApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

let database: TestDatabase | undefined;
let proxy: Server | undefined;
afterAll(async () => {
  proxy?.close();
  await database?.drop();
});

// A pod that starts before its database: MIGRATE_ON_START=true with nothing listening yet. It must
// stay up and unready, then migrate and serve once the database appears — not exit. The migrations
// wait for the connection probe (not a backoff of their own), so they run as soon as it gets an answer.
it('start-up migrations with the database down: alive and unready, then ready once it is up', async () => {
  database = await createTestDatabase();
  const port = await freePort();
  const url = new URL(database.url);
  url.port = String(port);
  const api = await startApi({ waitReady: false, env: { DB_DRIVER: 'pg', DATABASE_URL: url.toString(), MIGRATE_ON_START: 'true', DB_CONNECT_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' } });
  try {
    await new Promise((r) => setTimeout(r, 3000));
    expect(api.child.exitCode).toBeNull();
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(503);
    expect(api.logs()).toMatch(/start-up migrations: database not reachable; retrying/);
    // One attempt, then waiting on the probe: no retry on a timer of their own while the database is down.
    const attempts = () => api.logs().split('\n').filter((l) => l.includes('start-up migrations: database not reachable')).length;
    expect(attempts()).toBe(1);
    expect(api.logs()).toMatch(/"waitingFor":"connection probe"/);

    // The database "comes up": a TCP pass-through to the machine's PostgreSQL on the configured port.
    proxy = createServer((client) => {
      const upstream = createConnection(5432, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    }).listen(port, '127.0.0.1');
    const upAt = performance.now();
    for (let i = 0; (await fetch(`${api.url}/readyz`)).status !== 200; i++) {
      if (i > 200) throw new Error(`never ready:\n${api.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`ready ${Math.round(performance.now() - upAt)} ms after the database came up (polled every 100 ms)`);
    expect(attempts()).toBe(1); // the probe's answer started the second, successful run
    expect(api.logs()).toMatch(/"msg":"database reachable again"/);
    const created = await fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":"after the outage"}' });
    expect(created.status).toBe(201);
  } finally {
    expect(await api.stop()).toBe(0);
  }
});
