import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from './support/api';

// A client that goes away mid-body is the client's doing: logged and counted as 499
// client_closed_request, never as the database being unavailable. A database connection reset
// (the same ECONNRESET, from the driver) is still a 503 database_unavailable.

/** Sends a request head and part of its body, then resets the connection. */
function abortMidBody(port: number, head: string, part: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head + part, () => setTimeout(() => (socket.resetAndDestroy(), resolve()), 200));
    });
    socket.on('error', () => undefined);
  });
}

async function waitForLog(api: RunningApi, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(api.logs())) {
    if (Date.now() > deadline) throw new Error(`no log line matching ${pattern}:\n${api.logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const requestLines = (api: RunningApi) =>
  api
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; status?: number; route?: string; cause?: { code?: string } });

describe('a client that aborts its request body (the bundle)', () => {
  let api: RunningApi;
  beforeAll(async () => {
    api = await startApi({ env: { LOG_LEVEL: 'info' } });
  }, 90_000);
  afterAll(async () => api?.stop());

  it('chunked and Content-Length bodies cut mid-way: logged and counted as 499, no 503, no database_unavailable', async () => {
    const json = 'POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n';
    await abortMidBody(api.port, `${json}Transfer-Encoding: chunked\r\n\r\n`, '5\r\n{"tas\r\n');
    await abortMidBody(api.port, `${json}Content-Length: 40\r\n\r\n`, '{"task":"half');
    await waitForLog(api, /"status":499[^\n]*"msg":"request"[\s\S]*"status":499[^\n]*"msg":"request"/);

    const lines = requestLines(api);
    expect(lines.filter((l) => l.msg === 'client closed the request before its body arrived').map((l) => l.cause?.code)).toEqual(['ECONNRESET', 'ECONNRESET']);
    expect(lines.filter((l) => l.msg === 'request' && l.route === '/api/tasks').map((l) => l.status)).toEqual([499, 499]);
    expect(api.logs()).not.toMatch(/database unavailable|database_unavailable/);

    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/^http_requests_total\{method="POST",route="\/api\/tasks",status="499"\} 2$/m);
    expect(metrics).not.toMatch(/^http_requests_total\{[^}]*route="\/api[^}]*status="503"\}/m);
    expect(metrics).not.toMatch(/database_unavailable/);

    // The API still serves the next request.
    const res = await fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: 'after the aborts' }) });
    expect(res.status).toBe(201);
  });
});

describe('a database that resets the connection (the bundle on pg)', () => {
  let resetter: Server;
  let api: RunningApi;
  beforeAll(async () => {
    // Accepts every connection and resets it at once: the driver sees ECONNRESET.
    resetter = createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
    const port = (resetter.address() as { port: number }).port;
    api = await startApi({
      env: { DB_DRIVER: 'pg', DATABASE_URL: `postgres://tasks@127.0.0.1:${port}/tasks`, MIGRATE_ON_START: 'false', LOG_LEVEL: 'info' },
      waitReady: false,
    });
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${api.url}/healthz`).then((r) => r.status, () => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error(`the API did not come up:\n${api.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);
  afterAll(async () => {
    await api?.stop();
    await new Promise((resolve) => resetter?.close(resolve));
  });

  it('ECONNRESET from the driver is still 503 database_unavailable', async () => {
    const res = await fetch(`${api.url}/api/tasks`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'database_unavailable' });
    await waitForLog(api, /"msg":"database unavailable"/);
    expect(api.logs()).toMatch(/"code":"ECONNRESET"[^\n]*"msg":"database unavailable"/);
  });
});
